"""One experiment as one value: a frozen tree of the configs, with the connection fraction and the seed.

An :class:`Experiment` says everything that decides one trained network and its measurements: the
task (:class:`~modlib.config.TaskConfig`), the data (:class:`~modlib.config.DataConfig`), the model (:class:`~modlib.config.ModelConfig`), the
training with its Deep-R part (:class:`~modlib.config.TrainConfig`,
:class:`~modlib.config.DeepRConfig`), the metrics (:class:`~modlib.metrics.MetricsConfig`), the
connection fraction ``p`` and the network's ``seed``. It round-trips exactly through a plain dict
or JSON (:meth:`Experiment.to_dict`, :meth:`Experiment.from_dict`), takes dotted overrides
(``model.coupling=authors``, ``train.deepr.lr_dense=0.001``: :func:`override`), and every field is
checked when it is made, with one message naming the field and its allowed range.

Everything else reads this tree: the sweep's command line lists its fields (:func:`fields`), the
chunk notebook receives experiments as dicts, and a stored result carries :func:`experiment_hash`.
Adding a field to one of the configs adds it everywhere.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import inspect
import json
import re
import typing
from dataclasses import dataclass, field

from .config import ConfigError, DataConfig, DeepRConfig, ModelConfig, TaskConfig, TrainConfig, check_int
from .metrics import MetricsConfig

# Settings added after the committed tables were made, each with the value that does what the code
# did before it existed. At that value a setting is left out of an experiment's dict, so that its
# hash, and every stored network and committed row, stay what they were; at any other value it
# is written (and hashed) like every other setting. A part whose settings were all left out (the
# task at the paper's) is left out as a whole.
ADDED_LATER = {
    "task.name": "parity",
    "task.bits": 1,
    "task.covariance": 0.0,
    "task.dataset": "mnist",
    "n_conn": 0,
    "model.cell": "rnn",
    "model.leak": 0.5,
    "model.connections": "deepr",
    "metrics.time_resolved": False,
    "model.decision": "max",
    "train.optimizer": "adadelta",
    "train.adam_betas": [0.9, 0.999],
    "train.adam_eps": 1e-8,
    "train.freeze_readout": False,
    "train.matmul": "float32",
    "train.deepr.order": "adam_first",
    "train.deepr.reset_on_rewire": True,
    "train.deepr.init_with_replacement": False,
}

# Fields that leave every tensor shape unchanged: networks differing only in these train together.
BATCHED = ("p", "n_conn", "seed")


@dataclass(frozen=True)
class Experiment:
    """One network of the paper's task, as trained and measured (both architectures: the standard
    network for the weight-mask and correlation metrics, the bottleneck one for the bottleneck metric)."""

    p: float = 1e-4  # connection fraction per direction, in [1/N^2, 1] (paper: 10 values from 1/N^2 to 1)
    n_conn: int = 0  # connections per direction given exactly, in [1, N^2]; 0 = round(p N^2) from p (paper: from p). When set, p is n_conn / N^2
    seed: int = 0  # the network's seed: its weights, connections, data order and metric draws (paper: 10 repeats)
    task: TaskConfig = field(default_factory=TaskConfig)
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)

    def __post_init__(self):
        for name, cls in _PARTS.items():
            value = getattr(self, name)
            if isinstance(value, dict):
                object.__setattr__(self, name, _build(cls, value, name + "."))
            elif not isinstance(value, cls):
                raise ConfigError(f"{name} must be a {cls.__name__}, got {value!r}")
        low = 1.0 / self.model.n_hidden**2
        check_int(self, "n_conn", 0, self.model.n_hidden**2)
        if self.n_conn:
            object.__setattr__(self, "p", self.n_conn / self.model.n_hidden**2)
        p = self.p
        if isinstance(p, bool) or not isinstance(p, (int, float)) and not _is_real(p):
            raise ConfigError(f"p must be a number in [1/N^2, 1] = [{low:g}, 1], got {p!r}")
        if not low * (1 - 1e-9) <= float(p) <= 1:
            raise ConfigError(f"p must be in [1/N^2, 1] = [{low:g}, 1] for N = {self.model.n_hidden}, got {p!r}")
        object.__setattr__(self, "p", float(str(p)) if type(p).__module__ == "numpy" else float(p))
        check_int(self, "seed", 0)
        if self.model.bottleneck:
            raise ConfigError("model.bottleneck must be 0 in an experiment: the bottleneck network's width "
                              "is metrics.bottleneck_units")
        if self.train.max_epochs and not self.data.val_fraction > 0:
            raise ConfigError("train.max_epochs > 0 stops on validation accuracy: it needs data.val_fraction > 0")

    # ---------------------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """Plain nested dict of JSON types (a tuple setting becomes a list), equal to its JSON round trip.

        A setting of :data:`ADDED_LATER` at its neutral value is left out (it takes that value back
        in :meth:`from_dict`), and so is a part left empty by that."""
        d = json.loads(json.dumps(dataclasses.asdict(self)))
        for key, neutral in ADDED_LATER.items():
            *parents, leaf = key.split(".")
            node = d
            for part in parents:
                node = node[part]
            if node[leaf] == neutral:
                del node[leaf]
        for part in {key.split(".")[0] for key in ADDED_LATER}:
            if d.get(part) == {}:
                del d[part]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Experiment":
        """The experiment of a dict from :meth:`to_dict` (or JSON); missing fields take their defaults,
        unknown ones are refused with their dotted name."""
        return _build(cls, d, "")

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "Experiment":
        return cls.from_dict(json.loads(text))

    def replace(self, **changes) -> "Experiment":
        """A copy with dotted fields changed: ``exp.replace(**{"model.coupling": "authors"})``."""
        return override(self, changes)

    def model_config(self, bottleneck: bool = False) -> ModelConfig:
        """The architecture: the standard network, or fig. 1b's with ``metrics.bottleneck_units``."""
        return dataclasses.replace(self.model, bottleneck=self.metrics.bottleneck_units) if bottleneck else self.model


