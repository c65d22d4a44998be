"""modlib.runtime: training applies the allocator setting, the environment can switch it off, and it
changes no result."""

import os
import platform
import subprocess
import sys

import pytest
import torch

GLIBC = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"

TRAIN = (
    "import sys, torch; from modlib import config, data, model, runtime, train;"
    "before = runtime.in_force();"
    "tr = data.paired_mnist('train', n=256); te = data.paired_mnist('test', n=64);"
    "net = model.ModularRNN([1e-4, 1.0], [0, 1]);"
    "train.train(net, tr, te, config.TrainConfig(epochs=1, batch_size=64), progress=False);"
    "torch.save(net.state_dict(), sys.argv[1]);"
    "print(before, runtime.in_force())"
)


def _train(tmp_path, env_value):
    env = dict(os.environ)
    env.pop("MODLIB_KEEP_FREED_MEMORY", None)
    if env_value is not None:
        env["MODLIB_KEEP_FREED_MEMORY"] = env_value
    path = tmp_path / f"{env_value}.pt"
    out = subprocess.run([sys.executable, "-c", TRAIN, str(path)], env=env, capture_output=True, text=True,
                         check=True)
    return out.stdout.split(), torch.load(path)


@pytest.mark.skipif(not GLIBC, reason="the setting exists for glibc's malloc only")
def test_training_applies_the_setting_unless_switched_off_and_results_do_not_change(tmp_path):
    applied, with_setting = _train(tmp_path, None)
    assert applied == ["False", "True"]  # not at import; train() applied it
    for off in ("0", "off"):
        state, without = _train(tmp_path, off)
        assert state == ["False", "False"]
        assert with_setting.keys() == without.keys()
        assert all(torch.equal(with_setting[k], without[k]) for k in with_setting)  # bit for bit


def test_switched_off_anywhere_by_the_environment():
    code = "from modlib import runtime; print(runtime.keep_freed_memory(), runtime.in_force())"
    env = dict(os.environ, MODLIB_KEEP_FREED_MEMORY="false")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
