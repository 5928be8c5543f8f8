"""Agents binned into the pixels of an image of their space (``dod_sim.draw``): one
pass over the rows, so a million agents cost a few milliseconds, not a million
artists."""

import numpy as np

from ._jit import kernel

__all__ = ["bin_mean"]


@kernel
def bin_mean(px, py, values, sx, sy, nx, ny, image):
    """Fill ``image`` (float64[ny, nx]) with the mean of ``values`` over the agents in
    each pixel, or their count when ``values`` is empty; NaN where no agent is.

    px, py : positions (any real dtype), one per agent; a position maps to pixel
    ``(floor(px * sx), floor(py * sy))``, clipped to the image."""
    count = np.zeros(nx * ny, np.float64)
    total = np.zeros(nx * ny, np.float64)
    weighted = values.shape[0] > 0
    for i in range(px.shape[0]):
        ix = min(max(np.int64(px[i] * sx), 0), nx - 1)
        iy = min(max(np.int64(py[i] * sy), 0), ny - 1)
        c = iy * nx + ix
        count[c] += 1.0
        if weighted:
            total[c] += values[i]
    for c in range(nx * ny):
        image[c // nx, c % nx] = np.nan if count[c] == 0 else (
            total[c] / count[c] if weighted else count[c])
