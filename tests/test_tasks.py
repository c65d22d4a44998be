"""The task families (the book: "Beyond the paper"): bandwidth b, input covariance c, Fashion-MNIST; b = 1, c = 0 on
MNIST is the paper's task, pair for pair."""

import gzip
import math
import struct

import numpy as np
import pytest
import torch

from modlib import data, sweep
from modlib import experiment as ex
from modlib.config import ConfigError, TaskConfig

D0, D1 = torch.meshgrid(torch.arange(10), torch.arange(10), indexing="ij")  # all 100 ordered pairs


def bandwidth(b: int) -> TaskConfig:
    return TaskConfig(name="bandwidth", bits=b)


@pytest.mark.parametrize("task", [None, TaskConfig(), bandwidth(1)])
def test_one_bit_is_the_papers_target_and_exclusion_on_every_pair(task):
    assert torch.equal(data.task_target(D0, D1, task), data.parity_target(D0, D1))
    assert torch.equal(data.keep_pair(D0, D1, task), ((D1 - D0) % 10 > 1))
    assert torch.equal(data.keep_pair(D0, D1, task), data.keep_pair(D0, D1))  # today's signature
    assert data.task_target(torch.tensor(3), torch.tensor(5), task) == 3
    assert data.task_target(torch.tensor(3), torch.tensor(6), task) == 6
    assert not data.keep_pair(torch.tensor([2, 3, 9]), torch.tensor([2, 4, 0]), task).any()


def _answers(task, rows=D0, cols=D1):
    """The communication matrix: 1 where D0 is the target, 0 where D1 is, -1 where the pair is excluded."""
    d0, d1 = (rows, cols) if rows is D0 else (cols, rows)
    a = (data.task_target(d0, d1, task) == d0).long()
    return torch.where(data.keep_pair(d0, d1, task), a, -1)


