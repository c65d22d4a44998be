"""Write the student edition of the notebooks: the same notebooks with every cell tagged
``solution`` removed, an answer cell ("# Your code here") after each exercise's statement, and
the exercise's check cell (tagged ``check``, hidden in the book) after the answer cell, where the
exercise has one: it says "correct" or raises with a hint. Generated from notebooks/NN_*.py, never
kept by hand.

Usage: python scripts/student_edition.py [--out student]
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import jupytext
import nbformat

ROOT = Path(__file__).resolve().parent.parent


ANSWER = "# Your code here (exercise {n})\n"


def is_exercise(cell) -> bool:
    """A markdown cell that states an exercise ("**Exercise N.**" at the start of a line)."""
    return cell.cell_type == "markdown" and re.search(r"^\*\*Exercise \d+\.\*\*", cell.source, re.M) is not None


def student_notebook(path: Path) -> nbformat.NotebookNode:
    nb = jupytext.read(path)
    cells, n = [], 0
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if "solution" in tags:
            continue
        if "check" in tags:  # shown to the student: drop the tag that hides it in the book
            cell.metadata["tags"] = [t for t in tags if t != "remove-cell"]
        cells.append(cell)
        if is_exercise(cell):
            n += 1
            cells.append(nbformat.v4.new_code_cell(ANSWER.format(n=n), metadata={"tags": ["answer"]}))
    nb.cells = cells
    for cell in nb.cells:
        cell.outputs = [] if cell.cell_type == "code" else cell.get("outputs")
        if cell.cell_type != "code":
            cell.pop("outputs", None)
    nb.metadata.get("jupytext", {}).pop("formats", None)  # a plain notebook, not paired
    return nb


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, default=ROOT / "student")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    sources = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
    for src in sources:
        nb = student_notebook(src)
        dest = args.out / (src.stem + ".ipynb")
        nbformat.write(nb, dest)
        removed = len(jupytext.read(src).cells) - len(nb.cells)
        print(f"{dest.relative_to(ROOT) if dest.is_relative_to(ROOT) else dest}: {removed} solution cells removed")


if __name__ == "__main__":
    main()
