import pytest
import torch

from modlib import config, model, train


def test_shapes_and_views():
    net = model.ModularRNN([1e-4, 0.5], seeds=[0, 1])
    x = torch.randn(2, 7, 784)
    r = net(x)
    assert r.shape == (2, 2, 7, 10)
    assert net.hidden_states(x).shape == (2, 2, 7, 100)
    assert net.n_conn.tolist() == [1, 5000]
    w = net.weights(1)
    assert w["W_ih^0"].shape == (100, 784) and w["W_sparse^0->1"].shape == (100, 100)
    assert int((w["W_sparse^1->0"] != 0).sum()) == 5000
    bott = model.ModularRNN(0.01, 0, config.ModelConfig(bottleneck=5))
    h = bott.hidden_states(x)
    assert bott.bottleneck_states(h).shape == (1, 2, 7, 5)
    assert bott(x).shape == (1, 2, 7, 10)


def test_init_is_uniform_and_seeded():
    a, b = model.ModularRNN(0.01, 3), model.ModularRNN(0.01, 3)
    assert torch.equal(a.w_ih, b.w_ih) and torch.equal(a.theta, b.theta)
    assert a.w_hh.abs().max() <= 0.1 and a.w_ih.abs().max() > 0.099
    c = model.ModularRNN(0.01, 4)
    assert not torch.equal(a.w_ih, c.w_ih)


