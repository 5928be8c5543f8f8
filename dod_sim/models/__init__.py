"""Reference models on :mod:`dod_sim.model`, with the rules of Mesa's own examples.

* :mod:`.wealth`    -- Boltzmann wealth on a grid (``MODEL``, statistic ``gini``)
* :mod:`.schelling` -- Schelling segregation (``happy``, ``segregation``)
* :mod:`.boids`     -- Boid flocking on a torus, neighbours from a cell index
  (``alignment``)

Each module has ``MODEL`` (a :class:`dod_sim.model.Model`) and
``world(agents, seed=0, threads=None, **params)``, which sizes the space for
``agents`` at the density of Mesa's defaults unless width/height are given.
"""

from . import boids, schelling, wealth

MODELS = {"wealth": wealth, "schelling": schelling, "boids": boids}

__all__ = ["MODELS", "wealth", "schelling", "boids"]
