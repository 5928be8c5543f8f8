"""Snapshots: the whole state of a :class:`~dod_sim.World` in one file, and back.

File format, version 2 (all integers little-endian)
===================================================

=============  =========  ==============================================================
offset         size       content
=============  =========  ==============================================================
0              12         magic ``b"DODSIM-SNAP\\0"``
12             4          u32 format version (:data:`FORMAT_VERSION`)
16             8          u64 ``H``, the length of the header in bytes
24             H          header: UTF-8 JSON object (below)
24 + H         D          data: the arrays' raw bytes, C order, back to back, in the
                          order of the header's ``arrays`` table, no padding
24 + H + D     32         BLAKE2b-256 of every byte before it: unkeyed
                          (``hashlib.blake2b(digest_size=32)``), a checksum; or keyed
                          with the ``key=`` given to ``snapshot``, a MAC
=============  =========  ==============================================================

The header holds:

``format_version`` (int, equal to the u32 above), ``dod_sim_version`` (str, the package
that wrote the file), ``config`` (``Config.to_dict()``; for a model's world ``{"model",
"agents", "seed", "params"}``), ``config_digest`` (a BLAKE2b of ``config``, as
``Config.digest()``), ``kind`` (absent for the tileworld, ``"model"`` for a model's
world), ``mac`` (``"blake2b-256"`` when the last 32 bytes are a keyed MAC; absent
otherwise), ``tick`` (ticks run) and ``arrays``, a list of objects
``{"name", "part", "dtype", "shape", "offset", "nbytes"}``: ``dtype`` is numpy's
``dtype.str`` (``"<i8"``, ``"|b1"``, ...), ``offset`` counts bytes from the start of the
data section, ``nbytes = prod(shape) * itemsize``, and ``part`` says which part of the
world's array of that name the bytes are:

* ``"whole"``: the whole array;
* ``"live"``: ``pools[pi[POOL_CUR]]``, the live half of the double-buffered mailbox
  pool (the other half is rewritten by the next delivery before it is read);
* ``"used"``: ``arena[:arena_meta[USED]]``, the bytes handed out in the current
  epoch (the rest of the arena is never read before it is written).

What is saved, in which part, and what restore checks all come from the world's
declared layout (``World.schema``, :mod:`dod_sim.schema`): every array whose role is
not ``scratch`` (:data:`SCRATCH`), so a column added to the schema is covered without a
change here. The file depends on the state only: saving the same state twice gives the
same bytes.

Writing is atomic: the bytes go to a temporary file beside ``path`` (flushed and
fsync'ed), which then replaces ``path`` with ``os.replace``; on any error the temporary
file is removed and ``path`` is untouched. Arrays are streamed and hashed as they are
written, so saving never copies the state.

Keys and authentication: a tileworld's snapshot holds its tile and message keys (array
``keys``, :mod:`dod_sim.tileworld.keys`), so the file is a secret: it is written with
mode 0600. ``snapshot(path, key=...)`` ends the file with a keyed BLAKE2b-256 MAC
instead of the checksum, and ``restore(path, key=...)`` refuses a file whose MAC does
not verify under that key (``field="key"``): a file from elsewhere, or one rewritten
with its checksum recomputed. Without a key the checksum only catches corruption.
Version 1 files (before keys were saved) are refused, naming their version.

Loading checks, in this order, and raises :class:`~dod_sim.errors.SnapshotError` with
``field`` set to what is wrong: the file opens (``"path"``), the magic (``"magic"``),
its length (``"length"``), the version (``"version"``: checked before the checksum, as a
newer format may lay out or hash its bytes differently), the checksum of the whole file,
streamed (``"checksum"``; ``"key"`` for a MAC that fails or a key missing on either
side), the header (``"header"``), the config (``"config"``), then, with a world built
from that config, every array of the table (``"array <name>"``): present, of the
world's dtype and shape, and the parameters derived from the config equal to the fresh
world's. The state is copied, in place, into the fresh world's arrays (the compiled
phases hold references to those buffers), and then every value a kernel uses as an
index, count or offset is checked against the constraints the schema declares (ranges,
row indices, disjoint mailbox ranges inside the pool, the free-slot stack, key
schedules that are their keys' own): a file whose checksum was recomputed after its
values were changed is refused (``"array <name>"``) before any kernel reads it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import struct
import tempfile
from contextlib import suppress

import numpy as np

from . import auth
from .config import Config
from .errors import SnapshotError
from .schema import Prefix
from .tileworld.schema import TILEWORLD

__all__ = ["FORMAT_VERSION", "MAGIC", "SCRATCH", "is_scratch", "load", "read_header", "save"]

MAGIC = b"DODSIM-SNAP\0"
FORMAT_VERSION = 2  # 2: the keys are saved (array ``keys``)
MAC = "blake2b-256"
DIGEST_SIZE = 32
_PREFIX = struct.Struct("<12sIQ")  # magic, version, header length: 24 bytes
_MIN_SIZE = _PREFIX.size + DIGEST_SIZE
_CHUNK = 1 << 22  # bytes per read while hashing a file

# The tileworld's arrays a snapshot leaves out: those its schema declares scratch,
# rewritten before they are read in every tick, among them ``busy``, per-worker cycle
# telemetry whose length follows this process's NUMBA_NUM_THREADS (a snapshot written on
# a 16-core machine must load on a 2-core one); a restored world starts them at zero.
SCRATCH = frozenset(a.name for a in TILEWORLD.fields() if a.role == "scratch")


def is_scratch(name: str, schema=TILEWORLD) -> bool:
    """True for arrays a snapshot leaves out (see :data:`SCRATCH`)."""
    return schema[name].role == "scratch"


# ---- saving -----------------------------------------------------------------------------


def save(world, path, key: bytes | None = None) -> None:
    """Write ``world``'s state to ``path`` atomically (format: module docstring), ended
    by a MAC under ``key`` (1..64 bytes) when one is given.

    Raises SnapshotError (``field="path"``) when the file cannot be written; ``path``
    and its directory are then as they were. A bad ``key`` raises as
    :func:`dod_sim.auth.key_bytes` does, before anything is written.
    """
    hasher = _hasher(key)
    parts = world.schema.saved(world._arrays)
    header = _header(world, parts)
    if key is not None:
        header["mac"] = MAC
    blob = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    chunks = [_PREFIX.pack(MAGIC, FORMAT_VERSION, len(blob)), blob]
    chunks += [_byte_view(a) for _, _, a in parts]
    private = any(a.secret for a in world.schema.fields())
    _write_atomic(os.fspath(path), chunks, hasher, 0o600 if private else 0o666 & ~_umask())


def _hasher(key):
    """A fresh BLAKE2b-256, keyed with ``key`` (checked) when it is not None."""
    if key is None:
        return hashlib.blake2b(digest_size=DIGEST_SIZE)
    return hashlib.blake2b(digest_size=DIGEST_SIZE, key=auth.key_bytes(key))


def config_digest(config: dict) -> str:
    """The short BLAKE2b a header stores beside its ``config`` (as ``Config.digest()``)."""
    return hashlib.blake2b(json.dumps(config, sort_keys=True).encode(),
                           digest_size=8).hexdigest()


def _header(world, parts) -> dict:
    from . import __version__

    table = []
    offset = 0
    for name, part, arr in parts:
        table.append({"name": name, "part": part, "dtype": arr.dtype.str,
                      "shape": [int(s) for s in arr.shape], "offset": offset,
                      "nbytes": int(arr.nbytes)})
        offset += int(arr.nbytes)
    config = world._snapshot_config()
    header = {"format_version": FORMAT_VERSION, "dod_sim_version": __version__,
              "config": config, "config_digest": config_digest(config),
              "tick": world.tick, "arrays": table}
    if world.SNAPSHOT_KIND != "tileworld":  # tileworld files keep format 1's keys
        header["kind"] = world.SNAPSHOT_KIND
    return header


def _byte_view(arr: np.ndarray) -> memoryview:
    """The bytes of ``arr`` (C order) without a copy when it is C-contiguous."""
    return memoryview(np.ascontiguousarray(arr).reshape(-1).view(np.uint8))


def _write_atomic(path: str, chunks, h, mode: int) -> None:
    """Write ``chunks`` and their hash ``h`` (a fresh hashlib object) to a temporary file
    of ``mode`` beside ``path``, fsync it and rename it over ``path``; remove the
    temporary file on any error."""
    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp",
                                   dir=directory)
    except OSError as e:
        raise SnapshotError(f"cannot write snapshot {path!r}: {e}", field="path",
                            value=path) from e
    try:
        with os.fdopen(fd, "wb") as f:
            for c in chunks:
                h.update(c)
                f.write(c)
            f.write(h.digest())
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException as e:
        with suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError):
            raise SnapshotError(f"cannot write snapshot {path!r}: {e}", field="path",
                                value=path) from e
        raise
    _fsync_dir(directory)


def _umask() -> int:
    """The process umask, read without changing it (from /proc on Linux); elsewhere
    0o022, the common default, rather than setting and restoring it, which races with
    any thread creating a file meanwhile."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022


