"""Spaces inside compiled systems: grid cells, grid neighbourhoods and CSR networks.

Plain functions of integers and arrays, made for the loops of ``Kernel`` and ``Rows``
systems; none allocates. The arrays come from ``dod_sim.spaces``, which validates them:

* a grid is ``width x height`` squares; square (x, y) is the flat cell
  ``y * width + x`` (:func:`cell_of`), on a torus (both axes wrap) or bounded;
* a neighbourhood is ``offsets`` : int64[m, 2], the (dx, dy) of its m cells in Mesa's
  order (``dod_sim.spaces.grid_offsets``); the k-th neighbour of a square is
  :func:`neighbour_cell`::

      for k in range(offsets.shape[0]):
          c = neighbour_cell(x, y, k, offsets, width, height, torus)
          if c >= 0: ...                  # -1: off a bounded grid

* a network is CSR adjacency (``dod_sim.spaces.Network``): the neighbours of node i
  are ``indices[indptr[i]:indptr[i + 1]]``, ascending; :func:`degree` and
  :func:`neighbour`::

      for k in range(degree(net.indptr, i)):
          j = neighbour(net.indptr, net.indices, i, k)
"""

import numpy as np

from ._jit import kernel
from .rng import below, draw

__all__ = ["wrap", "cell_of", "neighbour_cell", "degree", "neighbour", "random_cell_x",
           "random_cell_y"]


@kernel
def wrap(v, size):
    """``v`` modulo ``size`` in [0, size) for any integer v, negative included (int64).
    size >= 1. A coordinate already in range costs two compares, no division."""
    v = np.int64(v)
    size = np.int64(size)
    if 0 <= v < size:
        return v
    return v % size  # Python's modulo: the sign of size


@kernel
def cell_of(x, y, width, height, torus):
    """The flat cell ``y * width + x`` (int64) of grid square (x, y): integers, any
    sign. On a torus (``torus`` true) both coordinates wrap; on a bounded grid a square
    off the grid gives -1."""
    if torus:
        return wrap(y, height) * width + wrap(x, width)
    if x < 0 or x >= width or y < 0 or y >= height:
        return np.int64(-1)
    return np.int64(y) * width + np.int64(x)


@kernel
def neighbour_cell(x, y, k, offsets, width, height, torus):
    """The flat cell (int64) of the k-th neighbour of square (x, y), 0 <= k < m, where
    offsets : int64[m, 2] holds (dx, dy) per neighbour; -1 when it lies off a bounded
    grid. On a torus smaller than the neighbourhood (width or height < 2 * radius + 1)
    two offsets can give the same cell, or the square's own."""
    return cell_of(x + offsets[k, 0], y + offsets[k, 1], width, height, torus)


@kernel
def degree(indptr, i):
    """The number of neighbours (int64) of node i, given indptr : int64[n + 1]."""
    return np.int64(indptr[i + 1] - indptr[i])


@kernel
def neighbour(indptr, indices, i, k):
    """The k-th neighbour (int64) of node i, 0 <= k < degree(indptr, i), given
    indptr : int64[n + 1] and indices : int64[edges] (ascending within a node)."""
    return np.int64(indices[indptr[i] + k])


@kernel
def random_cell_x(i, key, p):
    """A column initialiser, ``Column("x", "int64", random_cell_x)``: a uniform grid
    column in [0, p.width), from the row's key (with ``random_cell_y``, a uniformly
    random cell, as Mesa's ``random.choices(all_cells)``)."""
    return below(draw(key, 0), p.width)


@kernel
def random_cell_y(i, key, p):
    """A uniform grid row in [0, p.height): see :func:`random_cell_x`."""
    return below(draw(key, 0), p.height)
