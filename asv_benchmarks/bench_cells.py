"""A loop of cell-list moves (``dod_sim.kernels.cells``), as a random-sequential system
makes them: 200 rows among 2,500 cells (Sugarscape's density), through the owned tuple
and through a borrowed one (``dod_sim.kernels.borrow``); ``track_owned_over_borrowed``
is the ratio, measured in the same process."""

import time

import numpy as np

MOVES = 1_000_000


def _kernels():
    from numba import njit

    from dod_sim.kernels.borrow import borrow
    from dod_sim.kernels.cells import move

    @njit
    def owned(cells, rows, to):
        for k in range(rows.shape[0]):
            move(cells, rows[k], to[k])

    @njit
    def borrowed(cells, rows, to):
        cells = borrow(cells)
        for k in range(rows.shape[0]):
            move(cells, rows[k], to[k])

    return owned, borrowed


class CellMoves:
    timeout = 300
    number = 1
    repeat = (5, 20, 5.0)
    warmup_time = 0

    def setup(self):
        from dod_sim.kernels.cells import cell_list, insert

        rng = np.random.default_rng(0)
        self.rows = rng.integers(0, 200, MOVES)
        self.to = rng.integers(0, 2_500, MOVES)
        self.cells = cell_list(200, 2_500)
        for i in range(200):
            insert(self.cells, i, i)
        self.owned, self.borrowed = _kernels()
        self.owned(self.cells, self.rows[:10], self.to[:10])  # compile
        self.borrowed(self.cells, self.rows[:10], self.to[:10])

    def time_moves_owned(self):
        self.owned(self.cells, self.rows, self.to)

    def time_moves_borrowed(self):
        self.borrowed(self.cells, self.rows, self.to)

    def track_owned_over_borrowed(self):
        best = {}
        for name, fn in (("owned", self.owned), ("borrowed", self.borrowed)):
            ts = []
            for _ in range(5):
                t = time.perf_counter()
                fn(self.cells, self.rows, self.to)
                ts.append(time.perf_counter() - t)
            best[name] = min(ts)
        return best["owned"] / best["borrowed"]

    track_owned_over_borrowed.unit = "x"
