"""Write the student edition of the notebooks: the same notebooks with every cell tagged
``solution`` removed (exercise statements stay). Generated from notebooks/NN_*.py, never kept by hand.

Usage: python scripts/student_edition.py [--out student]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import jupytext
import nbformat

ROOT = Path(__file__).resolve().parent.parent


def student_notebook(path: Path) -> nbformat.NotebookNode:
    nb = jupytext.read(path)
    nb.cells = [c for c in nb.cells if "solution" not in c.metadata.get("tags", [])]
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
