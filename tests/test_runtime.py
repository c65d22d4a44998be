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


# --------------------------------------------------------------------------------------------------
# train.matmul: the precision of the matrix products

BF16 = torch.ops.mkldnn._is_mkldnn_bf16_supported()


def _bf16(x):
    return x.bfloat16().float()


def test_bf16_products_are_those_of_the_rounded_inputs_and_the_setting_comes_back():
    """Known answer: under "bf16" a float32 product equals the float32 product of the inputs rounded to
    bfloat16 (8 bits of mantissa), which is far from the float32 product; "float32" is float32 again,
    and the block leaves the setting as it found it."""
    from modlib import runtime

    if not BF16:  # this CPU has no bfloat16 instructions: refused, in one line naming the setting
        with pytest.raises(ValueError, match="train.matmul = 'bf16' needs a CPU with bfloat16"):
            with runtime.matmul_precision("bf16", "cpu"):
                pass
        return
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(8, 64, 300, generator=gen), torch.randn(8, 300, 32, generator=gen)
    exact = torch.bmm(a.double(), b.double())
    backends = (torch.backends.mkldnn.matmul, torch.backends.cuda.matmul)
    before = [backend.fp32_precision for backend in backends]
    with runtime.matmul_precision("bf16", "cpu"):
        assert torch.get_float32_matmul_precision() == "medium"  # torch's own getter still answers
        low = torch.bmm(a, b)
        with runtime.matmul_precision("float32", "cpu"):
            again = torch.bmm(a, b)
        low_einsum = torch.einsum("eij,ejk->eik", a, b)
    assert [backend.fp32_precision for backend in backends] == before
    rounded = torch.bmm(_bf16(a).double(), _bf16(b).double())
    assert low.dtype == torch.float32
    assert (low.double() - rounded).abs().max() < 1e-3  # float32 sums of the rounded products
    assert (low.double() - exact).abs().max() > 0.05  # the rounding of the inputs shows
    assert torch.equal(low_einsum, low) or (low_einsum - low).abs().max() < 1e-3
    assert (again.double() - exact).abs().max() < 1e-3 and torch.equal(again, torch.bmm(a, b))


@pytest.mark.parametrize("matmul, device, named", [
    ("fp16", "cpu", "train.matmul must be one of float32, bf16, tf32"),
    ("tf32", "cpu", "train.matmul = 'tf32' runs on NVIDIA GPUs"),
])
def test_a_precision_the_device_cannot_run_is_refused_in_one_line(matmul, device, named):
    from modlib import config, data, model, runtime, train

    with pytest.raises(ValueError, match=named.replace(".", r"\.").replace("(", r"\(")):
        runtime.check_matmul(matmul, device)
    if matmul in runtime.MATMUL:  # a valid setting for another device: train() refuses it too
        net = model.ModularRNN([1.0], [0])
        tr = data.paired_mnist("train", n=64)
        with pytest.raises(ValueError, match="train.matmul"):  # before any work: the network is untouched
            train.train(net, tr, tr, config.TrainConfig(epochs=1, matmul=matmul), progress=False)
        assert torch.equal(net.w_ih, model.ModularRNN([1.0], [0]).w_ih)


def test_tf32_is_refused_in_one_line_where_torch_sees_no_gpu_of_its_kind():
    from modlib import runtime

    if torch.cuda.is_available() and torch.cuda.get_device_capability(0) >= (8, 0):
        runtime.check_matmul("tf32", "cuda")  # an Ampere or later GPU runs it
        return
    with pytest.raises(ValueError, match="train.matmul = 'tf32'"):
        runtime.check_matmul("tf32", "cuda")


def test_the_setting_names_match_the_config():
    from modlib import config, runtime

    for m in runtime.MATMUL:
        assert config.TrainConfig(matmul=m).matmul == m
    with pytest.raises(config.ConfigError, match="matmul must be one of"):
        config.TrainConfig(matmul="float16")


@pytest.mark.skipif(not BF16, reason="this CPU has no bfloat16 instructions (the refusal is tested above)")
def test_bf16_training_is_its_own_computation_and_the_statistics_stay_float32():
    """Training under "bf16" gives other parameters than "float32" (and is recorded as another
    experiment); the correlation and CKA statistics of given states are the same numbers under it
    (they are float64 products, which the setting leaves alone)."""
    from modlib import config, data, experiment, metrics, model, runtime, train

    tr, te = data.paired_mnist("train", n=512), data.paired_mnist("test", n=256)
    nets = {}
    for m in ("float32", "bf16"):
        nets[m] = model.ModularRNN([1e-3, 1.0], [0, 1])
        train.train(nets[m], tr, te, config.TrainConfig(epochs=1, batch_size=64, matmul=m), progress=False)
    diff = (nets["float32"].w_ih - nets["bf16"].w_ih).abs().max()
    assert 0 < diff < 0.05
    base = experiment.Experiment()
    low = experiment.override(base, {"train.matmul": "bf16"})
    assert experiment.experiment_hash(low) != experiment.experiment_hash(base)
    assert "matmul" not in str(base.to_dict())  # the default leaves every stored hash as it was
    cfg = metrics.MetricsConfig(n_pairs=256, cka_repeats=1)
    states = metrics.final_states(nets["bf16"], te)
    plain = metrics.correlation_metric(None, te, cfg, states), metrics.cka_distance_metric(None, te, cfg, states)
    with runtime.matmul_precision("bf16", "cpu"):
        low_ctx = metrics.correlation_metric(None, te, cfg, states), metrics.cka_distance_metric(None, te, cfg, states)
    assert torch.equal(plain[0], low_ctx[0]) and torch.equal(plain[1], low_ctx[1])
