"""Virus on a network, after Mesa 3.3.1's
``mesa/examples/basic/virus_on_network/model.py`` and ``agents.py``.

Mesa's rules (line numbers in those two files):

* Parameters and defaults (``model.py`` 30-40): ``num_nodes=10``,
  ``avg_node_degree=3``, ``initial_outbreak_size=1``, ``virus_spread_chance=0.4``,
  ``virus_check_frequency=0.4``, ``recovery_chance=0.3``, ``gain_resistance_chance=0.5``.
* The network (``model.py`` 42-44): ``nx.erdos_renyi_graph(n=num_nodes, p=prob)`` with
  ``prob = avg_node_degree / num_nodes``, every pair of distinct nodes an edge
  independently, one agent per node (``capacity=1``, 59-68). Mesa draws it from
  networkx's global ``random`` (no seed is passed), not from the model's seed.
* The outbreak (``model.py`` 46-48, 70-76): every agent starts SUSCEPTIBLE, then
  ``initial_outbreak_size`` distinct nodes drawn uniformly (``random.sample``) become
  INFECTED; Mesa silently clamps a size above ``num_nodes`` to ``num_nodes``.
* A step (``model.py`` 89-92) is ``self.agents.shuffle_do("step")``: every agent once,
  in a uniformly random order, sequentially (Mesa's ``AgentSet.shuffle_do`` shuffles the
  agents, then calls ``step`` on each in turn), then the DataCollector collects.
* An agent's turn (``agents.py`` 62-65): if it is INFECTED now it tries to infect its
  neighbours (35-40): each neighbour that is SUSCEPTIBLE at that moment becomes
  INFECTED with probability ``virus_spread_chance``. Then ``check_situation`` (56-60):
  if it is INFECTED, with probability ``virus_check_frequency`` it tries to remove the
  infection (46-54): with probability ``recovery_chance`` it becomes SUSCEPTIBLE and then
  (42-44), with probability ``gain_resistance_chance``, RESISTANT; otherwise it stays
  INFECTED. The turns are sequential, so an agent infected earlier in the step by
  another's turn spreads (and may recover) at its own turn in the same step; one that
  recovered without resistance can be infected again later in the step.
* Reporters (``model.py`` 50-57, 11-24, 81-87): ``Infected``, ``Susceptible``,
  ``Resistant`` (counts) and ``R over S`` = Resistant / Susceptible, ``math.inf`` when
  there is no susceptible agent.

How ours maps them:

* ``agents`` is ``num_nodes``: row i is the agent on node i. The parameters keep Mesa's
  names and defaults (``avg_node_degree`` is a float so 2.5 is allowed, as in Mesa's
  formula). The column ``state`` is 0 SUSCEPTIBLE, 1 INFECTED, 2 RESISTANT (Mesa's
  ``State`` values).
* The network is ``dod_sim.spaces.random_network(agents, avg_node_degree, seed)``:
  G(n, p) with Mesa's ``p = avg_node_degree / num_nodes``, the same distribution as
  networkx's graph, drawn from the world's seed (so a world is reproducible, which
  Mesa's graph is not). It is the resource ``net`` (CSR ``indptr``/``indices``,
  neighbours ascending where Mesa follows networkx's insertion order; each susceptible
  neighbour gets its own independent draw, so the order changes nothing in
  distribution). ``net`` is ``state=True``: the digest covers the graph (two worlds on
  different graphs are different worlds even when their states agree), and a snapshot
  carries it, so a restored world continues on the very graph it was saved with even if
  numpy's ``Generator`` (whose streams numpy does not promise to keep across versions)
  would draw another one from the seed; a graph of another edge count is refused by the
  snapshot's layout check instead of being continued silently.
* The outbreak is a setup ``Kernel``: a partial Fisher-Yates shuffle of the rows picks
  ``initial_outbreak_size`` distinct rows uniformly.
* The step is one sequential ``Kernel`` (``activate``), as in ``wealth``: a
  Fisher-Yates shuffle over the rows 0..n-1 (into the scratch resource ``order``) gives
  a uniformly random order, and the agents take their turns in it with Mesa's rules
  above on the current states. Below ``PREFETCH_FROM`` agents each takes its turn as
  soon as its place is drawn (row ``order[t]`` is final once step t of the shuffle is
  done), one pass; from there on the whole order is drawn first and each turn
  prefetches the rows of the turns ``AHEAD`` of it (its state and ``indptr``, then its
  neighbours' numbers, then their states), as the state of a million nodes and their
  neighbour lists no longer fit in the L2 cache: a step of 1,000,000 nodes (64 %
  infected) took 125 ms in one pass and 52 ms with the prefetch (AMD EPYC znver4, best
  of 5, alternating); at 50,000 nodes the two took the same time, at 10,000 (276 us)
  the one pass was 1 % faster. Both give the same order and the same turns
  (``tests/test_virus.py`` runs both on one world).
  A synchronous update (every agent acting on the step's old states, so that no newly
  infected agent passes the virus on in the step it was infected) is a different
  model: over 400 seeds of 400 nodes (10 infected at first, 30 steps) it kept a
  time-averaged susceptible fraction of 0.306 and a resistant one of 0.334 where Mesa's
  kept 0.249 and 0.392 (ours 0.247 and 0.394); ``tests/test_virus.py`` rejects it
  against Mesa with the test that accepts ours.
* Draws: the step's key gives ``shuffle = draw(key, 0)`` (turn t draws
  ``draw(shuffle, t)``) and ``act = draw(key, 1)``; the agent on row i draws from
  ``a = draw(act, i)``: ``uniform(a, 0)`` the check, ``uniform(a, 1)`` recovery,
  ``uniform(a, 2)`` resistance, ``uniform(a, 3 + k)`` the spread to its k-th neighbour.
  Mesa draws only when it needs a value (a susceptible neighbour, an infected agent);
  each of ours is independent of the others, so the decisions have Mesa's probabilities.
  The run is a different sample than Mesa's for the same seed, with the same
  distribution.
* Statistics (compiled ``Stat``\\ s, one pass over ``state`` each): ``Infected``,
  ``Susceptible``, ``Resistant`` (counts, as floats) and ``R_over_S`` (Mesa's
  ``R over S``; a statistic's name must be an identifier), ``inf`` without susceptible
  agents, as Mesa's ``math.inf``.
* Bad values raise ``ConfigError`` naming the field where Mesa would clamp or fail
  later: a probability outside [0, 1], ``initial_outbreak_size`` outside [0, agents]
  (Mesa clamps above), ``avg_node_degree`` outside [0, agents] (Mesa's p would exceed 1
  and networkx would return the complete graph).

Nothing in a step is parallel (every turn can depend on all earlier ones, as in Mesa),
so ``world`` runs on one thread unless told otherwise; the digest is the same on any
thread count.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from ..kernels._jit import inline, kernel
from ..kernels.prefetch import prefetch
from ..kernels.rng import below, draw, uniform
from ..kernels.spaces import degree, neighbour
from ..model import Column, Kernel, Model, ModelWorld, Range, Resource, Stat, count_of
from ..schema import OneOf
from ..spaces import random_network

__all__ = ["MODEL", "world", "SUSCEPTIBLE", "INFECTED", "RESISTANT", "PROBABILITIES"]

SUSCEPTIBLE, INFECTED, RESISTANT = 0, 1, 2  # Mesa's State values
PROBABILITIES = ("virus_spread_chance", "virus_check_frequency", "recovery_chance",
                 "gain_resistance_chance")
# streams of an agent's turn key: check, recovery, resistance, then one per neighbour
CHECK, RECOVER, RESIST, SPREAD = 0, 1, 2, 3
AHEAD = 32  # turns between a row's first prefetch and its turn
PREFETCH_FROM = 50_000  # agents from which the turns prefetch (module docstring)


@kernel
def outbreak(key, n, p, state, order):
    """Setup: ``initial_outbreak_size`` distinct rows, uniformly (a partial Fisher-Yates
    shuffle of 0..n-1), become INFECTED; every other row is SUSCEPTIBLE (its init)."""
    for t in range(n):
        order[t] = t
    for t in range(p.initial_outbreak_size):
        j = t + below(draw(key, t), n - t)
        i = order[j]
        order[j] = order[t]
        order[t] = i
        state[i] = INFECTED


@inline
def _turn(i, a, p, indptr, indices, state):
    """Agent i's turn (VirusAgent.step), INFECTED at its start; a: its key."""
    for k in range(degree(indptr, i)):
        m = neighbour(indptr, indices, i, k)
        if state[m] == SUSCEPTIBLE and uniform(a, SPREAD + k) < p.virus_spread_chance:
            state[m] = INFECTED
    if uniform(a, CHECK) < p.virus_check_frequency:
        if uniform(a, RECOVER) < p.recovery_chance:
            state[i] = (RESISTANT if uniform(a, RESIST) < p.gain_resistance_chance
                        else SUSCEPTIBLE)


