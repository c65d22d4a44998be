"""Every setting of the experiment in frozen dataclasses whose defaults are the paper's values.

Paper: Table 1 (appendix A.2) and sections 2.2-2.4; the book's discussion says how
this edition settles what the paper leaves open. Nothing else in modlib hard-codes a hyperparameter: pass a modified copy
(``dataclasses.replace``) to change one. :mod:`modlib.experiment` nests these into one tree.

Every field is checked when a config is made, with one message naming the field and its allowed
range (:class:`ConfigError`). Numbers must be numbers: a string ``"0.5"`` or a bool is refused; a
numpy scalar of a valid value (``np.float32(0.1)``, ``np.int64(3)``) is accepted and stored as the
plain Python number, so that a config always round-trips through JSON.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass, field

N_HIDDEN = 100  # N, units per sub-network (paper: 100)
CELLS = ("rnn", "leaky", "gru", "lstm")
MATMUL = ("float32", "bf16", "tf32")  # train.matmul: the precisions of the matrix products (modlib.runtime)
GATES = {"rnn": 1, "leaky": 1, "gru": 3, "lstm": 4}  # blocks of N rows in W_ih and W_hh (torch's order)


class ConfigError(ValueError):
    """A setting outside its allowed range; the message names the setting."""


def _set(obj, name: str, value) -> None:
    object.__setattr__(obj, name, value)  # normalising a field of a frozen dataclass


def check_int(obj, name: str, low: int, high: int | None = None, none_ok: bool = False) -> None:
    """Field ``name`` of ``obj`` must be an integer in [low, high] (numpy integers accepted)."""
    value = getattr(obj, name)
    if value is None and none_ok:
        return
    where = f"an integer >= {low}" if high is None else f"an integer in [{low}, {high}]"
    where += " or None" if none_ok else ""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ConfigError(f"{name} must be {where}, got {value!r}")
    if not low <= value <= (math.inf if high is None else high):
        raise ConfigError(f"{name} must be {where}, got {value!r}")
    _set(obj, name, int(value))


def check_real(obj, name: str, low: float = -math.inf, high: float = math.inf,
               low_open: bool = False, high_open: bool = False) -> None:
    """Field ``name`` of ``obj`` must be a finite real number in the interval given (numpy floats accepted)."""
    value = getattr(obj, name)
    where = ("(" if low_open else "[") + f"{low:g}, {high:g}" + (")" if high_open else "]")
    if math.isinf(high) and not math.isinf(low):
        where = f"> {low:g}" if low_open else f">= {low:g}"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ConfigError(f"{name} must be a number, got {value!r}")
    # a float32 0.1 is 0.10000000149...: keep the number it prints as, which is what was meant
    value = float(str(value)) if type(value).__module__ == "numpy" else float(value)
    ok = math.isfinite(value) and (low < value if low_open else low <= value) and (value < high if high_open else value <= high)
    if not ok:
        raise ConfigError(f"{name} must be a finite number {'in ' if where[0] in '[(' else ''}{where}, got {value!r}")
    _set(obj, name, value)


def check_bool(obj, name: str) -> None:
    """Field ``name`` of ``obj`` must be True or False (numpy bools accepted)."""
    value = getattr(obj, name)
    if type(value).__module__ == "numpy" and type(value).__name__ == "bool":
        value = bool(value)
    if not isinstance(value, bool):
        raise ConfigError(f"{name} must be true or false, got {value!r}")
    _set(obj, name, value)


def check_betas(name: str, betas) -> tuple[float, float]:
    """Adam's two moment decays: two numbers in [0, 1), returned as a tuple of floats."""
    if isinstance(betas, (str, bytes)) or not hasattr(betas, "__len__") or len(betas) != 2:
        raise ConfigError(f"{name} must be two numbers in [0, 1), got {betas!r}")
    pair = []
    for b in betas:
        if isinstance(b, bool) or not isinstance(b, numbers.Real) or not 0 <= b < 1:
            raise ConfigError(f"{name} must be two numbers in [0, 1), got {betas!r}")
        pair.append(float(b))
    return tuple(pair)


def check_choice(obj, name: str, choices) -> None:
    value = getattr(obj, name)
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")


@dataclass(frozen=True)
class DataConfig:
    """The paired-digit data of section 2.1: how many pairs, and what is held out for selection."""

    n_train: int | None = None  # training pairs, None = all (paper: all, about 48k)
    n_test: int | None = None  # test pairs, None = all (paper: all, about 8k)
    val_fraction: float = 0.1  # share of MNIST's training images held out as validation pairs, 0 = none (paper: none; the paper and quick profiles select nothing and set 0)
    seed: int = 0  # seeds the pairing of the images and the validation split (paper: not stated)

    def __post_init__(self):
        check_int(self, "n_train", 1, none_ok=True)
        check_int(self, "n_test", 1, none_ok=True)
        check_real(self, "val_fraction", 0, 0.5)
        check_int(self, "seed", 0)


