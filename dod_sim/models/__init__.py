"""Reference models on :mod:`dod_sim.model`, with the rules of Mesa's own examples.

* :mod:`.wealth`    -- Boltzmann wealth on a grid (``MODEL``, statistic ``gini``)
* :mod:`.schelling` -- Schelling segregation (``happy``, ``segregation``)
* :mod:`.boids`     -- Boid flocking on a torus, neighbours from a cell index
  (``alignment``)
* :mod:`.game_of_life` -- Conway's Game of Life on a torus, one agent a cell
  (``alive_cells``, ``fraction_alive``); equals Mesa's cell for cell
* :mod:`.virus`     -- Virus on a Network: SIR on an Erdos-Renyi graph, Mesa's random
  sequential activation (``Infected``, ``Susceptible``, ``Resistant``, ``R_over_S``)
* :mod:`.pd_grid`   -- the spatial prisoner's dilemma, Mesa's three activation orders
  (``Cooperating_Agents``, ``cooperating_fraction``)
* :mod:`.civil_violence` -- Epstein civil violence: citizens and cops, two tables in one
  shuffled order (``active``, ``quiet``, ``arrested``)
* :mod:`.wolf_sheep` -- Wolf-Sheep predation with grass: two tables that are born and
  die, a grass layer (``Wolves``, ``Sheep``, ``Grass``)
* :mod:`.sugarscape` -- Sugarscape G1MT: growback, migration and trade between traders
  who starve (``Traders``, ``Trade_Volume``, ``Price``, ``Gini``)
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

from . import (boids, civil_violence, game_of_life, pd_grid, schelling, sugarscape,
               tileworld, virus, wealth, wolf_sheep)

MODELS = {"wealth": wealth, "schelling": schelling, "boids": boids,
          "game_of_life": game_of_life, "virus": virus, "pd_grid": pd_grid,
          "civil_violence": civil_violence, "wolf_sheep": wolf_sheep, "sugarscape": sugarscape}

__all__ = ["MODELS", "resolve", "wealth", "schelling", "boids", "game_of_life", "virus",
           "pd_grid", "civil_violence", "wolf_sheep", "sugarscape", "tileworld"]


def resolve(spec):
    """``(model, make)`` for ``spec``: a reference model's name (a key of
    :data:`MODELS`), a :class:`~dod_sim.model.Model`, or ``"package.module:attribute"``
    naming a Model or a module that has ``MODEL`` (and optionally ``world``).

    ``make(agents, seed=0, threads=None, **params)`` builds a
    :class:`~dod_sim.model.ModelWorld`: the module's own ``world`` (which sizes the space
    for the agents) where there is one, else ``ModelWorld(model, agents, ...)``.
    Raises ConfigError (``field="model"``) for a name that is none of these; importing
    a ``module:attribute`` runs that module's code, as Python's import does.
    """
    import importlib

    from ..errors import ConfigError
    from ..model import Model, ModelWorld

    module = None
    if isinstance(spec, Model):
        model = spec
    elif isinstance(spec, str) and spec in MODELS:
        module = MODELS[spec]
        model = module.MODEL
    elif isinstance(spec, str) and ":" in spec:
        mod_name, _, attr = spec.partition(":")
        try:
            target = getattr(importlib.import_module(mod_name), attr)
        except (ImportError, AttributeError, ValueError) as e:
            raise ConfigError(f"model {spec!r} cannot be imported: {e}", field="model",
                              value=spec) from e
        if isinstance(target, Model):
            model = target
        elif isinstance(getattr(target, "MODEL", None), Model):
            module, model = target, target.MODEL
        else:
            raise ConfigError(f"model {spec!r} is a {type(target).__name__}, not a Model or "
                              f"a module with MODEL", field="model", value=spec)
    else:
        raise ConfigError(f"model {spec!r} is not a reference model ({', '.join(MODELS)}), "
                          f"a Model, or 'package.module:attribute'", field="model", value=spec)
    if module is not None and callable(getattr(module, "world", None)):
        return model, module.world

    def make(agents, seed=0, threads=None, **params):
        return ModelWorld(model, agents, seed=seed, threads=threads, **params)
    return model, make