@pytest.mark.parametrize("b", [1, 2, 3])
def test_the_decision_needs_exactly_b_bits_of_the_other_digit(b):
    """The answer (D0 or D1?) depends on the other digit only through r_b = digit mod 2^b, and the
    2^b values of r_b call for pairwise different answers on some kept pair with the same own digit:
    one module must learn exactly b bits of the other's digit, in either direction."""
    task, m = bandwidth(b), 1 << b
    full = (((D0 % m) + (D1 % m)) % m < m // 2).long()  # which digit answers, before the exclusion
    off = D0 != D1  # (on the diagonal both digits are the target)
    assert torch.equal(full[off], (data.task_target(D0, D1, task) == D0).long()[off])
    assert len({tuple(full[:, j].tolist()) for j in range(10)}) == m  # 2^b distinct columns
    for own, other in ((D0, D1), (D1, D0)):  # rows: the module's own digit; columns: the other's
        answers = _answers(task, own, other)
        columns = torch.full((10, m), -1)  # rows: own digit; columns: r_b(other digit)
        for i in range(10):
            for j in range(10):
                if answers[i, j] >= 0:
                    r = j % m
                    assert columns[i, r] in (-1, answers[i, j])  # r_b of the other digit suffices
                    columns[i, r] = answers[i, j]
        assert len({tuple(columns[:, r].tolist()) for r in range(m)}) == m  # exactly 2^b distinct columns
        for r in range(m):
            for s in range(r + 1, m):  # and no two can share a message: some kept row tells them apart
                both = (columns[:, r] >= 0) & (columns[:, s] >= 0)
                assert (columns[both, r] != columns[both, s]).any(), (b, r, s)


@pytest.mark.parametrize("b", [1, 2, 3])
def test_both_answers_are_equally_frequent_over_the_kept_pairs(b):
    answers = _answers(bandwidth(b))
    assert (answers >= 0).sum() == 80  # D0 = D1 and (D1 - D0) mod 10 = 1 dropped
    assert (answers == 1).sum() == 40 and (answers == 0).sum() == 40


def test_zero_bits_answers_d0_and_keeps_the_one_bit_exclusion():
    task = bandwidth(0)
    assert torch.equal(data.task_target(D0, D1, task), D0)
    assert torch.equal(data.keep_pair(D0, D1, task), data.keep_pair(D0, D1))
    assert (_answers(task) == 1).sum() == 80  # balance is impossible: every kept pair answers D0


@pytest.mark.parametrize("b", [0, 1, 2, 3])
def test_the_covaried_pairs_are_kept_at_every_b(b):
    digits = torch.arange(10)
    assert data.keep_pair(digits, data.partner_class(digits), bandwidth(b)).all()


def test_covariance_one_pairs_every_digit_with_its_partner():
    full = data.paired("train", TaskConfig(covariance=1.0))
    assert len(full) == 60_000  # every drawn pair is kept
    assert torch.equal(full.digits[:, 1], (full.digits[:, 0] + 5) % 10)
    half = data.paired("test", TaskConfig(covariance=0.5))
    share = (half.digits[:, 1] == data.partner_class(half.digits[:, 0])).float().mean().item()
    assert 0.55 < share < 0.67  # 0.5 drawn from g(D0), and a tenth of the rest by chance
    assert data.keep_pair(half.digits[:, 0], half.digits[:, 1]).all()


def test_covariance_zero_is_the_papers_pairing_exactly():
    """The paper's recipe, written out here: a seeded permutation, then the exclusion."""
    images, labels = data.load_mnist("train")
    order = torch.randperm(60_000, generator=torch.Generator().manual_seed(3))
    keep = data.keep_pair(labels, labels[order])
    expected = torch.stack([torch.arange(60_000)[keep], order[keep]], dim=1)
    paper = data.paired_mnist("train", seed=3)
    for task in (None, TaskConfig(), TaskConfig(covariance=0.0), bandwidth(1)):
        got = data.paired("train", task, seed=3)
        assert torch.equal(got.pairs, expected) and torch.equal(got.pairs, paper.pairs)
        for name in ("images", "digits", "target"):
            assert torch.equal(getattr(got, name), getattr(paper, name)), name
    val = data.paired("validation", TaskConfig(), seed=1, val_fraction=0.1)
    assert torch.equal(val.pairs, data.paired_mnist("validation", seed=1, val_fraction=0.1).pairs)


def test_mutual_information_of_the_digits_grows_with_the_covariance():
    values = [data.mutual_information(TaskConfig(covariance=c)) for c in (0.0, 0.25, 0.5, 0.9, 1.0)]
    assert all(a < b for a, b in zip(values, values[1:])), values
    assert data.mutual_information(TaskConfig(), kept=False) < 0.05  # the pairing itself: independent
    assert values[0] == pytest.approx(math.log2(10 / 8), abs=0.02)  # the exclusion's dependence
    _, labels = data.load_mnist("train")
    freq = torch.bincount(labels).double() / len(labels)
    entropy = float(-(freq * torch.log2(freq)).sum())  # H(D1) = H(D0): D1 = g(D0) at c = 1
    assert values[-1] == pytest.approx(entropy, abs=1e-9) and values[-1] > 3.3
    assert data.digit_information(torch.tensor([[0, 5], [1, 6]] * 3)) == pytest.approx(1.0)


@pytest.mark.parametrize("task, accuracy", [
    (None, 0.75), (bandwidth(1), 0.75), (bandwidth(0), 1.0), (bandwidth(2), 0.825), (bandwidth(3), 0.8625),
    (TaskConfig(covariance=1.0), 1.0),
])
def test_no_communication_accuracy_of_the_family(task, accuracy):
    """The best modules without communication, replayed through the competitive decision on the kept
    pairs (each equally often at covariance 0)."""
    value, order = data.no_communication_strategy(task=task)
    assert value == pytest.approx(accuracy)
    if task is None or task.covariance == 0:
        confidence = torch.zeros(2, 10)
        for rank, (module, digit) in enumerate(order):
            confidence[module, digit] = rank
        answer = torch.where(confidence[0, D0] > confidence[1, D1], D0, D1)
        right = answer == data.task_target(D0, D1, task)
        assert right[data.keep_pair(D0, D1, task)].float().mean().item() == pytest.approx(accuracy)


@pytest.mark.parametrize("kwargs, message", [
    ({"name": "xor"}, "name must be one of 'parity', 'bandwidth', got 'xor'"),
    ({"name": "bandwidth", "bits": 4}, "bits must be an integer in [0, 3], got 4"),
    ({"name": "bandwidth", "bits": -1}, "bits must be an integer in [0, 3]"),
    ({"bits": 2}, "bits must be 1 with name 'parity'"),
    ({"bits": 0}, "bits must be 1 with name 'parity'"),
    ({"covariance": 1.5}, "covariance must be a finite number in [0, 1], got 1.5"),
    ({"covariance": -0.1}, "covariance must be a finite number in [0, 1]"),
    ({"covariance": "0.5"}, "covariance must be a number"),
    ({"dataset": "cifar10"}, "dataset must be one of 'mnist', 'fashion_mnist', got 'cifar10'"),
])
def test_bad_task_settings_are_refused_in_one_line(kwargs, message, monkeypatch):
    monkeypatch.setattr(data, "load_images", lambda *a, **k: pytest.fail("loaded data for a bad task"))
    with pytest.raises(ConfigError) as err:
        data.paired("train", TaskConfig(**kwargs))
    assert message in str(err.value) and "\n" not in str(err.value)
    key, value = next(iter(kwargs.items())) if len(kwargs) == 1 else ("bits", kwargs["bits"])
    with pytest.raises(ConfigError, match=rf"^task\.{key}"):
        ex.Experiment.from_dict({"task": kwargs})
    with pytest.raises(ConfigError, match="task must be a TaskConfig"):
        data.paired("train", "parity")


def test_the_task_is_a_part_of_the_experiment_left_out_at_the_papers():
    paper = ex.Experiment()
    assert "task" not in paper.to_dict() and ex.Experiment.from_dict(paper.to_dict()) == paper
    assert ex.experiment_hash(paper.replace(**{"task.covariance": "0", "task.dataset": "mnist"})) == \
        ex.experiment_hash(paper)
    two = paper.replace(**{"task.name": "bandwidth", "task.bits": "2"})
    assert two.task == bandwidth(2) and two.to_dict()["task"] == {"name": "bandwidth", "bits": 2}
    assert ex.Experiment.from_json(two.to_json()) == two and ex.experiment_hash(two) != ex.experiment_hash(paper)
    assert {"task.name", "task.bits", "task.covariance", "task.dataset"} <= set(ex.field_names())
    # networks of different tasks never train in one batch; p and seed still do
    assert ex.shape_key(two) != ex.shape_key(paper) == ex.shape_key(paper.replace(p=1.0, seed=4))
    assert ex.shape_key(two.replace(p=1.0, seed=4)) == ex.shape_key(two)
    fashion = paper.replace(**{"task.dataset": "fashion_mnist"})
    assert len(sweep.chunks([paper, two, fashion, paper.replace(seed=1)], 10)) == 3


def test_measure_builds_its_data_from_the_task(monkeypatch):
    seen = []

    class Stop(Exception):
        pass

    def fake_paired(split, task=None, **kw):
        seen.append((split, task))
        if len(seen) == 2:
            raise Stop
        return None

    monkeypatch.setattr(data, "paired", fake_paired)
    exps = sweep.experiments(p=[1e-3, 1.0], **{"task.name": "bandwidth", "task.bits": 3, "task.covariance": 0.5,
                                               "data.val_fraction": 0.0})
    with pytest.raises(Stop):
        sweep.measure(exps)
    assert seen == [("train", TaskConfig("bandwidth", 3, 0.5)), ("test", TaskConfig("bandwidth", 3, 0.5))]


# -------------------------------------------------------------------------------------------------
# Fashion-MNIST

FASHION = TaskConfig(dataset="fashion_mnist")
have_fashion = pytest.mark.skipif(
    not (data.FASHION_DEBIAN / "t10k-labels-idx1-ubyte.gz").exists()
    and not (data.default_root() / "FashionMNIST" / "raw" / "t10k-labels-idx1-ubyte").exists(),
    reason="Fashion-MNIST's files are absent (apt-get install dataset-fashion-mnist)")


@have_fashion
def test_fashion_mnist_files_counts_and_pairs():
    for split, n in (("train", 6000), ("test", 1000)):
        images, labels = data.load_images("fashion_mnist", split)
        assert images.shape == (10 * n, 784) and images.dtype == torch.uint8
        assert torch.bincount(labels).tolist() == [n] * 10  # its label histogram: balanced classes
        raw = data.default_root() / "FashionMNIST" / "raw"
        assert [data._sha256(raw / name) for name in data._FILES[split]] == list(data._FASHION_SHA256[split])
    pairs = data.paired("train", FASHION)
    assert 47_000 < len(pairs) < 49_000 and pairs.images.shape == (60_000, 784)
    assert abs(float(pairs.images.mean())) < 0.01 and abs(float(pairs.images.std()) - 1) < 0.01
    assert data.keep_pair(pairs.digits[:, 0], pairs.digits[:, 1]).all()
    assert torch.equal(pairs.target, data.parity_target(pairs.digits[:, 0], pairs.digits[:, 1]))
    assert pairs.task == FASHION and len(data.paired("test", FASHION)) > 7_500


def _idx(array: np.ndarray) -> bytes:
    return struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape) + \
        array.astype(np.uint8).tobytes()