_PARTS = {"task": TaskConfig, "data": DataConfig, "model": ModelConfig, "train": TrainConfig, "metrics": MetricsConfig}


def _is_real(value) -> bool:
    import numbers

    return isinstance(value, numbers.Real)


def _hints(cls) -> dict:
    return typing.get_type_hints(cls)


def _build(cls, d, prefix: str):
    """``cls(**d)`` with nested dataclasses built from nested dicts and lists turned into tuples."""
    if isinstance(d, cls):
        return d
    if not isinstance(d, dict):
        raise ConfigError(f"{prefix.rstrip('.') or cls.__name__} must be a dict of settings, got {d!r}")
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(d) - names)
    if unknown:
        raise ConfigError(f"unknown setting {prefix}{unknown[0]}; the settings{' of ' + prefix.rstrip('.') if prefix else ''} "
                          f"are {', '.join(sorted(names))}")
    hints, kwargs = _hints(cls), {}
    for key, value in d.items():
        kind = hints[key]
        if dataclasses.is_dataclass(kind):
            value = _build(kind, value, f"{prefix}{key}.")
        elif typing.get_origin(kind) is tuple and isinstance(value, list):
            value = tuple(value)
        kwargs[key] = value
    try:
        return cls(**kwargs)
    except ConfigError as err:
        raise ConfigError(_qualify(str(err), prefix)) from None


def _qualify(message: str, prefix: str) -> str:
    """Prefix the field named at the start of a check's message with its place in the tree."""
    if not prefix or message.startswith(prefix):
        return message
    return prefix + message


# -------------------------------------------------------------------------------------------------
# Dotted names


@dataclass(frozen=True)
class Field:
    """One leaf setting of the tree."""

    key: str  # dotted name, e.g. "train.deepr.lr_dense"
    type: object  # its annotation
    default: object  # its default value
    note: str  # the comment beside it in the source (cites the paper's value)


@functools.cache
def fields(cls=Experiment, prefix: str = "") -> tuple[Field, ...]:
    """Every leaf setting of ``cls``, depth first, with its default and the note from the source."""
    out = []
    hints = _hints(cls)
    source = inspect.getsource(cls)
    defaults = cls()
    for f in dataclasses.fields(cls):
        kind = hints[f.name]
        if dataclasses.is_dataclass(kind):
            out += list(fields(kind, f"{prefix}{f.name}."))
            continue
        match = re.search(rf"^\s+{f.name}: [^=]+= [^#\n]*#\s*(.*)$", source, re.MULTILINE)
        out.append(Field(prefix + f.name, kind, getattr(defaults, f.name), match.group(1).strip() if match else ""))
    return tuple(out)


def field_names() -> list[str]:
    return [f.key for f in fields()]


