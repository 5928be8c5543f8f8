"""sweep_model(collect=): every run's model and agent tables, as Agents.jl's
ensemblerun!, equal to each run collected on its own; on disk when asked."""

import numpy as np
import pandas as pd
import pytest

from dod_sim.errors import ConfigError
from dod_sim.models import wealth
from dod_sim.sweep import SweepTables, read_tables, sweep_model

GRID = {"width": [6, 8], "seed": [1, 2]}
COLLECT = {"adata": ("wealth",), "every": 5}


def _alone(width, seed):
    w = wealth.world(60, seed=seed, threads=1, width=width, height=10)
    return w.collect(10, frame=False, **COLLECT)


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_each_runs_tables_equal_the_run_collected_alone(n_jobs):
    out = sweep_model("wealth", {**GRID, "height": 10}, steps=10, agents=60, n_jobs=n_jobs,
                      collect=COLLECT)
    assert isinstance(out, SweepTables) and len(out.rows) == 4
    assert isinstance(out.model, pd.DataFrame) and list(out.model.columns[:2]) == ["run", "step"]
    for row in out.rows.itertuples():
        model, agents = _alone(row.width, row.seed)
        m = out.model[out.model["run"] == row.run]
        a = out.agents[out.agents["run"] == row.run]
        assert np.array_equal(m["gini"].to_numpy(), model["gini"])
        assert np.array_equal(a["wealth"].to_numpy(), agents["wealth"])
        assert np.array_equal(a["id"].to_numpy(), agents["id"])
        assert row.gini == model["gini"][-1]


def test_tables_left_on_disk_are_read_back(tmp_path):
    out = sweep_model("wealth", {**GRID, "height": 10}, steps=10, agents=60,
                      collect=COLLECT, tables=tmp_path)
    assert out.model is None and out.agents is None
    files = sorted(tmp_path.glob("run_*.npz"))
    assert len(files) == 4 and list(out.rows["tables"]) == [str(f) for f in files]
    model, agents = read_tables(files[3])
    alone_model, alone_agents = _alone(8, 2)
    assert np.array_equal(agents["wealth"], alone_agents["wealth"])
    assert np.array_equal(model["step"], alone_model["step"])


def test_bad_collect_arguments_and_table_files_are_refused(tmp_path):
    with pytest.raises(ConfigError) as e:
        sweep_model("wealth", GRID, steps=2, collect={"adata": ("wealth",), "when": 3})
    assert e.value.field == "collect"
    with pytest.raises(ConfigError) as e:
        sweep_model("wealth", GRID, steps=2, tables=tmp_path)
    assert e.value.field == "tables"
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ConfigError) as e:
        read_tables(tmp_path / "junk.npz")
    assert e.value.field == "tables"
