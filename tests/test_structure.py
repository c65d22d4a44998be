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