def get(exp: Experiment, key: str):
    """The value of dotted setting ``key``."""
    value = exp
    for part in _split(key):
        value = getattr(value, part)
    return value


def _split(key: str) -> list[str]:
    names = {f.key for f in fields()}
    if key not in names:
        close = [n for n in names if n.endswith("." + key) or n.split(".")[-1] == key.split(".")[-1]]
        hint = f" (did you mean {', '.join(sorted(close))}?)" if close else ""
        raise ConfigError(f"unknown setting {key!r}{hint}; `python -m modlib sweep --help` lists them all")
    return key.split(".")


def parse_value(key: str, text: str):
    """A command-line string as the type of setting ``key``: ``"0.5"`` -> 0.5 for a float field,
    ``"none"`` -> None where None is allowed, ``"0.9,0.99"`` -> (0.9, 0.99) for a pair."""
    _split(key)
    kind = {f.key: f.type for f in fields()}[key]
    args = typing.get_args(kind)
    text = str(text).strip()
    if type(None) in args:
        if text.lower() in ("none", "null", ""):
            return None
        kind = next(a for a in args if a is not type(None))
    if typing.get_origin(kind) is tuple:
        return tuple(parse_value_as(key, part, typing.get_args(kind)[0]) for part in text.split(","))
    return parse_value_as(key, text, kind)


def parse_value_as(key: str, text: str, kind):
    try:
        if kind is int:
            return int(text)
        if kind is float:
            return float(text)
        if kind is bool:
            if text.lower() not in ("true", "false", "1", "0"):
                raise ValueError
            return text.lower() in ("true", "1")
    except ValueError:
        word = {int: "an integer", float: "a number", bool: "true or false"}[kind]
        raise ConfigError(f"{key} must be {word}, got {text!r}") from None
    return text


def override(exp: Experiment, changes: dict) -> Experiment:
    """A copy of ``exp`` with dotted settings changed; string values (from a command line) are parsed
    as the setting's type. Every change is checked as the tree is rebuilt."""
    d = exp.to_dict()
    for key, value in changes.items():
        parts = _split(key)
        if isinstance(value, str) and not _is_str_field(key):
            value = parse_value(key, value)
        node = d
        for part in parts[:-1]:
            node = node.setdefault(part, {})  # a part that to_dict left out (ADDED_LATER)
        node[parts[-1]] = value
    return Experiment.from_dict(d)


def _is_str_field(key: str) -> bool:
    return {f.key: f.type for f in fields()}[key] is str


def parse_assignments(items, what: str = "--set") -> dict:
    """``["key=value", ...]`` as a dict of dotted settings; a key given twice is refused."""
    out = {}
    for item in items or ():
        key, sep, value = str(item).partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"{what} takes KEY=VALUE (e.g. train.deepr.lr_dense=0.003), got {item!r}")
        _split(key)
        if key in out:
            raise ConfigError(f"{what} {key} is given twice")
        out[key] = value
    return out


# -------------------------------------------------------------------------------------------------
# Identity


def experiment_hash(exp: Experiment | dict, drop=()) -> str:
    """16 hex digits of sha256 over the experiment's canonical JSON (``drop``: top-level fields left
    out), the bandwidth task at b = 1 written as the parity task it is."""
    d = exp.to_dict() if isinstance(exp, Experiment) else json.loads(json.dumps(exp))
    task = d.get("task", {})
    if task.get("name") == "bandwidth" and task.get("bits", 1) == 1:
        # the bandwidth task at b = 1 is the parity task, eq. (1), exactly: one experiment, one hash
        del task["name"]
        if not task:
            del d["task"]
    for key in drop:
        d.pop(key, None)
    return hashlib.sha256(json.dumps(d, sort_keys=True, default=list).encode()).hexdigest()[:16]


def shape_key(exp: Experiment) -> str:
    """What networks must share to train in one batched call: everything but p and the seed."""
    return experiment_hash(exp, drop=BATCHED)


def deepr_overrides(exp: Experiment) -> str:
    """The Deep-R settings that differ from the defaults, as "key=value ..." ("" = the paper's)."""
    default = DeepRConfig()
    return " ".join(f"{f.name}={getattr(exp.train.deepr, f.name)}" for f in dataclasses.fields(DeepRConfig)
                    if getattr(exp.train.deepr, f.name) != getattr(default, f.name))
