import pytest
import torch

from modlib import config, deepr, model, optim
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


def test_invariants_hold_at_every_step():
    ps = [1e-4, 3e-4, 0.0022, 0.06, 1.0]
    cfg = config.DeepRConfig(l1=0.05)  # strong shrinkage: many connections die and rewire
    net = model.ModularRNN(ps, seeds=[0, 1, 2, 3, 4], deepr=cfg)
    sign0 = net.sign.clone()
    opt = deepr.DeepR(net, cfg)
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


# --------------------------------------------------------------------------------------------------
# The counter-based random streams


def test_normals_are_standard_and_finite():
    keys = deepr.network_keys(range(4))
    idx = torch.arange(250_000)
    z = torch.cat([deepr.normal(k, 7, 1, idx) for k in keys])
    assert torch.isfinite(z).all()
    assert abs(float(z.mean())) < 0.005 and abs(float(z.std()) - 1) < 0.005
    assert abs(float((z > 1.96).double().mean()) - 0.025) < 0.001  # the tail, not just two moments
    u = deepr.uniform(keys[0], 7, 1, idx)
    assert 0 < float(u.min()) and float(u.max()) < 1
    # neighbouring indices, steps and keys are uncorrelated
    assert abs(float(torch.corrcoef(torch.stack([z[:-1], z[1:]]))[0, 1])) < 0.01
    other_step = deepr.normal(keys[0], 8, 1, idx)
    assert abs(float(torch.corrcoef(torch.stack([z[:250_000], other_step]))[0, 1])) < 0.01


def test_a_networks_stream_does_not_depend_on_its_neighbours():
    """Seed 3 at p = 0.01 beside other networks takes exactly the Deep-R steps it takes alone."""
    cfg = config.DeepRConfig(l1=0.02)  # connections die and rewire
    alone = model.ModularRNN(0.01, 3, deepr=cfg)
    group = model.ModularRNN([0.3, 0.01, 1e-4], [1, 3, 5], deepr=cfg)
    gen = torch.Generator().manual_seed(0)
    opts = deepr.DeepR(alone, cfg), deepr.DeepR(group, cfg)
    for _ in range(20):
        grad = torch.randn(2, 100, 100, generator=gen) * 1e-3
        alone.theta.grad = grad.unsqueeze(0).clone()
        group.theta.grad = torch.stack([torch.randn(2, 100, 100, generator=gen), grad, grad])
        for opt in opts:
            opt.step()
    assert opts[0].rewired.sum() > 0
    assert torch.equal(alone.theta.detach()[0], group.theta.detach()[1])


@pytest.mark.parametrize("dormant_fraction", [0.9, 0.1])  # sequential draws; ranking every dormant entry
def test_draw_dormant_is_uniform_without_replacement(dormant_fraction):
    M, R = 40, 3
    gen = torch.Generator().manual_seed(1)
    active = torch.rand(R, M, generator=gen) > dormant_fraction
    dormant = (~active).sum(1)
    counts = torch.minimum(dormant, torch.tensor([1, 3, 4]))
    keys = deepr.network_keys([11, 12, 13])
    hits = torch.zeros(R, M)
    for step in range(4000):
        row, pos = deepr.draw_dormant(active, counts, keys, step)
        assert torch.equal(torch.bincount(row, minlength=R), counts)
        assert not active[row, pos].any()  # only dormant positions
        assert len(set(zip(row.tolist(), pos.tolist()))) == len(row)  # no repeats
        hits[row, pos] += 1
    expected = (counts / dormant).unsqueeze(1) * 4000  # each dormant position equally often
    got = hits[~active].split((~active).sum(1).tolist())
    for r in range(R):  # chi-square against uniform: mean df, sd sqrt(2 df); allow 5 sd
        chi2, df = float(((got[r] - expected[r]) ** 2 / expected[r]).sum()), len(got[r]) - 1
        assert chi2 < df + 5 * (2 * df) ** 0.5, f"row {r}: chi2 {chi2:.1f} with {df} degrees of freedom"


def test_in_place_step_equals_the_list_step(monkeypatch):
    """Where many entries are active, Deep-R updates the whole tensors in place instead of the list
    of active entries: the same theta, Adam state and rewirings, to the bit, over steps in which
    connections die and rewire (the sparse networks take the list form both times)."""
    ps, seeds = [1e-4, 0.05, 0.3, 1.0], [0, 1, 2, 3]
    cfg = config.DeepRConfig(l1=0.02)

    def run(dense_fill):
        monkeypatch.setattr(deepr, "DENSE_FILL", dense_fill)
        net = model.ModularRNN(ps, seeds, deepr=cfg)
        opt = deepr.DeepR(net, cfg)
        _run_steps(net, opt, 12, torch.Generator().manual_seed(0))
        return net.theta.detach(), opt.exp_avg, opt.exp_avg_sq, opt.steps, opt.rewired

    in_place, listed = run(10**9), run(1)  # a fill above 1/DENSE_FILL takes the in-place form
    assert in_place[-1][1:].sum() > 0  # the denser networks rewired
    for a, b in zip(in_place, listed):
        assert torch.equal(a, b)


