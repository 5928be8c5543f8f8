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
* a per-row system asks, for its own row, to die or to give birth (its function returns
  them). Those requests are applied at the sync point after the system, in row order,
  so the result does not depend on the thread count.

:func:`settle` is the sync point: requested deaths free their rows (pushed on the free
stack in row order), then requested births take free rows (popped in row order of
their parents), then ``BORN`` rows become ``ALIVE``. It is chunk-parallel: counts per
chunk, a prefix over chunks, then each chunk writes its own part.

Capacity is fixed when the world is built: a birth with no free row is refused and
counted in ``count[REFUSED]``; the engine ends the run after that tick and raises
``CapacityError`` (growing would reallocate every column between ticks and move the
arrays that resources and views hold).
"""

from typing import NamedTuple

import numpy as np
from numba import prange

from ._jit import kernel
from .rng import below, draw

__all__ = ["Population", "FREE", "ALIVE", "BORN", "N_FREE", "NEXT_ID", "REFUSED", "LIVE",
           "CHUNK", "kill", "spawn", "is_alive", "settle", "shuffled", "live_count"]

FREE, ALIVE, BORN = 0, 1, 2           # values of alive[row]
DIES, GIVES_BIRTH = 1, 2              # bits of want[row], a per-row system's requests
N_FREE, NEXT_ID, REFUSED, LIVE = 0, 1, 2, 3  # entries of count
CHUNK = 4096                          # rows per chunk of settle's parallel passes


class Population(NamedTuple):
    """The rows of one table: ``capacity`` rows, ``chunks = ceil(capacity / CHUNK)``.

    alive : uint8[capacity], FREE, ALIVE or BORN (spawned in the running system)
    id : int64[capacity], the agent's stable id (-1 in a free row)
    free : int64[capacity], the free rows, a stack: ``free[:count[N_FREE]]``, top last
    count : int64[4], N_FREE, NEXT_ID (the next id to give), REFUSED (births with no
        free row since the run began), LIVE (rows ALIVE)
    want : uint8[capacity], scratch: a per-row system's DIES / GIVES_BIRTH requests
    child : int64[capacity], scratch: the row given to each parent's child, or -1
    chunk : int64[chunks, 3], scratch: deaths, births and per-row deaths per chunk,
        then the first two's offsets
    order : int64[capacity], scratch for :func:`shuffled`
    """

    alive: np.ndarray
    id: np.ndarray
    free: np.ndarray
    count: np.ndarray
    want: np.ndarray
    child: np.ndarray
    chunk: np.ndarray
    order: np.ndarray


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
    return Population(alive, ids, free, count, np.zeros(cap, np.uint8),
                      np.full(cap, -1, np.int64),
                      np.zeros((max(1, -(-cap // CHUNK)), 3), np.int64),
                      np.zeros(cap, np.int64))


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
    return row


@kernel(parallel=True)
def settle(pop, n):
    """The sync point after a system (module docstring). Returns the births applied;
    ``pop.child[parent]`` is the row of each parent's child (-1: none or refused)."""
    # every array a local: written as pop.id[i] inside a prange, writes were lost
    alive, want, chunk, free, count = pop.alive, pop.want, pop.chunk, pop.free, pop.count
    ids, child = pop.id, pop.child
    chunks = (n + CHUNK - 1) // CHUNK
    for c in prange(chunks):
        d = 0
        b = 0
        r = 0
        for i in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            w = want[i]
            d += w & DIES
            b += (w & GIVES_BIRTH) >> 1
            if w & DIES and alive[i] == ALIVE:
                r += 1
        chunk[c, 0] = d
        chunk[c, 1] = b
        chunk[c, 2] = r
    deaths = 0
    births = 0
    ended = 0
    for c in range(chunks):  # exclusive prefix sums over chunks
        d = chunk[c, 0]
        b = chunk[c, 1]
        chunk[c, 0] = deaths
        chunk[c, 1] = births
        deaths += d
        births += b
        ended += chunk[c, 2]
    if deaths == 0 and births == 0:
        for c in prange(chunks):
            for i in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
                if alive[i] == BORN:
                    alive[i] = ALIVE
        return 0
    base = count[N_FREE]
    for c in prange(chunks):  # deaths push their rows, in row order
        k = base + chunk[c, 0]
        for i in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            if want[i] & DIES:
                alive[i] = FREE  # a per-row request ends the agent now
                ids[i] = -1
                free[k] = i
                k += 1
    top = base + deaths  # free rows now; births pop from the top, in parent row order
    granted = min(births, top)
    next_id = count[NEXT_ID]
    for c in prange(chunks):
        k = chunk[c, 1]
        for i in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            if alive[i] == BORN:
                alive[i] = ALIVE
            if want[i] & GIVES_BIRTH:
                if k < granted:
                    row = free[top - 1 - k]
                    child[i] = row
                    alive[row] = ALIVE
                    ids[row] = next_id + k
                else:
                    child[i] = -1
                k += 1
            else:
                child[i] = -1
            want[i] = 0
    count[N_FREE] = top - granted
    count[NEXT_ID] += granted
    count[REFUSED] += births - granted
    count[LIVE] += granted - ended
    return granted


@kernel
def live_count(pop, n):
    """The rows ALIVE among the first ``n``, counted (``pop.count[LIVE]`` is kept
    current; this recounts, for checks)."""
    m = 0
    for i in range(n):
        m += pop.alive[i] == ALIVE
    return m


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
    for j in range(m - 1, 0, -1):
        k = below(draw(key, j), j + 1)
        t = order[j]
        order[j] = order[k]
        order[k] = t
    return m
