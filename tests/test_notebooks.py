"""The notebooks in notebooks/: committed without outputs, and each executes cleanly.

Each notebook runs in a temporary copy with nbclient on the ``python3`` kernel (the
ipykernel of this interpreter); outputs never touch the committed files. Deselect with
``-m "not notebooks"``.
"""

import shutil
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.notebooks

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
EXPECTED = ["01-quick-start.ipynb", "02-backpressure.ipynb", "03-scaling.ipynb",
            "04-tutorial.ipynb", "05-gallery.ipynb"]

nbformat = pytest.importorskip(
    "nbformat", reason="nbformat is not installed (pip install 'dod_sim[notebook]')")


def test_the_notebooks_are_there():
    assert [p.name for p in NOTEBOOKS] == EXPECTED


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_committed_clean(path):
    nb = nbformat.read(path, as_version=nbformat.NO_CONVERT)
    nbformat.validate(nb)
    assert nb.nbformat == 4
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"
    assert nb.cells and nb.cells[0].cell_type == "markdown", "open with what it shows"
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"
             and (c.get("outputs") or c.get("execution_count") is not None)]
    assert not dirty, (f"{path.name}: cells {dirty} have outputs or execution counts; "
                       f"clear them before committing (jupyter nbconvert --clear-output "
                       f"--inplace {path.name})")


@pytest.fixture(scope="module")
def python3_kernel():
    """The ``python3`` kernel spec; it must run this interpreter, which has dod_sim."""
    pytest.importorskip(
        "nbclient", reason="nbclient is not installed (pip install 'dod_sim[notebook]')")
    pytest.importorskip(
        "ipykernel", reason="ipykernel is not installed (pip install 'dod_sim[notebook]')")
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec("python3")
    except NoSuchKernel:
        pytest.skip("no 'python3' Jupyter kernel (python -m ipykernel install --sys-prefix)")
    exe = spec.argv[0]
    # jupyter_client runs a bare "python"/"python3" with sys.executable; an absolute path
    # to another interpreter would run the notebooks without this environment's dod_sim
    if Path(exe).is_absolute():
        assert Path(exe).resolve() == Path(sys.executable).resolve(), (
            f"the 'python3' kernel runs {exe}, not this interpreter {sys.executable}")
    return spec


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_executes(path, tmp_path, python3_kernel):
    from nbclient import NotebookClient

    copy = tmp_path / path.name
    shutil.copyfile(path, copy)
    nb = nbformat.read(copy, as_version=4)
    client = NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    t0 = time.perf_counter()
    client.execute()  # raises CellExecutionError naming the cell if any cell raises
    elapsed = time.perf_counter() - t0
    nbformat.write(nb, tmp_path / f"executed-{path.name}")  # for a look after a failure
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]
    assert not errors
    print(f"{path.name}: executed in {elapsed:.1f} s")