@pytest.mark.parametrize("dense_fill", [1, 10**9])  # the list form, then the in-place form
def test_the_kept_list_of_active_connections_is_theirs(monkeypatch, dense_fill):
    """Deep-R keeps the list of active entries from one step to the next: after every step it holds
    exactly the entries with theta > 0 (connections died and were rewired in between), and an
    in-place change of theta between steps is seen: the step then equals that of a Deep-R that
    reads the list from theta afresh, to the bit."""
    monkeypatch.setattr(deepr, "DENSE_FILL", dense_fill)
    cfg = config.DeepRConfig(l1=0.02)
    runs = []
    for fresh in (False, True):
        net = model.ModularRNN([1e-3, 0.05, 0.3], [0, 1, 2], deepr=cfg)
        opt = deepr.DeepR(net, cfg)
        gen = torch.Generator().manual_seed(1)
        for step in range(8):
            if fresh:
                opt._active = None
            _run_steps(net, opt, 1, gen)
            kept = opt.active_index().sort().values
            assert torch.equal(kept, (net.theta.detach().view(-1) > 0).nonzero().squeeze(1))
            if step == 3:
                with torch.no_grad():  # outside Deep-R: one connection cut, one dormant one made active
                    flat = net.theta.view(-1)
                    flat[kept[len(kept) // 2]] = 0.0
                    flat[(flat <= 0).nonzero()[0]] = 0.5
        assert opt.rewired.sum() > 0
        runs.append((net.theta.detach(), opt.exp_avg, opt.steps, opt.rewired))
    for a, b in zip(*runs):
        assert torch.equal(a, b)


@pytest.mark.parametrize("dense_fill", [1, 10**9])  # the list form, then the in-place form
def test_the_kept_walk_plan_equals_one_read_every_step(monkeypatch, dense_fill):
    """Deep-R keeps which places of its list of active connections walk, with their networks and
    scales, while the list and the learning rates stand: each place keeps its network and direction
    from one step to the next (a rewired connection takes a dead one's place in its own row), and
    the steps equal, to the bit, those of a Deep-R that reads the plan afresh every step, across a
    learning-rate decay, a network stopped by a zero rate (as the longer schedule stops one) and
    an in-place change of theta."""
    monkeypatch.setattr(deepr, "DENSE_FILL", dense_fill)
    cfg = config.DeepRConfig(l1=0.02)
    N2 = 100 * 100
    runs = []
    for fresh in (False, True):
        # p = 1 first: its rows, where every dormant connection comes back, are drawn after the others
        net = model.ModularRNN([1.0, 1e-3, 0.05, 0.3], [0, 1, 2, 3], deepr=cfg)
        opt = deepr.DeepR(net, cfg)
        gen = torch.Generator().manual_seed(2)
        rows = None
        for step in range(9):
            if fresh:
                opt._walk_key = None
            _run_steps(net, opt, 1, gen)
            lineage, now = opt._lineage, opt.active_index() // N2
            if rows is not None and lineage == rows[0]:
                assert torch.equal(now, rows[1])  # every place of the list still in its own row
            rows = (lineage, now)
            if step == 2:
                opt.decay_lr()
            if step == 4:
                opt.lr = opt.lr * torch.tensor([1.0, 1.0, 0.0, 1.0])  # network 2 stops
            if step == 6:
                with torch.no_grad():  # outside Deep-R: one connection cut
                    net.theta.view(-1)[opt.active_index()[5]] = 0.0
        assert opt.rewired[0].sum() > 0 and opt.rewired[1:].sum() > 0
        runs.append((net.theta.detach(), opt.exp_avg, opt.steps, opt.rewired))
    for a, b in zip(*runs):
        assert torch.equal(a, b)


def test_bias_corrections_are_the_powers():
    """Deep-R reads Adam's bias corrections 1 - beta^t from a table: the same numbers as the powers
    computed per entry, for Adam's betas and for one close to 1, and the table grows with training."""
    gen = torch.Generator().manual_seed(0)
    t = torch.cat([torch.arange(1, 300), torch.randint(1, 9000, (5000,), generator=gen)]).float()
    for beta1, beta2 in ((0.9, 0.999), (0.5, 0.99999)):
        table = optim.bias_corrections(beta1, beta2, 9000)
        assert torch.equal(table[0][t.long()], 1 - beta1**t)
        assert torch.equal(table[1][t.long()], 1 - beta2**t)
    net = model.ModularRNN([0.1], [0])
    opt = deepr.DeepR(net)
    assert opt.corrections().shape == (2, 4096)
    opt.n_steps = 5000  # an entry's step count can reach the steps taken
    assert opt.corrections().shape == (2, 8192)
