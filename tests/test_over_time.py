"""Specialization over time: the correlation metric and the bottleneck probe on the states of every
step, in the same long table with a ``step`` column (the paper's metrics are step = T)."""

import dataclasses

import pytest
import torch

from modlib import config, metrics, model, results, train


@pytest.fixture(scope="module")
def trained(small_data_module):
    train_data, test_data = small_data_module
    nets = {}
    for arch, bottleneck in (("standard", 0), ("bottleneck", 5)):
        net = model.ModularRNN([1e-4, 1.0], seeds=[0, 1], cfg=config.ModelConfig(bottleneck=bottleneck))
        train.train(net, train_data, test_data, config.TrainConfig(epochs=1), progress=False)
        nets[arch] = net
    return nets, train_data, test_data


@pytest.fixture(scope="module")
def small_data_module():
    from modlib import data

    return data.paired_mnist("train", n=1500, seed=0), data.paired_mnist("test", n=400, seed=0)


def test_states_of_every_step_end_in_h_T(trained):
    nets, _, test_data = trained
    x = test_data.inputs(slice(0, 50)).transpose(0, 1)
    steps = nets["standard"].states(x)
    assert steps.shape == (5, 2, 2, 50, 100)
    assert torch.equal(steps[-1], nets["standard"].hidden_states(x))
    assert not torch.allclose(steps[0], steps[-1])
    with pytest.raises(ValueError, match=r"step must be an integer in \[1, 5\]"):
        metrics.final_states(nets["standard"], test_data, step=6)


def test_time_resolved_rows_add_earlier_steps_and_keep_the_last(trained):
    nets, train_data, test_data = trained
    cfg = metrics.MetricsConfig(bottleneck_epochs=1, n_pairs=300, cka_repeats=1, mask_epochs=1)
    plain = metrics.compute_all(nets["standard"], nets["bottleneck"], train_data, test_data, cfg)
    timed = metrics.compute_all(nets["standard"], nets["bottleneck"], train_data, test_data,
                                dataclasses.replace(cfg, time_resolved=True))
    assert set(plain["step"]) == {5}
    steps = timed.groupby("metric")["step"].agg(lambda s: sorted(set(s)))
    assert steps["correlation"] == steps["bottleneck"] == [1, 2, 3, 4, 5]
    assert steps["weight_mask"] == steps["cka_distance"] == [5]
    last = timed[timed["step"] == 5].reset_index(drop=True)
    assert last.drop(columns="value").equals(plain.drop(columns="value"))
    assert (last["value"] - plain["value"]).abs().max() < 1e-9  # step T is the paper's metric
    spec = results.specialization(timed, over_time=True)
    summ = results.over_time(spec)
    assert set(summ["step"]) == {1, 2, 3, 4, 5} and len(summ) == 2 * (5 + 5 + 1 + 1)  # 2 values of p
    assert len(results.specialization(timed)) == len(results.specialization(plain))
