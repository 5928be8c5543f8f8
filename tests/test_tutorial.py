"""docs/tutorial.md runs as written: its python blocks, in order, in one namespace."""

import re
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

TUTORIAL = Path(__file__).resolve().parent.parent / "docs" / "tutorial.md"


def blocks(path=TUTORIAL) -> list:
    """The ```python blocks of a Markdown file, in order."""
    return re.findall(r"^```python\n(.*?)^```", path.read_text(), re.S | re.M)


def test_the_tutorial_runs(capsys):
    import matplotlib.pyplot as plt

    pytest.importorskip("pandas")  # collect returns DataFrames, which the tutorial uses
    code = blocks()
    assert len(code) >= 10, "the tutorial's python blocks were not found"
    plt.close("all")
    env = {}  # as tests/test_docs_examples.py: no __name__ (see the report)
    try:
        for k, block in enumerate(code, 1):
            exec(compile(block, f"docs/tutorial.md, python block {k}", "exec"), env)
        world, big, model_df = env["world"], env["big"], env["model_df"]
        assert world.tick == 200 and big.tick == 20
        assert world.columns["wealth"].sum() == 100            # conserved
        assert len(model_df) == 201 and 0.4 < model_df["gini"].iloc[-50:].mean() < 0.8
        figures = [plt.figure(n) for n in plt.get_fignums()]
        assert figures, "the tutorial drew no figure"
        axes = figures[-1].axes
        assert len(axes) == 3 and all(ax.has_data() for ax in axes)
    finally:
        plt.close("all")
    out = capsys.readouterr().out
    assert "Gini after 100 steps" in out and "reference Gini" in out