def test_eq3_recurrence_against_a_plain_loop():
    """Eq. (3) written out with one matrix per term, for both couplings."""
    for coupling in ("eq3", "authors"):
        net = model.ModularRNN([0.05], [2], config.ModelConfig(coupling=coupling))
        with torch.no_grad():
            net.theta.copy_(net.theta.abs() + 0.3 * (net.theta > 0))  # make the coupling visible
        x = torch.randn(2, 4, 784)
        w = net.weights(0)
        h = [torch.zeros(4, 100), torch.zeros(4, 100)]
        for _ in range(5):
            new = []
            for n in (0, 1):
                m = 1 - n
                inter = h[m] @ w[f"W_sparse^{m}->{n}"].T
                if coupling == "eq3":
                    rec = h[n] @ w[f"W_hh^{n}"].T + inter
                else:
                    rec = (h[n] + inter) @ w[f"W_hh^{n}"].T
                pre = net.cfg.input_scale * x[n] @ w[f"W_ih^{n}"].T + w[f"b_ih^{n}"] + rec + w[f"b_hh^{n}"]
                new.append(torch.tanh(pre))
            h = new
        got = net.hidden_states(x)[0]
        torch.testing.assert_close(got, torch.stack(h), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("n_steps", [1, 2, 4])
@pytest.mark.parametrize("coupling, gathered", [("eq3", True), ("eq3", False), ("authors", True),
                                                ("authors", False), ("eq3", "fixed")])
def test_recurrence_gradient(monkeypatch, coupling, gathered, n_steps):
    """The hand-written backward pass through time against finite differences, for both ways of
    computing the signal between the modules (gathered entries, or the full recurrent matrix), and
    for fixed connections between them (the metrics, with eq. (3)'s coupling: the full matrix,
    W_hh's gradient alone), over one step (no recurrence), two, and four."""
    monkeypatch.setattr(model, "SPARSE_FRACTION", 1.0 if gathered is True else -1.0)
    gen = torch.Generator().manual_seed(0)
    J, N, B = 2, 4, 3
    u = torch.randn(J, 2, N, B, dtype=torch.double, generator=gen).requires_grad_()
    w_hh = (0.5 * torch.randn(J, 2, N, N, dtype=torch.double, generator=gen)).requires_grad_()
    mask = torch.rand(J, 2, N, N, generator=gen) < 0.3  # the connections: the other entries stay 0
    w_s = torch.randn(J, 2, N, N, dtype=torch.double, generator=gen).requires_grad_()

    def run(u, w_hh, w_s):
        return model.two_modules(u, w_hh, w_s * mask, coupling, n_steps)

    if gathered == "fixed":
        w_s = w_s.detach()
        assert torch.autograd.gradcheck(lambda u, w_hh: run(u, w_hh, w_s), (u, w_hh))
    else:
        assert torch.autograd.gradcheck(run, (u, w_hh, w_s))


def test_final_states_without_a_backward_pass_hold_no_other_step():
    """With autograd on, h_T is a view of the states the backward pass keeps; without it (no
    gradient mode, as the metrics collect states batch by batch), h_T holds its own memory alone,
    so the other steps' states are freed: T times less for a collection of them."""
    net = model.ModularRNN([1e-4, 1.0], [0, 1])
    x = torch.randn(2, 8, 784)
    with torch.no_grad():
        h = net.hidden_states(x)
    assert h.untyped_storage().nbytes() == h.numel() * h.element_size()
    h_grad = net.hidden_states(x)
    assert h_grad.requires_grad and torch.equal(h, h_grad.detach())
    assert h_grad.untyped_storage().nbytes() == net.cfg.n_steps * h.numel() * h.element_size()


def test_nonzero_count_matches_count_nonzero():
    """The count that picks the recurrence's form: signed zeros are zero, subnormals and infinities
    count (NaN does not: sign(NaN) = 0), and 2^24 + 2 ones in two rows are counted exactly."""
    w = torch.tensor([0.0, -0.0, 1e-45, -1e-45, float("inf"), -3.0, 2.0, 0.0])
    assert model._nonzero(w) == int(torch.count_nonzero(w)) == 5
    assert model._nonzero(torch.tensor([1.0, float("nan"), 0.0])) == 1
    w = torch.randn(7, 2, 9, 9, generator=torch.Generator().manual_seed(3)).clamp(min=0)
    assert model._nonzero(w) == int(torch.count_nonzero(w))
    assert model._nonzero(torch.ones(2, 2**23 + 1)) == 2**24 + 2
    assert model._nonzero(torch.ones(0, 2, 3, 3)) == 0


def test_recurrent_matrix_holds_the_blocks_and_hands_back_their_gradients():
    """Eq. (3)'s matrix: W_hh^0, W_hh^1 on the diagonal, W^{1->0} top right, W^{0->1} bottom left;
    the gradient of sum(G * W) is G's blocks, read back to the right tensors."""
    gen = torch.Generator().manual_seed(2)
    J, N = 3, 4
    w_hh = torch.randn(J, 2, N, N, generator=gen).requires_grad_()
    w_s = torch.randn(J, 2, N, N, generator=gen).requires_grad_()
    w = model.recurrent_matrix(w_hh, w_s)
    assert w.shape == (J, 2 * N, 2 * N) and w.is_contiguous()
    top, bottom = slice(0, N), slice(N, 2 * N)
    assert torch.equal(w[:, top, top], w_hh[:, 0]) and torch.equal(w[:, bottom, bottom], w_hh[:, 1])
    assert torch.equal(w[:, top, bottom], w_s[:, 1]) and torch.equal(w[:, bottom, top], w_s[:, 0])
    g = torch.randn(J, 2 * N, 2 * N, generator=gen)
    g_hh, g_s = torch.autograd.grad(w, (w_hh, w_s), g)
    assert torch.equal(g_hh, torch.stack([g[:, top, top], g[:, bottom, bottom]], 1))
    assert torch.equal(g_s, torch.stack([g[:, bottom, top], g[:, top, bottom]], 1))
    # the authors' coupling: off-diagonal blocks W_hh^n W^{m->n}, its gradient to both against
    # finite differences
    w_a = model.recurrent_matrix(w_hh, w_s, "authors")
    assert torch.allclose(w_a[:, top, bottom], w_hh[:, 0] @ w_s[:, 1])
    assert torch.allclose(w_a[:, bottom, top], w_hh[:, 1] @ w_s[:, 0])
    args = [t.detach().double().requires_grad_() for t in (w_hh, w_s)]
    assert torch.autograd.gradcheck(lambda a, b: model.recurrent_matrix(a, b, "authors"), args)


@pytest.mark.parametrize("coupling", ["eq3", "authors"])
def test_gathered_and_full_matrix_recurrences_agree(monkeypatch, coupling):
    gen = torch.Generator().manual_seed(1)
    J, N, B = 3, 10, 5
    u = torch.randn(J, 2, N, B, generator=gen)
    w_hh = 0.3 * torch.randn(J, 2, N, N, generator=gen)
    mask = torch.rand(J, 2, N, N, generator=gen) < 0.05
    w_s = torch.randn(J, 2, N, N, generator=gen)
    out = {}
    for gathered in (True, False):
        monkeypatch.setattr(model, "SPARSE_FRACTION", 1.0 if gathered else -1.0)
        args = [t.clone().requires_grad_() for t in (u, w_hh, w_s)]
        h = model.two_modules(*args[:2], args[2] * mask, coupling, 5)
        (h * torch.arange(h.numel()).view_as(h).sin()).sum().backward()
        out[gathered] = [h.detach()] + [a.grad for a in args]
        steps = model.two_modules(u, w_hh, w_s * mask, coupling, 5, all_steps=True)
        assert torch.equal(steps[-1], h.detach()), "all_steps must end with h_T, to the bit"
    for a, b in zip(out[True], out[False]):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_competitive_decision_takes_the_most_confident_readout():
    r = torch.zeros(1, 2, 3, 10)
    r[0, 0, 0, 4] = 5.0  # example 0: sub-network 0 most confident, says 4
    r[0, 1, 0, 7] = 3.0
    r[0, 1, 1, 2] = 1.0  # example 1: sub-network 1 says 2
    r[0, 0, 2, 1], r[0, 1, 2, 9] = 0.5, 0.6  # example 2: sub-network 1 says 9
    r_out, mu = model.competitive_decision(r)
    assert mu.tolist() == [[0, 1, 1]]
    assert r_out.argmax(-1).tolist() == [[4, 2, 9]]


def test_the_deciding_module_is_argmax_over_the_modules():
    """The deciding module mu is argmax over the two modules' largest readouts, to the letter:
    the first module on ties, and a NaN readout counted as the largest."""
    gen = torch.Generator().manual_seed(0)
    r = torch.randint(-3, 4, (4, 2, 500, 3), generator=gen).float()  # many ties
    r[0, 0, :40, 0] = float("nan")
    r[0, 1, 20:60, 1] = float("nan")  # both modules NaN on 20 examples, one of them on 40
    for rule in ("max", "abs_max"):
        m = (r.abs() if rule == "abs_max" else r).amax(dim=-1)
        assert torch.equal(model.competitive_decision(r, rule)[1], m.argmax(dim=1))


@pytest.mark.parametrize("p", [0.0, 1e-5, 1.5, "0.1", True])
def test_p_outside_range_is_refused(p):
    with pytest.raises(ValueError, match=r"p must be a number in \[1/N\^2, 1\]"):
        model.ModularRNN(p)


def test_bad_seeds_and_lengths_are_refused():
    with pytest.raises(ValueError, match="seeds"):
        model.ModularRNN([0.1, 0.2], seeds=[0, 1, 2])
    with pytest.raises(ValueError, match="seeds"):
        model.ModularRNN(0.1, seeds=-1)
    with pytest.raises(ValueError, match="coupling"):
        config.ModelConfig(coupling="sum")


def test_batched_training_equals_training_alone(small_data):
    """E networks trained together end exactly where each ends when trained alone."""
    train_data, test_data = small_data
    cfg = config.TrainConfig(epochs=2, batch_size=100)
    sub = train_data.__class__(*[t for t in (train_data.images, train_data.pairs[:600],
                                             train_data.digits[:600], train_data.target[:600])])
    ps, seeds = [1e-4, 0.01, 1.0], [5, 6, 7]
    together = model.ModularRNN(ps, seeds)
    res = train.train(together, sub, test_data, cfg, progress=False)
    for e, (p, s) in enumerate(zip(ps, seeds)):
        alone = model.ModularRNN(p, s)
        res_alone = train.train(alone, sub, test_data, cfg, progress=False)
        for name, param in alone.named_parameters():
            torch.testing.assert_close(getattr(together, name)[e], param[0], atol=2e-5, rtol=1e-4)
        assert abs(res.accuracy[e] - res_alone.accuracy[0]) <= 0.002
        assert res.rewired[e] == res_alone.rewired[0]


@pytest.mark.parametrize("bottleneck", [0, 5])
def test_everything_a_model_computes_stays_on_its_device(bottleneck):
    """Device-agnostic code, checked without a GPU: on PyTorch's "meta" device any tensor created on
    the CPU by mistake makes the operation that mixes it in fail, as it would on CUDA."""
    net = model.ModularRNN([1e-4, 1.0], [0, 1], config.ModelConfig(bottleneck=bottleneck)).to("meta")
    x = torch.empty(2, 2, 8, 784, device="meta")
    r_out, mu = model.competitive_decision(net(x))
    assert r_out.device.type == mu.device.type == "meta"
    assert net(x[0]).shape == (2, 2, 8, 10)  # inputs shared by every network
    for value in (net.adjacency(), net.groups(), net.recurrent_matrix(), net.w_sparse(),
                  model.per_network_loss(r_out, torch.zeros(8, dtype=torch.long, device="meta"))):
        assert value.device.type == "meta"


def test_connections_text_names_the_count():
    assert model.connections_text(1e-4, 100) == "one connection"
    assert model.connections_text(0.01, 100) == "100 connections"
    assert model.connections_text(0.1234, 100) == "1,234 connections"
    assert model.connections_text(1.0, 100) == "all 10,000 connections"


def test_fixed_links_give_the_same_module_gradients(monkeypatch):
    """With the inter-module weights fixed (no gradient wanted, as in the metrics), the full-matrix
    recurrence forms only W_hh's gradient: the same as when the whole matrix's is formed."""
    monkeypatch.setattr(model, "SPARSE_FRACTION", -1.0)
    gen = torch.Generator().manual_seed(2)
    J, N, B = 2, 6, 4
    u = torch.randn(J, 2, N, B, generator=gen)
    w_hh = 0.3 * torch.randn(J, 2, N, N, generator=gen)
    w_s = torch.randn(J, 2, N, N, generator=gen) * (torch.rand(J, 2, N, N, generator=gen) < 0.3)
    grads = []
    for fixed in (True, False):
        args = [u.clone().requires_grad_(), w_hh.clone().requires_grad_(), w_s.clone().requires_grad_(not fixed)]
        model.two_modules(*args, "eq3", 5).pow(2).sum().backward()
        grads.append([args[0].grad, args[1].grad])
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b)

