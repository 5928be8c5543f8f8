"""Snapshot files taken apart and put back together with a valid checksum: what an
attacker who rewrites a file can do (tests of dod_sim.snapshot and its validation)."""

import hashlib
import json
import struct

from dod_sim import snapshot as snap

_PREFIX = struct.Struct("<12sIQ")


def _split(blob: bytes):
    """(version, header dict, {name: bytes}) of a snapshot file's bytes."""
    _, version, hlen = _PREFIX.unpack_from(blob)
    header = json.loads(blob[_PREFIX.size:_PREFIX.size + hlen])
    data = blob[_PREFIX.size + hlen:-32]
    arrays = {e["name"]: data[e["offset"]:e["offset"] + e["nbytes"]] for e in header["arrays"]}
    return version, header, arrays


def _join(version: int, header, arrays: dict, *, header_bytes=None) -> bytes:
    """A snapshot file of these parts, data in table order, with a valid checksum."""
    hb = header_bytes if header_bytes is not None else json.dumps(header).encode()
    if header_bytes is None:
        names = [e["name"] for e in header["arrays"] if isinstance(e, dict)]
    else:
        names = list(arrays)
    body = _PREFIX.pack(snap.MAGIC, version, len(hb)) + hb + b"".join(arrays[n] for n in names)
    return body + hashlib.blake2b(body, digest_size=32).digest()


def _reoffset(header, arrays):
    """Recompute the table's offsets and nbytes from the arrays' bytes."""
    off = 0
    for e in header["arrays"]:
        e["offset"] = off
        e["nbytes"] = len(arrays[e["name"]])
        off += e["nbytes"]


def _entry(header, name):
    return next(e for e in header["arrays"] if e["name"] == name)
