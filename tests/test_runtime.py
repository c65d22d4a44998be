"""modlib.runtime: the allocator setting is applied once, can be switched off, and changes no result."""

import os
import subprocess
import sys

import pytest

from modlib import runtime

CODE = "from modlib import runtime; print(runtime.keep_freed_memory(), runtime.keep_freed_memory())"


def _run(env_value):
    env = dict(os.environ)
    env.pop("MODLIB_KEEP_FREED_MEMORY", None)
    if env_value is not None:
        env["MODLIB_KEEP_FREED_MEMORY"] = env_value
    out = subprocess.run([sys.executable, "-c", CODE], env=env, capture_output=True, text=True, check=True)
    return out.stdout.split()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt exists on Linux only")
def test_applied_once_by_default_on_linux():
    assert _run(None) == ["True", "True"]


def test_switched_off_by_environment():
    assert _run("0") == ["False", "False"]


def test_training_is_the_same_with_and_without(tmp_path):
    """Allocation strategy must not change a single bit of training."""
    code = (
        "import torch; from modlib import config, data, model, train;"
        "tr = data.paired_mnist('train', n=256); te = data.paired_mnist('test', n=64);"
        "net = model.ModularRNN([1e-4, 1.0], [0, 1]);"
        "train.train(net, tr, te, config.TrainConfig(epochs=1, batch_size=64), progress=False);"
        f"torch.save(net.state_dict(), r'{tmp_path}/' + __import__('os').environ['MODLIB_KEEP_FREED_MEMORY'] + '.pt')"
    )
    for value in ("0", "1"):
        env = dict(os.environ, MODLIB_KEEP_FREED_MEMORY=value)
        subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True)
    import torch

    a, b = torch.load(tmp_path / "0.pt"), torch.load(tmp_path / "1.pt")
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
