"""The experiment tree: JSON round trips, dotted overrides that reach what is trained, every bad value refused."""

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from modlib import config, experiment, metrics, sweep
from modlib.config import ConfigError
from modlib.experiment import Experiment


def test_every_profile_round_trips_through_json():
    for name, profile in sweep.PROFILES.items():
        for exp in [profile.base, *sweep.grid(profile)[:3]]:
            text = json.dumps(exp.to_dict())
            back = Experiment.from_dict(json.loads(text))
            assert back == exp and back.to_dict() == exp.to_dict() == json.loads(text), name
            assert experiment.experiment_hash(back) == experiment.experiment_hash(exp)
        assert isinstance(Experiment.from_json(profile.base.to_json()).train.deepr.betas, tuple)
    assert sweep.PROFILES["paper"].base.data.val_fraction == 0  # the paper profile selects nothing
    assert len(sweep.grid(sweep.PROFILES["paper"])) == 100


def test_dotted_overrides_change_exactly_their_field():
    base = Experiment()
    changed = experiment.override(base, {"model.coupling": "authors", "train.deepr.lr_dense": "0.001",
                                         "data.n_train": "none", "train.deepr.betas": "0.8,0.9", "p": "0.01",
                                         "metrics.q": 0.1})
    assert changed.model.coupling == "authors" and changed.train.deepr.lr_dense == 0.001
    assert changed.train.deepr.betas == (0.8, 0.9) and changed.p == 0.01 and changed.metrics.q == 0.1
    assert changed.train.deepr.lr_sparsest == base.train.deepr.lr_sparsest  # the rest untouched
    assert experiment.shape_key(experiment.override(base, {"p": 1.0, "seed": 3})) == experiment.shape_key(base)
    assert experiment.shape_key(changed) != experiment.shape_key(base)
    assert experiment.get(changed, "train.deepr.lr_dense") == 0.001
    keys = experiment.field_names()
    assert len(keys) == len(set(keys)) and {"p", "seed", "model.coupling", "train.deepr.lr_dense"} <= set(keys)


def test_overrides_reach_the_model_the_training_and_the_metrics(monkeypatch):
    """Every part of the tree reaches the call that uses it (recorded, nothing trained)."""
    from modlib import model, train

    seen = {}

    class Stop(Exception):
        pass

    def fake_train(net, train_data, test_data, cfg, **kw):
        seen.setdefault("train", []).append((net.cfg, cfg, len(train_data), len(test_data), net.p.tolist(),
                                             list(net.seeds)))
        return train.TrainResult(accuracy=[0.5] * net.n_networks, epochs=[1] * net.n_networks,
                                 rewired=[0] * net.n_networks)

    def fake_metrics(std, bott, tr, te, cfg, **kw):
        seen["metrics"] = cfg
        raise Stop

    monkeypatch.setattr(train, "train", fake_train)
    monkeypatch.setattr(metrics, "compute_all", fake_metrics)
    exps = sweep.experiments(p=[1e-3, 0.5], seeds=[4], **{
        "data.n_train": 300, "data.n_test": 200, "data.val_fraction": 0.0, "model.coupling": "authors",
        "model.input_scale": 0.7, "train.bottleneck_epochs": 3, "train.deepr.lr_dense": 0.002,
        "metrics.q": 0.2, "metrics.bottleneck_units": 4})
    with pytest.raises(Stop):
        sweep.measure(exps)
    (std_cfg, std_train, n_tr, n_te, p, seeds), (bott_cfg, bott_train, *_) = seen["train"]
    assert (n_tr, n_te, p, seeds) == (300, 200, [1e-3, 0.5], [4, 4])
    assert std_cfg.coupling == bott_cfg.coupling == "authors" and std_cfg.input_scale == 0.7
    assert std_cfg.bottleneck == 0 and bott_cfg.bottleneck == 4
    assert std_train.epochs == 5 and bott_train.epochs == 3 and std_train.deepr.lr_dense == 0.002
    assert seen["metrics"].q == 0.2


