"""Typed errors of dod_sim. Each names the field, the offending value and the bound.

Every class derives from :class:`DodSimError` and carries ``field``, ``value``,
``bound``, ``phase`` and ``tick`` (``None`` where they do not apply), so tests and
callers inspect attributes rather than parse messages.
"""

from __future__ import annotations

__all__ = [
    "DodSimError",
    "ConfigError",
    "CapacityError",
    "ArenaExhausted",
    "StaleHandle",
    "UnknownAgent",
    "SnapshotError",
    "PoolFull",
    "PoolClosed",
    "KernelError",
    "from_status",
]


class DodSimError(Exception):
    """Base class. ``str(err)`` is a complete one-line explanation."""

    def __init__(self, message, *, field=None, value=None, bound=None, phase=None, tick=None):
        super().__init__(message)
        self.field = field
        self.value = value
        self.bound = bound
        self.phase = phase
        self.tick = tick


class ConfigError(DodSimError, ValueError):
    """A configuration value is out of range or of the wrong type."""


class ArenaExhausted(DodSimError, MemoryError):
    """An epoch asked the arena for more bytes than it holds.

    ``requested``, ``used`` and ``total`` are bytes.
    """

    def __init__(self, requested, used, total, *, phase=None, tick=None):
        super().__init__(
            f"arena exhausted: requested {requested} bytes with {used} of {total} bytes "
            f"in use this epoch (raise arena_bytes or lower epoch_ticks)",
            field="arena_bytes", value=requested, bound=total, phase=phase, tick=tick,
        )
        self.requested = requested
        self.used = used
        self.total = total


class StaleHandle(DodSimError, LookupError):
    """An arena handle from an older epoch was read after its epoch was reclaimed."""


class UnknownAgent(DodSimError, LookupError):
    """An agent id is out of range or names a dead slot."""


class SnapshotError(DodSimError):
    """A snapshot file is truncated, corrupt, foreign or from a newer format version."""


class PoolFull(DodSimError, RuntimeError):
    """The blocking pool's job queue is full and the caller chose not to wait."""


class PoolClosed(PoolFull):
    """The blocking pool is closed or closing: it takes no more jobs. A PoolFull, so
    code that caught the pool's refusals still does; retrying it is pointless."""


class CapacityError(DodSimError, MemoryError):
    """Births found no free row: a table's capacity is fixed when its world is built."""


class KernelError(DodSimError, RuntimeError):
    """A kernel returned a status code that has no more specific error."""


def from_status(code: int, args, *, phase: str | None = None,
                tick: int | None = None) -> DodSimError:
    """The exception for a kernel's status ``code`` (:mod:`dod_sim.kernels.status`),
    for every model: kernels report, Python raises once the state is consistent.

    args : the status array's entries after the code (int64; what the kernel recorded:
        for ARENA_EXHAUSTED requested, used and total bytes; for UNKNOWN_AGENT the id
        and the row count; for CAPACITY the births refused and the capacity; for
        STALE_HANDLE the offset, the handle's epoch and the
        current one).
    """
    from .kernels import status as k

    a = [int(v) for v in args] + [0, 0, 0]
    where = (f" in phase {phase}" if phase else "") + (f" at tick {tick}" if tick is not None else "")
    if code == k.ARENA_EXHAUSTED:
        return ArenaExhausted(a[0], a[1], a[2], phase=phase, tick=tick)
    if code == k.UNKNOWN_AGENT:
        return UnknownAgent(f"agent id {a[0]} is not a live agent (rows 0..{a[1] - 1}){where}",
                            field="agent", value=a[0], bound=a[1], phase=phase, tick=tick)
    if code == k.STALE_HANDLE:
        return StaleHandle(f"arena handle at offset {a[0]} of epoch {a[1]} is stale: the "
                           f"arena is at epoch {a[2]}{where}", field="epoch", value=a[1],
                           bound=a[2], phase=phase, tick=tick)
    if code == k.CAPACITY:
        return CapacityError(f"{a[0]} births were refused{where}: every one of the "
                             f"{a[1]} rows (capacity={a[1]}) holds an agent; build the "
                             f"world with a larger capacity", field="capacity",
                             value=a[0], bound=a[1], phase=phase, tick=tick)
    if code == k.BAD_ARGUMENT:
        return ConfigError(f"a kernel refused its arguments{where}: {a[:3]}",
                           value=a[:3], phase=phase, tick=tick)
    return KernelError(f"kernel status {k.NAMES.get(code, code)}{where}: {a[:3]}",
                       value=code, phase=phase, tick=tick)
