"""Checks for the chapters' exercises: a student's answer against the right one, without showing it.

An exercise with a single right answer has an entry in :data:`ANSWERS`: the sha256 of the answer
written canonically (numbers rounded to the digits the exercise asks for) and a hint. A check
cell, hidden in the book and kept in the student edition (``make student``), calls :func:`check`
with the student's variables: it says "correct", or raises with the hint, never with the answer.
Exercises whose answer depends on what the notebook computed are checked in their cell directly
(against values the page already shows).
"""

from __future__ import annotations

import hashlib
import numbers

# exercise ("chapter.number") -> (sha256 of the canonical answer, digits, hint)
ANSWERS = {
    "01.1": ("a02e1a7b975c25e602282b8110b112f303611abd3924e7d98e06342800003a27", 0,
             "count ordered pairs with D0 != D1 in d0, d1 (same_parity tells the two kinds apart); "
             "set n_same and n_different"),
    "02.1": ("a1705a5f45b27d905ffde93fdaec1c2ad3c4c63f5863ad2065adc42d9d133be8", 3, "solve eq. (5) for p, then round p N^2 as model.n_connections does; set p_035 and n_035"),
    "02.3": ("ce5d3aa79ae56155078af52e8fac68eb2d0a78489f82bc26c1e1bbc667ba9fde", 2, "make a (4N, 4N) block-diagonal adjacency of ones and give structure.q_modularity its "
                    "group labels; set q_four"),
}


def canonical(value, digits: int) -> str:
    """A number, or a sequence of numbers, as text rounded to ``digits`` decimals."""
    if isinstance(value, (list, tuple)):
        return ",".join(canonical(v, digits) for v in value)
    if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:
        value = value.item()  # a 0-d tensor or numpy scalar
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"an answer must be a number or a tuple of numbers, got {value!r}")
    return f"{round(float(value), digits):.{digits}f}"


def answer_hash(value, digits: int) -> str:
    return hashlib.sha256(canonical(value, digits).encode()).hexdigest()


def check(exercise: str, value) -> str:
    """"correct" if ``value`` is the answer to ``exercise``; otherwise AssertionError with a hint.
    ``value`` may be a function of no arguments that returns the answer (``lambda: (a, b)``), so
    that a variable not yet set gives the hint too, not a NameError."""
    if exercise not in ANSWERS:
        raise KeyError(f"no stored answer for exercise {exercise!r}; the checkable ones are {', '.join(ANSWERS)}")
    want, digits, hint = ANSWERS[exercise]
    if callable(value):
        try:
            value = value()
        except NameError as err:
            raise AssertionError(f"exercise {exercise}: {err}; write your answer first. Hint: {hint}") from None
    try:
        ok = answer_hash(value, digits) == want
    except TypeError as err:
        raise AssertionError(f"exercise {exercise}: {err}") from None
    assert ok, f"exercise {exercise}: not yet. Hint: {hint}"
    return f"exercise {exercise}: correct"
