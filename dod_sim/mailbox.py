"""Message records as users see them: a structured dtype over the 64-byte layout.

The engine keeps records as raw ``uint8[64]`` rows (see ``dod_sim.kernels.mailbox``
for the shared pool and the delivery kernel); :func:`decode` views them as named
fields without copying.
"""

from __future__ import annotations

import numpy as np

from .kernels.mailbox import HINT, RECORD, SHARE

__all__ = ["MESSAGE_DTYPE", "SHARE", "HINT", "decode"]

MESSAGE_DTYPE = np.dtype([
    ("kind", "<u2"), ("flags", "<u2"), ("sender", "<u4"), ("tick", "<u4"), ("seq", "<u4"),
    ("amount", "<f4"),  # SHARE: energy; HINT: read `tile` instead (same bytes)
    ("body_rest", "u1", (28,)), ("tag", "u1", (16,)),
])
assert MESSAGE_DTYPE.itemsize == RECORD


def decode(records: np.ndarray) -> np.ndarray:
    """View uint8[k, 64] records as a structured array of MESSAGE_DTYPE (no copy).

    The body's first field is a float32 ``amount`` for SHARE; for HINT the same four
    bytes are the u32 tile id: ``records[:, 16:20].view('<u4')``.
    """
    rec = np.ascontiguousarray(records, dtype=np.uint8)
    if rec.ndim != 2 or rec.shape[1] != RECORD:
        raise ValueError(f"records must be uint8[k, {RECORD}], got shape {rec.shape}")
    return rec.view(MESSAGE_DTYPE).reshape(rec.shape[0])
