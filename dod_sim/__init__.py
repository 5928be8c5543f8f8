"""dod_sim: data-oriented agent simulation at native speed.

Agents are rows of numpy columns; a tick is a list of compiled, GIL-free Numba
kernels; mailboxes are bounded rings in one shared pool; scratch memory comes from an
epoch arena. Start with :class:`World` and :class:`Config`.
"""

import os as _os

from . import runtime as runtime  # first: it fixes the threads' wait policy before numba starts them
from .kernels import KERNELS_DIR as _KERNELS_DIR
from .kernels import cache_dir_of as _cache_dir_of
from .kernels import drop_stale_cache as _drop_stale_cache

# the few kernels defined here (dod_sim.model's) call dod_sim.kernels: see drop_stale_cache
_HERE = _os.path.dirname(_os.path.abspath(__file__))
_drop_stale_cache(_HERE, _cache_dir_of(_HERE), depends=(_KERNELS_DIR,))

from .config import Config
from .errors import (
    ArenaExhausted, ConfigError, DodSimError, SnapshotError, StaleHandle, UnknownAgent,
)
from .model import Column, Kernel, Model, ModelWorld, Resource, Rows, Stat
from .report import Report
from .world import World

__version__ = "0.1.0"

__all__ = [
    "Config", "World", "Report", "DodSimError", "ConfigError", "ArenaExhausted",
    "StaleHandle", "UnknownAgent", "SnapshotError", "Model", "ModelWorld", "Column", "Rows",
    "Kernel", "Resource", "Stat", "__version__",
]
