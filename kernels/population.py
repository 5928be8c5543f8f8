"""Births and deaths: which rows of a table hold an agent, and the free rows to reuse.

A model declared ``dynamic`` has a :class:`Population` over its table of ``capacity``
rows. Each row is free or holds one agent, which has a stable ``id`` that no later agent
takes (a reused row gets a new id). Systems change the population two ways:

* a whole-column system (a ``Kernel``, sequential in its own order) calls :func:`kill`
  and :func:`spawn`. A kill is seen at once (``alive[row]`` is 0, so a later agent in
  the same loop skips the row and a second wolf cannot eat the same sheep); its row
  becomes free at the sync point after the system, so nothing else lands on it during
  the system. A spawn takes a free row at once and marks it ``BORN``: loops of the same
  system skip it (a newborn acts from the next system on);
* a per-row system asks, for its own row, to die (the generated loop sets ``want``) or
  to give birth (it writes the child's values densely in its chunk's part of the
  birth buffers, ``chunk * CHUNK + k`` for its k-th birth, and the count in
  ``births[chunk]``). Both apply at the sync point after the system, in row order, so
  the result does not depend on the thread count.

The sync point is :func:`settle`, then, after a system that gives birth,
:func:`open_births`, the generated copy of the children's values, and
:func:`close_births`. Deaths free their rows (pushed on the free stack in row order);
births take the top rows of the stack, the first birth the deepest of them, so children
land near the rows freed by this sync point; ``BORN`` rows become ``ALIVE``. Every pass
is chunk-parallel: counts per chunk, a prefix over chunks, each chunk writes its part.

Capacity is fixed when the world is built: a birth with no free row is refused and
counted in ``count[REFUSED]``; the engine ends the run after that tick and raises
``CapacityError`` (growing would reallocate every column between ticks and move the
arrays that resources and views hold).

Inside a ``prange`` take the arrays out of the tuple first (``alive = pop.alive``):
written as ``pop.id[i]`` in a parallel loop, writes were lost (Numba 0.68).
"""

from typing import NamedTuple

import numpy as np
from numba import prange

from ._jit import kernel
from .rng import below, draw

__all__ = ["Population", "FREE", "ALIVE", "BORN", "N_FREE", "NEXT_ID", "REFUSED", "LIVE",
           "CHUNK", "population", "kill", "spawn", "is_alive", "settle", "open_births",
           "close_births", "shuffled", "shuffle"]

FREE, ALIVE, BORN = 0, 1, 2           # values of alive[row]
DIES = 1                              # want[row]: the row's agent ends at the sync point
N_FREE, NEXT_ID, REFUSED, LIVE = 0, 1, 2, 3  # entries of count
CHUNK = 1024  # rows per chunk: dod_sim.model's per-row loops count births per chunk


class Population(NamedTuple):
    """The rows of one table: ``capacity`` rows, ``chunks = ceil(capacity / CHUNK)``.

    alive : uint8[capacity], FREE, ALIVE or BORN (spawned in the running system)
    id : int64[capacity], the agent's stable id (-1 in a free row)
    free : int64[capacity], the free rows, a stack: ``free[:count[N_FREE]]``, top last
    count : int64[4], N_FREE, NEXT_ID (the next id to give), REFUSED (births with no
        free row since the run began), LIVE (rows ALIVE)
    want : uint8[capacity], scratch: DIES where a row's agent ends at the sync point
        (a per-row system's request, a kernel's kill), 0 between systems
    births : int64[chunks + 1], scratch: births asked for by each chunk of a per-row
        loop, then their offsets (0 between systems)
    deaths : int64[chunks, 2], scratch: deaths and per-row deaths per chunk, then the
        first's offsets
    order : int64[capacity], scratch for :func:`shuffled`
    pending : int64[2], scratch: kills and spawns by a kernel since the last sync point
        (none: the sync point after a kernel scans nothing)
    """

    alive: np.ndarray
    id: np.ndarray
    free: np.ndarray
    count: np.ndarray
    want: np.ndarray
    births: np.ndarray
    deaths: np.ndarray
    order: np.ndarray
    pending: np.ndarray


