import dataclasses

import pytest
import torch

from modlib import config, deepr, model, optim, train


def test_adadelta_matches_torch():
    gen = torch.Generator().manual_seed(0)
    p0 = torch.randn(5, 4, generator=gen)
    ours, ref = p0.clone(), torch.nn.Parameter(p0.clone())
    sq, acc = torch.zeros_like(p0), torch.zeros_like(p0)
    opt = torch.optim.Adadelta([ref], lr=0.5, rho=0.9)
    for _ in range(5):
        g = torch.randn(5, 4, generator=gen)
        ref.grad = g.clone()
        opt.step()
        optim.adadelta_([ours], [g], [sq], [acc], torch.tensor(0.5), 0.9, 1e-6)
    torch.testing.assert_close(ours, ref.detach())


def test_training_learns_and_is_deterministic(small_data):
    train_data, test_data = small_data
    cfg = config.TrainConfig(epochs=2)
    runs = []
    for _ in range(2):
        net = model.ModularRNN([1e-4, 1.0], seeds=[0, 1])
        log = deepr.ConnectionLog(net, every=10)
        runs.append((train.train(net, train_data, test_data, cfg, progress=False, on_step=log), net))
    (res, net), (res2, net2) = runs
    steps = 2 * -(-len(train_data) // cfg.batch_size)
    assert log.times.tolist() == list(range(0, steps + 1, 10))
    assert log.active.shape == (len(log.times), 2, 2, 100, 100)
    assert (log.active.sum(dim=(-1, -2)) == net.n_conn.view(1, 2, 1)).all()  # constant count
    assert [sum(r) for r in res.rewired_per_epoch] == res.rewired
    assert len(res.history[0]) == 2 and res.epochs == [2, 2]
    assert min(res.accuracy) > 0.3  # chance is 0.1; 3000 pairs, 2 epochs
    assert res.accuracy == res2.accuracy
    assert torch.equal(net.theta, net2.theta) and torch.equal(net.w_ih, net2.w_ih)
    assert torch.equal(train.predict(net, test_data), train.predict(net2, test_data))


def test_longer_schedule_stops_networks_that_reach_the_target(small_data):
    train_data, test_data = small_data
    cfg = config.TrainConfig(epochs=1, max_epochs=3, target_accuracy=0.35)
    net = model.ModularRNN([1e-4, 1.0], seeds=[0, 1])
    res = train.train(net, train_data, test_data, cfg, progress=False)
    for acc, epochs, hist in zip(res.accuracy, res.epochs, res.history):
        assert len(hist) == epochs and 1 <= epochs <= 3
        assert acc >= 0.35 or epochs == 3
        assert all(a < 0.35 for a in hist[:-1])  # it stopped as soon as it reached the target


def test_compiled_updates_give_the_same_training(small_data):
    train_data, test_data = small_data
    sub = dataclasses.replace(train_data, pairs=train_data.pairs[:512], digits=train_data.digits[:512],
                              target=train_data.target[:512])
    nets = [model.ModularRNN([1e-4, 0.1], seeds=[3, 4]) for _ in range(2)]
    for net, compile in zip(nets, (False, True)):
        train.train(net, sub, test_data, config.TrainConfig(epochs=1), progress=False, compile=compile)
    for (name, a), b in zip(nets[0].named_parameters(), nets[1].parameters()):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4, msg=name)


@pytest.mark.parametrize("field, value", [("epochs", 0), ("batch_size", -1), ("lr", 0.0), ("lr_decay", 1.5),
                                          ("max_epochs", 2), ("epochs", 2.5)])
def test_bad_training_settings_are_refused(field, value):
    kwargs = {field: value}
    if field == "max_epochs":
        kwargs["epochs"] = 5
    with pytest.raises((ValueError, TypeError), match=field):
        config.TrainConfig(**kwargs)


def test_cuda_request_without_cuda_is_refused(small_data):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ValueError, match="cuda"):
        train.train(model.ModularRNN(0.1), *small_data, progress=False, device="cuda")
