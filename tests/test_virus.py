"""Virus on a network (dod_sim.models.virus): a plain-Python version of Mesa's rules
with the same draws, statistical agreement with Mesa 3.3.1's own example (and a wrong,
synchronous variant that the same test rejects), thread counts, snapshots, bad values."""

import math
import random
import warnings

import networkx as nx
import numba
import numpy as np
import pytest

from conftest import mesa_seeds
from dod_sim.bench_models import mesa_available
from dod_sim.errors import ConfigError, SnapshotError
from dod_sim.kernels.rng import below, draw, row_key, uniform
from dod_sim.model import KERNEL_STREAM, ModelWorld
from dod_sim.models import virus
from dod_sim.spaces import random_network

S, I, R = virus.SUSCEPTIBLE, virus.INFECTED, virus.RESISTANT


def _kernel_key(seed, tick, system):
    """The key the engine gives Kernel system number ``system`` (the tick's systems
    first, then the setup's) at ``tick`` (-1: setup)."""
    return np.uint64(draw(np.uint64(row_key(seed, tick, 0)), KERNEL_STREAM + system))


def _u(key, stream):
    return uniform(np.uint64(key), stream)


def reference(n, seed, p, steps):
    """Mesa's rules (agents.py, model.py) in plain Python, with the model's draws (module
    docstring of dod_sim.models.virus): yields the states after setup and after each
    step, and counts the events that make the sequential order matter."""
    net = random_network(n, p.avg_node_degree, seed)
    g = nx.Graph()
    g.add_nodes_from(range(n))
    g.add_edges_from((i, int(j)) for i in range(n)
                     for j in net.indices[net.indptr[i]:net.indptr[i + 1]])
    nbrs = [sorted(g.neighbors(i)) for i in range(n)]
    events = dict(spread_by_new=0, to_susceptible=0, to_resistant=0, reinfected=0)
    state = [S] * n
    key = _kernel_key(seed, -1, 1)  # setup: random.sample of initial_outbreak_size nodes
    rows = list(range(n))
    for t in range(p.initial_outbreak_size):
        j = t + below(np.uint64(draw(key, t)), n - t)
        rows[t], rows[j] = rows[j], rows[t]
        state[rows[t]] = I
    yield np.array(state, np.int8), events
    for tick in range(steps):
        key = _kernel_key(seed, tick, 0)
        shuffle, act = draw(key, 0), draw(key, 1)
        order = list(range(n))  # shuffle_do: a uniformly random order, all drawn first
        for t in range(n):
            j = t + below(np.uint64(draw(np.uint64(shuffle), t)), n - t)
            order[t], order[j] = order[j], order[t]
        was = list(state)
        recovered = set()
        for i in order:  # VirusAgent.step
            if state[i] != I:
                continue
            events["spread_by_new"] += was[i] != I
            a = draw(np.uint64(act), i)
            for k, m in enumerate(nbrs[i]):  # try_to_infect_neighbors
                if state[m] == S and _u(a, 3 + k) < p.virus_spread_chance:
                    state[m] = I
                    events["reinfected"] += m in recovered
            if _u(a, 0) < p.virus_check_frequency:  # check_situation
                if _u(a, 1) < p.recovery_chance:  # try_remove_infection
                    state[i] = S
                    if _u(a, 2) < p.gain_resistance_chance:  # try_gain_resistance
                        state[i] = R
                    events["to_resistant" if state[i] == R else "to_susceptible"] += 1
                    recovered.add(i)
        yield np.array(state, np.int8), events