@kernel
def activate(key, n, p, net, state, order):
    """Every agent's turn, sequentially in a uniformly random order (module docstring).

    net : the network (CSR); state : int8[n], written in place; order : int32[n]
    scratch, this step's order once the step is done.
    """
    indptr, indices = net.indptr, net.indices
    shuffle, act = draw(key, 0), draw(key, 1)
    for t in range(n):
        order[t] = t
    if n < PREFETCH_FROM:
        # one pass: row order[t] is final once step t of the shuffle is done
        for t in range(n):
            j = t + below(draw(shuffle, t), n - t)
            i = order[j]
            order[j] = order[t]
            order[t] = i
            if state[i] == INFECTED:  # Mesa's step does nothing (and draws nothing) else
                _turn(i, draw(act, i), p, indptr, indices, state)
        return
    for t in range(n):  # the whole order first, so that the turns can prefetch ahead
        j = t + below(draw(shuffle, t), n - t)
        i = order[j]
        order[j] = order[t]
        order[t] = i
    for t in range(n):
        # prefetch in stages, each using what the one before brought in: a turn's state
        # and indptr, then its first neighbours' numbers, then their states
        if t + AHEAD < n:
            r = order[t + AHEAD]
            prefetch(state, r)
            prefetch(indptr, r)
        if t + AHEAD // 2 < n:
            r = order[t + AHEAD // 2]
            prefetch(indices, indptr[r])
        if t + AHEAD // 4 < n:
            r = order[t + AHEAD // 4]
            if state[r] == INFECTED:
                for k in range(indptr[r], indptr[r + 1]):
                    prefetch(state, indices[k])
        i = order[t]
        if state[i] == INFECTED:
            _turn(i, draw(act, i), p, indptr, indices, state)


@kernel
def infected(n, p, state):
    """Mesa's ``Infected`` reporter: the number of INFECTED agents."""
    return np.float64(count_of(n, state, INFECTED))


@kernel
def susceptible(n, p, state):
    """Mesa's ``Susceptible`` reporter."""
    return np.float64(count_of(n, state, SUSCEPTIBLE))


@kernel
def resistant(n, p, state):
    """Mesa's ``Resistant`` reporter."""
    return np.float64(count_of(n, state, RESISTANT))


@kernel
def r_over_s(n, p, state):
    """Mesa's ``R over S``: Resistant / Susceptible, inf when no agent is susceptible."""
    s = count_of(n, state, SUSCEPTIBLE)
    if s == 0:
        return np.inf
    return np.float64(count_of(n, state, RESISTANT)) / s


def _check(p, agents):
    for k in PROBABILITIES:
        v = getattr(p, k)
        if not 0.0 <= v <= 1.0:
            raise ConfigError(f"{k}={v!r} must be a probability in [0, 1]", field=k,
                              value=v, bound=(0.0, 1.0))
    if not 0 <= p.initial_outbreak_size <= agents:
        raise ConfigError(f"initial_outbreak_size={p.initial_outbreak_size} must be in "
                          f"[0, agents={agents}] (agents is Mesa's num_nodes)",
                          field="initial_outbreak_size", value=p.initial_outbreak_size,
                          bound=(0, agents))
    if not 0.0 <= p.avg_node_degree <= agents:
        raise ConfigError(f"avg_node_degree={p.avg_node_degree!r} must be in [0, agents="
                          f"{agents}] (p = avg_node_degree / num_nodes is a probability)",
                          field="avg_node_degree", value=p.avg_node_degree,
                          bound=(0, agents))


def network(p, agents, seed):
    """The world's network: Mesa's G(n, p = avg_node_degree / num_nodes), from the seed."""
    return random_network(agents, p.avg_node_degree, seed)


MODEL = Model(
    "virus_on_network",
    view={"color": "state", "cmap": "RdYlGn_r", "vmin": 0, "vmax": 2},
    params={"avg_node_degree": 3.0, "initial_outbreak_size": 1,
            "virus_spread_chance": 0.4, "virus_check_frequency": 0.4,
            "recovery_chance": 0.3, "gain_resistance_chance": 0.5},
    # Mesa's sliders (app.py): the network and the outbreak make a new world
    ranges={"avg_node_degree": Range(3, 8, 1), "initial_outbreak_size": Range(1, 10, 1),
            **{k: Range(0.0, 1.0, 0.1, live=True) for k in (
                "virus_spread_chance", "virus_check_frequency", "recovery_chance",
                "gain_resistance_chance")}},
    columns=[
        Column("state", np.int8, SUSCEPTIBLE,
               "0 susceptible, 1 infected, 2 resistant (Mesa's State)",
               (OneOf((SUSCEPTIBLE, INFECTED, RESISTANT)),)),
    ],
    resources=[
        Resource("net", network, state=True),
        Resource("order", lambda p, n: np.zeros(n, np.int32)),
    ],
    setup=[Kernel("outbreak", outbreak, writes=("state", "order"))],
    systems=[Kernel("activate", activate, reads=("net",), writes=("state", "order"))],
    stats={"Infected": Stat(infected, reads=("state",)),
           "Susceptible": Stat(susceptible, reads=("state",)),
           "Resistant": Stat(resistant, reads=("state",)),
           "R_over_S": Stat(r_over_s, reads=("state",))},
    check=_check,
    doc=__doc__,
)


def world(agents: int = 10, seed: int = 0, threads: int | None = None,
          **params) -> ModelWorld:
    """A virus world of ``agents`` nodes (Mesa's ``num_nodes``, default 10).

    ``threads=None`` means one thread: every system is one sequential kernel, and the
    probe ``ModelWorld`` would run to choose a thread count would only build a second
    world (any thread count gives the same result)."""
    return ModelWorld(MODEL, agents, seed=seed, threads=1 if threads is None else threads,
                      **params)
