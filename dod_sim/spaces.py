"""Spaces for compiled systems: grid neighbourhoods and networks as plain arrays.

The arrays made here are read inside compiled systems with the functions of
:mod:`dod_sim.kernels.spaces` (``cell_of``, ``neighbour_cell``, ``degree``,
``neighbour``), which allocate nothing. Pass them as parameters or resources of a model
(a :class:`Network` is a NamedTuple of arrays, so it is a resource value as it is).

Grids: :func:`grid_offsets` gives the (dx, dy) of a Moore or von Neumann neighbourhood
in the order of Mesa 3.3.1's ``mesa.space`` grids (``_Grid.get_neighborhood``): dx
major, dy minor, each from -radius to radius, keeping the offsets within the
neighbourhood's distance, the centre left out unless asked for. For radius 1 this is
also the order of ``mesa.discrete_space``'s ``OrthogonalMooreGrid`` and
``OrthogonalVonNeumannGrid``. With ``neighbour_cell`` the j-th offset is Mesa's j-th
neighbour:

* on a bounded grid, everywhere, once the cells off the grid (-1) are skipped (Mesa
  leaves them out and keeps the order of the rest);
* on a torus of width and height >= 2 * radius + 1, everywhere: wrapped cells are
  all distinct, and Mesa wraps in the same dx, dy order;
* on a smaller torus, wrapped neighbours coincide. Mesa keeps one copy of each cell, at
  its first position, and without the centre drops every offset that wraps back onto
  the square itself; the offsets give every copy. Mesa's list is the offsets' cells with
  later repeats (and, without the centre, the square itself) removed. Cells at least
  ``radius`` from every edge never wrap, so the two lists agree there on any grid.

Networks: a :class:`Network` is CSR adjacency over nodes 0..n-1, built from an edge
list (:func:`network_from_edges`), a networkx graph (:func:`network_from_networkx`) or
drawn as an Erdos-Renyi graph (:func:`random_network`). Neighbours are sorted
ascending (Mesa's ``Network`` follows the graph's insertion order instead).
"""

from __future__ import annotations

from numbers import Real
from typing import NamedTuple

import numpy as np

from .errors import ConfigError

__all__ = ["MAX_RADIUS", "MAX_NODES", "grid_for", "grid_offsets", "Network", "network_from_edges",
           "network_from_networkx", "random_network"]

MAX_RADIUS = 1000  # (2001)^2 offsets, 64 MB: beyond that a neighbourhood is a scan
MAX_NODES = 2**31 - 1  # node pairs n (n - 1) / 2 fit in int64


def _int_in(name, v, lo, hi):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not lo <= v <= hi:
        raise ConfigError(f"{name}={v!r} must be an integer in [{lo}, {hi}]",
                          field=name, value=v, bound=(lo, hi))
    return int(v)


def grid_for(cells: int) -> tuple[int, int]:
    """(width, height) with width * height == cells, as square as it can be (width >=
    height): 10,000 -> (100, 100), 1,000 -> (40, 25). For models of one agent a cell."""
    h = max(1, int(cells ** 0.5))
    while cells % h:
        h -= 1
    return cells // h, h


def grid_offsets(radius: int = 1, moore: bool = True, center: bool = False) -> np.ndarray:
    """The (dx, dy) of a grid neighbourhood, int64[m, 2], in Mesa's order (module
    docstring): Moore (Chebyshev distance <= radius, m = (2r + 1)^2 - 1) or von Neumann
    (Manhattan distance <= radius, m = 2r(r + 1)), plus (0, 0) in its place when
    ``center``. radius: an integer in [1, MAX_RADIUS]."""
    r = _int_in("radius", radius, 1, MAX_RADIUS)
    d = np.arange(-r, r + 1, dtype=np.int64)
    dx, dy = (a.ravel() for a in np.meshgrid(d, d, indexing="ij"))
    keep = (np.maximum(abs(dx), abs(dy)) if moore else abs(dx) + abs(dy)) <= r
    if not center:
        keep &= (dx != 0) | (dy != 0)
    return np.ascontiguousarray(np.stack([dx[keep], dy[keep]], axis=1))


class Network(NamedTuple):
    """CSR adjacency of nodes 0..n-1: the neighbours of node i are
    ``indices[indptr[i]:indptr[i + 1]]``, ascending, each at most once.

    indptr : int64[n + 1], indptr[0] = 0, non-decreasing
    indices : int64[edges], node numbers in [0, n)
    """

    indptr: np.ndarray
    indices: np.ndarray