def test_steps_are_mesas_sequential_rules_with_the_same_draws():
    n, seed, steps = 80, 7, 15
    w = virus.world(n, seed=seed, avg_node_degree=4.0, initial_outbreak_size=4,
                    recovery_chance=0.6, gain_resistance_chance=0.3)
    net = w.resources["net"]
    want = random_network(n, 4.0, seed)
    assert np.array_equal(net.indptr, want.indptr) and np.array_equal(net.indices, want.indices)
    ref = reference(n, seed, w.params, steps)
    for step in range(steps + 1):
        if step:
            table = w.run(1)
        state, events = next(ref)
        assert np.array_equal(w.columns["state"], state), f"step {step}"
        assert sorted(w.resources["order"]) == list(range(n))
        if step:
            counts = {k: float((state == v).sum()) for k, v in
                      (("Infected", I), ("Susceptible", S), ("Resistant", R))}
            assert {k: table[k][0] for k in counts} == counts
    # what a synchronous update would not do: agents infected earlier in a step spread in
    # it, recovered ones are infected again in the same step; both recoveries happen
    assert all(v > 0 for v in events.values()), events


def test_prefetching_turns_equal_the_one_pass_turns():
    # From PREFETCH_FROM agents on, activate draws the whole order first and prefetches
    # ahead; below, it takes each turn as its place is drawn. The same function compiled
    # with PREFETCH_FROM = 0 takes the first path on a small world: same order, same states.
    import types

    f = virus.activate.py_func
    far = numba.njit(types.FunctionType(f.__code__, {**f.__globals__, "PREFETCH_FROM": 0},
                                        "activate_far"))
    assert virus.PREFETCH_FROM > 3000
    w = virus.world(3000, seed=9, initial_outbreak_size=30)
    n, p, net = w.rows, w.params, w.resources["net"]
    near_state, far_state = w.columns["state"].copy(), w.columns["state"].copy()
    near_order, far_order = np.zeros(n, np.int32), np.zeros(n, np.int32)
    for tick in range(12):
        key = _kernel_key(w.seed, tick, 0)
        virus.activate(key, n, p, net, near_state, near_order)
        far(key, n, p, net, far_state, far_order)
        assert np.array_equal(near_order, far_order) and np.array_equal(near_state, far_state)
    w.run(12, stats=False)
    assert np.array_equal(w.columns["state"], far_state)
    assert (far_state == R).sum() > 100 and (far_state == I).sum() > 100


def test_statistics_mesas_reporters():
    w = virus.world(500, seed=2, initial_outbreak_size=500, recovery_chance=0.0)
    assert w.stats() == {"Infected": 500.0, "Susceptible": 0.0, "Resistant": 0.0,
                         "R_over_S": math.inf}  # Mesa: ZeroDivisionError -> math.inf
    w = virus.world(500, seed=2, initial_outbreak_size=5)
    w.run(6, stats=False)
    s = w.columns["state"]
    assert w.stats() == pytest.approx({"Infected": (s == I).sum(), "Susceptible": (s == S).sum(),
                                       "Resistant": (s == R).sum(),
                                       "R_over_S": (s == R).sum() / (s == S).sum()}, rel=1e-15)
    t = virus.world(seed=3).run(20)  # Mesa's defaults: 10 nodes, one infected
    assert (t["Infected"] + t["Susceptible"] + t["Resistant"] == 10).all()


# ---- against Mesa ----------------------------------------------------------------------------

# Per seed, the time-averaged Infected, Susceptible and Resistant fractions over steps
# 1..STEPS of a 400-node network with 10 initially infected (so the outbreak rarely dies
# out at once, which would make the per-seed values bimodal); Mesa's other defaults.
# Test: Welch's two-sample t-test (scipy.stats.ttest_ind, equal_var=False) of our
# SEEDS per-seed values against Mesa's, per fraction; agreement means p >= ALPHA for all
# three. Under "same model" each p is uniform, so a correct model fails with probability
# <= 3 * ALPHA = 0.3 % for a given set of seeds (the seeds are fixed, so the outcome is
# too). With seeds 0..11 ours gives p = 0.12 (I), 0.021 (S), 0.14 (R); the synchronous
# variant below gives p = 3.5e-7 on S and 4.8e-6 on R, rejected (over 400 seeds: S
# 0.306 against Mesa's 0.249, R 0.334 against 0.392; ours 0.247 and 0.394, p 0.51 and
# 0.29). The same threshold also rejects our compiled step made synchronous (p ~ 1e-8).
NODES, OUTBREAK, STEPS, SEEDS, ALPHA = 400, 10, 30, mesa_seeds(12), 1e-3
FRACTIONS = ("Infected", "Susceptible", "Resistant")


