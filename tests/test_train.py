import dataclasses

import pytest
import torch

from modlib import config, data, deepr, model, optim, train


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


def test_test_pairs_read_once_give_the_same_network_and_final_accuracy(small_data):
    """A sweep reads the test pairs after the last epoch only: the training and the final accuracy
    are those of reading them after every epoch, and the history holds the final accuracy alone."""
    train_data, test_data = small_data
    cfg = config.TrainConfig(epochs=2)
    runs = []
    for every in (True, False):
        net = model.ModularRNN([1e-4, 0.1], seeds=[3, 4])
        runs.append((train.train(net, train_data, test_data, cfg, progress=False, test_every_epoch=every), net))
    (res, net), (once, net_once) = runs
    assert [len(h) for h in res.history] == [2, 2] and [len(h) for h in once.history] == [1, 1]
    assert once.accuracy == res.accuracy and once.history == [[a] for a in res.accuracy]
    assert once.epochs == res.epochs == [2, 2] and once.rewired_per_epoch == res.rewired_per_epoch
    for name, value in net.state_dict().items():
        assert torch.equal(value, net_once.state_dict()[name]), name


def test_longer_schedule_stops_on_validation_accuracy(small_data):
    """Stopping reads the validation pairs, never the test pairs: a validation set on which the
    network is known to be exactly right after epoch 1 stops it there, though its test accuracy is
    far below the target; one on which it is known to be always wrong keeps it training."""
    train_data, test_data = small_data
    sub = dataclasses.replace(train_data, pairs=train_data.pairs[:600], digits=train_data.digits[:600],
                              target=train_data.target[:600])
    reference = model.ModularRNN([1e-4], seeds=[5])
    train.train(reference, sub, test_data, config.TrainConfig(epochs=1), progress=False)
    after_one = train.predict(reference, test_data)[0]  # what the network answers after epoch 1
    right = dataclasses.replace(test_data, target=after_one)
    wrong = dataclasses.replace(test_data, target=(after_one + 1) % 10)
    cfg = config.TrainConfig(epochs=1, max_epochs=3, target_accuracy=0.99)
    for val, epochs in ((right, 1), (wrong, 3)):
        net = model.ModularRNN([1e-4], seeds=[5])
        res = train.train(net, sub, test_data, cfg, progress=False, val_data=val)
        assert res.epochs == [epochs], (res.epochs, res.val_history)
        assert len(res.val_history[0]) == epochs == len(res.history[0])
        assert res.history[0][0] < 0.99  # the test pairs alone would never have stopped it
    assert res.val_history[0] == [0.0, *res.val_history[0][1:]]
    with pytest.raises(ValueError, match="validation"):
        train.train(model.ModularRNN([1e-4]), sub, test_data, cfg, progress=False)


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


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (benchmarks/cuda_check.sh)")
def test_cuda_training_matches_cpu(small_data):
    """On a GPU: two networks trained on CUDA end where they end on the CPU (float kernels differ, so
    to within a few pairs), and everything the model holds stays on the device."""
    train_data, test_data = small_data
    cfg = config.TrainConfig(epochs=1)
    results = {}
    for device in ("cpu", "cuda"):
        net = model.ModularRNN([1e-4, 1.0], seeds=[0, 1])
        results[device] = train.train(net, train_data, test_data, cfg, progress=False, device=device)
        if device == "cuda":
            assert all(t.device.type == "cuda" for t in (net.theta, net.w_ih, net.w_hh, net.sign))
            assert (net.active().sum(dim=(-1, -2)).cpu() == net.n_conn.cpu().view(-1, 1)).all()
    for cpu, gpu in zip(results["cpu"].accuracy, results["cuda"].accuracy):
        assert abs(cpu - gpu) < 0.05, (results["cpu"].accuracy, results["cuda"].accuracy)
    assert min(results["cuda"].accuracy) > 0.3


def test_modules_without_connections_stay_below_the_no_communication_ceiling(small_data):
    """Networks whose connections are cut learn, but nothing flows between their modules (module 0's
    readout ignores image 1), and so they cannot beat the best accuracy of modules that never
    communicate."""
    train_data, test_data = small_data
    cut = model.ModularRNN([1.0, 1.0], seeds=[0, 1]).cut_connections()
    res = train.train(cut, train_data, test_data, config.TrainConfig(epochs=2), progress=False)
    assert not cut.active().any() and cut.theta.abs().max() == 0
    x = test_data.inputs(slice(0, 200)).transpose(0, 1)  # (2, B, 784)
    swapped = torch.stack([x[0], x[1].roll(1, dims=0)])  # other images for module 1
    with torch.no_grad():
        assert torch.equal(cut(x)[:, 0], cut(swapped)[:, 0])
        assert not torch.equal(cut(x)[:, 1], cut(swapped)[:, 1])
    ceiling = data.no_communication_accuracy(test_data.digits)
    assert all(0.25 < a <= ceiling for a in res.accuracy), (res.accuracy, ceiling)