def _fsync_dir(directory: str) -> None:
    """Make the rename durable (where the OS lets a directory be fsync'ed)."""
    with suppress(OSError, AttributeError):
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# ---- loading ----------------------------------------------------------------------------


def read_header(path, *, verify: bool = True, key: bytes | None = None) -> dict:
    """The header of the snapshot at ``path`` as a dict (keys: module docstring;
    ``config`` is the saved ``Config.to_dict()``, not validated), after checking magic,
    version and, when ``verify``, the checksum of the whole file (its MAC under ``key``
    when one is given). Builds no world."""
    path = os.fspath(path)
    with _File(path) as f:
        header, _ = _read_header(f, path, verify, key)
    return header


def load(path, kind: str, build, key: bytes | None = None):
    """The world saved at ``path``, built by ``build(config dict)`` (a world with
    ``schema``, ``sizes``, ``_arrays`` and ``tick``) and filled from the file; it ticks
    on exactly as the saved world would have. ``World.restore(path)`` and
    ``ModelWorld.restore(path, model)`` are the public spellings.

    kind : what the file must hold (``"tileworld"``, ``"model"``): a file of another
    kind is refused (``field="kind"``).
    key : the key the file was written with (``save(..., key=)``): its MAC must verify
        (``field="key"``); None for a file written without one.

    Raises SnapshotError naming what is wrong with a missing, truncated, corrupt,
    foreign or newer-version file (see the module docstring); ``build`` raises what it
    raises for a config (SnapshotError for an invalid one, ConfigError when this machine
    cannot hold the world).
    """
    path = os.fspath(path)
    with _File(path) as f:
        header, data_start = _read_header(f, path, True, key)
        got = header.get("kind", "tileworld")
        if got != kind:
            raise SnapshotError(f"snapshot {path!r} holds a {got!r} world, not a {kind!r} "
                                f"one", field="kind", value=got, bound=kind)
        table = _table_of(header, f.size - DIGEST_SIZE - data_start)
        world = build(header["config"])
        digest = config_digest(header["config"])
        if digest != header["config_digest"]:
            raise SnapshotError(f"snapshot config digest {header['config_digest']!r} does "
                                f"not match its config ({digest!r})", field="config",
                                value=header["config_digest"], bound=digest)
        _check_table(table, world)
        _fill(f, data_start, table, world, header["tick"])
    return world


