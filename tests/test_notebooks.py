"""The chapters' notebooks: sources in sync, anatomy, and papermill parameter injection.

Running every notebook in full is `pytest --nbval-lax notebooks/` (see the Makefile's `make test`);
here we check what nbval cannot: that each reviewed `.py` source matches its paired `.ipynb`, and
that a parameter injected by papermill is the one the notebook uses.
"""

from __future__ import annotations

import ast
import importlib.util
import math
import re
from pathlib import Path

import jupytext
import nbformat
import pytest
from tiny_parameters import TINY

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
SOURCES = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.py"))
# The chapters that show figures: each one through a numbered, captioned glue:figure.
CHAPTERS = [s for s in SOURCES if "01" <= s.stem[:2] <= "07"]
# The paper's numbered equations, by the label of their target in the book, and their number.
PAPER_EQUATIONS = {"eq-target": "1", "eq-subtask": "2", "eq-recurrence": "3", "eq-q-directed": "4",
                   "eq-q-closed-form": "5", "eq-mask-metric": "6", "eq-correlation-metric": "7",
                   "eq-specialization": "8"}


def _cells(nb) -> list[tuple[str, str, tuple[str, ...]]]:
    """What pairing must preserve: each cell's type, source and tags."""
    return [(c.cell_type, c.source.strip(), tuple(c.metadata.get("tags", ()))) for c in nb.cells]


def _glued(nb) -> dict[str, object]:
    """Values (not figures) stored with ``myst_nb.glue`` in an executed notebook, by name.

    Each must be a plain Python literal (int, float, str, ...), not a numpy scalar, whose text
    would read ``np.float64(...)`` in the book; a float NaN is allowed.
    """
    out = {}
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            record = output.get("metadata", {}).get("scrapbook")
            if record:
                prefix = record.get("mime_prefix", "")
                if prefix + "image/png" in output["data"]:
                    continue  # a figure
                text = output["data"][prefix + "text/plain"]
                try:
                    out[record["name"]] = math.nan if text == "nan" else ast.literal_eval(text)
                except (ValueError, SyntaxError):
                    raise AssertionError(f"glued {record['name']!r} is not a plain value: {text}")
    return out


def _parameter_names(nb) -> set[str]:
    """The names the notebook's `parameters` cell assigns."""
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", ()))
    names = set()
    for node in ast.walk(ast.parse(cell.source)):
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        names |= {t.id for t in targets if isinstance(t, ast.Name)}
    return names


def _tags(cell) -> set[str]:
    return set(cell.metadata.get("tags", ()))


def _is_plots_call(node) -> bool:
    """A call of a function of modlib.plots (`plots.something(...)`)."""
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name) and node.func.value.id == "plots")


def _markdown_text(path: Path) -> str:
    """The markdown of a notebook source (its markdown cells) or of a book page."""
    if path.suffix == ".py":
        return "\n\n".join(c.source for c in jupytext.read(path).cells if c.cell_type == "markdown")
    return path.read_text(encoding="utf-8")


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


@pytest.mark.parametrize("name", sorted(TINY))
def test_tiny_parameters_are_parameters(name: str):
    """Every parameter of the tiny set is one the notebook declares: a typo cannot do nothing."""
    source = NOTEBOOKS / f"{name}.py"
    assert source.exists(), f"tests/tiny_parameters.py names a notebook that does not exist: {name}"
    unknown = set(TINY[name]) - _parameter_names(jupytext.read(source))
    assert not unknown, f"{name}: tiny parameters not in its parameters cell: {sorted(unknown)}"


def test_every_notebook_has_a_tiny_parameter_set():
    missing = {s.stem for s in SOURCES} - set(TINY)
    assert not missing, f"no tiny parameter set in tests/tiny_parameters.py for {sorted(missing)}"


@pytest.mark.parametrize("name", sorted(TINY))
def test_notebook_runs_with_tiny_parameters(name: str, tmp_path: Path):
    """Each chapter, from its reviewed source, runs to the end under papermill with its tiny
    parameters: every invariant holds at any size. Its glued values are plain, and no figure is
    shown as a raw cell output (each one is shown once, by its glue:figure)."""
    papermill = pytest.importorskip("papermill")
    given = tmp_path / "in.ipynb"
    nbformat.write(jupytext.read(NOTEBOOKS / f"{name}.py"), given)
    papermill.execute_notebook(
        str(given), str(tmp_path / "out.ipynb"), parameters=TINY[name], kernel_name="python3",
        cwd=str(NOTEBOOKS), progress_bar=False,
    )
    out = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    _glued(out)
    raw = [i for i, c in enumerate(out.cells) for o in c.get("outputs", [])
           if "image/png" in o.get("data", {}) and not o.get("metadata", {}).get("scrapbook")]
    assert not raw, f"{name}: cells {raw} show a figure as a raw output, not through glue:figure"


