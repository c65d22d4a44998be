"""Every setting of the experiment in frozen dataclasses whose defaults are the paper's values.

Paper: Table 1 (appendix A.2) and sections 2.2-2.4; SPEC.md sections 1-5 settle what the paper
leaves open. Nothing else in modlib hard-codes a hyperparameter: pass a modified copy
(``dataclasses.replace``) to change one.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

N_HIDDEN = 100  # N, units per sub-network (paper: 100)


@dataclass(frozen=True)
class ModelConfig:
    """The two-module RNN of eq. (3)."""

    n_hidden: int = N_HIDDEN  # N (paper: 100)
    n_inputs: int = 784  # flattened 28x28 MNIST image
    n_classes: int = 10  # digits 0-9 (paper: 10)
    n_steps: int = 5  # T, the image is shown at every step (paper: 5)
    bottleneck: int = 0  # units of the bottleneck layer, 0 = standard network (paper: 5, fig. 1b)
    init_range: float = 0.1  # dense weights and biases ~ U(-0.1, 0.1) (paper: 0.1)
    input_scale: float = 0.3  # factor on the normalised image before W_ih (paper: 1; see the discussion)
    coupling: str = "eq3"  # "eq3": W_sparse h^m enters the pre-activation as eq. (3) writes it; "authors": it is added to h^n before W_hh, as in the authors' code

    def __post_init__(self):
        _check_int("n_hidden", self.n_hidden, 1)
        _check_int("n_inputs", self.n_inputs, 1)
        _check_int("n_classes", self.n_classes, 2)
        _check_int("n_steps", self.n_steps, 1)
        _check_int("bottleneck", self.bottleneck, 0)
        for name in ("init_range", "input_scale"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")
        if self.coupling not in ("eq3", "authors"):
            raise ValueError(f"coupling must be 'eq3' or 'authors', got {self.coupling!r}")


@dataclass(frozen=True)
class DeepRConfig:
    """Deep-R on the inter-module connections (Bellec et al. 2018), SPEC section 4."""

    lr_sparsest: float = 0.1  # Adam learning rate at p = 1/N^2 (paper: 0.1)
    lr_dense: float = 0.01  # Adam learning rate at p = 1 (paper: 0.01); geometric in between
    lr_decay: float = 0.95  # per-epoch decay (Table 1 "Betas" 0.95, read as in the authors' code)
    betas: tuple[float, float] = (0.9, 0.999)  # Adam's moment decays
    eps: float = 1e-8  # Adam's epsilon
    l1: float = 1e-4  # l1 shrinkage of active theta, per unit learning rate
    noise: float = 1e-4  # random-walk temperature sigma, annealed by (1 - p)
    rewire_theta: float = 1e-12  # theta of a freshly activated connection
    init_scale: float = 1.0  # initial theta = init_scale * |N(0, 1)| / sqrt(N)

    def __post_init__(self):
        for name in ("lr_sparsest", "lr_dense", "rewire_theta", "init_scale", "eps", "l1", "noise"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number, got {value!r}")
        for name in ("lr_sparsest", "lr_dense", "rewire_theta", "init_scale", "eps"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")
        for name in ("l1", "noise"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)!r}")
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise ValueError(f"betas must be two numbers in [0, 1), got {self.betas!r}")
        if not 0 < self.lr_decay <= 1:
            raise ValueError(f"lr_decay must be in (0, 1], got {self.lr_decay!r}")


@dataclass(frozen=True)
class TrainConfig:
    """Training on the main task, Table 1 'Global training'."""

    epochs: int = 5  # 5 for the standard network, 7 for the bottleneck one (paper: 5/7)
    batch_size: int = 128  # (paper: 128)
    lr: float = 0.5  # Adadelta learning rate of the sub-networks (paper: 0.5)
    lr_decay: float = 0.9  # per-epoch decay (Table 1 "Betas" 0.9, read as in the authors' code)
    rho: float = 0.9  # Adadelta's running-average decay (PyTorch's default)
    eps: float = 1e-6  # Adadelta's epsilon (PyTorch's default)
    max_epochs: int = 0  # optional longer schedule: train up to this many epochs, 0 = off (the authors' code: 15)
    target_accuracy: float = 0.9  # ...stopping each network once its test accuracy reaches this (the authors' code: 0.9)
    deepr: DeepRConfig = field(default_factory=DeepRConfig)

    def __post_init__(self):
        _check_int("epochs", self.epochs, 1)
        _check_int("batch_size", self.batch_size, 1)
        _check_int("max_epochs", self.max_epochs, 0)
        if self.max_epochs and self.max_epochs < self.epochs:
            raise ValueError(f"max_epochs must be 0 or >= epochs={self.epochs}, got {self.max_epochs}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr!r}")
        if not 0 < self.lr_decay <= 1:
            raise ValueError(f"lr_decay must be in (0, 1], got {self.lr_decay!r}")
        if not 0 <= self.target_accuracy <= 1:
            raise ValueError(f"target_accuracy must be in [0, 1], got {self.target_accuracy!r}")


def _check_int(name: str, value, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < low:
        raise ValueError(f"{name} must be >= {low}, got {value}")


def as_dict(cfg) -> dict:
    """A config as a flat dict of dotted keys, for tables and provenance."""
    out = {}
    for key, value in dataclasses.asdict(cfg).items():
        if isinstance(value, dict):
            out.update({f"{key}.{k}": v for k, v in value.items()})
        else:
            out[key] = value
    return out


def parameter_table(*configs) -> "pandas.DataFrame":
    """Every field of the given config dataclasses (default: the training ones) as a table, with
    its value and the comment written beside it in the source, which cites the paper's value.

    This is the training-parameters table of the book, generated from the code (Table 1).
    """
    import inspect
    import re

    import pandas as pd

    configs = configs or (ModelConfig(), TrainConfig(), DeepRConfig())
    rows = []
    for cfg in configs:
        source = inspect.getsource(type(cfg))
        for f in dataclasses.fields(cfg):
            value = getattr(cfg, f.name)
            if dataclasses.is_dataclass(value):
                continue
            match = re.search(rf"^\s+{f.name}: [^=]+= [^#\n]*#\s*(.*)$", source, re.MULTILINE)
            rows.append({"group": type(cfg).__name__, "setting": f.name, "value": repr(value),
                         "note": match.group(1).strip() if match else ""})
    return pd.DataFrame(rows)