class _File:
    """A binary file and its size; read errors become SnapshotError."""

    def __init__(self, path):
        self.path = path
        try:
            self.f = open(path, "rb")  # noqa: SIM115 (closed by __exit__)
        except FileNotFoundError as e:
            raise SnapshotError(f"snapshot {path!r} does not exist", field="path",
                                value=path) from e
        except OSError as e:
            raise SnapshotError(f"cannot open snapshot {path!r}: {e}", field="path",
                                value=path) from e
        self.size = os.fstat(self.f.fileno()).st_size

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()

    def read_at(self, offset: int, n: int) -> bytes:
        return self._io(lambda: (self.f.seek(offset), self.f.read(n))[1], n)

    def read_into(self, offset: int, buf: memoryview) -> None:
        self._io(lambda: (self.f.seek(offset), self.f.readinto(buf))[1], len(buf))

    def _io(self, op, n):
        try:
            out = op()
        except OSError as e:
            raise SnapshotError(f"cannot read snapshot {self.path!r}: {e}", field="path",
                                value=self.path) from e
        got = out if isinstance(out, int) else len(out)
        if got != n:
            raise SnapshotError(f"snapshot {self.path!r} is truncated: wanted {n} bytes, "
                                f"got {got}", field="length", value=self.size)
        return out