def test_fashion_loader_on_tiny_idx_files(tmp_path, monkeypatch):
    """Tiny gzipped idx files in a stand-in for Debian's folder: written uncompressed into the data
    root, read by torchvision, refused by the checksum, accepted when the checks are the tiny set's."""
    rng = np.random.default_rng(0)
    source, root = tmp_path / "debian", tmp_path / "root"
    source.mkdir()
    arrays = {}
    for split, n in (("train", 20), ("test", 10)):
        images, labels = rng.integers(0, 256, (n, 28, 28)), np.arange(n) % 10
        arrays[split] = (images, labels)
        for name, array in zip(data._FILES[split], (images, labels)):
            (source / (name + ".gz")).write_bytes(gzip.compress(_idx(array)))
    monkeypatch.setattr(data, "FASHION_DEBIAN", source)
    with pytest.raises(ValueError, match="corrupt"):
        data.load_images("fashion_mnist", "train", root)  # written, then checked against the real sha256
    raw = root / "FashionMNIST" / "raw"
    for split in ("train", "test"):
        images, labels = data._read_torchvision("fashion_mnist", split, root)
        assert np.array_equal(images.numpy(), arrays[split][0].reshape(-1, 784))
        assert np.array_equal(labels.numpy(), arrays[split][1]) and labels.dtype == torch.int64
    tiny = {split: tuple(data._sha256(raw / name) for name in data._FILES[split]) for split in ("train", "test")}
    counts = {"train": (2,) * 10, "test": (1,) * 10}
    monkeypatch.setitem(data._SETS, "fashion_mnist", ("FashionMNIST", counts, tiny, 0.5, 0.25))
    images, labels = data.load_images("fashion_mnist", "test", root)
    assert np.array_equal(images.numpy(), arrays["test"][0].reshape(-1, 784))
    pairs = data.paired("train", FASHION, root=root)
    assert data.keep_pair(pairs.digits[:, 0], pairs.digits[:, 1]).all()
    assert torch.allclose(pairs.images, (torch.as_tensor(arrays["train"][0].reshape(-1, 784)).float() / 255 - 0.5) / 0.25)


def test_missing_fashion_files_say_how_to_get_them(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "FASHION_DEBIAN", tmp_path / "absent")
    with pytest.raises(FileNotFoundError) as err:
        data.load_images("fashion_mnist", "train", tmp_path)
    message = str(err.value)
    assert "apt-get install dataset-fashion-mnist" in message and str(tmp_path / "FashionMNIST" / "raw") in message
    assert "\n" not in message
    with pytest.raises(ConfigError, match="dataset must be one of 'mnist', 'fashion_mnist'"):
        data.load_images("kmnist", "train")
