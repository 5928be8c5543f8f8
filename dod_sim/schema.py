"""Declared layouts: a model's arrays written down once.

A :class:`Schema` is the tables of a model (one per kind of agent, each a list of
columns of one length, its capacity) and the arrays that are not per row (parameters,
counters, grids, message pools, scratch). Every array is an :class:`Array`: name,
dtype, shape, fill, meaning, role and the constraints its values obey. From the one
declaration the runtime derives

* allocation (:meth:`Schema.allocate`) and the bytes it costs (:meth:`Schema.nbytes`);
* what a snapshot holds (:meth:`Schema.saved`, the role and the saved part);
* what restore checks before a kernel sees the values (:meth:`Schema.validate`);
* the state digest (:meth:`Schema.digest`);
* read-only views of a table's columns (:meth:`Schema.views`).

Shapes are tuples of ints and *size names* (``"rows"``, ``"pool"``), resolved from a
``sizes`` mapping when a world is built; a table's columns lead with the table's size.
Constraints name sizes and other arrays the same way, so "a row index of table T or -1"
or "offsets with counts inside array A" are data, checked by one validator for every
model. The engine knows no model: the tileworld's schema is in
:mod:`dod_sim.tileworld.schema`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Mapping, NamedTuple

import numpy as np

__all__ = ["Array", "Table", "Schema", "InRange", "AbsBelow", "Finite", "OneOf", "RowIndex", "Ranges",
           "FreeStack", "Rings", "CellOwners", "Entry", "CountOf", "Live", "Prefix", "Where", "Gather", "Head",
           "Masked",
           "ROLES"]

# state: decides the future; saved, checked, digested.  derived: computed from the
# parameters (key schedules, float parameters); saved and compared with a fresh world's.
# scratch: rewritten before it is read in every tick; neither saved nor digested.
ROLES = ("state", "derived", "scratch")


def _size(sizes: Mapping, dim) -> int:
    return int(dim) if not isinstance(dim, str) else int(sizes[dim])


# ---- value constraints ---------------------------------------------------------------
# Each check(values, ctx) returns None or a sentence saying what is wrong (the first
# bad element named). They check an array's saved part.


class Context(NamedTuple):
    """What a constraint may look at besides its values: every array, the sizes, and
    the saved part of every saved array."""

    arrays: Mapping
    sizes: Mapping
    parts: Mapping


def _first(mask) -> int:
    return int(np.flatnonzero(np.ravel(mask))[0])


@dataclass(frozen=True)
class InRange:
    """lo <= v < hi (``hi_inclusive``: v <= hi); lo and hi are numbers or size names."""

    lo: Any
    hi: Any
    hi_inclusive: bool = False

    def bounds(self, sizes):
        lo = sizes[self.lo] if isinstance(self.lo, str) else self.lo
        hi = sizes[self.hi] if isinstance(self.hi, str) else self.hi
        return lo, hi

    def check(self, v, ctx):
        lo, hi = self.bounds(ctx.sizes)
        with np.errstate(invalid="ignore"):
            bad = ~((v >= lo) & ((v <= hi) if self.hi_inclusive else (v < hi)))
        if bad.any():
            i = _first(bad)
            return f"element {i} = {np.ravel(v)[i].item()!r} is outside {self.describe(ctx.sizes)}"
        return None

    def describe(self, sizes=None):
        lo, hi = self.bounds(sizes) if sizes is not None else (self.lo, self.hi)
        return f"[{lo}, {hi}{']' if self.hi_inclusive else ')'}"


@dataclass(frozen=True)
class Finite:
    """No NaN or infinity."""

    def check(self, v, ctx):
        bad = ~np.isfinite(v)
        if bad.any():
            i = _first(bad)
            return f"element {i} = {np.ravel(v)[i].item()!r} is not finite"
        return None

    def describe(self, sizes=None):
        return "finite"


@dataclass(frozen=True)
class AbsBelow:
    """|v| < bound (a number or a size name): a velocity that one wrap of the space
    undoes."""

    bound: Any

    def check(self, v, ctx):
        b = ctx.sizes[self.bound] if isinstance(self.bound, str) else self.bound
        with np.errstate(invalid="ignore"):
            bad = ~(np.abs(v) < b)
        if bad.any():
            i = _first(bad)
            return f"element {i} = {np.ravel(v)[i].item()!r} is not within (-{b}, {b})"
        return None

    def describe(self, sizes=None):
        b = sizes[self.bound] if sizes is not None and isinstance(self.bound, str) else self.bound
        return f"|v| < {b}"


@dataclass(frozen=True)
class OneOf:
    """Every value is one of ``values``."""

    values: tuple

    def check(self, v, ctx):
        bad = ~np.isin(v, self.values)
        if bad.any():
            i = _first(bad)
            return f"element {i} = {np.ravel(v)[i].item()!r} is not one of {self.values}"
        return None

    def describe(self, sizes=None):
        return f"one of {self.values}"


class RowIndex(InRange):
    """A row of the table sized ``size``, or -1 (none) when ``none``."""

    def __init__(self, size: str, none: bool = True):
        object.__setattr__(self, "lo", -1 if none else 0)
        object.__setattr__(self, "hi", size)
        object.__setattr__(self, "hi_inclusive", False)

    def describe(self, sizes=None):
        what = f"a row index below {self.hi if sizes is None else _size(sizes, self.hi)}"
        return what + (" or -1" if self.lo == -1 else "")


@dataclass(frozen=True)
class Entry:
    """``check`` applied to one element ``index`` of a 1-d array."""

    index: int
    check_: Any

    def check(self, v, ctx):
        msg = self.check_.check(np.asarray(v[self.index:self.index + 1]), ctx)
        return None if msg is None else f"entry {self.index} = " + msg.replace("element 0 = ", "")

    def describe(self, sizes=None):
        return f"entry {self.index}: {self.check_.describe(sizes)}"


@dataclass(frozen=True)
class CountOf:
    """Equals the number of true elements of array ``of`` (``negate``: false ones)."""

    of: str
    negate: bool = False

    def check(self, v, ctx):
        a = ctx.arrays[self.of]
        n = int(a.size - np.count_nonzero(a)) if self.negate else int(np.count_nonzero(a))
        if np.ravel(v).size and int(np.ravel(v)[0]) != n:
            return f"{int(np.ravel(v)[0])} is not {self.describe()} ({n})"
        return None

    def describe(self, sizes=None):
        return f"the number of {'false' if self.negate else 'true'} elements of {self.of}"


@dataclass(frozen=True)
class Ranges:
    """Offsets (this array) with counts (array ``count``) that lie inside axis 0 of
    array ``within`` (its saved part) and do not overlap: a pool of mailboxes."""

    count: str
    within: str

    def check(self, start, ctx):
        count = ctx.arrays[self.count].astype(np.int64)
        length = ctx.parts[self.within].shape[0]
        start = start.astype(np.int64)
        used = count > 0
        bad = used & ((start < 0) | (start > length - count))
        if bad.any():
            i = _first(bad)
            return (f"row {i}: range [{start[i]}, {start[i] + count[i]}) is outside "
                    f"{self.within}'s {length} records")
        rows = np.flatnonzero(used)
        order = rows[np.argsort(start[rows], kind="stable")]
        ends = start[order] + count[order]
        clash = np.flatnonzero(start[order][1:] < ends[:-1])
        if clash.size:
            a, b = order[clash[0]], order[clash[0] + 1]
            return f"rows {a} and {b} have overlapping ranges in {self.within}"
        return None

    def describe(self, sizes=None):
        return f"disjoint ranges with counts {self.count} inside {self.within}"


@dataclass(frozen=True)
class FreeStack:
    """The first ``count`` (array name, entry 0) values are distinct rows of ``size``
    for which ``live`` is false: a free-slot stack over every dead row."""

    count: str
    live: str
    size: str

    def check(self, v, ctx):
        arrays = ctx.arrays
        n = int(arrays[self.count][0])
        rows = _size(ctx.sizes, self.size)
        if not 0 <= n <= rows:
            return f"its count {self.count}[0] = {n} is outside [0, {rows}]"
        top = v[:n].astype(np.int64)
        bad = (top < 0) | (top >= rows)
        if bad.any():
            i = _first(bad)
            return f"element {i} = {int(top[i])} is not a row below {rows}"
        if np.unique(top).size != n:
            return "it holds a row twice"
        live = arrays[self.live]
        if live[top].any():
            i = _first(live[top])
            return f"element {i} = {int(top[i])} is a live row"
        dead = int(live.size - np.count_nonzero(live))
        if n != dead:
            return f"it holds {n} rows but {dead} rows are dead"
        return None

    def describe(self, sizes=None):
        return f"a stack of the {self.count} dead rows of {self.live}, each once"


@dataclass(frozen=True)
class Rings:
    """Doubly linked rings (this array: next; ``prv``: previous) over ``size`` rows
    followed by one sentinel node per ring, each ring holding ``count[ring]`` rows:
    next and previous are node numbers, inverse to each other, every row is in the
    ring of exactly one sentinel, and no ring holds another sentinel. What a kernel
    that walks a ring from its sentinel until it comes back needs (wealth's cells)."""

    prv: str
    count: str
    size: str
    home: str | None = None
    cross = True

    def check(self, nxt, ctx):
        nxt = np.asarray(nxt).astype(np.int64)
        prv = np.asarray(ctx.parts[self.prv]).astype(np.int64)
        count = np.asarray(ctx.parts[self.count]).astype(np.int64)
        rows, nodes = _size(ctx.sizes, self.size), nxt.shape[0]
        if prv.shape != nxt.shape or nodes != rows + count.shape[0]:
            return f"it has {nodes} nodes, not {rows} rows and {count.shape[0]} sentinels"
        for name, a in (("next", nxt), (self.prv, prv)):
            bad = (a < 0) | (a >= nodes)
            if bad.any():
                i = _first(bad)
                return f"{name} of node {i} = {int(a[i])} is not a node below {nodes}"
        bad = prv[nxt] != np.arange(nodes)
        if bad.any():
            i = _first(bad)
            return f"node {i}: {self.prv}[next] = {int(prv[nxt[i]])}, not {i}"
        # label each node with the smallest node of its cycle (pointer doubling)
        label, jump = np.arange(nodes), nxt.copy()
        for _ in range(max(1, int(nodes).bit_length())):
            label = np.minimum(label, label[jump])
            jump = jump[jump]
        sentinels = np.bincount(label[rows:], minlength=nodes)
        if (sentinels > 1).any():
            return f"the ring of node {_first(sentinels > 1)} holds more than one sentinel"
        orphan = sentinels[label[:rows]] == 0
        if orphan.any():
            return f"row {_first(orphan)} is in no sentinel's ring"
        held = np.bincount(label, minlength=nodes)[label[rows:]] - 1
        bad = held != count
        if bad.any():
            c = _first(bad)
            return f"ring {c} holds {int(held[c])} rows but {self.count}[{c}] = {int(count[c])}"
        if self.home is not None:  # each row is in the ring its column names
            home = np.asarray(ctx.parts[self.home]).astype(np.int64)
            bad = (home < 0) | (home >= count.shape[0])
            if not bad.any():
                bad = label[:rows] != label[rows + home]
            if bad.any():
                i = _first(bad)
                return f"row {i} is not in ring {self.home}[{i}] = {int(home[i])}"
        return None

    def describe(self, sizes=None):
        return (f"rings of {self.size} rows with {self.prv} and counts {self.count}"
                + (f", each row in ring {self.home}" if self.home else ""))


@dataclass(frozen=True)
class CellOwners:
    """A grid of one row per cell (this array, ``width`` x height cells, -1 empty) that
    agrees with the rows' positions: cell ``y[i] * width + x[i]`` holds row ``i``, and
    no other cell holds a row."""

    x: str
    y: str
    width: str
    size: str = "rows"
    cross = True

    def check(self, owner, ctx):
        owner = np.asarray(owner).astype(np.int64)
        rows = _size(ctx.sizes, self.size)
        bad = (owner < -1) | (owner >= rows)
        if bad.any():
            c = _first(bad)
            return f"cell {c} holds {int(owner[c])}, not a row below {rows} or -1"
        x = np.asarray(ctx.parts[self.x]).astype(np.int64)
        y = np.asarray(ctx.parts[self.y]).astype(np.int64)
        cell = y * _size(ctx.sizes, self.width) + x
        bad = (cell < 0) | (cell >= owner.shape[0])
        if not bad.any():
            bad = owner[cell] != np.arange(rows)
        if bad.any():
            i = _first(bad)
            return f"row {i}'s cell does not hold it"
        if int(np.count_nonzero(owner >= 0)) != rows:
            return f"{int(np.count_nonzero(owner >= 0))} cells hold rows, not {rows}"
        return None

    def describe(self, sizes=None):
        return f"the row in each cell, as {self.x} and {self.y} place them, or -1"


# ---- parts: what a snapshot keeps, what a digest hashes --------------------------------


@dataclass(frozen=True)
class Live:
    """Element ``arrays[source][index]`` of axis 0: the current half of a double buffer."""

    source: str
    index: int

    def of(self, a, arrays):
        return a[int(arrays[self.source][self.index])]

    def shape(self, full):
        return tuple(full[1:])

    def problem(self, a, arrays):
        """None, or why ``arrays[source][index]`` cannot select a part of ``a``."""
        k = int(arrays[self.source][self.index])
        if not 0 <= k < a.shape[0]:
            return (f"entry {self.index} = {k} selects no buffer of {a.shape[0]} "
                    f"(it must be in [0, {a.shape[0]}))")
        return None

    name = "live"


@dataclass(frozen=True)
class Prefix:
    """The first ``arrays[source][index]`` elements: the used part of a bump arena."""

    source: str
    index: int

    def of(self, a, arrays):
        return a[:int(arrays[self.source][self.index])]

    def shape(self, full):
        return None  # any length up to the array's

    def problem(self, a, arrays):
        """None, or why ``arrays[source][index]`` is not a length of ``a``."""
        k = int(arrays[self.source][self.index])
        if not 0 <= k <= a.shape[0]:
            return f"entry {self.index} = {k} is not a length in [0, {a.shape[0]}]"
        return None

    name = "used"


@dataclass(frozen=True)
class Where:
    """For the digest: the rows where array ``mask`` is non-zero."""

    mask: str

    def of(self, a, arrays):
        return a[arrays[self.mask] != 0]


@dataclass(frozen=True)
class Gather:
    """For the digest: the records of every row's range (start here, counts ``count``)
    in row order, from the saved part of array ``pool``."""

    start: str
    count: str

    def of(self, pool, arrays):
        counts = arrays[self.count].astype(np.int64)
        total = int(counts.sum())
        if not total:
            return pool[:0]
        starts = arrays[self.start].astype(np.int64)
        idx = np.repeat(starts - np.cumsum(counts) + counts, counts) + np.arange(total)
        return pool[idx]


@dataclass(frozen=True)
class Head:
    """For the digest: the first ``n`` entries of the last axis (a signed record without
    its tag, which depends on the key, not on the state)."""

    n: int

    def of(self, a, arrays):
        return a[..., :self.n]


@dataclass(frozen=True)
class Masked:
    """For the digest: a copy with entries ``indices`` set to 0 (they are layout, not
    state: which buffer is current, how rows are cut into chunks)."""

    indices: tuple

    def of(self, a, arrays):
        out = a.copy()
        out[list(self.indices)] = 0
        return out


# ---- the declaration ---------------------------------------------------------------------


@dataclass(frozen=True)
class Array:
    """One array of a model.

    name : unique in the schema; dtype : a numpy dtype name; shape : ints and size names
    (a table's column gives only the dimensions after the row); fill : its value when
    allocated; doc : what it means; role : one of :data:`ROLES`; checks : constraints on
    its saved values; saved : None (all of it), :class:`Live` or :class:`Prefix`;
    digest : False (left out), None (the saved part), a view (:class:`Where`,
    :class:`Gather`, :class:`Head`, :class:`Masked`) or a tuple of views applied in turn;
    secret : key material, saved but never digested;
    group : the memory estimate's part it counts in; state_entries : of a derived
    array, the entries that are state (restore keeps them; the others must equal a
    fresh world's).
    """

    name: str
    dtype: str
    shape: tuple = ()
    fill: Any = 0
    doc: str = ""
    role: str = "state"
    checks: tuple = ()
    saved: Any = None
    digest: Any = None
    secret: bool = False
    group: str = "other"
    state_entries: tuple = ()

    def __post_init__(self):
        if not all(part.isidentifier() for part in self.name.split(".")):
            raise ValueError(f"Array name {self.name!r} must be an identifier (or "
                             f"identifiers joined by dots: a resource's field)")
        np.dtype(self.dtype)
        if self.role not in ROLES:
            raise ValueError(f"Array {self.name!r}: role {self.role!r} is not one of {ROLES}")


@dataclass(frozen=True)
class Table:
    """One kind of agent: columns of length ``sizes[size]`` (its capacity)."""

    name: str
    size: str
    columns: tuple

    def __post_init__(self):
        object.__setattr__(self, "columns", tuple(
            replace(c, shape=(self.size,) + tuple(c.shape),
                    group=c.group if c.group != "other" else "columns")
            for c in self.columns))


@dataclass(frozen=True)
class Schema:
    """The tables and other arrays of a model, in the order kernels receive them."""

    name: str
    tables: tuple = ()
    arrays: tuple = ()
    _by_name: dict = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        by_name = {}
        for a in self.fields():
            if a.name in by_name:
                raise ValueError(f"schema {self.name!r} declares {a.name!r} twice")
            by_name[a.name] = a
        object.__setattr__(self, "_by_name", by_name)

    def fields(self):
        """Every Array: the tables' columns (with the row dimension) then the others."""
        for t in self.tables:
            yield from t.columns
        yield from self.arrays

    def __getitem__(self, name) -> Array:
        return self._by_name[name]

    def __contains__(self, name) -> bool:
        return name in self._by_name

    def names(self) -> tuple:
        return tuple(self._by_name)

    def table(self, name: str) -> Table:
        for t in self.tables:
            if t.name == name:
                return t
        raise KeyError(name)

    def with_column(self, table: str, column: Array) -> "Schema":
        """A copy with ``column`` added to ``table`` (a model extended by a user)."""
        tables = tuple(Table(t.name, t.size, tuple(_strip(c) for c in t.columns)
                             + ((column,) if t.name == table else ()))
                       for t in self.tables)
        return Schema(self.name, tables, self.arrays)

    # ---- derived ------------------------------------------------------------------

    def shape(self, name: str, sizes: Mapping) -> tuple:
        return tuple(_size(sizes, d) for d in self[name].shape)

    def nbytes(self, sizes: Mapping) -> dict:
        """{array name: bytes} of a world of ``sizes``."""
        return {a.name: int(np.prod(self.shape(a.name, sizes), dtype=np.int64))
                * np.dtype(a.dtype).itemsize for a in self.fields()}

    def row_bytes(self, size: str = "rows") -> int:
        """Bytes per row of the arrays whose first dimension is ``size`` (a table's
        columns and per-row scratch), the other dimensions being numbers."""
        return sum(np.dtype(a.dtype).itemsize * int(np.prod(a.shape[1:], dtype=np.int64))
                   for a in self.fields() if a.shape[:1] == (size,))

    def allocate(self, sizes: Mapping, *, skip=()) -> dict:
        """{name: array} for every Array not in ``skip``, filled, C-contiguous. Arrays
        filled with 0 come from ``np.zeros``: the OS maps their pages when first written."""
        out = {}
        for a in self.fields():
            if a.name not in skip:
                shape, dtype = self.shape(a.name, sizes), np.dtype(a.dtype)
                out[a.name] = (np.zeros(shape, dtype) if not a.fill
                               else np.full(shape, a.fill, dtype))
        return out

    def saved(self, arrays: Mapping) -> list:
        """(name, part name, view) of every array a snapshot holds, in schema order."""
        out = []
        for a in self.fields():
            if a.role == "scratch":
                continue
            arr = arrays[a.name]
            out.append((a.name, "whole", arr) if a.saved is None
                       else (a.name, a.saved.name, a.saved.of(arr, arrays)))
        return out

    def saved_shape(self, name: str, sizes: Mapping):
        """(part name, shape or None for "any length up to the array's") of the part a
        snapshot holds of ``name``."""
        a = self[name]
        full = self.shape(name, sizes)
        return ("whole", full) if a.saved is None else (a.saved.name, a.saved.shape(full))

    def layout_sources(self) -> tuple:
        """Arrays that say where other arrays' saved parts lie: read first on restore."""
        return tuple(dict.fromkeys(a.saved.source for a in self.fields()
                                   if a.saved is not None))

    def violations(self, arrays: Mapping, sizes: Mapping):
        """(array name, constraint, message) for every broken constraint; checks each
        array's saved part, in schema order: first the constraints on an array's own
        values, then those relating it to other arrays (which may assume the first)."""
        parts = {name: view for name, _, view in self.saved(arrays)}
        ctx = Context(arrays, sizes, parts)
        for cross in (False, True):
            for a in self.fields():
                if a.name not in parts:
                    continue
                for c in a.checks:
                    if _cross(c) == cross:
                        msg = c.check(parts[a.name], ctx)
                        if msg is not None:
                            yield a.name, c, msg

    def digest(self, arrays: Mapping, prefix: bytes = b"") -> str:
        """Hex BLAKE2b-256 of ``prefix`` and every state and derived array (its digest
        view), leaving out scratch, secrets and arrays declared ``digest=False``."""
        h = hashlib.blake2b(prefix, digest_size=32)
        for a in self.fields():
            if a.role == "scratch" or a.secret or a.digest is False:
                continue
            arr = arrays[a.name]
            if a.saved is not None:
                arr = a.saved.of(arr, arrays)
            views = a.digest if isinstance(a.digest, tuple) else (
                () if a.digest is None else (a.digest,))
            for view in views:
                arr = view.of(arr, arrays)
            h.update(a.name.encode() + b"\0" + np.dtype(a.dtype).str.encode())
            h.update(np.ascontiguousarray(arr).tobytes())
        return h.hexdigest()

    def views(self, arrays: Mapping, table: str, names=None) -> MappingProxyType:
        """Read-only views (no copy) of ``table``'s columns (``names``: a subset)."""
        cols = self.table(table).columns
        out = {}
        for c in cols:
            if names is None or c.name in names:
                v = arrays[c.name].view()
                v.flags.writeable = False
                out[c.name] = v
        return MappingProxyType(out)

    def describe(self) -> str:
        """A table of every array: name, dtype, shape, role, constraints, meaning."""
        rows = []
        for a in self.fields():
            checks = "; ".join(c.describe() for c in a.checks)
            rows.append(f"{a.name:<16} {a.dtype:<8} {str(a.shape):<22} {a.role:<8} "
                        f"{checks:<40} {a.doc}")
        return "\n".join(rows)


def _cross(c) -> bool:
    """True for a constraint that reads other arrays (a constraint class of a model's
    own says so with ``cross = True``)."""
    return isinstance(c, (CountOf, Ranges, FreeStack)) or getattr(c, "cross", False) or (
        isinstance(c, Entry) and _cross(c.check_))


def _strip(column: Array) -> Array:
    """A table column without its row dimension (as declared)."""
    return replace(column, shape=tuple(column.shape[1:]))
