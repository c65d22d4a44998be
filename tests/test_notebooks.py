"""The chapters' notebooks: sources in sync, anatomy, and papermill parameter injection.

Running every notebook in full is `pytest --nbval-lax notebooks/` (see the Makefile's `make test`);
here we check what nbval cannot: that each reviewed `.py` source matches its paired `.ipynb`, and
that a parameter injected by papermill is the one the notebook uses.
"""

from __future__ import annotations

import ast
from pathlib import Path

import jupytext
import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
SOURCES = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.py"))


def _cells(nb) -> list[tuple[str, str, tuple[str, ...]]]:
    """What pairing must preserve: each cell's type, source and tags."""
    return [(c.cell_type, c.source.strip(), tuple(c.metadata.get("tags", ()))) for c in nb.cells]


def _glued(nb) -> dict[str, object]:
    """Values stored with ``myst_nb.glue`` in an executed notebook, by name."""
    out = {}
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            record = output.get("metadata", {}).get("scrapbook")
            if record:
                prefix = record.get("mime_prefix", "")
                text = output["data"][prefix + "text/plain"]
                out[record["name"]] = ast.literal_eval(text)
    return out


def test_there_are_notebooks():
    assert SOURCES, f"no notebooks/NN_*.py under {NOTEBOOKS}"


@pytest.mark.parametrize("source", SOURCES, ids=lambda s: s.stem)
def test_ipynb_in_sync_with_py(source: Path):
    ipynb = source.with_suffix(".ipynb")
    assert ipynb.exists(), f"{ipynb.name} is missing: run `make notebooks`"
    from_py = jupytext.read(source)
    from_ipynb = nbformat.read(ipynb, as_version=4)
    assert _cells(from_ipynb) == _cells(from_py), (
        f"{ipynb.name} is out of sync with {source.name}: run `make notebooks` "
        f"(or `jupytext --sync {source}`)"
    )
    formats = from_py.metadata.get("jupytext", {}).get("formats", "")
    assert "ipynb" in formats and "py:percent" in formats, f"{source.name} is not paired (formats: {formats!r})"


@pytest.mark.parametrize("source", SOURCES, ids=lambda s: s.stem)
def test_ipynb_has_no_outputs_and_one_parameters_cell(source: Path):
    nb = nbformat.read(source.with_suffix(".ipynb"), as_version=4)
    with_outputs = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.outputs]
    assert not with_outputs, f"{source.with_suffix('.ipynb').name} stores outputs in cells {with_outputs}"
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", ())]
    assert len(tagged) == 1 and tagged[0].cell_type == "code", "want exactly one code cell tagged `parameters`"


def test_papermill_injects_p(tmp_path: Path):
    """Run chapter 2 (fast, nothing trained) with p injected; the notebook must use it."""
    papermill = pytest.importorskip("papermill")
    from modlib import model, structure

    source = NOTEBOOKS / "02_structural_modularity.py"
    nb = jupytext.read(source)  # the reviewed source, not a possibly stale .ipynb
    given = tmp_path / "in.ipynb"
    nbformat.write(nb, given)
    p = 0.05  # the notebook's default is 0.01
    papermill.execute_notebook(
        str(given), str(tmp_path / "out.ipynb"), parameters={"p": p}, kernel_name="python3",
        cwd=str(NOTEBOOKS), progress_bar=False,
    )
    out = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    assert any("injected-parameters" in c.metadata.get("tags", ()) for c in out.cells)
    glued = _glued(out)
    assert glued["p_used"] == p
    assert glued["n_conn"] == model.n_connections(p, 100) == 500
    assert glued["q_model"] == pytest.approx(structure.q_closed_form(p), abs=1e-12)


@pytest.mark.parametrize("source", SOURCES, ids=lambda s: s.stem)
def test_no_visible_code_line_is_clipped(source: Path):
    """The book's code boxes show 88 characters: every line of a code cell the reader sees fits."""
    nb = jupytext.read(source)
    long = [(i, line) for i, c in enumerate(nb.cells)
            if c.cell_type == "code" and not {"remove-cell", "remove-input"} & set(c.metadata.get("tags", ()))
            for line in c.source.splitlines() if len(line) > 88]
    assert not long, f"{source.name}: code lines over 88 characters (cell, line): {long[:3]}"


@pytest.mark.parametrize("source", SOURCES, ids=lambda s: s.stem)
def test_chapter_opens_with_objectives_and_time(source: Path):
    first = jupytext.read(source).cells[0].source
    assert "*Time:*" in first and "Objectives and prerequisites" in first, (
        f"{source.name}: the first cell must give the time and an objectives box")


@pytest.mark.parametrize("source", SOURCES, ids=lambda s: s.stem)
def test_every_assert_says_what_failed(source: Path):
    nb = jupytext.read(source)
    bare = [ast.get_source_segment(c.source, node) for c in nb.cells if c.cell_type == "code"
            for node in ast.walk(ast.parse(c.source)) if isinstance(node, ast.Assert) and node.msg is None]
    assert not bare, f"{source.name}: asserts without a message: {bare[:3]}"
