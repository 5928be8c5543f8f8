"""Sphinx configuration of dod_sim's documentation site.

Build it with ``python -m sphinx -W --keep-going -b html docs docs/_build/html``
(``pip install -e ".[docs]"``). Markdown pages go through MyST; the API reference is
autodoc over the installed package; the gallery's pictures are drawn by the build
(:mod:`_gallery`, from ``setup`` below) into ``docs/_generated/``, which git ignores;
docstrings in the package's plain "name : text" style are made into reStructuredText by
:mod:`_docstrings`.
"""

import os
import re
import sys

DOCS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, DOCS)  # _gallery and _docstrings, beside this file

import dod_sim  # noqa: E402  (the installed package: `pip install -e .`)

# -- project -------------------------------------------------------------------------
project = "dod_sim"
author = "the dod_sim developers"
copyright = "the dod_sim developers"
release = dod_sim.__version__
version = ".".join(release.split(".")[:2])

# -- general -------------------------------------------------------------------------
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "myst_nb",  # MyST Markdown, and the notebooks executed into pages
]
source_suffix = {".md": "myst-nb", ".ipynb": "myst-nb", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "_generated", "Thumbs.db", ".DS_Store"]
nitpicky = False
# A docstring that names an object autodoc does not document (a private helper, a
# NumPy type) stays plain text: nitpicky is off, so that is no warning.
suppress_warnings = []

# MyST: headings get anchors (links like guide.md#sweeps), ::: fences, definition lists
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence", "deflist"]

# The tutorial and gallery notebooks (committed without outputs) are copied here and
# executed by the build, so their pages show their pictures; a cell that raises fails it.
NOTEBOOKS = ("04-tutorial.ipynb", "05-gallery.ipynb")
os.makedirs(os.path.join(DOCS, "notebooks"), exist_ok=True)
for _nb in NOTEBOOKS:  # links to the site's pages are one folder up from the copies
    with open(os.path.join(DOCS, "..", "notebooks", _nb), encoding="utf-8") as _src, \
            open(os.path.join(DOCS, "notebooks", _nb), "w", encoding="utf-8") as _dst:
        _text = re.sub(r"\]\((?!https?:|\.\./|#)([\w-]+\.md)", r"](../\1", _src.read())
        _dst.write(re.sub(r"\{doc\}`(?!/)([\w-]+)`", r"{doc}`/\1`", _text))
nb_execution_mode = "force"
nb_execution_timeout = 600
nb_execution_raise_on_error = True

# -- autodoc and napoleon (numpy-style docstrings) ----------------------------------------
autodoc_default_options = {"members": True, "member-order": "bysource"}
autodoc_typehints = "signature"  # in the signature: no list of bare types under it
autodoc_preserve_defaults = True
napoleon_numpy_docstring = True
napoleon_google_docstring = False
napoleon_use_rtype = False

# -- HTML ----------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"dod_sim {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_show_sourcelink = False


def setup(app):
    """The gallery's pictures are drawn once the builder is ready, before any page is
    read; docstrings in dod_sim's "name : text" style become bullet lists."""
    import _docstrings
    import _gallery

    _gallery.connect(app)
    _docstrings.connect(app)