def _ours(seed):
    t = virus.world(NODES, seed=seed, initial_outbreak_size=OUTBREAK).run(STEPS)
    return np.array([t[k].mean() / NODES for k in FRACTIONS])


def _mesa(seed):
    from mesa.examples.basic.virus_on_network.model import VirusOnNetwork

    # Mesa draws its graph from the global `random` (nx.erdos_renyi_graph gets no seed)
    saved = random.getstate()
    try:
        random.seed(seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m = VirusOnNetwork(num_nodes=NODES, initial_outbreak_size=OUTBREAK, seed=seed)
            for _ in range(STEPS):
                m.step()
    finally:
        random.setstate(saved)
    df = m.datacollector.get_model_vars_dataframe()
    return np.array([df[k].to_numpy()[1:].mean() / NODES for k in FRACTIONS])  # row 0: setup


def _synchronous(seed):
    """The wrong variant: every agent acts on the step's old states (a newly infected
    agent does not spread in the step it was infected), same network law and rules."""
    p = virus.MODEL.params
    rng = np.random.default_rng(1_000 + seed)
    net = random_network(NODES, p["avg_node_degree"], seed)
    src, dst = np.repeat(np.arange(NODES), np.diff(net.indptr)), net.indices
    state = np.zeros(NODES, np.int8)
    state[rng.choice(NODES, OUTBREAK, replace=False)] = I
    total = np.zeros(3)
    for _ in range(STEPS):
        sick = state == I
        hit = sick[src] & (state[dst] == S) & (rng.random(src.size) < p["virus_spread_chance"])
        new = state.copy()
        new[dst[hit]] = I
        well = sick & (rng.random(NODES) < p["virus_check_frequency"]) \
            & (rng.random(NODES) < p["recovery_chance"])
        new[well] = np.where(rng.random(NODES)[well] < p["gain_resistance_chance"], R, S)
        state = new
        total += [(state == v).mean() for v in (I, S, R)]
    return total / STEPS


def _pvalues(a, b):
    from scipy.stats import ttest_ind

    return {k: float(ttest_ind(a[:, j], b[:, j], equal_var=False).pvalue)
            for j, k in enumerate(FRACTIONS)}


@pytest.mark.skipif(not mesa_available(), reason="mesa is not installed")
@pytest.mark.mesa_statistics
def test_fractions_agree_with_mesa_and_a_synchronous_update_does_not():
    mesa = np.array([_mesa(s) for s in range(SEEDS)])
    ours = np.array([_ours(s) for s in range(SEEDS)])
    sync = np.array([_synchronous(s) for s in range(SEEDS)])
    p_ours, p_sync = _pvalues(ours, mesa), _pvalues(sync, mesa)
    means = {k: (round(ours[:, j].mean(), 4), round(mesa[:, j].mean(), 4),
                 round(sync[:, j].mean(), 4)) for j, k in enumerate(FRACTIONS)}
    assert min(p_ours.values()) >= ALPHA, (p_ours, means)
    assert min(p_sync.values()) < ALPHA, (p_sync, means)


# ---- threads, snapshots, bad values ---------------------------------------------------------


def test_same_digest_on_one_and_two_threads():
    assert numba.config.NUMBA_NUM_THREADS >= 2
    digests, tables = set(), []
    for threads in (1, 2):
        w = virus.world(5000, seed=11, threads=threads, initial_outbreak_size=20)
        tables.append(w.run(12))
        digests.add(w.state_digest())
    assert len(digests) == 1
    assert all(np.array_equal(tables[0][k], tables[1][k]) for k in tables[0])
    assert tables[0]["Resistant"][-1] > 0


def test_snapshot_restore_continues_bit_identically(tmp_path):
    w = virus.world(3000, seed=4, initial_outbreak_size=15)
    w.run(6)
    path = tmp_path / "virus.snap"
    w.snapshot(path)
    back = ModelWorld.restore(path, virus.MODEL, threads=2)
    assert back.tick == w.tick and back.state_digest() == w.state_digest()
    assert back.stats() == w.stats()
    for k in ("indptr", "indices"):  # the graph is state: saved and restored
        assert np.array_equal(getattr(back.resources["net"], k), getattr(w.resources["net"], k))
    a, b = w.run(9), back.run(9)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert np.array_equal(w.columns["state"], back.columns["state"])
    assert back.state_digest() == w.state_digest()


def test_restore_keeps_the_saved_graph(tmp_path, monkeypatch):
    # as if numpy drew another graph from the seed: the same edge count continues on the
    # saved graph; another edge count is refused (the snapshot's layout)
    w = virus.world(500, seed=3, initial_outbreak_size=5)
    w.run(3)
    path = tmp_path / "virus.snap"
    w.snapshot(path)
    saved = w.resources["net"]
    shuffled = saved._replace(indices=saved.indices[::-1].copy())
    monkeypatch.setattr(virus, "random_network", lambda *a: shuffled)
    back = ModelWorld.restore(path, virus.MODEL)
    assert np.array_equal(back.resources["net"].indices, saved.indices)
    assert back.state_digest() == w.state_digest()
    fewer = saved._replace(indices=saved.indices[:-2].copy())
    monkeypatch.setattr(virus, "random_network", lambda *a: fewer)
    with pytest.raises(SnapshotError):
        ModelWorld.restore(path, virus.MODEL)


def test_the_digest_covers_the_network():
    a = virus.world(300, seed=1)
    b = virus.world(300, seed=1)
    assert a.state_digest() == b.state_digest()
    net = b.resources["net"]
    net.indices[[0, -1]] = net.indices[[-1, 0]]  # another graph, the same states
    assert a.state_digest() != b.state_digest()


@pytest.mark.parametrize("agents, params, field", [
    (10, {"initial_outbreak_size": 11}, "initial_outbreak_size"),
    (10, {"initial_outbreak_size": -1}, "initial_outbreak_size"),
    (10, {"avg_node_degree": 10.5}, "avg_node_degree"),
    (10, {"avg_node_degree": -1}, "avg_node_degree"),
    (10, {"virus_spread_chance": 1.5}, "virus_spread_chance"),
    (10, {"virus_check_frequency": -0.1}, "virus_check_frequency"),
    (10, {"recovery_chance": 2}, "recovery_chance"),
    (10, {"gain_resistance_chance": -1e-9}, "gain_resistance_chance"),
    (10, {"recovery_chance": float("nan")}, "recovery_chance"),
    (10, {"initial_outbreak_size": 1.5}, "initial_outbreak_size"),
    (10, {"num_nodes": 10}, "num_nodes"),  # agents is num_nodes
])
def test_bad_parameters_name_the_field(agents, params, field):
    with pytest.raises(ConfigError) as e:
        virus.world(agents, **params)
    assert e.value.field == field
    assert field in str(e.value)


def test_edge_values_are_allowed():
    w = virus.world(10, initial_outbreak_size=10, avg_node_degree=10.0, virus_spread_chance=1,
                    virus_check_frequency=0.0, recovery_chance=1.0, gain_resistance_chance=0)
    assert (np.diff(w.resources["net"].indptr) == 9).all()  # p = 1: the complete graph
    w.run(3)
    assert (w.columns["state"] == I).all()  # never checked: stays infected
    z = virus.world(10, initial_outbreak_size=0, avg_node_degree=0)
    assert z.resources["net"].indices.size == 0
    assert z.run(2)["Susceptible"].tolist() == [10.0, 10.0]
