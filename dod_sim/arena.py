"""``Arena``: a preallocated byte buffer handed out by bumping an offset, reclaimed
all at once by starting a new epoch (the article's epoch arena, without a GC).

The world's map caches use the same kernels (``dod_sim.kernels.arena``) in bulk; this
class is the same arena for scratch memory of your own.

>>> a = Arena(1024)
>>> h = a.alloc(64)
>>> a.view(h)[:] = 7
>>> a.rotate_epoch()
1
>>> a.view(h)
Traceback (most recent call last):
...
dod_sim.errors.StaleHandle: handle (offset 0, length 64, epoch 0) is stale: the arena is at epoch 1
"""

from __future__ import annotations

import mmap
import sys
from typing import NamedTuple

import numpy as np

from .errors import ArenaExhausted, ConfigError, StaleHandle
from .kernels import arena as _k

__all__ = ["Arena", "Handle", "zeroed_pages"]


# madvise(2) advice that faults a range in, writable, in one call (Linux >= 5.14);
# Python's mmap module names it from 3.12 on
MADV_POPULATE_WRITE = getattr(mmap, "MADV_POPULATE_WRITE", 23 if sys.platform == "linux" else None)


def zeroed_pages(nbytes: int, resident: int = 0) -> np.ndarray:
    """uint8[nbytes] backed by an anonymous mmap: zeroed, resident only once written,
    except the first ``resident`` bytes, which are faulted in now.

    numpy asks the kernel for transparent huge pages on large arrays; for a buffer that
    is first written a few MB per tick that costs more than it saves: measured on this
    VM, first touch of 1 GiB took 1.45 s with numpy's huge-page advice and 0.60 s with
    plain pages (the arena phase of a 1,000,000-agent tick faults ~1,250 pages). The
    resident part is populated with ``MADV_POPULATE_WRITE`` where the kernel has it,
    else by writing a byte per page (on 2026-11-27, a slower day: 1.1 against 2.6 s a
    GiB).
    """
    if nbytes == 0:
        return np.zeros(0, np.uint8)
    m = mmap.mmap(-1, nbytes)
    resident = min(max(resident, 0), nbytes)
    if resident:
        try:
            m.madvise(MADV_POPULATE_WRITE, 0, resident)
        except (OSError, TypeError, ValueError, AttributeError):
            a = np.frombuffer(m, np.uint8, resident)
            a[::mmap.PAGESIZE] = 0  # fresh pages are zero: a write faults each in once
            a[-1:] = 0
            del a
    return np.frombuffer(m, np.uint8)


class Handle(NamedTuple):
    """A range of the arena: byte offset, length and the epoch it belongs to."""

    offset: int
    length: int
    epoch: int


class Arena:
    """``nbytes`` of zeroed memory (pages become resident when first written)."""

    def __init__(self, nbytes: int):
        if isinstance(nbytes, bool) or not isinstance(nbytes, (int, np.integer)) or nbytes < 0:
            raise ConfigError(f"arena nbytes={nbytes!r} must be a non-negative integer",
                              field="arena_bytes", value=nbytes, bound=0)
        self.buffer = zeroed_pages(int(nbytes))
        self.meta = np.zeros(_k.META, np.int64)

    @property
    def total(self) -> int:
        return int(self.buffer.shape[0])

    @property
    def used(self) -> int:
        """Bytes handed out in the current epoch."""
        return int(self.meta[_k.USED])

    @property
    def epoch(self) -> int:
        return int(self.meta[_k.EPOCH])

    @property
    def high_water(self) -> int:
        return int(self.meta[_k.HIGH])

    def alloc(self, nbytes: int) -> Handle:
        """Hand out ``nbytes``; raises ArenaExhausted (nothing handed out) when full."""
        if isinstance(nbytes, bool) or not isinstance(nbytes, (int, np.integer)) or nbytes < 0:
            raise ConfigError(f"alloc nbytes={nbytes!r} must be a non-negative integer",
                              field="nbytes", value=nbytes, bound=0)
        used = self.used
        off = _k.alloc(self.meta, self.total, int(nbytes))
        if off < 0:
            raise ArenaExhausted(int(nbytes), used, self.total)
        return Handle(int(off), int(nbytes), self.epoch)

    def view(self, handle: Handle) -> np.ndarray:
        """The handle's bytes (a writable view); StaleHandle once its epoch is over."""
        off, length, epoch = handle
        if epoch != self.epoch or off < 0 or off + length > self.used:
            raise StaleHandle(
                f"handle (offset {off}, length {length}, epoch {epoch}) is stale: "
                f"the arena is at epoch {self.epoch}",
                field="epoch", value=epoch, bound=self.epoch)
        return self.buffer[off:off + length]

    def rotate_epoch(self) -> int:
        """Reclaim every allocation at once; returns the new epoch."""
        return int(_k.rotate_epoch(self.meta))

    def __repr__(self) -> str:
        return f"Arena({self.used}/{self.total} bytes used, epoch {self.epoch})"
