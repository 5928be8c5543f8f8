"""The README's model example and the guide's births-and-deaths example run as shown."""

import re
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parent.parent


def _block(path: str, after: str) -> str:
    text = (ROOT / path).read_text()
    return re.search(r"```python\n(.*?)```", text[text.index(after):], re.S).group(1)


@pytest.mark.parametrize("path, after", [
    ("README.md", "A model in a few lines"),
    ("docs/guide.md", "### Births and deaths"),
])
def test_the_example_runs(path, after):
    env = {}
    exec(compile(_block(path, after), f"{path} example", "exec"), env)
    world = env["world"]
    world.run(5)
    assert world.live > 0 and world.tick >= 5
    if "model_df" in env:
        assert len(env["model_df"]) == 101 and set(env["agents_df"]) == {"step", "id", "energy"}
