"""dod_sim: data-oriented agent simulation at native speed.

Agents are rows of numpy columns; a tick is a list of compiled, GIL-free Numba
kernels; mailboxes are bounded rings in one shared pool; scratch memory comes from an
epoch arena. Start with :class:`World` and :class:`Config`.
"""

from . import runtime as runtime  # first: it fixes the threads' wait policy before numba starts them
from .config import Config
from .errors import (
    ArenaExhausted, ConfigError, DodSimError, SnapshotError, StaleHandle, UnknownAgent,
)
from .model import Column, Kernel, Model, ModelWorld, Resource, Rows
from .report import Report
from .world import World

__version__ = "0.1.0"

__all__ = [
    "Config", "World", "Report", "DodSimError", "ConfigError", "ArenaExhausted",
    "StaleHandle", "UnknownAgent", "SnapshotError", "Model", "ModelWorld", "Column", "Rows",
    "Kernel", "Resource", "__version__",
]