def _read_header(f: _File, path: str, verify: bool, key=None) -> tuple[dict, int]:
    """Check magic, version and checksum (or MAC under ``key``); return (header dict,
    start of the data)."""
    head = f.read_at(0, min(f.size, _PREFIX.size))
    if head[:len(MAGIC)] != MAGIC[:len(head)]:
        raise SnapshotError(f"{path!r} is not a dod_sim snapshot (magic {head[:12]!r}, "
                            f"expected {MAGIC!r})", field="magic", value=head[:12])
    if f.size == 0:
        raise SnapshotError(f"snapshot {path!r} is empty (truncated)", field="length",
                            value=0, bound=_MIN_SIZE)
    if f.size < _MIN_SIZE:
        raise SnapshotError(f"snapshot {path!r} is truncated: {f.size} bytes, shorter than "
                            f"the {_MIN_SIZE} of an empty snapshot", field="length",
                            value=f.size, bound=_MIN_SIZE)
    _, version, hlen = _PREFIX.unpack(head)
    _check_version(version)
    hasher = _hasher(key)  # a bad key raises before the file is read
    if verify:
        _verify(f, path, hasher, key is not None)
    end = f.size - DIGEST_SIZE
    if hlen > end - _PREFIX.size:
        raise SnapshotError(f"snapshot header length {hlen} exceeds the file's "
                            f"{end - _PREFIX.size} bytes of header and data", field="header",
                            value=hlen, bound=end - _PREFIX.size)
    header = _parse_header(f.read_at(_PREFIX.size, hlen), version)
    return header, _PREFIX.size + hlen


def _check_version(version: int) -> None:
    if version > FORMAT_VERSION:
        raise SnapshotError(f"snapshot format version {version} was written by a newer "
                            f"dod_sim; this one reads version {FORMAT_VERSION}",
                            field="version", value=version, bound=FORMAT_VERSION)
    if version != FORMAT_VERSION:
        raise SnapshotError(f"snapshot format version {version} is not one this dod_sim "
                            f"reads (version {FORMAT_VERSION}; version 1 files, from before "
                            f"a world's keys were saved, cannot be restored)", field="version",
                            value=version, bound=FORMAT_VERSION)


def _verify(f: _File, path: str, mac, keyed: bool) -> None:
    """Hash the file (all but its last 32 bytes) in chunks with ``mac`` (keyed when
    ``keyed``) and without a key; compare with the last 32 bytes. A mismatch says
    whether the file is corrupt, or was written with a key or without one."""
    end = f.size - DIGEST_SIZE
    plain = hashlib.blake2b(digest_size=DIGEST_SIZE)
    buf = bytearray(min(_CHUNK, max(end, 1)))
    view = memoryview(buf)
    pos = 0
    while pos < end:
        n = min(len(buf), end - pos)
        f.read_into(pos, view[:n])
        plain.update(view[:n])
        if keyed:
            mac.update(view[:n])
        pos += n
    stored = f.read_at(end, DIGEST_SIZE)
    if keyed:
        if mac.digest() == stored:
            return
        if plain.digest() == stored:
            raise SnapshotError(f"snapshot {path!r} was written without a key: it is not "
                                f"authenticated (restore it without key= only if you trust "
                                f"where it came from)", field="key")
        raise SnapshotError(f"snapshot {path!r} failed its MAC (keyed BLAKE2b-256): a "
                            f"different key, or the file was changed or is corrupt",
                            field="key")
    if plain.digest() == stored:
        return
    if _says_mac(f):
        raise SnapshotError(f"snapshot {path!r} was written with a key: pass key= to "
                            f"restore it", field="key")
    raise SnapshotError(f"snapshot {path!r} failed its checksum (BLAKE2b-256): the file "
                        f"is corrupt or truncated", field="checksum",
                        value=stored.hex(), bound=plain.hexdigest())


def _says_mac(f: _File) -> bool:
    """Whether the (unverified) header says the file ends with a MAC: only to word the
    error of a file whose checksum failed."""
    try:
        _, _, hlen = _PREFIX.unpack(f.read_at(0, _PREFIX.size))
        if hlen > min(f.size, 1 << 20):
            return False
        header = json.loads(f.read_at(_PREFIX.size, hlen).decode("utf-8"))
        return isinstance(header, dict) and header.get("mac") == MAC
    except (SnapshotError, ValueError, RecursionError):
        return False


