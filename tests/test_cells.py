"""Cells, connections and module sizes beyond the paper's (book: chapter 1 and the discussion):
each cell is torch's own when the modules do not communicate, stacks train as networks alone, a
fixed mask never rewires, and any module size runs through the whole pipeline."""

import pytest
import torch

from modlib import config, data, deepr, experiment, model, sweep, train
from modlib.config import ConfigError, ModelConfig

CELLS = ("rnn", "leaky", "gru", "lstm")


def _inputs(B=6, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(2, B, 784, generator=gen)


def _torch_module(cell: str, n: int, net: model.ModularRNN, N: int):
    """torch's own cell with module n's weights of network 0."""
    cls = {"rnn": torch.nn.RNN, "gru": torch.nn.GRU, "lstm": torch.nn.LSTM}[cell]
    ref = cls(784, N, batch_first=True)
    with torch.no_grad():
        ref.weight_ih_l0.copy_(net.w_ih[0, n])
        ref.weight_hh_l0.copy_(net.w_hh[0, n])
        ref.bias_ih_l0.copy_(net.b_ih[0, n])
        ref.bias_hh_l0.copy_(net.b_hh[0, n])
    return ref


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_without_connections_each_module_is_torchs_own_cell(cell):
    cfg = ModelConfig(cell=cell, input_scale=1.0, n_hidden=20)
    net = model.ModularRNN(0.05, seeds=2, cfg=cfg).cut_connections()
    x = _inputs()
    with torch.no_grad():
        h = net.hidden_states(x)  # (1, 2, B, N)
        steps = net.states(x)  # (T, 1, 2, B, N)
        for n in range(2):
            seq = x[n].unsqueeze(1).expand(-1, cfg.n_steps, -1)  # the image at every step
            out, _ = _torch_module(cell, n, net, 20)(seq)  # (B, T, N)
            torch.testing.assert_close(h[0, n], out[:, -1], rtol=1e-5, atol=1e-6)
            torch.testing.assert_close(steps[:, 0, n], out.transpose(0, 1), rtol=1e-5, atol=1e-6)
    assert torch.equal(steps[-1], h)


def test_leaky_cell_follows_its_formula():
    cfg = ModelConfig(cell="leaky", leak=0.3, input_scale=1.0, n_hidden=16)
    net = model.ModularRNN(0.1, seeds=1, cfg=cfg)
    x = _inputs()
    w = net.w_sparse()[0]
    with torch.no_grad():
        u = net.input_drive(x)[0] + net.b_hh[0].unsqueeze(1)  # (2, B, N)
        h = torch.zeros_like(u)
        for _ in range(cfg.n_steps):
            s = torch.stack([h[1] @ w[1].T, h[0] @ w[0].T])  # the other module's signal, eq. (3)
            pre = u + torch.stack([h[n] @ net.w_hh[0, n].T for n in range(2)]) + s
            h = (1 - 0.3) * h + 0.3 * torch.tanh(pre)
        torch.testing.assert_close(net.hidden_states(x)[0], h, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_gated_cells_take_the_signal_inside_their_recurrent_products(cell):
    """The connections 0 -> 1 carry module 0's state into module 1's gates: cutting them changes
    module 1's states and leaves module 0's (which receives nothing) as they were."""
    cfg = ModelConfig(cell=cell, input_scale=1.0, n_hidden=8)
    net = model.ModularRNN(1.0, seeds=3, cfg=cfg)
    x = _inputs()
    with torch.no_grad():
        net.theta[:, 1] = 0  # module 0 receives nothing
        h = net.hidden_states(x)
        net.theta[:, 0] = 0  # no 0 -> 1 connection left
        h_cut = net.hidden_states(x)
    assert torch.equal(h[0, 0], h_cut[0, 0]) and not torch.allclose(h[0, 1], h_cut[0, 1])


@pytest.mark.parametrize("cell", CELLS)
def test_a_network_trained_in_a_stack_ends_where_it_ends_alone(cell, small_data):
    train_data, test_data = small_data
    part = data.PairedDigits(train_data.images, train_data.pairs[:256], train_data.digits[:256],
                             train_data.target[:256])
    cfg, tc = ModelConfig(cell=cell, n_hidden=24), config.TrainConfig(epochs=1)
    stack = model.ModularRNN([1 / 24**2, 0.2], seeds=[0, 5], cfg=cfg)
    alone = model.ModularRNN(0.2, seeds=5, cfg=cfg)
    train.train(stack, part, test_data, tc, progress=False)
    res = train.train(alone, part, test_data, tc, progress=False)
    for a, b in zip(stack.parameters(), alone.parameters()):
        torch.testing.assert_close(a[1], b[0], rtol=1e-4, atol=1e-5)
    assert 0.0 <= res.accuracy[0] <= 1.0


def test_fixed_connections_keep_their_mask_and_train_their_weights(small_data):
    train_data, test_data = small_data
    part = data.PairedDigits(train_data.images, train_data.pairs[:512], train_data.digits[:512],
                             train_data.target[:512])
    cfg = ModelConfig(connections="fixed")
    net = model.ModularRNN([1e-4, 0.01], seeds=[0, 1], cfg=cfg)
    deepr_net = model.ModularRNN([1e-4, 0.01], seeds=[0, 1])
    assert torch.equal(net.active(), deepr_net.active())  # the same count and places as Deep-R's start
    torch.testing.assert_close(net.w_sparse(), deepr_net.w_sparse())  # and the same initial weights
    mask, w0 = net.active().clone(), net.w_sparse().detach().clone()
    log = deepr.ConnectionLog(net, every=1)
    res = train.train(net, part, test_data, config.TrainConfig(epochs=1), progress=False, on_step=log)
    assert (log.active == mask).all() and res.rewired == [0, 0]  # never rewired
    assert net.active().sum((-1, -2)).tolist() == [[1, 1], [100, 100]]
    w1 = net.w_sparse().detach()
    assert (w1[~mask] == 0).all() and not torch.equal(w1[mask], w0[mask])  # trained, only on the mask
    assert torch.equal(net.adjacency()[:, :100, 100:].bool(), mask[:, 0].transpose(-1, -2))


def test_connection_count_can_be_given_exactly():
    exp = experiment.Experiment(n_conn=3)
    assert exp.p == 3 / 100**2 and model.n_connections(exp.p, 100) == 3
    small = experiment.Experiment.from_dict({"n_conn": 7, "model": {"n_hidden": 10}})
    assert small.p == 0.07 and model.ModularRNN(small.p, cfg=small.model).n_conn.tolist() == [7]
    assert experiment.experiment_hash(experiment.Experiment()) == experiment.experiment_hash(
        experiment.Experiment.from_dict(experiment.Experiment().to_dict()))
    assert "n_conn" not in experiment.Experiment().to_dict() and "cell" not in experiment.Experiment().to_dict()["model"]
    with pytest.raises(ConfigError, match=r"n_conn must be an integer in \[0, 100\]"):
        experiment.Experiment.from_dict({"n_conn": 101, "model": {"n_hidden": 10}})


@pytest.mark.parametrize("n_hidden", [10, 25])
def test_any_module_size_runs_through_the_pipeline(n_hidden):
    tiny = {"data": {"n_train": 400, "n_test": 200, "val_fraction": 0.0},
            "model": {"n_hidden": n_hidden, "cell": "gru" if n_hidden == 10 else "rnn"},
            "train": {"epochs": 1, "bottleneck_epochs": 1},
            "metrics": {"bottleneck_epochs": 1, "n_pairs": 200, "cka_repeats": 1}}
    exps = [experiment.Experiment.from_dict({**tiny, "n_conn": k}) for k in (1, n_hidden**2)]
    table = sweep.measure(exps)
    assert set(table["n_conn"]) == {1, n_hidden**2} and table["value"].notna().all()
    assert set(table["metric"]) == {"bottleneck", "weight_mask", "correlation", "cka_distance"}
    q = table.groupby("n_conn")["Q"].first()
    assert q.loc[n_hidden**2] == pytest.approx(0.0, abs=1e-9) and q.loc[1] > 0.49


@pytest.mark.parametrize("fields, named", [
    ({"cell": "transformer"}, "cell must be one of"),
    ({"connections": "random"}, "connections must be one of"),
    ({"n_hidden": 1}, r"n_hidden must be an integer in \[2, 1000\]"),
    ({"n_hidden": 1001}, r"n_hidden must be an integer in \[2, 1000\]"),
    ({"leak": 0.0}, "leak must be"),
    ({"cell": "lstm", "coupling": "authors"}, "coupling must be 'eq3' with the lstm cell"),
])
def test_bad_model_settings_are_refused_in_one_line(fields, named):
    with pytest.raises(ConfigError, match=named) as err:
        ModelConfig(**fields)
    assert "\n" not in str(err.value)
