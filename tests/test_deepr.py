import pytest
import torch

from modlib import config, deepr, model
from modlib.model import competitive_decision, per_network_loss


def test_learning_rate_is_geometric_in_p():
    paper = config.DeepRConfig(lr_sparsest=0.1, lr_dense=0.01)  # Table 1: [0.1 - 0.01]
    lr = deepr.deepr_lr(torch.tensor([1, 100, 10_000]), 100, paper)
    torch.testing.assert_close(lr, torch.tensor([0.1, 10**-1.5, 0.01], dtype=torch.double))
    assert config.DeepRConfig() == paper  # the defaults are the paper's
    lr = deepr.deepr_lr(torch.tensor([1, 100, 10_000]), 100, config.DeepRConfig(lr_dense=0.003))
    torch.testing.assert_close(lr, torch.tensor([0.1, (0.1 * 0.003) ** 0.5, 0.003], dtype=torch.double))


def _run_steps(net, opt, steps, gen):
    """Random-input training steps; returns theta before and after each step, and the grads seen."""
    log = []
    for _ in range(steps):
        x = torch.randn(net.n_networks, 2, 16, 784, generator=gen)
        target = torch.randint(0, 10, (16,), generator=gen)
        r_out, _ = competitive_decision(net(x))
        net.theta.grad = None
        per_network_loss(r_out, target).sum().backward()
        before = net.theta.detach().clone()
        grad = net.theta.grad.clone()
        opt.step()
        log.append((before, grad, net.theta.detach().clone()))
    return log


@pytest.mark.parametrize("compile", [False, True])
def test_invariants_hold_at_every_step(compile):
    ps = [1e-4, 3e-4, 0.0022, 0.06, 1.0]
    cfg = config.DeepRConfig(l1=0.05)  # strong shrinkage: many connections die and rewire
    net = model.ModularRNN(ps, seeds=[0, 1, 2, 3, 4], deepr=cfg)
    sign0 = net.sign.clone()
    opt = deepr.DeepR(net, cfg, compile=compile)
    gen = torch.Generator().manual_seed(0)
    want = net.n_conn.view(-1, 1).expand(-1, 2)
    for before, grad, after in _run_steps(net, opt, 40, gen):
        active = after > 0
        assert torch.equal(active.sum(dim=(-1, -2)), want)  # exactly round(p N^2) per direction
        dormant_before = before <= 0
        assert (grad[dormant_before] == 0).all()  # dormant connections get no gradient
        # a dormant connection changes only by being re-activated at theta = rewire_theta
        changed = dormant_before & (after != before)
        assert (after[changed] == cfg.rewire_theta).all()
    assert torch.equal(net.sign, sign0)
    w = net.w_sparse().detach()
    assert ((w == 0) | (torch.sign(w) == net.sign)).all()  # signs never change
    assert opt.rewired[:4].sum() > 0  # the sparse networks did rewire


def test_sparsest_network_keeps_one_connection_each_way(small_data):
    net = model.ModularRNN(1e-4, 0)
    assert net.active().sum(dim=(-1, -2)).tolist() == [[1, 1]]
    assert int((net.adjacency()[0, :100, 100:]).sum()) == 1