_HEADER_KEYS = {"format_version": int, "dod_sim_version": str, "config": dict,
                "config_digest": str, "tick": int, "arrays": list}


def _parse_header(blob: bytes, version: int) -> dict:
    try:
        header = json.loads(blob.decode("utf-8"))
    except (ValueError, RecursionError) as e:  # UnicodeDecodeError, JSONDecodeError
        raise SnapshotError(f"snapshot header is not valid JSON: {e}", field="header") from e
    if not isinstance(header, dict):
        raise SnapshotError("snapshot header is not a JSON object", field="header")
    for key, typ in _HEADER_KEYS.items():
        _expect(header, key, typ, "header")
    if header["format_version"] != version:
        raise SnapshotError(f"snapshot header says format version {header['format_version']} "
                            f"but the file is version {version}", field="header",
                            value=header["format_version"], bound=version)
    return header


def _expect(obj: dict, key: str, typ, where: str):
    v = obj.get(key)
    ok = isinstance(v, typ) and not (typ is int and isinstance(v, bool))
    if not ok:
        raise SnapshotError(f"snapshot {where}: {key!r} must be a {typ.__name__}, got {v!r}",
                            field=where, value=v)
    return v


def config_of(d: dict) -> Config:
    """The tileworld Config of a header's ``config``, validated; unknown fields mean a
    newer dod_sim."""
    known = {f.name for f in dataclasses.fields(Config)}
    unknown = sorted(set(d) - known)
    if unknown:
        raise SnapshotError(f"snapshot config has fields this dod_sim does not know: "
                            f"{unknown} (written by a newer dod_sim?)", field="config",
                            value=unknown)
    try:
        return Config(**d)
    except (TypeError, ValueError, OverflowError) as e:  # ConfigError is a ValueError
        raise SnapshotError(f"snapshot config is invalid: {e}", field="config",
                            value=getattr(e, "field", None)) from e


def _table_of(header: dict, data_size: int) -> list:
    """The array table, checked for shape of its entries, unique names and offsets
    that tile the data section exactly."""
    table = []
    offset = 0
    seen = set()
    for e in header["arrays"]:
        if not isinstance(e, dict):
            raise SnapshotError(f"snapshot array table entry {e!r} is not an object",
                                field="header", value=e)
        name = _expect(e, "name", str, "header")
        where = f"array {name}"
        for key, typ in (("part", str), ("dtype", str), ("shape", list), ("offset", int),
                         ("nbytes", int)):
            _expect(e, key, typ, where)
        if name in seen:
            raise SnapshotError(f"snapshot lists array {name!r} twice", field=where)
        seen.add(name)
        shape = e["shape"]
        if not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape):
            raise SnapshotError(f"snapshot {where}: bad shape {shape!r}", field=where,
                                value=shape)
        if e["offset"] != offset or e["nbytes"] < 0:
            raise SnapshotError(f"snapshot {where}: offset {e['offset']} / nbytes "
                                f"{e['nbytes']} inconsistent with the arrays before it "
                                f"(expected offset {offset})", field=where,
                                value=e["offset"], bound=offset)
        offset += e["nbytes"]
        table.append(e)
    if offset != data_size:
        raise SnapshotError(f"snapshot arrays hold {offset} bytes but the file's data "
                            f"section is {data_size} bytes", field="header", value=offset,
                            bound=data_size)
    return table