@dataclass(frozen=True)
class TaskConfig:
    """The task the two modules solve: the paper's parity task (section 2.1, eq. 1) or the families
    that vary it (the bandwidth b between the modules, the covariance c of the two digits, the image
    set); :func:`modlib.data.paired` builds its pairs. The defaults are the paper's task."""

    name: str = "parity"  # "parity": eq. (1); "bandwidth": b bits of the other digit decide the answer (paper: parity; bandwidth is its future work)
    bits: int = 1  # b, in 0..3; the parity task is b = 1 and allows only 1 (paper: 1)
    covariance: float = 0.0  # c in [0, 1], chance that the second digit is (D0 + 5) mod 10 instead of independent (paper: 0)
    dataset: str = "mnist"  # "mnist" or "fashion_mnist" (paper: mnist)

    def __post_init__(self):
        check_choice(self, "name", ("parity", "bandwidth"))
        check_int(self, "bits", 0, 3)
        if self.name == "parity" and self.bits != 1:
            raise ConfigError(f"bits must be 1 with name 'parity' (the paper's task; name 'bandwidth' takes "
                              f"0, 1, 2 or 3), got {self.bits!r}")
        check_real(self, "covariance", 0, 1)
        check_choice(self, "dataset", ("mnist", "fashion_mnist"))


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
    cell: str = "rnn"  # the modules' cell: "rnn", eq. (3) (paper); "leaky", "gru", "lstm" (the paper's future work; the book's page "Beyond the paper" gives their equations)
    leak: float = 0.5  # a = dt / tau of the "leaky" cell, h_t = (1 - a) h_{t-1} + a tanh(...) (paper: no leaky cell)
    connections: str = "deepr"  # between the modules: "deepr", trained and rewired (paper); "fixed", a fixed random mask of the same count whose weights the modules' optimizer trains
    decision: str = "max"  # which module decides: "max", the largest max_i r_i (paper: "most certain"); "abs_max", the largest max_i |r_i| (the authors' code)

    def __post_init__(self):
        check_int(self, "n_hidden", 2, 1000)
        check_int(self, "n_inputs", 1)
        check_int(self, "n_classes", 2)
        check_int(self, "n_steps", 1)
        check_int(self, "bottleneck", 0)
        check_real(self, "init_range", 0, low_open=True)
        check_real(self, "input_scale", 0, low_open=True)
        check_choice(self, "coupling", ("eq3", "authors"))
        check_choice(self, "decision", ("max", "abs_max"))
        check_choice(self, "cell", CELLS)
        check_real(self, "leak", 0, 1, low_open=True)
        check_choice(self, "connections", ("deepr", "fixed"))
        if self.cell in ("gru", "lstm") and self.coupling != "eq3":
            raise ConfigError(f"coupling must be 'eq3' with the {self.cell} cell, got {self.coupling!r}: a gated "
                              "cell takes the other module's signal inside its recurrent products already")


@dataclass(frozen=True)
class DeepRConfig:
    """Deep-R on the inter-module connections (Bellec et al. 2018); book: chapter 3, Deep-R."""

    lr_sparsest: float = 0.1  # Adam learning rate at p = 1/N^2 (paper: 0.1)
    lr_dense: float = 0.01  # Adam learning rate at p = 1 (paper: 0.01); geometric in between
    lr_decay: float = 0.95  # per-epoch decay (Table 1 "Betas" 0.95, read as in the authors' code)
    betas: tuple[float, float] = (0.9, 0.999)  # Adam's moment decays
    eps: float = 1e-8  # Adam's epsilon
    l1: float = 1e-4  # l1 shrinkage of active theta, per unit learning rate
    noise: float = 1e-4  # random-walk temperature sigma, annealed by (1 - p)
    rewire_theta: float = 1e-12  # theta of a freshly activated connection
    init_scale: float = 1.0  # initial theta = init_scale * |N(0, 1)| / sqrt(N)
    order: str = "adam_first"  # "adam_first": Adam step, then l1 and noise (Bellec et al.); "noise_first": l1 and noise, then Adam (the authors' code)
    reset_on_rewire: bool = True  # a newly activated connection starts Adam afresh (paper: not stated; the authors' code keeps the old state)
    init_with_replacement: bool = False  # draw the initial connections with replacement, so fewer are distinct (paper: not stated; the authors' code does)

    def __post_init__(self):
        for name in ("lr_sparsest", "lr_dense", "rewire_theta", "init_scale", "eps"):
            check_real(self, name, 0, low_open=True)
        for name in ("l1", "noise"):
            check_real(self, name, 0)
        check_real(self, "lr_decay", 0, 1, low_open=True)
        check_choice(self, "order", ("adam_first", "noise_first"))
        check_bool(self, "reset_on_rewire")
        check_bool(self, "init_with_replacement")
        _set(self, "betas", check_betas("betas", self.betas))


