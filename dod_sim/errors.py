"""Typed errors of dod_sim. Each names the field, the offending value and the bound.

Every class derives from :class:`DodSimError` and carries ``field``, ``value``,
``bound``, ``phase`` and ``tick`` (``None`` where they do not apply), so tests and
callers inspect attributes rather than parse messages.
"""

from __future__ import annotations

__all__ = [
    "DodSimError",
    "ConfigError",
    "ArenaExhausted",
    "StaleHandle",
    "UnknownAgent",
    "SnapshotError",
    "PoolFull",
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
