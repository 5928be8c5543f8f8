"""Epoch arena: one preallocated byte buffer, bump allocation, reclaimed all at once.

``meta : int64[META]`` holds the arena's whole state next to the buffer:

=================  ======================================================
``meta[USED]``       bytes handed out in the current epoch (the bump offset)
``meta[EPOCH]``      the current epoch, starting at 0
``meta[HIGH]``       the most bytes in use at once in any epoch (high-water mark)
``meta[ALLOCATED]``  bytes handed out over the arena's life
=================  ======================================================

A handle is (offset, length, epoch). :func:`rotate_epoch` resets the offset and bumps
the epoch, so every handle of the old epoch reads as stale from then on.
"""


from ._jit import kernel
from .status import OK, STALE_HANDLE

__all__ = ["USED", "EPOCH", "HIGH", "ALLOCATED", "META", "alloc", "read", "rotate_epoch"]

USED, EPOCH, HIGH, ALLOCATED = 0, 1, 2, 3
META = 4


@kernel
def alloc(meta, total, nbytes):
    """Bump-allocate nbytes; return the offset, or -1 when the epoch has no room left."""
    off = meta[USED]
    if nbytes < 0 or off + nbytes > total:
        return -1
    meta[USED] = off + nbytes
    meta[ALLOCATED] += nbytes
    if meta[USED] > meta[HIGH]:
        meta[HIGH] = meta[USED]
    return off


@kernel
def read(arena, meta, offset, length, epoch, out):
    """Copy a handle's bytes into out : uint8[length]; STALE_HANDLE for an old epoch."""
    if epoch != meta[EPOCH] or offset < 0 or offset + length > meta[USED]:
        return STALE_HANDLE
    for i in range(length):
        out[i] = arena[offset + i]
    return OK


@kernel
def rotate_epoch(meta):
    """Reclaim every allocation of the current epoch at once; returns the new epoch."""
    meta[USED] = 0
    meta[EPOCH] += 1
    return meta[EPOCH]