def test_a_coupling_override_changes_what_is_trained():
    tiny = {"data.n_train": 300, "data.n_test": 200, "data.val_fraction": 0.0, "train.epochs": 1,
            "train.bottleneck_epochs": 1, "metrics.bottleneck_epochs": 1, "metrics.n_pairs": 200,
            "metrics.cka_repeats": 1}
    eq3 = sweep.measure(sweep.experiments(p=[1.0], **tiny))
    authors = sweep.measure(sweep.experiments(p=[1.0], **{**tiny, "model.coupling": "authors"}))
    assert set(eq3["coupling"]) == {"eq3"} and set(authors["coupling"]) == {"authors"}
    assert not np.allclose(eq3["value"], authors["value"])
    assert eq3["experiment"].iloc[0] != authors["experiment"].iloc[0]
    assert eq3["epochs_trained"].dtype == np.int64 and eq3["rewired"].dtype == np.int64


@pytest.mark.parametrize("make, named", [
    (lambda: config.TrainConfig(lr="0.5"), "lr must be a number"),
    (lambda: config.TrainConfig(rho=1.0), "rho"),
    (lambda: config.TrainConfig(rho=-0.1), "rho"),
    (lambda: config.TrainConfig(eps=0.0), "eps"),
    (lambda: config.TrainConfig(lr=math.inf), "lr"),
    (lambda: config.TrainConfig(epochs=True), "epochs"),
    (lambda: config.TrainConfig(epochs=2.0), "epochs"),
    (lambda: config.TrainConfig(lr_decay=np.nan), "lr_decay"),
    (lambda: config.DeepRConfig(lr_dense=math.inf), "lr_dense"),
    (lambda: config.DeepRConfig(betas=(0.9,)), "betas"),
    (lambda: config.DeepRConfig(betas=(0.9, True)), "betas"),
    (lambda: config.ModelConfig(init_range=math.inf), "init_range"),
    (lambda: config.ModelConfig(n_hidden="100"), "n_hidden"),
    (lambda: config.ModelConfig(coupling="both"), "coupling"),
    (lambda: config.DataConfig(val_fraction=0.7), "val_fraction"),
    (lambda: config.DataConfig(n_train=0), "n_train"),
    (lambda: metrics.MetricsConfig(q=0.0), "q"),
    (lambda: metrics.MetricsConfig(mask_lr=True), "mask_lr"),
    (lambda: Experiment(p=0.5e-4), "p must be in"),
    (lambda: Experiment(p="0.1"), "p must be a number"),
    (lambda: Experiment(seed=-1), "seed"),
    (lambda: Experiment(model=config.ModelConfig(bottleneck=5)), "model.bottleneck"),
    (lambda: Experiment(train=config.TrainConfig(max_epochs=15), data=config.DataConfig(val_fraction=0)),
     "data.val_fraction"),
    (lambda: Experiment.from_dict({"train": {"deepr": {"eps": 0}}}), "train.deepr.eps"),
    (lambda: Experiment.from_dict({"model": {"cells": "gru"}}), "model.cells"),
    (lambda: experiment.override(Experiment(), {"train.rho": "1"}), "train.rho"),
    (lambda: experiment.override(Experiment(), {"train.epochs": "2.5"}), "train.epochs must be an integer"),
    (lambda: experiment.override(Experiment(), {"lr_dense": "1"}), "train.deepr.lr_dense"),
])
def test_invalid_values_are_refused_with_their_name(make, named):
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        make()


def test_numpy_scalars_of_valid_values_are_accepted_as_plain_numbers():
    cfg = config.TrainConfig(lr=np.float32(0.1), epochs=np.int64(3), rho=np.float64(0.95))
    assert cfg.lr == 0.1 and type(cfg.lr) is float and cfg.epochs == 3 and type(cfg.epochs) is int
    exp = Experiment(p=np.float32(0.01), seed=np.int64(2), train=cfg)
    assert json.loads(exp.to_json())["train"]["epochs"] == 3 and exp.p == 0.01
    assert config.DeepRConfig(betas=np.array([0.9, 0.99])).betas == (0.9, 0.99)


def test_help_lists_every_field_with_its_default():
    out = subprocess.run([sys.executable, "-m", "modlib", "sweep", "--help"], capture_output=True, text=True,
                         check=True).stdout
    for f in experiment.fields():
        assert f"{f.key} = {f.default!r}" in out, f.key
    assert "(paper: 0.01)" in out and "--grid" in out and "--executor" in out