def _check_table(table: list, world) -> None:
    """Every saved array of the world present once, nothing else, of its dtype and shape."""
    schema, arrays = world.schema, world._arrays
    dims = world.sizes
    want = [a.name for a in schema.fields() if a.role != "scratch"]
    names = {e["name"] for e in table}
    missing = [n for n in want if n not in names]
    extra = sorted(names - set(want))
    if missing:
        raise SnapshotError(f"snapshot lacks arrays {missing}", field=f"array {missing[0]}",
                            value=missing)
    if extra:
        raise SnapshotError(f"snapshot has arrays this world does not: {extra}",
                            field=f"array {extra[0]}", value=extra)
    for e in table:
        name = e["name"]
        where = f"array {name}"
        part, shape = schema.saved_shape(name, dims)
        dtype = arrays[name].dtype.str
        if e["part"] != part:
            raise SnapshotError(f"snapshot {where}: part {e['part']!r}, expected {part!r}",
                                field=where, value=e["part"], bound=part)
        if e["dtype"] != dtype:
            raise SnapshotError(f"snapshot {where}: dtype {e['dtype']!r}, expected {dtype!r}",
                                field=where, value=e["dtype"], bound=dtype)
        got = tuple(e["shape"])
        if shape is None:
            total = arrays[name].shape[0]
            if len(got) != 1 or got[0] > total:
                raise SnapshotError(f"snapshot {where}: shape {got}, expected (k,) with "
                                    f"k <= {total}", field=where, value=got, bound=total)
        elif got != shape:
            raise SnapshotError(f"snapshot {where}: shape {got}, expected {shape}",
                                field=where, value=got, bound=shape)
        nbytes = int(np.prod(got, dtype=np.int64)) * arrays[name].dtype.itemsize
        if e["nbytes"] != nbytes:
            raise SnapshotError(f"snapshot {where}: nbytes {e['nbytes']}, expected {nbytes} "
                                f"for shape {got}", field=where, value=e["nbytes"],
                                bound=nbytes)


def _fill(f: _File, data_start: int, table: list, world, tick: int) -> None:
    """Copy every array of the table into the world's own buffers, in place, then check
    the values against the schema's constraints."""
    schema, arrays = world.schema, world._arrays
    by_name = {e["name"]: e for e in table}
    derived = [a for a in schema.fields() if a.role == "derived"]
    fresh = {a.name: arrays[a.name].copy() for a in derived}
    layout = schema.layout_sources()
    for name in layout:
        f.read_into(data_start + by_name[name]["offset"], _byte_view_w(arrays[name]))
    for a in schema.fields():
        if a.saved is not None:
            _check_part(a, arrays, by_name)
    for e in table:
        if e["name"] not in layout:
            f.read_into(data_start + e["offset"], _byte_view_w(_destination(e["name"], world)))
    for a in derived:
        got, want = arrays[a.name].reshape(-1), fresh[a.name].reshape(-1)
        bad = [i for i in np.flatnonzero(got != want).tolist() if i not in a.state_entries]
        if bad:
            raise SnapshotError(f"snapshot array {a.name}: entries {bad[:8]} differ from the "
                                f"parameters its config derives", field=f"array {a.name}",
                                value=got[bad[:8]].tolist(), bound=want[bad[:8]].tolist())
    if hasattr(world, "_restored_tick"):  # a world that keeps its tick outside its arrays
        world._restored_tick(tick)
    if world.tick != tick:
        raise SnapshotError(f"snapshot holds tick {world.tick} but the header says {tick}",
                            field="array pi", value=world.tick, bound=tick)
    dims = dict(world.sizes, tick=tick)
    for name, constraint, msg in schema.violations(arrays, dims):
        raise SnapshotError(f"snapshot array {name}: {msg}", field=f"array {name}",
                            bound=constraint.describe(dims))


def _check_part(a, arrays: dict, by_name: dict) -> None:
    """The array that says which part of ``a`` is saved (a buffer index, a used length)
    must select a part that exists, of the saved length."""
    src = a.saved.source
    problem = a.saved.problem(arrays[a.name], arrays)
    if problem is None and isinstance(a.saved, Prefix):
        used, saved = int(arrays[src][a.saved.index]), by_name[a.name]["shape"][0]
        if used != saved:
            problem = f"{used} bytes used but the snapshot's {a.name} holds {saved}"
    if problem is not None:
        raise SnapshotError(f"snapshot array {src}: {problem}", field=f"array {src}")


def _destination(name: str, world) -> np.ndarray:
    """The view of the world's array ``name`` that the saved bytes go to."""
    a, arrays = world.schema[name], world._arrays
    return arrays[name] if a.saved is None else a.saved.of(arrays[name], arrays)


def _byte_view_w(arr: np.ndarray) -> memoryview:
    """A writable byte view of a C-contiguous array (the world's arrays all are)."""
    if not arr.flags.c_contiguous:
        raise SnapshotError("internal: a world array is not C-contiguous")
    return memoryview(arr.reshape(-1).view(np.uint8))
