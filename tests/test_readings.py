"""The readings of the authors' code (settings off by default): what each one changes, on cases
with known answers, and that at their defaults nothing changes (the experiment's identity included).
"""

import pytest
import torch

from modlib import data, deepr, experiment, model, optim, train
from modlib.config import ConfigError, DeepRConfig, ModelConfig, TrainConfig


def _first(d: data.PairedDigits, n: int) -> data.PairedDigits:
    return data.PairedDigits(d.images, d.pairs[:n], d.digits[:n], d.target[:n])


def test_adam_matches_torch():
    gen = torch.Generator().manual_seed(0)
    p0 = [torch.randn(5, 4, generator=gen), torch.randn(3, generator=gen)]
    ours, ref = [p.clone() for p in p0], [torch.nn.Parameter(p.clone()) for p in p0]
    state = [[torch.zeros_like(p) for p in p0] for _ in range(2)]
    step = torch.zeros(())
    opt = torch.optim.Adam(ref, lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
    for _ in range(6):
        grads = [torch.randn(p.shape, generator=gen) for p in p0]
        for r, g in zip(ref, grads):
            r.grad = g.clone()
        opt.step()
        optim.adam_(ours, grads, *state, step, torch.tensor(1e-3), 0.9, 0.999, 1e-8)
    for a, b in zip(ours, ref):
        torch.testing.assert_close(a, b.detach())
    assert step.item() == 6


def test_abs_max_decision_picks_the_module_with_the_largest_magnitude():
    r = torch.tensor([[[[1.0, 0.0, -0.5]], [[0.5, -3.0, 0.0]]]])  # (E=1, 2, B=1, C=3)
    out, mu = model.competitive_decision(r)
    assert mu.tolist() == [[0]] and torch.equal(out[0, 0], r[0, 0, 0])  # largest max r: module 0
    out, mu = model.competitive_decision(r, "abs_max")
    assert mu.tolist() == [[1]] and torch.equal(out[0, 0], r[0, 1, 0])  # largest |r|: module 1
    assert out[0, 0].argmax().item() == 0  # the answer is still the largest r of that module
    net = model.ModularRNN(1e-4, cfg=ModelConfig(decision="abs_max"))
    assert net.decide(r)[1].tolist() == [[1]]
    with pytest.raises(ValueError, match="rule"):
        model.competitive_decision(r, "min")


def test_frozen_readout_gets_no_gradient_and_ends_where_it_began(small_data):
    train_data, test_data = small_data
    net = model.ModularRNN(1e-4, seeds=3)
    before = {name: p.detach().clone() for name, p in net.named_parameters()}
    grads = []
    cfg = TrainConfig(epochs=1, freeze_readout=True)
    train.train(net, _first(train_data, 512), test_data, cfg, progress=False,
                on_step=lambda *_: grads.append((net.w_hr.grad, net.b_hr.grad, net.w_hh.grad)))
    assert all(gr is None and gb is None for gr, gb, _ in grads), "the frozen readout got a gradient"
    assert all(gh is not None for *_, gh in grads)
    assert torch.equal(net.w_hr, before["w_hr"]) and torch.equal(net.b_hr, before["b_hr"])
    assert not torch.equal(net.w_hh, before["w_hh"]) and not torch.equal(net.w_ih, before["w_ih"])
    assert net.w_hr.requires_grad and net.b_hr.requires_grad  # frozen for that training only
    bottleneck = model.ModularRNN(1e-4, cfg=ModelConfig(bottleneck=5))
    assert [p.shape[-2:] for p in bottleneck.readout_parameters()] == [(5, 100), (2, 5), (10, 5), (2, 10)]


def _one_step(order: str, grad_value: float) -> tuple[torch.Tensor, torch.Tensor]:
    """One Deep-R step of a 2-unit network whose every connection is active, at theta = lr:
    l1 = 1.5 takes each to -0.5 lr, and a negative gradient's Adam step adds about + lr."""
    cfg = DeepRConfig(l1=1.5, noise=0.0, order=order)
    net = model.ModularRNN(1.0, cfg=ModelConfig(n_hidden=2), deepr=cfg)
    opt = deepr.DeepR(net, cfg)
    lr = opt.lr.item()
    with torch.no_grad():
        net.theta.fill_(lr)
    net.theta.grad = torch.full_like(net.theta, grad_value)
    opt.step()
    return net.theta.detach() / lr, opt.rewired


def test_deepr_order_decides_whether_a_gradient_can_save_a_connection():
    theta, rewired = _one_step("adam_first", -1.0)  # Adam (+1 lr) and l1 (-1.5 lr) together: 0.5 lr
    torch.testing.assert_close(theta, torch.full_like(theta, 0.5), rtol=1e-5, atol=1e-5)
    assert rewired.sum() == 0
    theta, rewired = _one_step("noise_first", -1.0)  # l1 first: every theta at -0.5 lr, no Adam step:
    assert rewired.sum() == 8  # all 2 x 4 die; at p = 1 the only dormant ones to switch on are they,
    assert 0 < theta.min() and theta.max() < 1e-6  # so they start again at rewire_theta (1e-12)
    # without a gradient both orders agree
    torch.testing.assert_close(_one_step("adam_first", 0.0)[0], _one_step("noise_first", 0.0)[0])


@pytest.mark.parametrize("reset", [True, False])
def test_adam_state_on_rewiring_is_reset_or_kept(reset):
    cfg = DeepRConfig(noise=0.0, l1=0.0, reset_on_rewire=reset)
    net = model.ModularRNN(0.5, seeds=1, cfg=ModelConfig(n_hidden=10), deepr=cfg)  # 50 of 100 active
    opt = deepr.DeepR(net, cfg)
    before = net.active()
    with torch.no_grad():
        opt.exp_avg.fill_(7.0)
        opt.exp_avg_sq.fill_(5.0)
        opt.steps.fill_(3.0)
        net.theta[0, 0].view(-1)[before[0, 0].view(-1).nonzero()[0]] = 1e-30  # dies in this step
    net.theta.grad = torch.zeros_like(net.theta)
    net.theta.grad[0, 0] = 1.0  # pushes every active theta of direction 0 down by about lr
    opt.step()
    new = net.active() & ~before  # switched on by the rewiring
    assert new.sum().item() == opt.rewired.sum().item() >= 1
    if reset:
        assert (opt.exp_avg[new] == 0).all() and (opt.steps[new] == 0).all()
    else:  # the dormant entries kept the state they had: 7, 5 and 3 steps
        assert (opt.exp_avg[new] == 7.0).all() and (opt.exp_avg_sq[new] == 5.0).all()
        assert (opt.steps[new] == 3.0).all()


def test_initial_connections_with_replacement_are_fewer_distinct():
    cfg = DeepRConfig(init_with_replacement=True)
    dense = model.ModularRNN(1.0, seeds=0, deepr=cfg)
    distinct = dense.active().sum((-1, -2))[0].tolist()  # per direction, of 10,000 draws
    assert all(6_200 < k < 6_450 for k in distinct), distinct  # 1 - 1/e of them, about 6,321
    one = model.ModularRNN(1e-4, seeds=0, deepr=cfg)
    assert one.active().sum((-1, -2)).tolist() == [[1, 1]]
    plain = model.ModularRNN(1.0, seeds=0)
    assert plain.active().sum().item() == 20_000


def test_readings_at_their_defaults_change_nothing(small_data):
    """The default path is the old one: same experiment identity, same training, same weights."""
    exp = experiment.Experiment()
    d = exp.to_dict()
    assert "decision" not in d["model"] and "order" not in d["train"]["deepr"]
    assert "optimizer" not in d["train"] and "freeze_readout" not in d["train"]
    assert experiment.Experiment.from_dict(d) == exp
    explicit = exp.replace(**dict(experiment.ADDED_LATER))
    assert experiment.experiment_hash(explicit) == experiment.experiment_hash(exp)
    changed = exp.replace(**{"train.freeze_readout": True})
    assert changed.to_dict()["train"]["freeze_readout"] is True
    assert experiment.experiment_hash(changed) != experiment.experiment_hash(exp)
    for key in experiment.ADDED_LATER:  # each is a setting of the tree, reachable from the CLI
        assert key in experiment.field_names()
    train_data, test_data = small_data
    nets = []
    for cfg in (TrainConfig(epochs=1), TrainConfig(epochs=1, deepr=DeepRConfig(order="adam_first"),
                                                   optimizer="adadelta", freeze_readout=False)):
        net = model.ModularRNN([1e-4, 0.01], seeds=[0, 1])
        train.train(net, _first(train_data, 512), test_data, cfg, progress=False)
        nets.append(net)
    assert all(torch.equal(a, b) for a, b in zip(nets[0].parameters(), nets[1].parameters()))


@pytest.mark.parametrize("cls, field, value, named", [
    (ModelConfig, "decision", "abs", "decision must be one of"),
    (TrainConfig, "optimizer", "sgd", "optimizer must be one of"),
    (TrainConfig, "freeze_readout", 1, "freeze_readout must be true or false"),
    (TrainConfig, "adam_betas", (0.9, 1.0), "adam_betas must be two numbers"),
    (DeepRConfig, "order", "noise", "order must be one of"),
    (DeepRConfig, "reset_on_rewire", "no", "reset_on_rewire must be true or false"),
])
def test_bad_readings_are_refused(cls, field, value, named):
    with pytest.raises(ConfigError, match=named):
        cls(**{field: value})


def test_ablation_table_has_one_row_per_network_and_its_settings():
    from modlib import readings

    base = readings.BASE.replace(**{"data.n_train": 600, "data.n_test": 300, "train.epochs": 1})
    table = readings.ablation(seeds=[0, 1], couplings=["eq3"], names=["none", "all but batch 64"], base=base,
                              log=lambda *_: None)
    assert len(table) == 4 and table.groupby("reading").size().tolist() == [2, 2]
    assert set(table["seed"]) == {0, 1} and (table["n_conn"] == 1).all() and (table["input_scale"] == 1.0).all()
    assert table["accuracy"].between(0, 1).all() and table["val_accuracy"].between(0, 1).all()
    row = table[table["reading"] == "all but batch 64"].iloc[0]
    assert "train.freeze_readout=True" in row["settings"] and "batch_size" not in row["settings"]
    assert table["experiment"].nunique() == 4 and table["code"].nunique() == 1
    assert readings.overrides("all") == {k: v for part in readings.READINGS.values() for k, v in part.items()}
    with pytest.raises(ValueError, match="unknown reading"):
        readings.overrides("all but magic")


def test_committed_ablation_table_is_complete_and_clean():
    from modlib import readings, store

    path = store.ROOT / "results" / "sparse_end_ablation.csv"
    if not path.exists():
        pytest.skip("results/sparse_end_ablation.csv is not committed yet")
    import pandas as pd

    table = pd.read_csv(path)
    names = readings.reading_names(leave_one_out=table["reading"].str.startswith("all but").any())
    assert set(table["reading"]) == set(names) and set(table["coupling"]) == set(readings.COUPLINGS)
    assert table.groupby(["reading", "coupling"]).size().min() >= 5
    assert not table["commit"].str.endswith("-dirty").any() and table["code"].nunique() == 1
    wanted = {experiment.experiment_hash(e) for c in readings.COUPLINGS for n in names
              for e in readings.experiments(n, c, sorted(set(table["seed"])))}
    assert set(table["experiment"]) == wanted, "the table is not the current readings' ablation: rerun it"
