import itertools

import pytest
import torch

from modlib import model, structure


def naive_q(A, g):
    """Eq. (9) written as the double sum."""
    M = A.sum()
    kout, kin = A.sum(1), A.sum(0)
    V = len(g)
    return sum(
        (A[i, j] - kout[i] * kin[j] / M) for i, j in itertools.product(range(V), range(V)) if g[i] == g[j]
    ) / M


def test_closed_form_endpoints():
    assert structure.q_closed_form(0.0) == 0.5
    assert structure.q_closed_form(1.0) == 0.0
    assert structure.q_closed_form(1 / 3) == pytest.approx(0.25)
    with pytest.raises(ValueError, match="p must be in"):
        structure.q_closed_form(1.5)


def test_q_matches_double_sum_on_random_graphs():
    gen = torch.Generator().manual_seed(0)
    for _ in range(3):
        A = (torch.rand(12, 12, generator=gen) < 0.3).double()
        g = torch.randint(0, 3, (12,), generator=gen)
        assert float(structure.q_modularity(A, g)) == pytest.approx(float(naive_q(A, g)), abs=1e-12)


def test_q_of_every_model_adjacency_equals_closed_form():
    ps = [1e-4, 3e-4, 1e-3, 0.01, 0.0359, 0.1, 0.5, 1.0]
    net = model.ModularRNN(ps, seeds=list(range(len(ps))))
    A = net.adjacency()
    assert A.shape == (len(ps), 200, 200)
    assert torch.equal(A[:, :100, :100], torch.ones(len(ps), 100, 100))
    q = structure.q_modularity(A, net.groups())
    torch.testing.assert_close(q, structure.q_closed_form(net.p), rtol=0, atol=1e-12)


def test_effective_fraction_of_each_coupling():
    """Eq. (3): the connection fraction itself. The authors' coupling: every connection from a unit
    acts as a full column of N edges through W_hh, so three connections from two units open 2N paths."""
    N = 10
    active = torch.zeros(N, N, dtype=torch.bool)
    active[0, 3] = active[5, 3] = active[2, 7] = True  # (post, pre): units 3 and 7 send
    assert structure.effective_fraction(active, "eq3").item() == pytest.approx(3 / N**2)
    assert structure.effective_fraction(active, "authors").item() == pytest.approx(2 / N)
    assert structure.expected_effective_fraction(1, N, "authors") == pytest.approx(1 / N)
    assert structure.expected_effective_fraction(N * N - N + 1, N, "authors") == pytest.approx(1.0)
    assert structure.expected_effective_fraction(7, N, "eq3") == pytest.approx(0.07)
    gen = torch.Generator().manual_seed(0)
    draws = [structure.effective_fraction(torch.zeros(N * N, dtype=torch.bool).index_fill_(
        0, torch.randperm(N * N, generator=gen)[:15], True).view(N, N), "authors").item() for _ in range(4000)]
    assert sum(draws) / len(draws) == pytest.approx(structure.expected_effective_fraction(15, N, "authors"), abs=0.005)
    with pytest.raises(ValueError, match="coupling"):
        structure.effective_fraction(active, "other")
