"""Reference models on :mod:`dod_sim.model`, with the rules of Mesa's own examples.

* :mod:`.wealth`    -- Boltzmann wealth on a grid (``MODEL``, statistic ``gini``)
* :mod:`.schelling` -- Schelling segregation (``happy``, ``segregation``)
* :mod:`.boids`     -- Boid flocking on a torus, neighbours from a cell index
  (``alignment``)
* :mod:`.tileworld` -- WORKLOAD.md's tileworld, the engine's own tick as model systems
  (not in ``MODELS``: Mesa has no counterpart to measure it against)

Each module has ``MODEL`` (a :class:`dod_sim.model.Model`) and
``world(agents, seed=0, threads=None, **params)``, which sizes the space for
``agents`` at the density of Mesa's defaults unless width/height are given.
"""

import os as _os

from ..kernels import KERNELS_DIR as _KERNELS_DIR
from ..kernels import cache_dir_of as _cache_dir_of
from ..kernels import drop_stale_cache as _drop_stale_cache

# the models' compiled functions call dod_sim.kernels and dod_sim.model: see
# drop_stale_cache (Numba's cache checks only the file that defines a function)
_HERE = _os.path.dirname(_os.path.abspath(__file__))
_drop_stale_cache(_HERE, _cache_dir_of(_HERE),
                  depends=(_KERNELS_DIR, _os.path.dirname(_HERE)))

from . import boids, schelling, tileworld, wealth

MODELS = {"wealth": wealth, "schelling": schelling, "boids": boids}

__all__ = ["MODELS", "wealth", "schelling", "boids", "tileworld"]