def population(alive: np.ndarray, ids: np.ndarray, agents: int) -> Population:
    """The population of a table whose ``alive`` and ``id`` columns are given (length
    ``capacity``): rows ``0..agents-1`` hold agents ``0..agents-1``, the others are
    free, and the lowest free row is taken first."""
    cap = alive.shape[0]
    alive[:agents] = ALIVE
    alive[agents:] = FREE
    ids[:agents] = np.arange(agents)
    ids[agents:] = -1
    free = np.zeros(cap, np.int64)
    free[:cap - agents] = np.arange(cap - 1, agents - 1, -1)
    count = np.array([cap - agents, agents, 0, agents], np.int64)
    chunks = max(1, -(-cap // CHUNK))
    return Population(alive, ids, free, count, np.zeros(cap, np.uint8),
                      np.zeros(chunks + 1, np.int64), np.zeros((chunks, 2), np.int64),
                      np.zeros(cap, np.int64), np.zeros(2, np.int64))


@kernel
def is_alive(pop, row):
    """True when ``row`` holds an agent that acts in the running system."""
    return pop.alive[row] == ALIVE


@kernel
def kill(pop, row):
    """End the agent in ``row`` now; its row is freed at the next sync point. Returns
    False (and does nothing) when the row holds no live agent: of two claims on one
    agent, the first wins."""
    if pop.alive[row] != ALIVE:
        return False
    pop.alive[row] = FREE
    pop.want[row] = DIES
    pop.count[LIVE] -= 1
    pop.pending[0] += 1
    return True


@kernel
def spawn(pop):
    """A new agent: the row it takes (its columns are the caller's to write), or -1 when
    no row is free (the birth is refused and counted). It acts from the next system."""
    n = pop.count[N_FREE]
    if n == 0:
        pop.count[REFUSED] += 1
        return -1
    row = pop.free[n - 1]
    pop.count[N_FREE] = n - 1
    pop.alive[row] = BORN
    pop.id[row] = pop.count[NEXT_ID]
    pop.count[NEXT_ID] += 1
    pop.count[LIVE] += 1
    pop.pending[1] += 1
    return row


@kernel(parallel=True)
def settle(pop, n, spawned):
    """The sync point's deaths (module docstring); ``spawned``: the system was a kernel
    that may have spawned, whose ``BORN`` rows become ``ALIVE``. Reads ``want`` (a byte
    a row) and writes only the rows that change. Returns the deaths."""
    alive, want, per, free, count, ids = (pop.alive, pop.want, pop.deaths, pop.free,
                                          pop.count, pop.id)
    if spawned and pop.pending[0] == 0 and pop.pending[1] == 0:
        return 0  # a kernel that killed and spawned nothing: nothing to scan
    pop.pending[0] = 0
    pop.pending[1] = 0
    chunks = (n + CHUNK - 1) // CHUNK
    for c in prange(chunks):
        d = 0
        r = 0
        for i in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            if want[i]:
                d += 1
                if alive[i] == ALIVE:  # a per-row request: still counted live
                    r += 1
        per[c, 0] = d
        per[c, 1] = r
    deaths = 0
    ended = 0
    for c in range(chunks):  # exclusive prefix over chunks
        d = per[c, 0]
        per[c, 0] = deaths
        deaths += d
        ended += per[c, 1]
    base = count[N_FREE]
    if deaths or spawned:
        for c in prange(chunks):  # deaths push their rows, in row order
            k = base + per[c, 0]
            for i in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
                if want[i]:
                    alive[i] = FREE  # a per-row request ends the agent now
                    ids[i] = -1
                    free[k] = i
                    k += 1
                    want[i] = 0
                elif spawned and alive[i] == BORN:
                    alive[i] = ALIVE
    count[N_FREE] = base + deaths
    count[LIVE] -= ended
    return deaths


@kernel
def open_births(pop, n):
    """The births asked for by a per-row loop (``pop.births[c]`` per chunk): turns the
    counts into offsets and takes their rows off the free stack. Returns the births
    granted, ``g``: the j-th birth in chunk order (j < g) gets row
    ``free[count[N_FREE] + j]`` and id ``count[NEXT_ID] - g + j``; the rest are refused
    and counted. Serial over chunks (a thousandth of the rows)."""
    births, count = pop.births, pop.count
    chunks = (n + CHUNK - 1) // CHUNK
    total = 0
    for c in range(chunks):
        b = births[c]
        births[c] = total
        total += b
    births[chunks] = total
    granted = min(total, count[N_FREE])
    count[N_FREE] -= granted
    count[NEXT_ID] += granted
    count[REFUSED] += total - granted
    count[LIVE] += granted
    return granted


@kernel
def close_births(pop, n):
    """Zero the per-chunk birth counts for the next per-row loop."""
    pop.births[:(n + CHUNK - 1) // CHUNK + 1] = 0


@kernel
def shuffled(pop, key, n):
    """Fill ``pop.order[:m]`` with the ALIVE rows among the first ``n`` in a uniformly
    random order drawn from ``key`` (Fisher-Yates, in place) and return ``m``: the
    activation order of a random-sequential system (Mesa's ``shuffle_do``). Rows killed
    during the loop stay in the order: check :func:`is_alive` at each turn."""
    order = pop.order
    m = 0
    for i in range(n):
        if pop.alive[i] == ALIVE:
            order[m] = i
            m += 1
    shuffle(key, order, m)
    return m


@kernel
def shuffle(key, order, m):
    """Shuffle ``order[:m]`` in place, uniformly, with draws from ``key`` (Fisher-Yates:
    step j swaps entry j with entry ``below(draw(key, j), j + 1)``)."""
    for j in range(m - 1, 0, -1):
        k = below(draw(key, j), j + 1)
        t = order[j]
        order[j] = order[k]
        order[k] = t
