"""A small model API: components are data, systems are functions.

A :class:`Model` is a description, like Bevy's schedule or FLAME GPU's model
description: scalar parameters, agent columns (one numpy array each), resources
(arrays that are not per agent: a grid, a neighbour index) and the systems of a tick,
run in the order given. A :class:`ModelWorld` is one run of it: ``agents`` rows, a
seed, a thread count.

Systems are Numba functions of two kinds:

* :class:`Rows` -- a per-row function ``fn(i, key, p, *reads) -> value`` (a tuple when
  it writes several columns), one value per written column for row ``i``. The engine
  generates the loop: parallel over fixed chunks of ``CHUNK`` rows, never a Python loop.
  The function may read any row of what it reads and writes only row ``i`` (it returns
  values, it cannot write). A column that a ``Rows`` system both reads and writes is
  double-buffered: the system reads the tick's old values and its results go into the
  other buffer, which becomes current after the system. Every row sees the same state
  whatever the order, so the update is synchronous and the same for any thread count.
* :class:`Kernel` -- a whole-column function ``fn(key, n, p, *arrays)`` called once,
  with ``arrays`` = ``reads`` then the ``writes`` not already read, current buffers,
  written in place. For work a per-row function cannot express: a counting sort, a
  matching of proposals, a compaction. It must itself be deterministic (fixed chunks,
  prefix sums, counter-based randomness: see ``dod_sim.kernels.neighbours``).

``key`` is a uint64 from :mod:`dod_sim.kernels.rng`, a pure function of (seed, tick,
row, system): draw values from it with ``rng.uniform(key, stream)`` / ``rng.draw``.
``p`` is the model's parameters as a NamedTuple (``p.width``).

Messages between agents: :mod:`dod_sim.messages` gives a model the engine's bounded
mailboxes (a ``Mailboxes`` resource), its delivery kernel (a ``Deliver`` system) and
``post`` / ``inbox`` for the systems that send and read.

Conflicts are resolved by construction: a per-row system never writes another row,
so two rows that want the same thing (a cell, a recipient) write proposals into their
own rows, and a later system resolves them, either per row (each row gathers the
proposals addressed to it, in row order) or in a ``Kernel`` (a deterministic matching).

Example (one column, one system)::

    from numba import njit
    from dod_sim.kernels import rng
    from dod_sim.model import Column, Model, ModelWorld, Rows, Stat

    @njit
    def walk(i, key, p, x):
        return (x[i] + (1 if rng.uniform(key, 0) < 0.5 else -1)) % p.width

    @njit
    def mean(n, p, x):
        return x.mean()

    m = Model("walk", params={"width": 100}, columns=[Column("x", "int64", 0)],
              systems=[Rows("walk", walk, reads=("x",), writes=("x",))],
              stats={"mean_x": Stat(mean, reads=("x",))})
    table = ModelWorld(m, agents=1000, seed=1).run(10)   # {"step": ..., "mean_x": ...}

Statistics: a :class:`Stat` is a compiled ``fn(n, p, *reads) -> float`` run inside the
compiled loop after every tick; a plain Python function of the world is also accepted
(any numpy), and is run between compiled steps.

The tick path: ``run(steps)`` with compiled statistics only (or ``stats=False``) runs
compiled calls of about 0.1 s of ticks each (so that Ctrl-C answers), no Python per
tick or per agent, and compiled code allocates nothing per tick (the NRT count is the
same for 1 and 40 ticks: what remains is boxing each call's arguments). A Python statistic makes it one call per step; at
10,000 agents that cost the wealth model ~15 % of its step.

Compile cost: each model is compiled once per process into one module (the per-row
loops, the inits and a fused tick) and cached on disk. Numba cannot cache a closure
over a user's function (the pickled Dispatcher carries a per-process UUID, so every
process misses and writes another cache file), so the module is generated as a source
file in :func:`cache_dir` with the user functions injected as globals. Its name hashes
the source, the user functions' files and the kernel sources, so an edited model gets
a new module; a helper edited in another file is not seen (as with Numba's own cache).
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import importlib.util
import inspect
import keyword
import os
import stat
import sys
import tempfile
import threading
import time
import unicodedata
import weakref
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, NamedTuple

import numpy as np
from numba import njit

from . import pacing, runtime, snapshot
from .errors import ConfigError, SnapshotError
from .report import ModelReport
from .schema import Array, CountOf, Entry, FreeStack, InRange, Live, OneOf, Schema, Table, Where
from .kernels import neighbours as _nb
from .kernels import population as _pop
from .kernels._jit import kernel as _kernel

__all__ = ["Column", "Rows", "Kernel", "Turns", "Range", "Stat", "column_mean", "count_of", "alive_count",
           "alive_mean", "Resource", "Model", "ModelWorld", "Collected", "CHUNK", "MAX_ROWS",
           "points_index", "grid_index", "IndexPoints", "IndexGrid", "cache_dir",
           "params_class"]

CHUNK = _pop.CHUNK  # rows per chunk of a generated per-row loop (1024)
MAX_ROWS = 2**31 - 1  # rows of a table (a CellIndex holds rows as int32)
BATCH_NS = 100_000_000  # a compiled batch of ticks takes about this long, so that Ctrl-C
                        # (deferred to the end of the batch) answers within ~0.1 s
# Stream bases of the keys the engine derives (rng.draw(row_key(seed, tick, row), base + k)).
INIT_STREAM = 1 << 20    # + column number, tick -1
ROWS_STREAM = 1 << 21    # + system number (setup systems count after the tick's)
KERNEL_STREAM = 1 << 22  # + system number, row 0
_TEMPLATE_VERSION = "15"


# ---- the description --------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """A per-agent column. ``init``: a scalar, an array of length ``agents``, or a Numba
    function ``init(i, key, p) -> value`` run over the rows at tick -1.
    ``checks``: constraints its values obey (:mod:`dod_sim.schema`: ``InRange(0,
    "width")`` with a parameter's name as a bound, ``Finite()``, ``RowIndex("rows")``),
    checked when a snapshot is restored. ``table``: the kind of agent it belongs to
    (:class:`Model` says how a model of several tables names its columns)."""

    name: str
    dtype: Any
    init: Any = 0
    doc: str = ""
    checks: tuple = ()
    table: str = "agents"

    def __post_init__(self):
        _check_name("columns", self.name)
        _check_name("tables", self.table)
        try:
            np.dtype(self.dtype)
        except TypeError as e:
            raise ConfigError(f"column {self.name!r}: dtype {self.dtype!r} is not a numpy "
                              f"dtype", field=f"columns.{self.name}.dtype",
                              value=self.dtype) from e


@dataclass(frozen=True)
class Rows:
    """A per-row system (module docstring). ``order``: the name of a CellIndex resource
    to visit rows in cell order (same result, better locality for neighbour queries).

    In a ``dynamic`` model it visits live rows only, and it may end agents and give
    birth to new ones (:mod:`dod_sim.kernels.population`): writing the engine column
    ``alive`` (return 0 for it to end the row's agent), and ``spawn``, the columns a
    newborn takes from its parent: ``fn`` then returns its ``writes``, then a bool
    (give birth), then one value per ``spawn`` column. Both apply at the sync point
    after the system, in row order."""

    name: str
    fn: Any
    reads: tuple = ()
    writes: tuple = ()
    order: str | None = None
    spawn: tuple = ()
    table: str | None = None

    def __post_init__(self):
        _check_system(self)


@dataclass(frozen=True)
class Kernel:
    """A whole-column system (module docstring); its ``n`` is the row count of
    ``table`` (default: the model's first)."""

    name: str
    fn: Any
    reads: tuple = ()
    writes: tuple = ()
    table: str | None = None

    def __post_init__(self):
        _check_system(self)


@dataclass(frozen=True)
class Turns:
    """A sequential system: ``fn(i, key, p, *arrays)`` once per row, one row at a time,
    in ``order``: ``"random"`` (a fresh uniformly random order each tick: Mesa's
    ``shuffle_do``, Agents.jl's ``Schedulers.Randomly``) or ``"rows"`` (row order: Mesa's
    ``do``). Each turn sees every earlier turn's writes. ``arrays`` are ``reads`` then the
    ``writes`` not already read, current buffers, written in place (any row). ``key`` is
    the row's own (as in :class:`Rows`), so a row's draws do not depend on its place in
    the order. In a dynamic model it visits the rows alive when its tick's order is
    drawn, skipping those that die before their turn; given a population it may
    ``kill`` and ``spawn``. One thread: the turns depend on each other.

    Several kinds in one order: ``table=("citizens", "cops")`` gives every row of those
    tables a turn in one order (Mesa's ``shuffle_do`` over all agents; ``"rows"``: the
    tables one after the other), and ``fn(kind, i, key, p, *arrays)`` gets the turn's
    table as its index ``kind`` in that tuple and ``i``, the row in it. Unqualified
    names in ``reads`` and ``writes`` must then name one column of one table (or write
    ``table.column``); each turn's key is its entry's own (the tables' rows numbered
    one after the other).

    With :class:`Rows` (simultaneous: every row from the tick's old state) and systems
    in sequence (staged), these are the model API's activation orders."""

    name: str
    fn: Any
    reads: tuple = ()
    writes: tuple = ()
    order: str = "random"
    table: str | tuple | None = None

    def __post_init__(self):
        _check_system(self)
        if isinstance(self.table, (tuple, list)):
            tables = tuple(self.table)
            if len(tables) < 2 or not all(isinstance(t, str) for t in tables) \
                    or len(set(tables)) != len(tables):
                raise ConfigError(f"systems.{self.name}.table={self.table!r} must be a table "
                                  f"name or a tuple of two or more distinct table names",
                                  field=f"systems.{self.name}.table", value=self.table)
            object.__setattr__(self, "table", tables)
        if self.order not in ("random", "rows"):
            raise ConfigError(f"systems.{self.name}.order={self.order!r} must be 'random' "
                              f"or 'rows'", field=f"systems.{self.name}.order",
                              value=self.order)


class Range(NamedTuple):
    """The values a numeric parameter takes in an explorer (:mod:`dod_sim.explore`):
    ``lo`` to ``hi`` by ``step``. ``live``: the systems read it every tick, so a change
    applies from the next tick (:meth:`ModelWorld.set_params`); otherwise the parameter
    shapes the world or its start, and a change builds a new world."""

    lo: float
    hi: float
    step: float
    live: bool = False


@dataclass(frozen=True)
class Stat:
    """A model statistic computed in compiled code after each tick:
    ``fn(n, p, *reads) -> float`` over the current buffers of ``reads`` (columns, or
    resources such as a scratch histogram, which it may write); ``n`` is the row count
    of ``table`` (default: the model's first). ``run`` with only Stat statistics stays
    one compiled call for all its steps."""

    fn: Any
    reads: tuple = ()
    table: str | None = None


@_kernel
def column_mean(n, p, a):
    """The mean of a column, float64: ``Stat(column_mean, reads=("energy",))``."""
    total = 0.0
    for i in range(n):
        total += a[i]
    return total / n


@_kernel
def count_of(n, a, value):
    """How many of ``a[:n]`` equal ``value`` (int): for statistics that count states."""
    c = 0
    for i in range(n):
        c += a[i] == value
    return c


@_kernel
def alive_count(n, p, alive):
    """The live agents of a dynamic model, float64: ``Stat(alive_count, reads=("alive",))``."""
    m = 0
    for i in range(n):
        m += alive[i] == 1
    return float(m)


@_kernel
def alive_mean(n, p, alive, a):
    """The mean of a column over the live rows of a dynamic model, float64 (NaN when
    none is alive): ``Stat(alive_mean, reads=("alive", "energy"))``."""
    total = 0.0
    m = 0
    for i in range(n):
        if alive[i] == 1:
            total += a[i]
            m += 1
    return total / m if m else np.nan


@dataclass(frozen=True)
class Resource:
    """A non-row value: ``make(p, agents)`` (or ``make(p, agents, seed)``, for a
    resource drawn from the world's seed, or ``make(p, agents, seed, columns)``, for one
    that holds views of the single-buffered columns, {name: array}) returns an array or
    a NamedTuple of arrays (or of other compiled values, such as a structref).
    ``state``: part of the world's state (an occupancy grid), hashed by
    ``state_digest``; otherwise scratch rebuilt by the systems (an index).
    ``check``: optional fn(value) run after each compiled call of ``run``; it raises a
    :class:`~dod_sim.errors.DodSimError` for what the systems found wrong and counted in
    the resource (compiled code reports errors as counts, Python raises them once the
    tick has finished). ``checks``: constraints a restored snapshot's values must obey
    (:mod:`dod_sim.schema`), by field (None for a resource that is one array):
    ``{"nxt": (Rings("cells.prv", "cells.count", "rows"),)}``."""

    name: str
    make: Callable
    state: bool = False
    check: Callable | None = None
    checks: dict | None = None


def _schema_of(model, store, parity, resources):
    """(Schema, {name: array}) of a model's world: the single-buffered columns as one
    table per kind of agent; double-buffered columns (2 x rows, the current one chosen
    by ``parity``); ``parity``; every array of every resource, named ``resource`` or
    ``resource.field`` (state for ``state=True`` resources, scratch otherwise)."""
    double = {name: j for j, name in enumerate(model.double)}
    single = {t: [] for t in model.tables}
    others, arrays = [], {}
    for c in model.columns:
        info = model.table_info[c.table]
        a = store[c.name]
        arrays[c.name] = a
        live = Where(info.alive) if model.dynamic else None  # free rows' values: not state
        if c.name in double:
            others.append(Array(c.name, a.dtype.name, (2, info.size), doc=c.doc,
                                checks=tuple(c.checks),
                                saved=Live("parity", double[c.name]), digest=live))
        else:
            single[c.table].append(Array(c.name, a.dtype.name, doc=c.doc,
                                         checks=tuple(c.checks),
                                         digest=None if c.name == info.alive else live))
    others.append(Array("parity", "int64", (len(double),), doc="the current buffer of "
                        "each double-buffered column", checks=(InRange(0, 2),),
                        digest=False))
    arrays["parity"] = parity
    populations = {i.population: i for i in model.table_info.values()} if model.dynamic else {}
    for r in model.resources:
        value = resources[r.name]
        if r.name in populations:
            others += _population_arrays(value, populations[r.name])
            arrays.update({f"{r.name}.{k}": getattr(value, k) for k in _POP_ARRAYS})
            continue
        fields = (value._asdict().items() if isinstance(value, tuple) and hasattr(value, "_asdict")
                  else [(None, value)])
        for field, a in fields:
            if isinstance(a, np.ndarray):
                name = r.name if field is None else f"{r.name}.{field}"
                others.append(Array(name, a.dtype.name, a.shape,
                                    role="state" if r.state else "scratch",
                                    doc=f"resource {r.name}",
                                    checks=tuple((r.checks or {}).get(field, ()))))
                arrays[name] = a
    tables = tuple(Table(t, model.table_info[t].size, tuple(single[t])) for t in model.tables)
    return Schema(model.name, tables, tuple(others)), arrays


_POP_ARRAYS = ("free", "count", "want", "births", "deaths", "order", "pending")  # + alive, id


def _population_arrays(pop, info) -> list:
    """The schema of a table's Population besides its columns ``alive`` and ``id``."""
    name = info.population

    def scratch(field, doc):
        a = getattr(pop, field)
        return Array(f"{name}.{field}", a.dtype.name, a.shape, role="scratch", doc=doc)
    return [
        Array(f"{name}.free", "int64", (info.size,), doc="the free rows, a stack",
              checks=(FreeStack(f"{name}.count", info.alive, info.size),)),
        Array(f"{name}.count", "int64", (4,), doc="free rows, next id, births refused, "
              "live rows", checks=(InRange(0, 2**62), Entry(_pop.LIVE, CountOf(info.alive)))),
        scratch("want", "deaths asked for in the running system"),
        scratch("births", "births asked for per chunk of a per-row loop"),
        scratch("deaths", "deaths per chunk"),
        scratch("order", "a shuffled activation order"),
        scratch("pending", "kills and spawns by a kernel since the last sync point"),
    ]


def _check_name(field: str, name) -> None:
    """ConfigError unless ``name`` is a Python identifier, not a keyword, and already in
    NFKC form: Python reads identifiers after NFKC normalisation, so "\ufb01" (the
    ligature) and "fi" would be one name in the generated module."""
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
        raise ConfigError(f"{field} name {name!r} must be a Python identifier (letters, "
                          f"digits and underscores, not a keyword)", field=field, value=name)
    if unicodedata.normalize("NFKC", name) != name:
        raise ConfigError(f"{field} name {name!r} must be in NFKC form "
                          f"({unicodedata.normalize('NFKC', name)!r}): Python reads it so",
                          field=field, value=name)


def _check_system(s) -> None:
    """A system's name is an identifier; reads and writes (and a Rows' spawn) are names
    (a string or an iterable of strings), kept as tuples."""
    _check_name("systems", s.name)
    for part in ("reads", "writes") + (("spawn",) if hasattr(s, "spawn") else ()):
        v = getattr(s, part)
        names = (v,) if isinstance(v, str) else v
        try:
            names = tuple(names)
        except TypeError:
            names = None
        if names is None or not all(isinstance(n, str) for n in names):
            raise ConfigError(f"systems.{s.name}.{part}={v!r} must be a name or a tuple of "
                              f"names", field=f"systems.{s.name}.{part}", value=v)
        object.__setattr__(s, part, names)


DEFAULT_TABLE = "agents"


class TableInfo(NamedTuple):
    """A table of a model: its name, index, size name (``rows``, or ``rows_<table>``
    with several tables) and, in a dynamic model, the names of its ``alive`` and ``id``
    columns and its population resource."""

    name: str
    index: int
    size: str
    alive: str
    id: str
    population: str


class _IO(NamedTuple):
    reads: tuple
    writes: tuple
    spawn: tuple
    table: str


def _renamed(column: Column, name: str, table: str) -> Column:
    """``column`` under its name in the model (``table.name``: not an identifier, so
    set past the constructor's check)."""
    c = copy.copy(column)
    object.__setattr__(c, "name", name)
    object.__setattr__(c, "table", table)
    return c


def _ident(name: str) -> str:
    """A name in the model as part of a generated identifier."""
    return name.replace(".", "__")


# The engine's part of a dynamic model: made by ModelWorld, not by ``make``.
_ALIVE = Column("alive", "uint8", 0, doc="1: the row holds a live agent; 0: free",
                checks=(OneOf((0, 1)),))
_ID = Column("id", "int64", 0, doc="the agent's stable id (-1 in a free row)",
             checks=(InRange(-1, 2**62),))


def _made_by_world(p, agents):
    raise AssertionError("the population is made by ModelWorld")


def _make_resource(make, p, agents, seed, columns):
    """``make(p, agents)``, ``make(p, agents, seed)`` or ``make(p, agents, seed,
    columns)`` by the number of parameters ``make`` takes (a builtin without a signature:
    the first)."""
    try:
        arity = len(inspect.signature(make).parameters)
    except (TypeError, ValueError):
        arity = 2
    args = (p, agents, seed, columns)[:max(2, min(arity, 4))]
    return make(*args)


def _is_numba(fn) -> bool:
    return hasattr(fn, "py_func") and hasattr(fn, "compile")


def _names(field, names) -> tuple:
    if isinstance(names, str):
        names = (names,)
    names = tuple(names)
    if len(set(names)) != len(names):
        raise ConfigError(f"{field} names a column twice: {names}", field=field, value=names)
    return names


class Model:
    """A model description; see the module docstring. Validated on construction.

    params : {name: default}, int, float or bool scalars (their type is the default's)
    columns : [Column], resources : [Resource]
    systems : [Rows | Kernel], one tick, in order; setup : the same, run once at tick -1
    stats : {name: Stat | fn(world) -> float}, the per-step model statistics: compiled
        (:class:`Stat`) or Python functions of the world, run between compiled steps
    check : optional fn(params, agents) that raises ConfigError for bad values
    dynamic : agents are born and die (:mod:`dod_sim.kernels.population`). The world
        then has ``capacity`` rows; the engine adds the columns ``alive`` (uint8, 1 for
        a live row) and ``id`` (int64, stable across row reuse) and the resource
        ``population`` (a :class:`~dod_sim.kernels.population.Population`), which a
        Kernel writes to call ``kill`` and ``spawn``. Per-row loops visit live rows
        only; statistics read ``alive`` to skip the others (:func:`alive_mean`).
    view : default arguments of :func:`dod_sim.draw.plot` (``{"color": "kind"}``)
    ranges : {param: :class:`Range` or (lo, hi, step)}, the values each numeric
        parameter takes in an explorer (Mesa's sliders); a parameter without one gets no
        slider
    """

    def __init__(self, name: str, *, params=None, columns=(), systems=(), setup=(),
                 resources=(), stats=None, check=None, doc="", dynamic=False, view=None,
                 ranges=None):
        self.name = name
        self.doc = doc
        self.view = dict(view or {})
        self.params = dict(params or {})
        self.ranges = {}
        for k, v in dict(ranges or {}).items():
            if not isinstance(v, (tuple, list)) or not 3 <= len(v) <= 4:
                raise ConfigError(f"ranges.{k}={v!r} must be a Range or (lo, hi, step)",
                                  field=f"ranges.{k}", value=v)
            self.ranges[k] = Range(*v)
        self.dynamic = bool(dynamic)
        user = tuple(columns)
        for c in user:
            if not isinstance(c, Column):
                raise ConfigError(f"columns must be Column, not {c!r}", field="columns", value=c)
        #: The kinds of agent, in the order their columns first appear.
        self.tables = tuple(dict.fromkeys(c.table for c in user)) or (DEFAULT_TABLE,)
        multi = len(self.tables) > 1
        #: Per table: its size name, engine names and index (:class:`TableInfo`).
        self.table_info = {t: TableInfo(t, j, f"rows_{t}" if multi else "rows",
                                        f"{t}.alive" if multi else "alive",
                                        f"{t}.id" if multi else "id",
                                        f"{t}_population" if multi else "population")
                           for j, t in enumerate(self.tables)}
        engine_cols, engine_res = [], []
        if self.dynamic:
            for t, info in self.table_info.items():
                engine_cols += [_renamed(_ALIVE, info.alive, t), _renamed(_ID, info.id, t)]
                engine_res.append(Resource(info.population, _made_by_world, state=True))
        #: Names the engine owns in a dynamic model: {name: table}.
        self.engine = {n: t for t, i in self.table_info.items() if self.dynamic
                       for n in (i.alive, i.id, i.population)}
        for c in user:
            if self.dynamic and c.name in ("alive", "id"):
                raise ConfigError(f"column {c.name!r} is the engine's in a dynamic model",
                                  field="columns", value=c.name)
        for r in tuple(resources):
            if getattr(r, "name", None) in self.engine:
                raise ConfigError(f"resource {r.name!r} is the engine's in a dynamic model",
                                  field="resources", value=r.name)
        # A column's name in the model: its own, or "table.column" with several tables.
        self.columns = tuple(engine_cols) + tuple(
            _renamed(c, f"{c.table}.{c.name}", c.table) if multi else c for c in user)
        self.resources = tuple(engine_res) + tuple(resources)
        self.systems = tuple(systems)
        self.setup = tuple(setup)
        self.stats = dict(stats or {})
        self.check = check
        self._module = None
        self._debug_module = None
        self._validate()
        # A column read and written by one per-row system is double-buffered (not
        # alive: a per-row system's write to it is a request, applied after the system).
        self.double = tuple(c.name for c in self.columns if c.name not in self.engine and any(
            isinstance(s, Rows) and c.name in self.io[s.name].reads
            and c.name in self.io[s.name].writes for s in self.setup + self.systems))

    def table_of(self, name: str) -> str:
        """The table of column ``name`` (its name in the model)."""
        return self._col_table[name]

    def _resolve(self, field, name, table):
        """A column's or resource's name in the model: ``name`` as declared, or, with
        several tables, ``table.name`` (the system's own table) or the one column of
        that name in any table."""
        if name in self._col_table or name in self._res_names:
            return name
        if table is not None and f"{table}.{name}" in self._col_table:
            return f"{table}.{name}"
        found = [c for c in self._col_table if c.rpartition(".")[2] == name]
        if len(found) == 1:
            return found[0]
        why = (f"names a column of several tables ({found}): write table.{name}" if found
               else "is not a column or resource")
        raise ConfigError(f"{field} uses {name!r}, which {why}", field=field, value=name)

    def _validate(self):
        seen = set()
        _check_name("name", self.name)
        for kind, names in (("params", list(self.params)),
                            ("columns", [c.name for c in self.columns]),
                            ("resources", [r.name for r in self.resources])):
            for n in names:
                if kind != "columns" or "." not in n:
                    _check_name(kind, n)
                if n.startswith("_"):
                    raise ConfigError(f"{kind} name {n!r} must not start with an underscore",
                                      field=kind, value=n)
                if n in seen:
                    raise ConfigError(f"name {n!r} is declared twice", field=kind, value=n)
                seen.add(n)
        for s in self.setup + self.systems:
            _check_name("systems", getattr(s, "name", None))
        for k, v in self.params.items():
            if not isinstance(v, (bool, int, float, np.integer, np.floating)):
                raise ConfigError(f"param {k}={v!r} must be an int, float or bool scalar",
                                  field=k, value=v)
        for k, r in self.ranges.items():
            v = self.params.get(k)
            numbers = (v, r.lo, r.hi, r.step)
            if k not in self.params or isinstance(v, (bool, np.bool_)) or not all(
                    isinstance(x, (int, float, np.integer, np.floating))
                    and not isinstance(x, bool) for x in numbers):
                raise ConfigError(f"ranges.{k}={tuple(r)!r} must be numbers for a numeric "
                                  f"parameter of the model", field=f"ranges.{k}", value=r)
            if not (r.lo <= v <= r.hi and r.step > 0) or (
                    isinstance(v, (int, np.integer)) and not all(
                        float(x).is_integer() for x in (r.lo, r.hi, r.step))):
                raise ConfigError(f"ranges.{k}={tuple(r)!r} must hold the default {v!r}, with "
                                  f"step > 0 (whole numbers for an integer parameter)",
                                  field=f"ranges.{k}", value=r, bound=v)
        self._col_table = {c.name: c.table for c in self.columns}
        self._res_names = {r.name for r in self.resources}
        alive = {i.alive for i in self.table_info.values()} if self.dynamic else set()
        ids = {i.id for i in self.table_info.values()} if self.dynamic else set()
        #: Per system, its reads, writes and spawn as names in the model, and its table
        #: (the first, for turns across several tables: ``kinds`` has them all).
        self.io = {}
        self.kinds = {}
        sys_names = set()
        for s in self.setup + self.systems:
            field = f"systems.{s.name}"
            if s.name in sys_names:
                raise ConfigError(f"system name {s.name!r} is used twice", field=field)
            sys_names.add(s.name)
            if not isinstance(s, (Rows, Kernel, Turns)):
                raise ConfigError(f"{field} must be Rows, Kernel or Turns", field=field,
                                  value=s)
            if not _is_numba(s.fn):
                raise ConfigError(f"{field}.fn must be a Numba-compiled function",
                                  field=f"{field}.fn", value=s.fn)
            kinds = s.table if isinstance(s.table, tuple) else None
            if kinds is not None:
                self.kinds[s.name] = tuple(self._table(f"{field}.table", t) for t in kinds)
            table = self._table(f"{field}.table", kinds[0] if kinds else s.table)
            io = _IO(*(tuple(self._resolve(field, n, None if kinds else table)
                             for n in _names(f"{field}.{part}", getattr(s, part, ())))
                       for part in ("reads", "writes", "spawn")), table)
            self.io[s.name] = io
            if ids & set(io.writes) or (not isinstance(s, Rows) and alive & set(io.writes)):
                raise ConfigError(f"{field} writes an engine column ({sorted((ids | alive) & set(io.writes))}): "
                                  f"a Kernel ends and adds agents through the population "
                                  f"resource", field=f"{field}.writes", value=io.writes)
            if isinstance(s, Rows):
                if io.spawn and not self.dynamic:
                    raise ConfigError(f"{field} spawns agents in a model that is not dynamic "
                                      f"(Model(..., dynamic=True))", field=f"{field}.spawn",
                                      value=io.spawn)
                for n in io.spawn:
                    if n not in self._col_table or n in self.engine \
                            or self._col_table[n] != table:
                        raise ConfigError(f"{field}.spawn names {n!r}, which is not a column "
                                          f"of table {table!r}'s own", field=f"{field}.spawn",
                                          value=n)
                if not io.writes and not io.spawn:
                    raise ConfigError(f"{field} writes nothing", field=f"{field}.writes")
                for n in io.writes:
                    if n not in self._col_table:
                        raise ConfigError(f"{field}: a per-row system writes columns only, "
                                          f"not resource {n!r}", field=f"{field}.writes", value=n)
                    if self._col_table[n] != table:
                        raise ConfigError(f"{field} runs over table {table!r} and writes "
                                          f"{n!r} of table {self._col_table[n]!r}: a per-row "
                                          f"system writes its own rows (Rows(..., table=))",
                                          field=f"{field}.writes", value=n)
                if s.order is not None and s.order not in self._res_names:
                    raise ConfigError(f"{field}.order={s.order!r} is not a resource",
                                      field=f"{field}.order", value=s.order)
        self.stat_io = {}
        for name, st in self.stats.items():
            field = f"stats.{name}"
            if not name.isidentifier():
                raise ConfigError(f"stat name {name!r} must be an identifier", field="stats",
                                  value=name)
            if isinstance(st, Stat):
                if not _is_numba(st.fn):
                    raise ConfigError(f"{field}.fn must be a Numba-compiled function",
                                      field=f"{field}.fn", value=st.fn)
                if self.dynamic and st.fn is column_mean:
                    raise ConfigError(f"{field}: column_mean counts free rows in a dynamic "
                                      f"model; use alive_mean with reads=('alive', ...)",
                                      field=f"{field}.fn", value=st.fn)
                table = self._table(f"{field}.table", st.table)
                self.stat_io[name] = _IO(tuple(self._resolve(field, n, table) for n in
                                               _names(f"{field}.reads", st.reads)), (), (),
                                         table)
            elif not callable(st):
                raise ConfigError(f"{field} must be a Stat or a function of the world",
                                  field=field, value=st)

    def _table(self, field, table) -> str:
        if table is None:
            return self.tables[0]
        if table not in self.tables:
            raise ConfigError(f"{field}={table!r} is not a table of the model (tables: "
                              f"{self.tables})", field=field, value=table)
        return table

    # ---- compilation ----------------------------------------------------------------

    def check_range(self, name: str, value) -> None:
        """ConfigError naming ``name`` when ``value`` lies outside its declared
        :class:`Range` (a parameter without one takes any value its type allows)."""
        r = self.ranges.get(name)
        if r is not None and not r.lo <= value <= r.hi:
            raise ConfigError(f"parameter {name}={value!r} is outside its range "
                              f"[{r.lo}, {r.hi}]", field=name, value=value, bound=(r.lo, r.hi))

    def module(self, debug: bool = False):
        """The generated module of this model (written and imported once per process);
        ``debug``: the same source run as plain Python (:mod:`dod_sim.debug`)."""
        if debug:
            if self._debug_module is None:
                from . import debug as _debug

                src, fns, _ = _source(self)
                self._debug_module = _debug.python_module(self, f"{self.name}_debug", src, fns)
            return self._debug_module
        if self._module is None:
            self._module = _load(self)
        return self._module

    def warmup(self, agents: int = 64, **params) -> float:
        """Compile (or load from the disk cache) by running 2 steps of a small world;
        returns the seconds it took."""
        t = time.perf_counter()
        ModelWorld(self, agents, seed=1, **params).run(2)
        return time.perf_counter() - t

    def __repr__(self):
        return (f"Model({self.name!r}, {len(self.columns)} columns, "
                f"{len(self.systems)} systems)")


# ---- code generation --------------------------------------------------------------------


def cache_dir() -> Path:
    """Where generated model modules (and Numba's cache of them, in __pycache__) live:
    ``$DOD_SIM_MODEL_CACHE``, else ``$NUMBA_CACHE_DIR/dod_sim_models``, else
    ``$XDG_CACHE_HOME/dod_sim/models`` (``~/.cache/dod_sim/models``)."""
    if os.environ.get("DOD_SIM_MODEL_CACHE"):
        return Path(os.environ["DOD_SIM_MODEL_CACHE"])
    if os.environ.get("NUMBA_CACHE_DIR"):
        return Path(os.environ["NUMBA_CACHE_DIR"]) / "dod_sim_models"
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "dod_sim" / "models"


def _py_type(v) -> str:
    if isinstance(v, (bool, np.bool_)):
        return "bool"
    if isinstance(v, (int, np.integer)):
        return "int"
    return "float"


_PARAMS = {}
_PY = {"int": int, "float": float, "bool": bool}


def params_class(fields: dict) -> type:
    """The NamedTuple of a model's parameters, ``{name: "int" | "float" | "bool"}``.

    Numba's cache of every function that takes it pickles the class by reference, so it
    must import in any process: it is named after its fields and ``__getattr__`` below
    rebuilds it from that name. (A class defined in a generated module broke the cache
    index of the user's own functions once the module's name changed.)
    """
    spec = ",".join(f"{k}:{t}" for k, t in fields.items())
    name = "Params_" + spec.encode().hex()
    cls = _PARAMS.get(name)
    if cls is None:
        cls = NamedTuple("Params", [(k, _PY[t]) for k, t in fields.items()])
        cls.__module__ = __name__
        cls.__qualname__ = name
        _PARAMS[name] = cls
    return cls


def __getattr__(name):
    if name.startswith("Params_"):
        spec = bytes.fromhex(name[len("Params_"):]).decode()
        return params_class(dict(item.split(":") for item in spec.split(",") if item))
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _Plan:
    """Names of the generated module: one argument per column storage and resource,
    user functions as globals ``_f<k>``."""

    def __init__(self, model: Model):
        self.model = model
        self.fns = []
        self.per_row = []  # functions called once per row: inlined into their loops
        self.args = []
        for c in model.columns:
            self.args.append(("b_" if c.name in model.double else "c_") + _ident(c.name))
        for r in model.resources:
            self.args.append("r_" + r.name)
        # a newborn's values from its parent, per spawned column: scratch, one per row
        self.spawned = tuple(dict.fromkeys(n for s in model.setup + model.systems
                                           if isinstance(s, Rows) for n in model.io[s.name].spawn))
        self.args += [f"s_{_ident(n)}" for n in self.spawned]
        # the order of a table's random turns (a dynamic table uses its population's)
        self.turn_tables = () if model.dynamic else tuple(dict.fromkeys(
            model.io[s.name].table for s in model.setup + model.systems
            if isinstance(s, Turns) and s.order == "random" and s.name not in model.kinds))
        self.args += [f"t_{t}" for t in self.turn_tables]
        # the order of each random turns system across several tables: every table's rows
        self.turn_orders = tuple(s.name for s in model.setup + model.systems
                                 if s.name in model.kinds and s.order == "random")
        self.args += [f"o_{name}" for name in self.turn_orders]
        self.par = {name: k for k, name in enumerate(model.double)}

    def fn(self, f, per_row=False) -> str:
        if per_row and not any(g is f for g in self.per_row):
            self.per_row.append(f)
        for k, g in enumerate(self.fns):
            if g is f:
                return f"_f{k}"
        self.fns.append(f)
        return f"_f{len(self.fns) - 1}"

    def current(self, name) -> str:
        if name in self.par:
            return f"b_{_ident(name)}[q_{_ident(name)}]"
        if name in self.model._col_table:
            return f"c_{_ident(name)}"
        return f"r_{name}"

    def rows(self, table) -> str:
        """The row count of ``table`` in generated code."""
        return f"ns[{self.model.table_info[table].index}]"

    def population(self, table) -> str:
        return "r_" + self.model.table_info[table].population

    def parities(self) -> list:
        return [f"    q_{_ident(n)} = par[{self.par[n]}]" for n in self.model.double]


def _rows_driver(plan, s, k, stream) -> list:
    reads, writes, spawn, table = plan.model.io[s.name]
    dynamic = plan.model.dynamic
    alive = plan.model.table_info[table].alive
    rargs = [f"a{j}" for j in range(len(reads))]
    wargs = [f"o{j}" for j in range(len(writes))]
    sargs = [f"b{j}" for j in range(len(spawn))]
    head = (["seed", "tick", "n", "p"] + (["order"] if s.order else [])
            + (["pop"] if dynamic else []) + rargs + wargs + sargs)
    # rows hoisted out of the prange: see numba#7135 in dod_sim.kernels.neighbours.
    row = "np.int64(rows[q])" if s.order else "q"
    call = f"{plan.fn(s.fn, per_row=True)}(i, key, p{''.join(', ' + a for a in rargs)})"
    lines = [
        f"# system {s.name}: reads {reads}, writes {writes}, spawns {spawn}",
        "@kernel(parallel=True)",
        f"def _rows{k}({', '.join(head)}):",
    ] + (["    rows = order.rows"] if s.order else []) + (
        ["    live = pop.alive", "    want = pop.want", "    births = pop.births"]
        if dynamic else []) + [
        "    for c in prange((n + CHUNK - 1) // CHUNK):",
    ] + (["        nb = 0"] if spawn else []) + [
        "        for q in range(c * CHUNK, min(n, (c + 1) * CHUNK)):",
        f"            i = {row}",
    ] + (["            if live[i] != ALIVE:", "                continue"] if dynamic else []) + [
        f"            key = draw(row_key(seed, tick, i), {stream})",
        f"            v = {call}",
    ]
    outs = len(writes) + (1 + len(spawn) if spawn else 0)
    value = (lambda j: "v") if outs == 1 else (lambda j: f"v[{j}]")
    for j, (name, w) in enumerate(zip(writes, wargs)):
        if dynamic and name == alive:  # a request: the row's agent ends at the sync point
            lines += [f"            if not {value(j)}:", "                want[i] = DIES"]
        else:
            lines.append(f"            {w}[i] = {value(j)}")
    if spawn:  # the chunk's k-th child, densely in the chunk's part of the buffers
        lines += [f"            if {value(len(writes))}:"]
        lines += [f"                {b}[c * CHUNK + nb] = {value(len(writes) + 1 + j)}"
                  for j, b in enumerate(sargs)]
        lines += ["                nb += 1", "        births[c] = nb"]
    return lines + [""]


def _kinds_driver(plan, s, k, stream) -> list:
    """The sequential loop of a Turns system across several tables: entries numbered
    table after table (entry e of table j is row e - first[j]), the live ones put in
    order (random: shuffled with the tick's key; rows: as numbered), then a call
    ``fn(kind, i, key, p, ...)`` per entry, skipping an agent that died before its turn."""
    io, model = plan.model.io[s.name], plan.model
    kinds = model.kinds[s.name]
    nargs = len(io.reads) + len([w for w in io.writes if w not in io.reads])
    arrays = [f"a{j}" for j in range(nargs)]
    ns = [f"n{j}" for j in range(len(kinds))]
    lives = [f"live{j}" for j in range(len(kinds))] if model.dynamic else []
    head = ["seed", "tick"] + ns + ["p"] + (["order"] if s.order == "random" else []) + lives
    lines = [f"# system {s.name}: turns in {s.order} order across {kinds}",
             "@kernel", f"def _turns{k}({', '.join(head + arrays)}):"]
    first = "0"
    firsts = []
    for j, n in enumerate(ns):
        firsts.append(first)
        first = f"{first} + {n}" if first != "0" else n
    if s.order == "random":
        lines.append("    m = 0")
        for j, n in enumerate(ns):
            lines += [f"    for i in range({n}):"]
            if model.dynamic:
                lines += [f"        if {lives[j]}[i] == ALIVE:",
                          f"            order[m] = {firsts[j]} + i", "            m += 1"]
            else:
                lines += [f"        order[m] = {firsts[j]} + i", "        m += 1"]
        lines += [f"    shuffle(draw(row_key(seed, tick, 0), {stream}), order, m)",
                  "    for j in range(m):", "        e = order[j]"]
    else:
        lines += [f"    for e in range({first}):"]
    lines += ["        kind = 0", "        i = e"]
    for j in range(1, len(ns)):
        lines += [f"        if e >= {firsts[j]}:", f"            kind = {j}",
                  f"            i = e - ({firsts[j]})"]
    if model.dynamic:  # died before its turn (or a free row, in row order)
        ok = f"{lives[-1]}[i] == ALIVE"
        for j in range(len(ns) - 2, -1, -1):
            ok = f"{lives[j]}[i] == ALIVE if kind == {j} else ({ok})"
        lines += [f"        if not ({ok}):", "            continue"]
    lines += [f"        {plan.fn(s.fn, per_row=True)}(kind, i, draw(row_key(seed, tick, e), "
              f"{stream}), p{''.join(', ' + a for a in arrays)})", ""]
    return lines


def _turns_driver(plan, s, k, stream) -> list:
    """The sequential loop of a Turns system: the order (random: drawn from the tick's
    key, as the population's shuffle; rows: 0..n-1), then a call per row in it."""
    if s.name in plan.model.kinds:
        return _kinds_driver(plan, s, k, stream)
    io = plan.model.io[s.name]
    nargs = len(io.reads) + len([w for w in io.writes if w not in io.reads])
    arrays = [f"a{j}" for j in range(nargs)]
    dynamic = plan.model.dynamic
    call = f"{plan.fn(s.fn, per_row=True)}(i, draw(row_key(seed, tick, i), {stream}), p" \
           f"{''.join(', ' + a for a in arrays)})"
    if s.order == "random":
        head = ["pop" if dynamic else "order"]
        lines = [f"    key = draw(row_key(seed, tick, 0), {stream})"]
        lines += (["    m = shuffled(pop, key, n)", "    order = pop.order"] if dynamic else
                  ["    m = n", "    for i in range(n):", "        order[i] = i",
                   "    shuffle(key, order, n)"])
        lines += ["    for j in range(m):", "        i = order[j]"]
        if dynamic:
            lines += ["        if pop.alive[i] != ALIVE:  # died before its turn",
                      "            continue"]
    else:
        head = ["live"] if dynamic else []
        lines = ["    for i in range(n):"]
        if dynamic:
            lines += ["        if live[i] != ALIVE:", "            continue"]
    return ([f"# system {s.name}: turns in {s.order} order",
             "@kernel", f"def _turns{k}(seed, tick, n, p, {', '.join(head + arrays)}):"]
            + lines + [f"        {call}", ""])


def _literal(value, dtype) -> str:
    """``value`` as source for a constant of ``dtype`` (NaN and infinities included)."""
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return repr(bool(value))
    if dtype.kind in "iu":
        return repr(int(value))
    v = float(value)
    return repr(v) if np.isfinite(v) else ("np.nan" if v != v else ("np.inf" if v > 0 else "-np.inf"))


def _born_driver(plan, s, k) -> list:
    """The children of system ``s`` after :func:`~dod_sim.kernels.population.open_births`
    granted ``g``: each takes its row, id and values, spawned columns from its parent's
    request, the others their scalar ``init`` (0 for an array or a function)."""
    spawn, table = plan.model.io[s.name].spawn, plan.model.io[s.name].table
    cols = [c for c in plan.model.columns if c.table == table and c.name not in plan.model.engine]
    dst = [f"d{j}" for j in range(len(cols))]
    lines = [
        "@kernel(parallel=True)",
        f"def _born{k}(n, g, pop, {', '.join(dst + [f's{j}' for j in range(len(spawn))])}):",
        "    free, alive, ids, births = pop.free, pop.alive, pop.id, pop.births",
        "    first = pop.count[N_FREE]",
        "    id0 = pop.count[NEXT_ID] - g",
        "    for c in prange((n + CHUNK - 1) // CHUNK):",
        "        j0 = births[c]",
        "        for k in range(min(births[c + 1], g) - j0):",
        "            j = j0 + k",
        "            r = free[first + j]",
        "            alive[r] = ALIVE",
        "            ids[r] = id0 + j",
    ]
    for c, d in zip(cols, dst):
        if c.name in spawn:
            lines.append(f"            {d}[r] = s{spawn.index(c.name)}[c * CHUNK + k]")
        else:
            init = c.init if not _is_numba(c.init) and np.ndim(c.init) == 0 else 0
            lines.append(f"            {d}[r] = {_literal(init, c.dtype)}")
    return lines + [""]


def _schedule(plan, systems, fname, first) -> tuple[list, list]:
    """(drivers, body lines) of one schedule (the tick or the setup)."""
    model = plan.model
    drivers, body = [], plan.parities()
    for j, s in enumerate(systems):
        k = first + j
        reads, writes, spawn, table = model.io[s.name]
        n = plan.rows(table)
        info = model.table_info[table]
        pop = plan.population(table) if model.dynamic else None
        if isinstance(s, Rows):
            drivers += _rows_driver(plan, s, k, f"ROWS_STREAM + {k}")
            flips = [w for w in writes if w in reads and w in plan.par]
            args = [plan.current(r) for r in reads]
            args += [f"b_{_ident(w)}[1 - q_{_ident(w)}]" if w in flips else plan.current(w)
                     for w in writes]
            args += [f"s_{_ident(c)}" for c in spawn]
            order = [plan.current(s.order)] if s.order else []
            body.append(f"    _rows{k}(seed, tick, {n}, p, "
                        f"{', '.join(order + ([pop] if pop else []) + args)})")
            body += [f"    q_{_ident(w)} = 1 - q_{_ident(w)}" for w in flips]
            if model.dynamic and (info.alive in writes or spawn):
                body.append(f"    settle({pop}, {n}, False)")
            if spawn:
                drivers += _born_driver(plan, s, k)
                dst = [plan.current(c.name) for c in model.columns
                       if c.table == table and c.name not in model.engine]
                body += [f"    g = open_births({pop}, {n})",
                         "    if g:",
                         f"        _born{k}({n}, g, {pop}, "
                         f"{', '.join(dst + [f's_{_ident(c)}' for c in spawn])})",
                         f"    close_births({pop}, {n})"]
        elif isinstance(s, Turns) and s.name in model.kinds:
            drivers += _turns_driver(plan, s, k, f"ROWS_STREAM + {k}")
            kinds = model.kinds[s.name]
            arrays = [plan.current(r) for r in reads + tuple(w for w in writes if w not in reads)]
            order = [f"o_{s.name}"] if s.order == "random" else []
            lives = [plan.current(model.table_info[t].alive) for t in kinds] \
                if model.dynamic else []
            body.append(f"    _turns{k}(seed, tick, {', '.join(plan.rows(t) for t in kinds)}, "
                        f"p, {', '.join(order + lives + arrays)})")
            for t, i in model.table_info.items():  # every population it was given
                if model.dynamic and i.population in reads + writes:
                    body.append(f"    settle({plan.population(t)}, {plan.rows(t)}, True)")
        elif isinstance(s, Turns):
            drivers += _turns_driver(plan, s, k, f"ROWS_STREAM + {k}")
            arrays = [plan.current(r) for r in reads + tuple(w for w in writes if w not in reads)]
            order = ([pop] if pop else [f"t_{table}"]) if s.order == "random" else []
            live = [plan.current(info.alive)] if model.dynamic and s.order == "rows" else []
            body.append(f"    _turns{k}(seed, tick, {n}, p, "
                        f"{', '.join(order + live + arrays)})")
            for t, i in model.table_info.items():  # every population it was given
                if model.dynamic and i.population in reads + writes:
                    body.append(f"    settle({plan.population(t)}, {plan.rows(t)}, True)")
        else:
            arrays = [plan.current(r) for r in reads + tuple(w for w in writes if w not in reads)]
            body.append(f"    {plan.fn(s.fn)}(draw(row_key(seed, tick, 0), KERNEL_STREAM + {k}), "
                        f"{n}, p{''.join(', ' + a for a in arrays)})")
            for t, i in model.table_info.items():  # every population it was given
                if model.dynamic and i.population in reads + writes:
                    body.append(f"    settle({plan.population(t)}, {plan.rows(t)}, True)")
    for name in model.double:
        body.append(f"    par[{plan.par[name]}] = q_{_ident(name)}")
    head = f"def {fname}(seed, tick, ns, p, par, {', '.join(plan.args)}):"
    # Inlined into its runners at Numba's IR level: compiled as a function of its own, the
    # whole linked tick went through LLVM's optimiser once more (~1.7 s of Sugarscape's
    # cold compile). Only the runners call it.
    return drivers, ['@kernel(inline="always")', head] + (body or ["    pass"]) + [""]


def _source(model: Model) -> tuple[str, list, list]:
    """The generated module's source, the user functions it injects (in order) and
    those among them that it calls once per row."""
    plan = _Plan(model)
    out = [
        ascii(f"Generated by dod_sim.model for model {model.name}: do not edit."),
        "import numpy as np",
        "from numba import prange",
        "",
        "from dod_sim.kernels._jit import kernel",
        "from dod_sim.kernels.clock import cycles",
        "from dod_sim.kernels.rng import draw, row_key",
        "from dod_sim.kernels.population import (ALIVE, DIES, LIVE, N_FREE, NEXT_ID, REFUSED,",
        "                                        close_births, open_births, settle, shuffle,",
        "                                        shuffled)",
        "",
        f"CHUNK = {CHUNK}",
        f"INIT_STREAM = {INIT_STREAM}",
        f"ROWS_STREAM = {ROWS_STREAM}",
        f"KERNEL_STREAM = {KERNEL_STREAM}",
        "",
    ]
    body = []
    for t, info in model.table_info.items():
        inits = [(j, c) for j, c in enumerate(model.columns)
                 if c.table == t and _is_numba(c.init)]
        # one serial loop for a table's columns: a parallel one cost ~0.6 s of every
        # model's cold compile and saved under 10 ms of building a world of a million
        # agents (znver3, 2026-12-08: boids 32 ms either way, wealth 30 against 38)
        if inits:
            body += [
                "@kernel",
                f"def _init{info.index}(seed, n, p, {', '.join(f'o{j}' for j, _ in inits)}):",
                "    for c in range((n + CHUNK - 1) // CHUNK):",
                "        for i in range(c * CHUNK, min(n, (c + 1) * CHUNK)):",
                "            key = row_key(seed, -1, i)",
            ] + [f"            o{j}[i] = {plan.fn(c.init, per_row=True)}(i, draw(key, "
                 f"INIT_STREAM + {j}), p)" for j, c in inits] + [""]
    n_tick = len(model.systems)
    d1, tick = _schedule(plan, model.systems, "_tick", 0)
    d2, setup = _schedule(plan, model.setup, "_setup", n_tick)
    args = ", ".join(plan.args)
    body += d1 + d2 + tick + setup + [
        "@kernel",
        f"def run_setup(seed, ns, p, par, {args}):",
        f"    _setup(seed, -1, ns, p, par, {args})",
        "",
    ]
    # One loop with and without statistics: every compiled caller of _tick links, and
    # LLVM compiles, the whole tick once more (a second loop for the statistics cost the
    # tileworld model ~60 s of its first step() after a run()).
    compiled = [(k, st) for k, st in model.stats.items() if isinstance(st, Stat)]
    if compiled:
        body += ["@kernel", f"def _stats(ns, p, par, row, {args}):"] + plan.parities()
        for j, (k, st) in enumerate(compiled):
            io = model.stat_io[k]
            reads = [plan.current(r) for r in io.reads]
            body.append(f"    row[{j}] = {plan.fn(st.fn)}({plan.rows(io.table)}, p"
                        f"{''.join(', ' + a for a in reads)})  # {k}")
        body.append("")
    # Agent data, tidy, of one table (_collect<table index>): the compiled loop appends
    # each sample's live rows at sample[0] of the output columns (o_step, o_id, one per
    # model column; a column not collected gets a zero-length one) and returns -1 when
    # they have no room. Chunks in parallel. A dynamic model first counts each chunk's
    # live rows (o_chunk) to place them, then one pass over each chunk's rows writes
    # every column (a loop per column took twice as long); a fixed one writes step and
    # id in a loop and copies each collected column as a slice (100,000 rows, 3 columns:
    # 0.21 ms a sample against 0.24 for the row loop with a branch a column, whose
    # stores do not vectorise).
    adata = [f"ad_{_ident(c.name)}" for c in model.columns]
    outs = ", ".join(["o_chunk", "o_step", "o_id"] + adata)
    dyn = model.dynamic
    for t, info in model.table_info.items():
        cols = [(c, a) for c, a in zip(model.columns, adata) if c.table == t]
        x = {c.name: f"x_{_ident(c.name)}" for c, _ in cols}
        body += ["@kernel(parallel=True)",
                 f"def _collect{info.index}(pos, step, ns, par, {args}, {outs}):",
                 f"    n = {plan.rows(t)}"] + plan.parities()
        body += [f"    {x[c.name]} = {plan.current(c.name)}" for c, _ in cols]
        body += [f"    w{j} = {a}.shape[0] > 0" for j, (_, a) in enumerate(cols)]
        body += ["    chunks = (n + CHUNK - 1) // CHUNK"]
        if dyn:
            body += ["    for c in prange(chunks):", "        m = 0",
                     "        for i in range(c * CHUNK, min(n, (c + 1) * CHUNK)):",
                     f"            m += {x[info.alive]}[i] == ALIVE", "        o_chunk[c] = m",
                     "    total = 0", "    for c in range(chunks):", "        m = o_chunk[c]",
                     "        o_chunk[c] = pos + total", "        total += m"]
        else:
            body += ["    total = n"]
        body += ["    if pos + total > o_step.shape[0]:", "        return -1",
                 "    for c in prange(chunks):", "        lo = c * CHUNK",
                 "        hi = min(n, lo + CHUNK)",
                 f"        k0 = {'o_chunk[c]' if dyn else 'pos + lo'}"]
        live = [f"            if {x[info.alive]}[i] != ALIVE:", "                continue"] \
            if dyn else []
        body += ["        k = k0", "        for i in range(lo, hi):"] + live + [
            "            o_step[k] = step",
            f"            o_id[k] = {x[info.id] + '[i]' if dyn else 'i'}"]
        if dyn:
            for j, (c, a) in enumerate(cols):
                body += [f"            if w{j}:", f"                {a}[k] = {x[c.name]}[i]"]
            body += ["            k += 1"]
        else:  # every row: a slice a column, without the row loop's branch a column
            body += ["            k += 1"]
            for j, (c, a) in enumerate(cols):
                body += [f"        if w{j}:", f"            {a}[k0:k] = {x[c.name]}[lo:hi]"]
        body += ["    return pos + total", ""]
    collect = [f"            {'if' if j == 0 else 'elif'} ctable == {j}:\n"
               f"                k = _collect{j}(sample[0], t + 1, ns, par, {args}, {outs})"
               for j in range(len(model.tables))]
    refused = " or ".join(f"{plan.population(t)}.count[REFUSED]" for t in model.tables)
    # Two batch runners of one signature: run_collect takes agent samples, run_ticks
    # does not, so the _collect functions (3-4.6 s of compile each) compile only when a
    # world first collects.
    for name, sampling in (("run_ticks", []), ("run_collect", [
            "        if every and (t + 1) % every == 0:",
            "            k = -1"] + collect + [
            "            if k < 0:  # no room: the caller makes some and takes this sample",
            "                sample[1] = 1",
            "                cyc[t - t0] = cycles() - prev",
            "                return t - t0 + 1",
            "            sample[0] = k"])):
        body += [
            "@kernel",
            f"def {name}(seed, t0, steps, ns, p, par, out, with_stats, cyc, until, every, "
            f"sample, ctable, {args}, {outs}):",
            "    prev = cycles()",
            "    for t in range(t0, t0 + steps):",
            f"        _tick(seed, t, ns, p, par, {args})",
        ] + ([
            "        if with_stats:",
            f"            _stats(ns, p, par, out[t - t0], {args})",
        ] if compiled else []) + sampling + [
            "        now = cycles()",
            "        cyc[t - t0] = now - prev  # the tick and its statistics, in cycles",
            "        prev = now",
        ] + ([
            f"        if {refused}:  # capacity: stop after this tick",
            "            return t - t0 + 1",
        ] if model.dynamic else []) + [
            "        if until >= 0 and out[t - t0, until] != 0:",
            "            return t - t0 + 1",
            "    return steps",
            "",
        ]
    # a function's module and qualname are any strings: written as one escaped literal
    out += [f"_f{k} = None  # injected: "
            f"{ascii(f'{f.py_func.__module__}.{f.py_func.__qualname__}')}"
            for k, f in enumerate(plan.fns)]
    src = "\n".join(out + ["", ""] + body) + "\n"
    if not all(f.py_func.__module__ in sys.modules for f in plan.fns):
        # a function of a module no process can import (code exec'd under a made-up
        # __name__): a cached module would fail to load in the next process
        src = src.replace("@kernel(parallel=True)\n", "@kernel(parallel=True, cache=False)\n")
        src = src.replace("@kernel\n", "@kernel(cache=False)\n")
    return src, plan.fns, plan.per_row


def _fingerprint(src: str, fns) -> str:
    h = hashlib.sha256(_TEMPLATE_VERSION.encode() + src.encode())
    files = {Path(__file__)} | set(Path(_nb.__file__).parent.glob("*.py"))
    for f in fns:
        py = f.py_func
        h.update(f"{py.__module__}.{py.__qualname__}".encode())
        h.update(py.__code__.co_code)
        h.update(repr(py.__code__.co_consts).encode())
        try:
            files.add(Path(inspect.getsourcefile(py)))
        except TypeError:  # defined where no file backs it (a REPL): its bytecode above
            pass
    for path in sorted(files):
        if path.is_file():
            h.update(path.read_bytes())
    return h.hexdigest()[:16]


def _private_dir(d: Path) -> None:
    """Make ``d`` (mode 0700) or check that it is this user's and no one else can write
    it (OSError otherwise): a module imported from it runs as this user."""
    d.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = os.stat(d, follow_symlinks=False)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
        raise OSError(f"{d} is not a folder of this user")
    if st.st_mode & 0o022:
        os.chmod(d, stat.S_IMODE(st.st_mode) & ~0o077)


def _write_module(d: Path, name: str, src: str) -> Path:
    """The path of module ``name`` in the private folder ``d``, holding exactly ``src``:
    written atomically when it is missing or holds anything else (truncated, edited,
    planted). A file that already holds ``src`` is left alone: rewriting it would change
    its mtime, which Numba's cache index checks, and every process would recompile."""
    _private_dir(d)
    path = d / f"{name}.py"
    try:
        if path.read_bytes() == src.encode():
            return path
    except FileNotFoundError:
        pass
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=d)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(src)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def _load(model: Model):
    src, fns, per_row = _source(model)
    safe = "".join(ch if ch.isalnum() else "_" for ch in model.name)[:40]
    name = f"dod_sim_model_{safe}_{_fingerprint(src, fns)}"
    if name in sys.modules:
        mod = sys.modules[name]
    else:
        path = None
        for d in (cache_dir(), Path(tempfile.gettempdir()) / f"dod_sim_models_{os.getuid()}"):
            try:
                path = _write_module(d, name, src)
                break
            except OSError:  # read-only home, a folder not ours: try the next
                path = None
        if path is None:
            raise OSError(f"cannot write the generated module of model {model.name!r} "
                          f"to {cache_dir()} or a private folder in the temp dir")
        spec = importlib.util.spec_from_file_location(name, path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
    for k, f in enumerate(fns):
        setattr(mod, f"_f{k}", _inlined(f) if any(f is g for g in per_row) else f)
    return mod


_INLINED = {}


def _inlined(f):
    """``f`` recompiled to be inlined into the generated per-row loop (Numba IR
    inlining). Called through a function, each row paid the call and an NRT incref and
    decref of every array it was passed (a CellIndex is twelve): measured ~5x slower
    (the wealth model's settle, 10,000 agents)."""
    g = _INLINED.get(id(f))
    if g is None or g[0] is not f:
        opts = {k: v for k, v in f.targetoptions.items() if k not in ("cache", "parallel", "nopython")}
        g = (f, njit(inline="always", **opts)(f.py_func))
        _INLINED[id(f)] = g
    return g[1]


# ---- resources ready to use ------------------------------------------------------------


def points_index(capacity: int, width: float, height: float, radius: float) -> _nb.CellIndex:
    """A CellIndex of points on a width x height torus, with cells at least
    ``radius * (1 + 1e-6)`` wide so a query of that radius scans 3 x 3 cells.
    Memory: 40 bytes a row and 16 a cell."""
    ncx = max(1, int(width / (radius * (1 + 1e-6)))) if radius > 0 else 1
    ncy = max(1, int(height / (radius * (1 + 1e-6)))) if radius > 0 else 1
    return _alloc_index(capacity, float(width), float(height), ncx, ncy, points=True)


def grid_index(capacity: int, width: int, height: int) -> _nb.CellIndex:
    """A CellIndex of a width x height grid, one list per grid square (integer x, y)."""
    return _alloc_index(capacity, float(width), float(height), int(width), int(height),
                        points=False)


def _alloc_index(capacity, width, height, ncx, ncy, points):
    n_cells = ncx * ncy
    blocks = min(_nb.BLOCKS, n_cells)
    chunks = max(1, -(-capacity // _nb.CHUNK))
    pts = capacity if points else 0
    return _nb.CellIndex(
        width=width, height=height, ncx=ncx, ncy=ncy, cell_w=width / ncx, cell_h=height / ncy,
        inv_w=ncx / width, inv_h=ncy / height,
        start=np.zeros(n_cells + 1, np.int64), rows=np.zeros(capacity, np.int32),
        px=np.zeros(pts, np.float64), py=np.zeros(pts, np.float64),
        cell=np.zeros(capacity, np.int64), counts=np.zeros((chunks, blocks), np.int64),
        block_start=np.zeros(blocks + 1, np.int64), bucket=np.zeros(capacity, np.int32),
        cursor=np.zeros(n_cells, np.int64),
    )


@_kernel
def _index_points(key, n, p, x, y, ix):
    _nb.index_points(ix, x, y, n)


@_kernel
def _index_grid(key, n, p, x, y, ix):
    _nb.index_grid(ix, x, y, n)


def IndexPoints(index: str, x: str = "x", y: str = "y", name: str | None = None) -> Kernel:
    """A system that rebuilds CellIndex resource ``index`` from float columns x, y."""
    return Kernel(name or f"index_{index}", _index_points, reads=(x, y), writes=(index,))


def IndexGrid(index: str, x: str = "x", y: str = "y", name: str | None = None) -> Kernel:
    """A system that rebuilds CellIndex resource ``index`` from integer columns x, y."""
    return Kernel(name or f"index_{index}", _index_grid, reads=(x, y), writes=(index,))


# ---- a run ---------------------------------------------------------------------------------


class Collected(NamedTuple):
    """What :meth:`ModelWorld.collect` returns: the model table (``step`` and the
    statistics) and the agent table (``step``, ``id`` and the collected columns), as
    pandas DataFrames or dicts of numpy arrays."""

    model: Any
    agents: Any


def _has_pandas() -> bool:
    return importlib.util.find_spec("pandas") is not None


_NO_SAMPLE = np.zeros(2, np.int64)  # run_ticks' sample counter when nothing is collected


class _Lease:
    """The owner (``base``) of one collected column: a view of a block of ``_Spare``.
    When no array uses it any more, the block goes back to the spares."""

    __slots__ = ("__array_interface__", "__weakref__")

    def __init__(self, raw, n, dtype):
        self.__array_interface__ = {"shape": (n,), "typestr": dtype.str, "version": 3,
                                    "data": (raw.ctypes.data, False)}


class _Spare:
    """Memory for the columns of :meth:`ModelWorld.collect`, reused from tables no one
    holds any more. A new table's memory is pages that the OS faults in and zeroes,
    which costs as much as writing them or more: even a table dropped a moment ago
    goes back to the OS and comes back to be faulted in anew (this project's VM,
    100,000 agents and 3 columns, 4 MB a step: 2,600 faults a 20-step collection, and
    1.44-1.68x a walk step against 1.11-1.30x on reused memory); a sweep's runs, a
    collection done in pieces and a benchmark's repeats each drop the table before
    the next, and the next takes its pages back, already faulted in. At most ``KEEP``
    bytes (and ``BLOCKS`` columns) of dropped tables wait here, the newest; columns
    under ``MIN`` bytes come from ``np.empty`` as before. (Aligning the columns to 2 MiB
    for whole transparent huge pages cut the faults 35-fold but not the time: zeroing
    is the cost.)"""

    MIN = 64 << 10
    KEEP = 256 << 20
    BLOCKS = 64

    def __init__(self):
        self.lock = threading.RLock()  # a block can come back in any thread, mid-take too
        self.free = []  # uint8 blocks no column uses
        self.kept = 0
        self.enabled = True  # False: new memory every time (what a first collection pays)

    def column(self, n: int, dtype) -> np.ndarray:
        """An uninitialised column of ``n`` values."""
        dtype = np.dtype(dtype)
        need = n * dtype.itemsize
        if need < self.MIN or dtype.fields is not None or dtype.subdtype is not None:
            return np.empty(n, dtype)
        raw = None
        if self.enabled:
            with self.lock:
                best = None
                for j, r in enumerate(self.free):  # the smallest that fits, without waste
                    if need <= r.size <= need + need // 4 \
                            and (best is None or r.size < self.free[best].size):
                        best = j
                if best is not None:
                    raw = self.free.pop(best)
                    self.kept -= raw.size
        if raw is None:
            raw = np.empty(need, np.uint8)
        lease = _Lease(raw, n, dtype)
        weakref.finalize(lease, self._back, raw).atexit = False
        return np.asarray(lease)

    def _back(self, raw) -> None:
        if not self.enabled or raw.size > self.KEEP:
            return
        with self.lock:  # the newest kept, the oldest let go
            self.free.append(raw)
            self.kept += raw.size
            while self.kept > self.KEEP or len(self.free) > self.BLOCKS:
                self.kept -= self.free.pop(0).size

    def clear(self) -> None:
        """Let the kept blocks go (to the allocator, and so to the OS)."""
        with self.lock:
            self.free.clear()
            self.kept = 0


_SPARE = _Spare()
if hasattr(os, "register_at_fork"):  # a child forked while a thread held the lock
    os.register_at_fork(after_in_child=lambda: setattr(_SPARE, "lock", threading.RLock()))


class _Collector:
    """Agent data of one :meth:`ModelWorld.collect`, in tidy blocks: output columns
    ``step``, ``id`` and one per collected column that the compiled loop appends each
    sample's live rows to (``sample[0]`` rows used; ``sample[1]`` set when the block
    had no room for a sample, which :meth:`take` then makes and takes). A model of
    fixed population gets one block of the run's exact size, so the table is the block
    itself; a dynamic one starts from its live count and adds blocks of at most
    ``BUDGET`` bytes as it grows. The columns come from :data:`_SPARE`: the memory of
    a table no one holds any more, else new pages, faulted in by the loop's writes."""

    BUDGET = 256 << 20

    def __init__(self, world, names, every, steps, table):
        self.world, self.names, self.every = world, names, every
        self.table_index = world.model.table_info[table].index
        self.rows = world.table_rows[table]
        columns = world.model.columns
        self.row_bytes = 16 + sum(np.dtype(c.dtype).itemsize for c in columns
                                  if c.name in names)
        t0 = world.tick
        samples = 1 + (t0 + steps) // every - t0 // every
        live = world.live_of(table)
        expected = samples * live
        if expected * self.row_bytes > _physical_memory():
            raise ConfigError(f"collecting {samples} samples of {live} agents needs "
                              f"{expected * self.row_bytes / 2**30:.1f} GiB, more than this "
                              f"machine's memory: collect fewer steps or every k steps",
                              field="steps", value=steps)
        if world.model.dynamic:
            expected = min(expected * 5 // 4, max(1, self.BUDGET // self.row_bytes))
        self.block = max(self.rows, expected)
        self.sample = np.zeros(2, np.int64)
        self.chunks = np.zeros(self.rows // CHUNK + 1, np.int64)
        self.parts = []
        self._fresh()

    def _fresh(self):
        rows = self.block
        self.buffers = (self.chunks, _SPARE.column(rows, np.int64),
                        _SPARE.column(rows, np.int64)) + tuple(
            _SPARE.column(rows, c.dtype) if c.name in self.names
            else self.world._no_data[3 + j]
            for j, c in enumerate(self.world.model.columns))
        self.sample[:] = 0

    def _flush(self):
        k = int(self.sample[0])
        if k:
            names = [c.name for c in self.world.model.columns]
            part = {"step": self.buffers[1][:k], "id": self.buffers[2][:k]}
            part.update({n: self.buffers[3 + names.index(n)][:k] for n in self.names})
            self.parts.append(part)

    def _take(self):
        w = self.world
        collect = getattr(w._mod, f"_collect{self.table_index}")
        k = collect(self.sample[0], w.tick, w._ns, w._par, *w._args, *self.buffers)
        if k < 0:
            self._flush()
            self._fresh()
            k = collect(0, w.tick, w._ns, w._par, *w._args, *self.buffers)
        self.sample[0] = k

    def sample_now(self):
        """The current state, as a sample."""
        self._take()

    def take(self):
        """After a compiled batch: take the sample it had no room for, if any."""
        if self.sample[1]:
            self._flush()
            self._fresh()
            self._take()

    def table(self) -> dict:
        self._flush()
        self.sample[:] = 0
        keys = ["step", "id", *self.names]
        if len(self.parts) == 1:
            return dict(self.parts[0])
        return {k: np.concatenate([p[k] for p in self.parts]) for k in keys}


def _physical_memory() -> int:
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 2**40


def _init_values(model, init, table_agents) -> dict:
    """{column name in the model: values} from ``init`` (a mapping of column names, or
    a pandas DataFrame, to arrays of one value per starting agent of the column's
    table): checked for names, lengths and a lossless cast to the column's dtype."""
    if init is None:
        return {}
    if hasattr(init, "columns") and hasattr(init, "to_numpy"):  # a DataFrame
        init = {k: init[k].to_numpy() for k in init.columns}
    if not hasattr(init, "items"):
        raise ConfigError(f"init must be a mapping or a DataFrame of columns, not "
                          f"{type(init).__name__}", field="init", value=type(init).__name__)
    columns = {c.name: c for c in model.columns if c.name not in model.engine}
    out = {}
    for name, values in init.items():
        full = name if name in columns else next(
            (c for c in columns if c.rpartition(".")[2] == name and sum(
                k.rpartition(".")[2] == name for k in columns) == 1), None)
        if full is None:
            raise ConfigError(f"init names {name!r}, which is not a column of model "
                              f"{model.name!r} (columns: {sorted(columns)})", field="init",
                              value=name)
        c = columns[full]
        n = table_agents[c.table]
        try:
            a = np.asarray(values)
        except (TypeError, ValueError) as e:
            raise ConfigError(f"init[{name!r}] is not an array: {e}", field=f"init.{name}",
                              value=None) from None
        if a.shape != (n,):
            raise ConfigError(f"init[{name!r}] has shape {a.shape}, expected ({n},): one value "
                              f"per starting agent", field=f"init.{name}", value=a.shape,
                              bound=n)
        dtype = np.dtype(c.dtype)
        if a.dtype.kind not in "biuf":
            raise ConfigError(f"init[{name!r}] of dtype {a.dtype} cannot become column "
                              f"{full!r}'s {dtype}", field=f"init.{name}", value=str(a.dtype))
        with np.errstate(invalid="ignore", over="ignore"):
            cast = a.astype(dtype)
        # integers and flags must arrive exactly; floats are rounded to the column's width
        if dtype.kind in "biu" and not np.array_equal(cast, a):
            i = int(np.flatnonzero(cast != a)[0])
            raise ConfigError(f"init[{name!r}][{i}] = {a[i]!r} does not fit column {full!r}'s "
                              f"{dtype}", field=f"init.{name}", value=a[i].item())
        out[full] = cast
    return out


def _count(field, v, lo, hi) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not lo <= v <= hi:
        raise ConfigError(f"{field}={v!r} must be an integer in [{lo}, {hi}]", field=field,
                          value=v, bound=(lo, hi))
    return int(v)


def _sizes(model, agents, capacity) -> tuple[dict, dict]:
    """({table: agents}, {table: rows}) from ``agents`` and ``capacity`` (an int for a
    model of one table, else a dict by table); a dynamic table's capacity defaults to
    twice its agents."""
    multi = len(model.tables) > 1

    def by_table(field, v):
        if not isinstance(v, dict):
            if multi:
                raise ConfigError(f"{field}={v!r} must be a dict by table for model "
                                  f"{model.name!r} (tables: {model.tables})", field=field,
                                  value=v)
            return {model.tables[0]: v}
        if set(v) != set(model.tables):
            raise ConfigError(f"{field} must name every table of model {model.name!r} once: "
                              f"{model.tables}, not {tuple(v)}", field=field, value=tuple(v))
        return v

    # a dynamic table may start empty (its kind is born later); a fixed one has rows
    table_agents = {t: _count("agents" if not multi else f"agents.{t}", a,
                              0 if model.dynamic else 1, MAX_ROWS)
                    for t, a in by_table("agents", agents).items()}
    if capacity is not None and not model.dynamic:
        raise ConfigError(f"capacity={capacity!r} is for a dynamic model; model "
                          f"{model.name!r} has a fixed population", field="capacity",
                          value=capacity)
    if not model.dynamic:
        return table_agents, dict(table_agents)
    if capacity is None:
        capacity = {t: max(2 * a, 1) for t, a in table_agents.items()}
    rows = {t: _count("capacity" if not multi else f"capacity.{t}", c,
                      max(table_agents[t], 1), MAX_ROWS)
            for t, c in by_table("capacity", capacity).items()}
    return table_agents, rows


class ModelWorld:
    """``agents`` rows of ``model`` with a seed, a thread count and parameter values.

    Columns are numpy arrays of length ``agents`` (two buffers for double-buffered ones).
    A model of several tables takes ``agents`` (and ``capacity``) as a dict by table.
    ``init``: starting values of some columns, one per agent (a dict of arrays or a
    DataFrame), instead of their ``Column.init``; no recompilation. Restore-time
    ``checks`` are not applied to them: the model's systems see them as given.
    Construction initialises the columns (tick -1) and runs the setup systems;
    ``setup_seconds`` includes compiling or loading the model on first use.
    ``threads``: None lets the runtime choose: one thread for a world of one ``CHUNK``
    of rows, every core above ``pacing.PROBE_MAX_AGENTS`` agents, and in between the
    faster of 1 thread and every core in a short probe on a world of its own
    (``pacing.model_threads``; ``threads_choice`` says which and why).
    """

    def __init__(self, model: Model, agents, *, seed: int = 0, threads: int | None = None,
                 capacity=None, init=None, debug: bool = False, **params):
        table_agents, table_rows = _sizes(model, agents, capacity)
        #: The systems run as plain Python (:mod:`dod_sim.debug`): slow, to step through.
        self.debug = bool(debug)
        self._init_values = _init_values(model, init, table_agents)
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) \
                or not 0 <= seed <= 2**63 - 1:
            raise ConfigError(f"seed={seed!r} must be an integer in [0, 2**63 - 1]",
                              field="seed", value=seed, bound=(0, 2**63 - 1))
        self.model = model
        #: Agents at the start per table (the live count of a dynamic model: :attr:`live`).
        self.table_agents = table_agents
        #: Rows per table: its agents, or its capacity in a dynamic model.
        self.table_rows = table_rows
        #: Agents at the start and rows, over every table.
        self.agents = sum(table_agents.values())
        self.rows = sum(table_rows.values())
        self._ns = np.array([table_rows[t] for t in model.tables], np.int64)
        self.seed = int(seed)
        cores = runtime.default_threads()
        if threads is not None:
            self.threads = runtime.resolve_threads(threads)
            self.threads_choice = {"threads": self.threads, "how": "set by the caller"}
        elif cores == 1 or self.agents <= CHUNK or self.debug:
            # one chunk: its parallel loops have one iteration, and waking the pool for
            # each cost more than the work (wealth, 1,000 agents: 470 us a step on 1
            # thread, 770 on 2)
            self.threads = 1
            self.threads_choice = {"threads": 1, "how": "one core" if cores == 1 else
                                   f"one thread (at most {CHUNK} rows: one chunk)"}
        else:
            # measured below, once the world is set up (every core above
            # pacing.PROBE_MAX_AGENTS)
            self.threads = cores
            self.threads_choice = {"threads": cores, "how": f"every core (more than "
                                   f"{pacing.PROBE_MAX_AGENTS} agents)"}
        self.params = self._params(params)
        self._agents_given = agents  # what model.check receives, again in set_params
        if model.check is not None:
            model.check(self.params, agents)
        self._mod = model.module(debug=self.debug)
        self._store = {}
        for c in model.columns:
            n = table_rows[c.table]
            shape = (2, n) if c.name in model.double else (n,)
            self._store[c.name] = np.zeros(shape, np.dtype(c.dtype))
        single = {c.name: buf for c in model.columns
                  if (buf := self._store[c.name]).ndim == 1}
        populations = {i.population: i for i in model.table_info.values()} if model.dynamic else {}
        first = table_rows[model.tables[0]]
        self._res = {r.name: _pop.population(single[populations[r.name].alive],
                                             single[populations[r.name].id],
                                             table_agents[populations[r.name].name])
                     if r.name in populations else _make_resource(r.make, self.params, first,
                                                                  self.seed, single)
                     for r in model.resources}
        plan = _Plan(model)
        self._spawned = {name: np.zeros(table_rows[model.table_of(name)],
                                        self._store[name].dtype) for name in plan.spawned}
        for s in model.systems + model.setup:
            if isinstance(s, Rows) and s.order and not isinstance(self._res[s.order],
                                                                  _nb.CellIndex):
                raise ConfigError(f"systems.{s.name}.order={s.order!r} must be a CellIndex",
                                  field=f"systems.{s.name}.order", value=s.order)
        self._par = np.zeros(len(model.double), np.int64)
        self._orders = tuple(np.zeros(table_rows[t], np.int64) for t in plan.turn_tables) + tuple(
            np.zeros(sum(table_rows[t] for t in model.kinds[name]), np.int64)
            for name in plan.turn_orders)
        self._args = tuple(self._store[c.name] for c in model.columns) + tuple(
            self._res[r.name] for r in model.resources) + tuple(self._spawned.values()) \
            + self._orders
        self.schema, self._arrays = _schema_of(model, self._store, self._par, self._res)
        #: The sizes the schema's shapes and bounds name: each table's rows (``rows``, or
        #: ``rows_<table>`` with several tables) and every parameter.
        self.sizes = {model.table_info[t].size: table_rows[t] for t in model.tables}
        self.sizes.update(self.params._asdict())
        # the agent-data outputs of a run that collects none: chunk scratch, step, id,
        # every column
        self._no_data = (np.zeros(0, np.int64),) * 3 + tuple(
            np.zeros(0, np.dtype(c.dtype)) for c in model.columns)
        self._tick = 0
        self._columns = None
        # ticks a compiled call, learnt from each call's tick times; before the first, a
        # guess of 50 ns a row (a small world's short run stays one call)
        self._batch = max(1, min(1024, BATCH_NS // (50 * max(self.rows, 1))))
        t = time.perf_counter()
        with self._calling():
            self._init_columns()
            self._mod.run_setup(self.seed, self._ns, self.params, self._par, *self._args)
        self.setup_seconds = time.perf_counter() - t
        self._check_resources()
        self._check_capacity()
        if threads is None and cores > 1 and CHUNK < self.agents <= pacing.PROBE_MAX_AGENTS \
                and not self.debug:
            self.threads, self.threads_choice = pacing.model_threads(
                lambda k: type(self)(model, agents, seed=seed, threads=k, capacity=capacity,
                                     init=init, **params),
                self.rows, cores, key=self._mod.__name__)

    @contextlib.contextmanager
    def _calling(self):
        """Around calls into the model's module: its thread count, and in debug mode
        numpy's uint64 arithmetic wrapping silently, as compiled code's does (the
        counter-based draws overflow by design)."""
        with runtime.threads(self.threads), (np.errstate(over="ignore") if self.debug
                                             else contextlib.nullcontext()):
            yield

    def _params(self, given):
        values = dict(self.model.params)
        for k, v in given.items():
            if k not in values:
                raise ConfigError(f"unknown parameter {k!r} of model {self.model.name!r} "
                                  f"(known: {sorted(values)})", field=k, value=v)
            kind = _py_type(values[k])
            ok = (isinstance(v, (bool, np.bool_)) if kind == "bool" else
                  isinstance(v, (int, np.integer)) and not isinstance(v, bool) if kind == "int"
                  else isinstance(v, (int, float, np.integer, np.floating))
                  and not isinstance(v, bool) and v == v)
            if not ok:
                raise ConfigError(f"parameter {k}={v!r} must be {kind}", field=k, value=v)
            values[k] = v
        cast = {"bool": bool, "int": int, "float": float}
        return self._mod_params()(**{k: cast[_py_type(self.model.params[k])](v)
                                     for k, v in values.items()})

    def _mod_params(self):
        return params_class({k: _py_type(v) for k, v in self.model.params.items()})

    def set_params(self, **changes) -> None:
        """Change parameters the model declares live (``Range(live=True)``): the systems
        read them from the next tick on. A value is checked as at construction and
        against its range, then by the model's ``check``; a parameter that is not live
        (it sizes the world or its start) needs a new world, and raises ConfigError
        naming it, as does a value outside its range."""
        for k, v in changes.items():
            r = self.model.ranges.get(k)
            if k in self.model.params and (r is None or not r.live):
                raise ConfigError(f"parameter {k!r} of model {self.model.name!r} is not "
                                  f"declared live (Range(live=True)): it takes a new world",
                                  field=k, value=v)
        new = self._params({**self.params._asdict(), **changes})
        for k in changes:
            self.model.check_range(k, getattr(new, k))
        if self.model.check is not None:
            self.model.check(new, self._agents_given)
        self.params = new

    def _init_columns(self):
        computed = {t: [] for t in self.model.tables}
        for c in self.model.columns:
            if c.name in self.model.engine:
                continue  # set by the population
            n = self.table_agents[c.table]  # a dynamic model's free rows keep zeros
            buf = self._store[c.name]
            cur = (buf[0] if buf.ndim == 2 else buf)[:n]
            if _is_numba(c.init):  # (drawn even when init= replaces it: one compiled loop)
                computed[c.table].append(cur)
            else:
                v = np.asarray(c.init)
                if v.ndim and v.shape != (n,):
                    raise ConfigError(f"column {c.name!r}: init array has shape {v.shape}, "
                                      f"expected ({n},)", field=c.name, value=v.shape, bound=n)
                cur[:] = v
        for t, arrays in computed.items():
            if arrays:
                getattr(self._mod, f"_init{self.model.table_info[t].index}")(
                    self.seed, self.table_agents[t], self.params, *arrays)
        for name, values in self._init_values.items():
            buf = self._store[name]
            (buf[0] if buf.ndim == 2 else buf)[:values.shape[0]] = values
        for buf in self._store.values():
            if buf.ndim == 2:
                buf[1] = buf[0]

    # ---- running ------------------------------------------------------------------------

    @property
    def tick(self) -> int:
        """Steps run so far."""
        return self._tick

    def step(self) -> None:
        """Run one tick (no statistics)."""
        self.run(1, stats=False)

    def run(self, steps: int, *, stats: bool = True, progress: Callable | None = None,
            progress_every: int | None = None, stop=None, tick_ms: float = 0.0,
            until=None) -> dict:
        """Run ``steps`` ticks and return the per-step model statistics as columns:
        ``{"step": int64[done], name: float64[done] for each of model.stats}``, each
        row taken after its tick. Compiled statistics (:class:`Stat`) are computed inside
        the compiled loop: with those only, or with ``stats=False``, the ticks run in
        compiled batches, no Python in between. A Python statistic makes it one call
        per tick, with the statistic run between them. The timing of every tick (taken
        in compiled code), CPU, pacing and allocations are in ``last_report``
        (:class:`~dod_sim.report.ModelReport`).

        progress : ``progress(done, steps)`` between batches of ``progress_every`` ticks
            (default: about a hundredth of the run); a tqdm bar's update fits.
        stop : a ``threading.Event``; when set (another thread, a signal handler) the run
            ends after the batch in progress and the table covers the ticks done.
        tick_ms : pace one tick per period (0: as fast as possible); a paced run calls
            one tick at a time, sleeping until each is due.
        until : end the run after the first tick at which this holds (Mesa's ``running``
            turned around): the name of a compiled statistic (:class:`Stat`), checked
            inside the compiled loop, true when non-zero; or ``fn(world) -> bool``, run
            between ticks (one compiled call per tick).
        The ticks run in compiled batches of about 0.1 s of work (sized from the last
        call's tick times; before a world's first, guessed from its rows), a Python round
        trip each; a Ctrl-C ends the run at the end of the batch in progress, with the
        world whole, then raises KeyboardInterrupt.

        A dynamic model whose births find no free row ends the run after that tick and
        raises :class:`~dod_sim.errors.CapacityError` (the state is the tick's, less the
        refused births).
        """
        return self._advance(steps, stats, progress, progress_every, stop, tick_ms, until,
                             None)[0]

    def collect(self, steps: int, *, adata=(), every: int = 1, until=None,
                progress: Callable | None = None, stop=None, frame: bool | None = None,
                table: str | None = None):
        """Run ``steps`` ticks collecting data, as Agents.jl's ``run!`` and Mesa's
        ``DataCollector`` do, and return :class:`Collected` ``(model, agents)``:

        * ``model``: the model statistics at the start (step = :attr:`tick`) and after
          every tick: columns ``step`` and one per statistic;
        * ``agents``: the columns ``adata`` (names of model columns) of every live agent
          at the start and after every tick whose step is a multiple of ``every``, in
          tidy form: columns ``step``, ``id`` (the row in a model of fixed population,
          the stable id in a dynamic one) and one per name, rows by step then id order
          of rows.

        The compiled loop writes the agent table itself, sample after sample, into
        columns allocated before the run (for a dynamic model, blocks of at most 256
        MiB as the table grows), so collecting adds no Python per tick and no copy
        after it (a table that needs more than the machine's memory is refused); the
        memory of earlier tables that nothing holds any more (up to 256 MiB of them) is
        reused, already faulted in. ``frame``: return pandas
        DataFrames (default: when pandas is installed), else dicts of numpy arrays.
        ``until``, ``progress`` and ``stop`` are :meth:`run`'s. ``table``: the table
        whose agents are collected (default: the first); ``adata`` names its columns
        (``"x"`` or ``"wolves.x"``). The agent table's columns are named as given.
        """
        table = self.model._table("table", table)
        given_names = names = (adata,) if isinstance(adata, str) else tuple(adata)
        columns = [c.name for c in self.model.columns if c.table == table]
        resolved = []
        for name in names:
            name = name if name in columns else f"{table}.{name}"
            if name not in columns:
                raise ConfigError(f"adata names {name!r}, which is not a column of table "
                                  f"{table!r} of model {self.model.name!r} (columns: "
                                  f"{columns})", field="adata", value=name)
            resolved.append(name)
        names = tuple(resolved)
        if isinstance(every, bool) or not isinstance(every, (int, np.integer)) or every < 1:
            raise ConfigError(f"every={every!r} must be an integer >= 1", field="every",
                              value=every, bound=1)
        if frame is None:
            frame = _has_pandas()
        start = self._tick
        first = {"step": np.array([start], np.int64)}
        first.update({k: np.array([v]) for k, v in self.stats().items()})
        collector = _Collector(self, names, int(every), steps, table)
        with self._calling():
            collector.sample_now()
        stats, _ = self._advance(steps, True, progress, None, stop, 0.0, until, collector)
        model_table = {k: np.concatenate([first[k], stats[k]]) for k in stats}
        agents = collector.table()
        agents = {"step": agents["step"], "id": agents["id"],
                  **{given: agents[name] for given, name in zip(given_names, names)}}
        if frame:
            import pandas as pd
            return Collected(pd.DataFrame(model_table), pd.DataFrame(agents, copy=False))
        return Collected(model_table, agents)

    def _advance(self, steps, stats, progress, progress_every, stop, tick_ms, until,
                 collector):
        """The run loop of :meth:`run` and :meth:`collect`: (table, ticks done)."""
        if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
            raise ConfigError(f"steps={steps!r} must be a non-negative integer",
                              field="steps", value=steps)
        if progress is not None and not callable(progress):
            raise ConfigError(f"progress={progress!r} must be callable", field="progress",
                              value=progress)
        if isinstance(tick_ms, bool) or not isinstance(tick_ms, (int, float, np.integer,
                                                                  np.floating)) \
                or not 0 <= tick_ms <= 3.6e6:
            raise ConfigError(f"tick_ms={tick_ms!r} must be a number in [0, 3600000]",
                              field="tick_ms", value=tick_ms, bound=(0, 3.6e6))
        if progress_every is None:
            progress_every = max(1, steps // 100) if progress is not None or stop is not None \
                else max(1, steps)
        elif isinstance(progress_every, bool) or not isinstance(progress_every, (int, np.integer)) \
                or progress_every < 1:
            raise ConfigError(f"progress_every={progress_every!r} must be an integer >= 1",
                              field="progress_every", value=progress_every, bound=1)
        if stop is not None and not callable(getattr(stop, "is_set", None)):
            raise ConfigError("stop must be a threading.Event (or have is_set())",
                              field="stop", value=stop)
        compiled, python = self._stat_names() if stats or until is not None else ([], [])
        until_col, until_fn = -1, None
        if isinstance(until, str):
            if until not in compiled:
                raise ConfigError(f"until={until!r} must name a compiled statistic (Stat) "
                                  f"of model {self.model.name!r} (compiled: {compiled}), or "
                                  f"be a function of the world", field="until", value=until)
            until_col = compiled.index(until)
        elif until is not None:
            if not callable(until):
                raise ConfigError(f"until={until!r} must be a statistic's name or a function "
                                  f"of the world", field="until", value=until)
            until_fn = until
        first = self._tick
        out = np.empty((steps, len(compiled)), np.float64)
        cyc = np.zeros(steps, np.int64)
        pys = {k: np.empty(steps, np.float64) for k in python}
        seed, ns, p, par, args = self.seed, self._ns, self.params, self._par, self._args
        period = int(tick_ms * 1e6)
        one_by_one = bool(python) or bool(period) or until_fn is not None
        if collector is not None:
            every, sample = collector.every, collector.sample
        else:
            every, sample = 0, _NO_SAMPLE
        pops = self._populations()
        for pop in pops.values():
            pop.count[_pop.REFUSED] = 0
        ctable = collector.table_index if collector is not None else 0
        runner = self._mod.run_ticks if collector is None else self._mod.run_collect
        done = calls = 0
        ended = False
        batch = self._batch  # ticks a compiled call: about BATCH_NS of work, what Ctrl-C waits
        nrt0, cpu0, wall0 = runtime.nrt_allocations(), time.process_time_ns(), time.perf_counter_ns()
        with runtime.deferred_interrupts() as seen, self._calling():
            while done < steps and not ended and not seen.pending \
                    and not (stop is not None and stop.is_set()):
                if period:
                    due = wall0 + done * period
                    now = time.perf_counter_ns()
                    if due > now:
                        time.sleep((due - now) / 1e9)
                size = 1 if one_by_one else min(progress_every - done % progress_every,
                                                steps - done, batch)
                ran = runner(seed, self._tick, size, ns, p, par, out[done:done + size],
                             bool(compiled), cyc[done:done + size], until_col, every, sample,
                             ctable, *args, *(collector.buffers if collector is not None
                                              else self._no_data))
                calls += 1
                # the loop returns early at a stop condition, or to get room for a sample
                ended = ran < size and not (collector is not None and collector.sample[1])
                if ran:
                    per_tick = max(1, int(cyc[done:done + ran].sum() / runtime.cycles_per_ns()
                                          / ran))
                    batch = self._batch = max(1, BATCH_NS // per_tick)
                self._tick += ran
                done += ran
                self._columns = None
                if collector is not None:
                    collector.take()
                if until_col >= 0 and ran and out[done - 1, until_col] != 0:
                    ended = True  # also when the loop returned to make room for a sample
                self._check_resources()
                for name in python:
                    pys[name][done - 1] = self.model.stats[name](self)
                if until_fn is not None and until_fn(self):
                    ended = True
                if any(pop.count[_pop.REFUSED] for pop in pops.values()):
                    ended = True
                if progress is not None and (done % progress_every == 0 or done == steps
                                             or ended):
                    progress(done, steps)
            self._record_report(done, cyc, wall0, cpu0, nrt0, period, calls)
        self._check_capacity()
        table = {"step": np.arange(first + 1, first + done + 1, dtype=np.int64)}
        table.update({k: v[:done] for k, v in pys.items()})
        table.update({k: out[:done, j].copy() for j, k in enumerate(compiled)})
        keep = self.model.stats if stats or collector is not None else {}
        return {k: table[k] for k in ["step"] + [k for k in keep if k in table]}, done

    def _record_report(self, done, cyc, wall0, cpu0, nrt0, period, calls):
        """``last_report`` of the ``done`` ticks of a run (its tick cycles ``cyc``)."""
        wall, cpu = time.perf_counter_ns() - wall0, time.process_time_ns() - cpu0
        self._columns = None
        self.last_report = ModelReport(
            model=self.model.name, agents=self.rows, threads=self.threads,
            tick_ns=(cyc[:done] / runtime.cycles_per_ns()).astype(np.int64), wall_ns=wall,
            cpu_ns=cpu, period_ns=period, nrt_allocations=runtime.nrt_allocations() - nrt0,
            calls=calls,
            provenance=runtime.provenance(
                None, self.threads, seed=self.seed,
                config_digest=snapshot.config_digest(self._snapshot_config())),
            threads_choice=dict(self.threads_choice))

    def _check_capacity(self) -> None:
        """CapacityError when births were refused since the run began (dynamic models)."""
        for table, pop in self._populations().items():
            if pop.count[_pop.REFUSED]:
                from .errors import from_status
                from .kernels import status
                err = from_status(status.CAPACITY, [pop.count[_pop.REFUSED],
                                                    self.table_rows[table]], tick=self._tick)
                if len(self.model.tables) > 1:
                    err = type(err)(f"table {table}: {err}", field=f"capacity.{table}",
                                    value=err.value, bound=err.bound, tick=err.tick)
                raise err

    def _populations(self) -> dict:
        """{table: Population} of a dynamic model ({} otherwise)."""
        if not self.model.dynamic:
            return {}
        return {t: self._res[i.population] for t, i in self.model.table_info.items()}

    @property
    def live(self) -> int:
        """Live agents: ``agents`` for a model of fixed population."""
        if not self.model.dynamic:
            return self.agents
        return sum(int(pop.count[_pop.LIVE]) for pop in self._populations().values())

    def live_of(self, table: str) -> int:
        """Live agents of ``table``."""
        pops = self._populations()
        if table not in self.model.tables:
            raise ConfigError(f"table={table!r} is not a table of model {self.model.name!r} "
                              f"(tables: {self.model.tables})", field="table", value=table)
        return int(pops[table].count[_pop.LIVE]) if pops else self.table_agents[table]

    def _check_resources(self) -> None:
        """Raise what the resources' checks find (see :class:`Resource`)."""
        for r in self.model.resources:
            if r.check is not None:
                r.check(self._res[r.name])

    def _stat_names(self) -> tuple[list, list]:
        """(compiled, python) statistic names, in the model's order."""
        compiled = [k for k, st in self.model.stats.items() if isinstance(st, Stat)]
        return compiled, [k for k in self.model.stats if k not in compiled]

    def stats(self) -> dict:
        """The model statistics of the current state."""
        compiled, python = self._stat_names()
        values = {}
        if compiled:
            row = np.empty(len(compiled), np.float64)
            with self._calling():
                self._mod._stats(self._ns, self.params, self._par, row, *self._args)
            values.update(zip(compiled, row.tolist()))
        values.update({k: float(self.model.stats[k](self)) for k in python})
        return {k: values[k] for k in self.model.stats}

    # ---- reading the state -------------------------------------------------------------

    @property
    def columns(self) -> MappingProxyType:
        """Read-only views (no copy) of every column's current buffer, length
        :attr:`rows` (a dynamic model's free rows too: ``alive`` says which are live)."""
        if self._columns is None:
            views = {}
            for c in self.model.columns:
                buf = self._store[c.name]
                v = (buf[self._par[self.model.double.index(c.name)]] if buf.ndim == 2
                     else buf).view()
                v.flags.writeable = False
                views[c.name] = v
            self._columns = MappingProxyType(views)
        return self._columns

    @property
    def resources(self) -> MappingProxyType:
        """The resources as made (arrays or NamedTuples of arrays); read, do not write."""
        return MappingProxyType(self._res)

    def state_digest(self) -> str:
        """Hex BLAKE2b of what decides the future: model name, parameters, seed, tick,
        every column's current values and the resources marked ``state`` (the state
        arrays of :attr:`schema`)."""
        head = repr((self.model.name, tuple(self.params), self.seed, self._tick))
        return self.schema.digest(self._arrays, head.encode())

    # ---- snapshots -----------------------------------------------------------------------

    SNAPSHOT_KIND = "model"

    def _snapshot_config(self) -> dict:
        one = len(self.model.tables) == 1
        t0 = self.model.tables[0]
        config = {"model": self.model.name,
                  "agents": self.table_agents[t0] if one else dict(self.table_agents),
                  "seed": self.seed, "params": self.params._asdict()}
        if self.model.dynamic:
            config["capacity"] = self.table_rows[t0] if one else dict(self.table_rows)
        return config

    def _restored_tick(self, tick: int) -> None:
        self._tick = int(tick)
        self._columns = None

    def snapshot(self, path, *, key: bytes | None = None) -> None:
        """Write the state (every column's current buffer, the resources marked
        ``state``, the tick, the parameters and seed) to ``path`` atomically, in the
        format of :mod:`dod_sim.snapshot`, ended by a MAC under ``key`` (1..64 bytes)
        when one is given. While a background run (:mod:`dod_sim.live`) ticks the world,
        the snapshot is taken at the end of its compiled batch in progress."""
        from .live import live_run_of

        run = live_run_of(self)
        if run is not None:
            run.snapshot(path, key=key)
        else:
            snapshot.save(self, path, key)

    @classmethod
    def restore(cls, path, model: "Model", *, threads: int | None = None,
                key: bytes | None = None) -> "ModelWorld":
        """The world of ``model`` written by :meth:`snapshot`. Raises SnapshotError for
        a damaged or foreign file, a file of another model (by name) or of another
        layout, for values that break the columns' declared ``checks``, and for a file
        whose MAC does not verify under ``key`` (the key it was written with; None for
        a file written without one)."""
        def build(config: dict):
            if not isinstance(config.get("model"), str) or config["model"] != model.name:
                raise SnapshotError(f"snapshot holds model {config.get('model')!r}, not "
                                    f"{model.name!r}", field="config",
                                    value=config.get("model"), bound=model.name)
            try:
                extra = {"capacity": config["capacity"]} if model.dynamic else {}
                return cls(model, config["agents"], seed=config["seed"],
                           threads=threads, **extra, **config["params"])
            except (KeyError, TypeError, ConfigError) as e:
                raise SnapshotError(f"snapshot config is invalid for model {model.name!r}: "
                                    f"{e}", field="config") from e

        world = snapshot.load(path, cls.SNAPSHOT_KIND, build, key)
        world._check_resources()
        return world

    def __repr__(self):
        return (f"ModelWorld({self.model.name!r}, agents={self.live}, seed={self.seed}, "
                f"tick={self._tick}, threads={self.threads})")