def network_from_edges(edges, nodes: int, directed: bool = False) -> Network:
    """The :class:`Network` of ``nodes`` nodes and the (u, v) rows of ``edges``, an
    integer array of shape (m, 2) (any integer dtype, m may be 0) of node numbers in
    [0, nodes).

    Undirected (default): v is a neighbour of u and u of v; directed: v of u only
    (out-neighbours). Like a networkx ``Graph`` / ``DiGraph``, repeated edges are kept
    once (in either direction when undirected) and a self-loop (u, u) makes u its own
    neighbour once.
    """
    n = _int_in("nodes", nodes, 1, MAX_NODES)
    try:
        e = np.asarray(edges)
    except (ValueError, TypeError) as err:
        raise ConfigError(f"edges must be an integer array of shape (m, 2): {err}",
                          field="edges", value=None, bound="(m, 2)") from None
    if e.size == 0:
        e = e.reshape(0, 2)
    if e.ndim != 2 or e.shape[1] != 2:
        raise ConfigError(f"edges has shape {e.shape}: expected (m, 2)", field="edges",
                          value=e.shape, bound="(m, 2)")
    if e.dtype.kind not in "iu" and e.size:
        raise ConfigError(f"edges has dtype {e.dtype}: expected an integer array of shape "
                          f"(m, 2)", field="edges", value=str(e.dtype), bound="(m, 2)")
    if e.size and (e.min() < 0 or e.max() >= n):
        bad = int(e.min()) if e.min() < 0 else int(e.max())
        raise ConfigError(f"edges name node {bad}: nodes are 0..{n - 1} (nodes={n})",
                          field="edges", value=bad, bound=(0, n - 1))
    src = e[:, 0].astype(np.int64)
    dst = e[:, 1].astype(np.int64)
    if not directed:
        src, dst = np.concatenate([src, dst]), np.concatenate([dst, src])
    order = np.lexsort((dst, src))
    src, dst = src[order], dst[order]
    first = np.ones(src.size, bool)
    first[1:] = (src[1:] != src[:-1]) | (dst[1:] != dst[:-1])
    src, dst = src[first], dst[first]
    indptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(src, minlength=n), out=indptr[1:])
    return Network(indptr, np.ascontiguousarray(dst))


def network_from_networkx(graph) -> Network:
    """The :class:`Network` of a networkx graph (anything with ``nodes``, ``edges`` and
    ``is_directed()``): node ``list(graph.nodes)[i]`` becomes i. Directed graphs keep
    out-neighbours; a multigraph's parallel edges become one. networkx itself is not
    imported (it is an optional dependency)."""
    if not all(hasattr(graph, a) for a in ("nodes", "edges", "is_directed")):
        raise ConfigError(f"graph must be a networkx graph (nodes, edges, is_directed), "
                          f"got {type(graph).__name__}", field="graph",
                          value=type(graph).__name__)
    number = {node: i for i, node in enumerate(graph.nodes)}
    if not number:
        raise ConfigError("graph has no nodes: a network needs at least 1", field="graph",
                          value=0, bound=1)
    edges = np.array([(number[u], number[v]) for u, v, *_ in graph.edges],
                     dtype=np.int64).reshape(-1, 2)
    return network_from_edges(edges, len(number), directed=bool(graph.is_directed()))


def _pairs(k):
    """The pairs (i, j), i < j, of pair numbers k = j (j - 1) / 2 + i : int64[m]."""
    j = ((1.0 + np.sqrt(1.0 + 8.0 * k.astype(np.float64))) / 2.0).astype(np.int64)
    j -= j * (j - 1) // 2 > k  # the float root can be one off either way
    j += (j + 1) * j // 2 <= k
    return k - j * (j - 1) // 2, j


def random_network(nodes: int, avg_degree: float, seed: int) -> Network:
    """An undirected Erdos-Renyi G(n, p) graph: each of the n (n - 1) / 2 pairs of
    distinct nodes is an edge independently with probability
    ``p = avg_degree / nodes``, the formula of Mesa 3.3.1's virus_on_network example
    (``prob = avg_node_degree / num_nodes``; ``nx.erdos_renyi_graph(n, p=prob)``), so
    the expected degree is ``avg_degree * (nodes - 1) / nodes``.

    Deterministic for a seed: the same (nodes, avg_degree, seed) gives the same network
    (numpy ``default_rng(seed)``: the edge count is Binomial(pairs, p), then that many
    distinct pairs uniformly), but not networkx's graph for that seed. Memory and time
    are O(nodes + edges). nodes: integer in [1, MAX_NODES]; avg_degree: a number in
    [0, nodes]; seed: integer in [0, 2**63 - 1].
    """
    n = _int_in("nodes", nodes, 1, MAX_NODES)
    if isinstance(avg_degree, bool) or not isinstance(avg_degree, Real) \
            or not 0 <= avg_degree <= n:
        raise ConfigError(f"avg_degree={avg_degree!r} must be a number in [0, {n}] "
                          f"(p = avg_degree / nodes is a probability)", field="avg_degree",
                          value=avg_degree, bound=(0, n))
    s = _int_in("seed", seed, 0, 2**63 - 1)
    rng = np.random.default_rng(s)
    pairs = n * (n - 1) // 2
    m = int(rng.binomial(pairs, float(avg_degree) / n)) if pairs else 0
    k = rng.choice(pairs, size=m, replace=False) if m else np.zeros(0, np.int64)
    i, j = _pairs(np.asarray(k, np.int64))
    return network_from_edges(np.stack([i, j], axis=1), n)