@dataclass(frozen=True)
class TrainConfig:
    """Training on the main task, Table 1 'Global training'."""

    epochs: int = 5  # epochs of the standard network (paper: 5)
    bottleneck_epochs: int = 7  # epochs of the bottleneck network, the one the bottleneck metric retrains (paper: 7)
    batch_size: int = 128  # (paper: 128)
    optimizer: str = "adadelta"  # of the sub-networks: "adadelta" (paper) or "adam" (the authors' code, with lr 0.001)
    lr: float = 0.5  # learning rate of the sub-networks (paper: Adadelta 0.5; the authors' code: Adam 0.001)
    lr_decay: float = 0.9  # per-epoch decay (Table 1 "Betas" 0.9, read as in the authors' code)
    rho: float = 0.9  # Adadelta's running-average decay (PyTorch's default)
    eps: float = 1e-6  # Adadelta's epsilon (PyTorch's default)
    max_epochs: int = 0  # optional longer schedule: train up to this many epochs, 0 = off (the authors' code: 15)
    target_accuracy: float = 0.9  # ...stopping each network once its validation accuracy reaches this (the authors' code: 0.9, on test pairs)
    adam_betas: tuple[float, float] = (0.9, 0.999)  # Adam's moment decays, with optimizer "adam" (the authors' code: PyTorch's defaults)
    adam_eps: float = 1e-8  # Adam's epsilon, with optimizer "adam" (the authors' code: PyTorch's default)
    freeze_readout: bool = False  # leave the readout (W_hr, b_hr; the bottleneck and its readout) at its initial values (paper: trained; the authors' code: never trained)
    matmul: str = "float32"  # precision of the matrix products in training and in the metrics' retraining: "float32" (paper), "bf16" (bfloat16 inputs, float32 sums: CPUs with AVX512-BF16 or AMX), "tf32" (NVIDIA GPUs from Ampere on)
    deepr: DeepRConfig = field(default_factory=DeepRConfig)

    def __post_init__(self):
        check_int(self, "epochs", 1)
        check_int(self, "bottleneck_epochs", 1)
        check_int(self, "batch_size", 1)
        check_int(self, "max_epochs", 0)
        if self.max_epochs and self.max_epochs < self.epochs:
            raise ConfigError(f"max_epochs must be 0 (off) or >= epochs = {self.epochs}, got {self.max_epochs}")
        check_real(self, "lr", 0, low_open=True)
        check_real(self, "lr_decay", 0, 1, low_open=True)
        check_real(self, "rho", 0, 1, high_open=True)
        check_real(self, "eps", 0, low_open=True)
        check_real(self, "target_accuracy", 0, 1)
        check_choice(self, "optimizer", ("adadelta", "adam"))
        if self.optimizer == "adam" and self.max_epochs:
            raise ConfigError("max_epochs must be 0 with optimizer 'adam': the longer schedule stops a network by "
                              "zeroing its gradient, which stops Adadelta but not Adam's momentum")
        check_real(self, "adam_eps", 0, low_open=True)
        _set(self, "adam_betas", check_betas("adam_betas", self.adam_betas))
        check_bool(self, "freeze_readout")
        check_choice(self, "matmul", MATMUL)
        if isinstance(self.deepr, dict):
            _set(self, "deepr", DeepRConfig(**self.deepr))
        if not isinstance(self.deepr, DeepRConfig):
            raise ConfigError(f"deepr must be a DeepRConfig, got {self.deepr!r}")

    def for_architecture(self, bottleneck: bool) -> "TrainConfig":
        """The schedule of one architecture: ``epochs`` for the standard network, ``bottleneck_epochs``
        for the bottleneck one (the trainer reads ``epochs``)."""
        if not bottleneck:
            return self
        return dataclasses.replace(self, epochs=self.bottleneck_epochs,
                                   max_epochs=self.max_epochs and max(self.max_epochs, self.bottleneck_epochs))


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
