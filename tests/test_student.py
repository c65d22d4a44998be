"""The student edition and the exercise checks."""

import importlib.util
from pathlib import Path

import pytest
import torch

from modlib import data, exercises, model, structure

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("student_edition", ROOT / "scripts" / "student_edition.py")
student_edition = importlib.util.module_from_spec(spec)
spec.loader.exec_module(student_edition)
CHAPTERS = sorted((ROOT / "notebooks").glob("0[1-7]_*.py"))


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_student_edition_has_an_answer_cell_per_exercise_and_no_solution(path):
    nb = student_edition.student_notebook(path)
    cells = nb.cells
    assert not any("solution" in c.metadata.get("tags", []) for c in cells)
    statements = [i for i, c in enumerate(cells) if student_edition.is_exercise(c)]
    assert len(statements) >= 2, "every chapter has exercises"
    for n, i in enumerate(statements, 1):
        answer = cells[i + 1]
        assert answer.cell_type == "code" and answer.source.startswith(f"# Your code here (exercise {n})")
    for i, c in enumerate(cells):
        if "check" in c.metadata.get("tags", []):
            assert "answer" in cells[i - 1].metadata.get("tags", []), "a check follows its answer cell"
            assert "remove-cell" not in c.metadata["tags"], "the student sees the check"


def test_checkable_exercises_have_check_cells():
    checks = [c.source for p in CHAPTERS for c in student_edition.student_notebook(p).cells
              if "check" in c.metadata.get("tags", [])]
    for exercise in exercises.ANSWERS:
        assert any(f'"{exercise}"' in src for src in checks), exercise


def test_checks_accept_the_right_answers_computed_independently():
    d0, d1 = torch.meshgrid(torch.arange(10), torch.arange(10), indexing="ij")
    distinct, same = d0 != d1, (d0 + d1) % 2 == 0
    assert exercises.check("01.1", ((distinct & same).sum(), (distinct & ~same).sum())) == "exercise 01.1: correct"
    p = (1 - 2 * 0.35) / (1 + 2 * 0.35)
    assert structure.q_closed_form(p) == pytest.approx(0.35)
    exercises.check("02.1", (p, model.n_connections(p, 100)))
    N = 100
    q_four = structure.q_modularity(torch.block_diag(*[torch.ones(N, N)] * 4), torch.arange(4 * N) // N)
    exercises.check("02.3", lambda: q_four)
    assert data.keep_pair(torch.tensor(0), torch.tensor(2))  # (the module the checks import)


def test_wrong_or_missing_answers_get_a_hint_not_the_answer():
    with pytest.raises(AssertionError, match="not yet. Hint: count ordered pairs") as err:
        exercises.check("01.1", (45, 45))
    assert "40" not in str(err.value) and "50" not in str(err.value)
    with pytest.raises(AssertionError, match="is not defined; write your answer first"):
        exercises.check("02.3", lambda: undefined_name)  # noqa: F821
    with pytest.raises(AssertionError, match="must be a number"):
        exercises.check("02.3", "0.75")
    with pytest.raises(KeyError, match="checkable ones"):
        exercises.check("99.9", 1)
