"""Tiles as users see them: decode payloads into cells, and the record layout.

A payload is 1,024 bytes: 16 rows of 64 bytes, each row 16 cells of 4 bytes
{cost u8, food u8, height u16 LE}. The engine refreshes, signs, tampers with, verifies
and decodes tiles in ``dod_sim.kernels.tileworld.tiles`` and ``kernels.tileworld.phases``; this module is
for inspecting them (``World.tile_records()``).
"""

from __future__ import annotations

import numpy as np

from .kernels.tileworld.tiles import HEADER, PAYLOAD, RECORD, TILE_CELLS

__all__ = ["CELL_DTYPE", "decode_payload", "split_record", "HEADER", "PAYLOAD", "RECORD",
           "TILE_CELLS"]

CELL_DTYPE = np.dtype([("cost", "u1"), ("food", "u1"), ("height", "<u2")])


def decode_payload(payloads: np.ndarray) -> np.ndarray:
    """uint8[..., 1024] payloads as cells: a structured array of shape (..., 16, 16)
    (row, column within the tile) with fields cost, food, height. No copy."""
    p = np.ascontiguousarray(payloads, dtype=np.uint8)
    if p.shape[-1] != PAYLOAD:
        raise ValueError(f"payloads must have {PAYLOAD} bytes in the last axis, got {p.shape}")
    return p.view(CELL_DTYPE).reshape(p.shape[:-1] + (TILE_CELLS, TILE_CELLS))


def split_record(records: np.ndarray):
    """(tile_id uint32[n], version uint32[n], payload uint8[n, 1024]) of uint8[n, 1032]."""
    r = np.ascontiguousarray(records, dtype=np.uint8)
    if r.ndim != 2 or r.shape[1] != RECORD:
        raise ValueError(f"records must be uint8[n, {RECORD}], got shape {r.shape}")
    ids = r[:, 0:4].copy().view("<u4").ravel()
    ver = r[:, 4:8].copy().view("<u4").ravel()
    return ids, ver, r[:, HEADER:]