@pytest.mark.parametrize("source", CHAPTERS, ids=lambda s: s.stem)
def test_every_figure_is_a_numbered_captioned_glue_figure(source: Path):
    nb = jupytext.read(source)
    markdown = "\n\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    glued, made, problems = set(), {}, []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        tree = ast.parse(cell.source)
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "glue"
                    and node.args and isinstance(node.args[0], ast.Constant)
                    and str(node.args[0].value).startswith("fig-")):
                name = node.args[0].value
                glued.add(name)
                shown = [k for k in node.keywords if k.arg == "display"]
                if not (shown and isinstance(shown[0].value, ast.Constant) and shown[0].value.value is False):
                    problems.append(f"glue({name!r}) without display=False (cell {i})")
                if "remove-cell" not in _tags(cell):
                    problems.append(f"glue({name!r}) in a cell not tagged remove-cell (cell {i})")
                if len(node.args) > 1 and isinstance(node.args[1], ast.Name):
                    made.pop(node.args[1].id, None)
            elif isinstance(node, ast.Assign) and _is_plots_call(node.value):
                made |= {t.id: i for t in node.targets if isinstance(t, ast.Name)}
            elif (isinstance(node, ast.Expr) and _is_plots_call(node.value)
                  and "remove-cell" not in _tags(cell)):
                problems.append(f"cell {i} shows a figure as its value: assign it and glue it")
    problems += [f"figure {var!r} (cell {i}) is never glued" for var, i in made.items()]
    directives = dict(re.findall(r"```\{glue:figure\} *(\S+)\n(.*?)```", markdown, flags=re.S))
    for name in sorted(glued | set(directives)):
        body = directives.get(name)
        if body is None:
            problems.append(f"{name}: glued but no glue:figure shows it")
            continue
        lines = body.splitlines()
        if f":name: {name}" not in (line.strip() for line in lines):
            problems.append(f"{name}: the glue:figure has no `:name: {name}`")
        if not any(line.strip() and not line.strip().startswith(":") for line in lines):
            problems.append(f"{name}: the glue:figure has no caption")
        if name not in glued:
            problems.append(f"{name}: shown by a glue:figure but never glued")
        if f"{{numref}}`{name}`" not in markdown:
            problems.append(f"{name}: the prose never refers to it with {{numref}}")
    assert not problems, f"{source.name}: " + "; ".join(problems)


def test_figure_names_are_unique_across_chapters():
    seen: dict[str, str] = {}
    repeated = []
    for source in CHAPTERS:
        for name in re.findall(r"```\{glue:figure\} *(\S+)", _markdown_text(source)):
            if name in seen:
                repeated.append(f"{name} ({seen[name]}, {source.name})")
            seen[name] = source.name
    assert not repeated, f"figure names used twice: {repeated}"


def test_chapters_with_figures_are_checked_for_captions():
    spec = importlib.util.spec_from_file_location("check_book", ROOT / "scripts" / "check_book.py")
    check_book = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(check_book)
    pages = {f"notebooks/{s.stem}.html" for s in CHAPTERS if "{glue:figure}" in _markdown_text(s)}
    assert pages <= check_book.CAPTIONED_PAGES, (
        f"add to CAPTIONED_PAGES in scripts/check_book.py: {sorted(pages - check_book.CAPTIONED_PAGES)}")


def _equations(text: str) -> list[tuple[str | None, str]]:
    """Every displayed equation ($$ ... $$, or an equation* environment: Sphinx would wrap a $$
    block holding several lines in a split environment, where \\tag is not allowed) of a markdown
    text, with the label of the target just before it, if any."""
    found = []
    pattern = (r"(?:^[ \t]*\((eq-[\w-]+)\)=[ \t]*\n)?"
               r"^[ \t]*(?:\$\$(.*?)\$\$|\\begin\{equation\*\}(.*?)\\end\{equation\*\})")
    for match in re.finditer(pattern, text, flags=re.S | re.M):
        found.append((match.group(1), match.group(2) if match.group(2) is not None else match.group(3)))
    return found


def test_multiline_tagged_equations_avoid_split():
    """A $$ block with a line break (\\\\) is wrapped by Sphinx in a split environment, where MathJax
    refuses \\tag: such equations must be written as equation* environments."""
    bad = [f"{page.name}: {body.strip()[:40]}" for page in SOURCES + sorted((ROOT / "book").glob("*.md"))
           for match in re.finditer(r"^[ \t]*\$\$(.*?)\$\$", _markdown_text(page), flags=re.S | re.M)
           for body in [match.group(1)] if "\\\\" in body and "\\tag" in body]
    assert not bad, f"use \\begin{{equation*}} for these: {bad}"


def test_labelled_equations_carry_unique_tags():
    """Every equation with a target `(eq-...)=` is numbered by a \\tag, no number is used twice in
    the book, and the paper's equations (1)-(8) keep their numbers, each exactly once."""
    pages = SOURCES + sorted((ROOT / "book").glob("*.md"))
    by_tag: dict[str, list[str]] = {}
    untagged = []
    for page in pages:
        text = _markdown_text(page)
        targets = re.findall(r"^[ \t]*\((eq-[\w-]+)\)=", text, flags=re.M)
        on_equations = [label for label, _ in _equations(text) if label]
        untagged += [f"{page.name}: {label} (not on a $$ equation)"
                     for label in targets if label not in on_equations]
        for label, body in _equations(text):
            tags = re.findall(r"\\tag\{([^}]*)\}", body)
            if label and len(tags) != 1:
                untagged.append(f"{page.name}: {label}")
            for tag in tags:
                by_tag.setdefault(tag, []).append(f"{page.name}: {label}")
    assert not untagged, f"labelled equations without exactly one \\tag: {untagged}"
    repeated = {tag: where for tag, where in by_tag.items() if len(where) > 1}
    assert not repeated, f"equation numbers used twice: {repeated}"
    for label, number in PAPER_EQUATIONS.items():
        where = by_tag.get(number, [])
        assert len(where) == 1 and where[0].endswith(f": {label}"), (
            f"the paper's eq. ({number}) should be tagged once, on {label}; found {where}")
