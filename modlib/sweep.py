"""The sweep over connection fractions and seeds (paper: section 4, figs. 2-4; SPEC.md section 6).

A sweep is a grid of (p, seed) networks cut into chunks. Each chunk is one papermill run of the
experiment notebook (``notebooks/08_sweep_chunk.ipynb``): it trains the chunk's networks as one
batched computation (standard and bottleneck architectures), computes every metric, and writes its
rows atomically to ``<out>/chunks/chunk_NNN.csv``; the executed notebook is kept beside it as the
run's record. After every chunk the results table ``<out>/results.csv`` is rewritten (atomically)
from all finished chunks. Running the sweep again skips finished chunks, so an interrupted or
failed sweep loses nothing; a changed configuration is refused instead of mixed with old rows.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from .config import N_HIDDEN, DeepRConfig

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "08_sweep_chunk.ipynb"
PAPER_P = tuple(float(p) for p in np.geomspace(1 / N_HIDDEN**2, 1.0, 10))


@dataclass(frozen=True)
class Profile:
    """What a sweep runs. Everything but ``p``, ``seeds``, ``chunk_size`` and ``device`` is part of
    the configuration fingerprint: rows computed under another configuration are never mixed."""

    p: tuple[float, ...] = PAPER_P  # connection fractions (paper: 10 values, 1/N^2 .. 1)
    seeds: int = 10  # repeats per p (paper: 10)
    n_train: int | None = None  # training pairs (None: all, about 48k)
    n_test: int | None = None  # test pairs (None: all, about 8k)
    epochs: int = 5  # standard network (paper: 5)
    bottleneck_epochs: int = 7  # bottleneck network (paper: 7)
    coupling: str = "eq3"
    max_epochs: int = 0  # optional longer schedule (0 = the paper's epochs only)
    metrics: dict = field(default_factory=dict)  # MetricsConfig overrides
    deepr: dict = field(default_factory=dict)  # DeepRConfig overrides, e.g. {"lr_dense": 0.003}
    chunk_size: int = 20  # networks per papermill run (per architecture)
    device: str = "cpu"

    def fingerprint(self) -> str:
        """Hash of the profile and of every library default it runs under (model, training,
        Deep-R and metrics configs), so that a changed default also counts as a new configuration."""
        from .config import DeepRConfig, ModelConfig, TrainConfig, as_dict
        from .metrics import MetricsConfig

        keep = {k: v for k, v in asdict(self).items() if k not in ("p", "seeds", "chunk_size", "device")}
        if not keep["deepr"]:
            del keep["deepr"]  # default Deep-R settings: the same fingerprint as before the field existed
        keep["defaults"] = [as_dict(c()) for c in (ModelConfig, TrainConfig, DeepRConfig, MetricsConfig)]
        return hashlib.sha256(json.dumps(keep, sort_keys=True, default=str).encode()).hexdigest()[:12]


PROFILES = {
    # What a student runs: the qualitative figure 2 in a few minutes on a laptop CPU.
    "quick": Profile(
        p=(1e-4, 1e-3, 1e-2, 1e-1, 1.0), seeds=2, n_train=20000, n_test=2000, epochs=4,
        bottleneck_epochs=4, metrics={"bottleneck_epochs": 2, "n_pairs": 2000, "cka_repeats": 2},
        chunk_size=10,
    ),
    # The paper's sweep (SPEC section 6): 10 values of p x 10 seeds, full data, every metric.
    "paper": Profile(),
}


def check_grid(p, seeds: int, n_hidden: int = N_HIDDEN) -> None:
    """Refuse a malformed grid with a message naming the parameter and the allowed range."""
    low = 1.0 / n_hidden**2
    if len(p) == 0:
        raise ValueError("p must hold at least one value")
    for value in p:
        if not low * (1 - 1e-9) <= value <= 1:
            raise ValueError(f"every p must be in [1/N^2, 1] = [{low:g}, 1], got {value!r}")
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise ValueError(f"seeds must be a positive integer (repeats per p), got {seeds!r}")


def grid(profile: Profile) -> list[tuple[float, int]]:
    """The (p, seed) networks of a sweep, in a fixed order (seed-major, so chunks mix sparsities)."""
    check_grid(profile.p, profile.seeds)
    return [(float(p), s) for s in range(profile.seeds) for p in profile.p]


@functools.cache
def _available_pairs(split: str) -> int:
    """Pairs in a split at the full data size (loads MNIST once per process)."""
    from .data import paired_mnist

    return len(paired_mnist(split))


def check_profile(profile: Profile) -> None:
    """Refuse, before any work, every setting a chunk would otherwise fail on minutes later: the grid,
    chunk size, data sizes, epochs, coupling, metric and Deep-R overrides, and the device."""
    from .config import ModelConfig, TrainConfig
    from .metrics import MetricsConfig
    from .train import _check_device

    check_grid(profile.p, profile.seeds)
    for name in ("chunk_size", "epochs", "bottleneck_epochs"):
        value = getattr(profile, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    for name, split in (("n_train", "train"), ("n_test", "test")):
        value = getattr(profile, name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer (pairs), or None for all, got {value!r}")
        available = _available_pairs(split)
        if value > available:
            raise ValueError(f"{name} must be at most {available} (the {split} pairs), got {value}")
    if isinstance(profile.max_epochs, bool) or not isinstance(profile.max_epochs, int) or profile.max_epochs < 0:
        raise ValueError(f"max_epochs must be 0 (off) or a positive integer, got {profile.max_epochs!r}")
    ModelConfig(coupling=profile.coupling)
    TrainConfig(epochs=max(profile.epochs, profile.bottleneck_epochs),
                max_epochs=profile.max_epochs and max(profile.max_epochs, profile.epochs, profile.bottleneck_epochs))
    try:
        MetricsConfig(**profile.metrics)
        DeepRConfig(**profile.deepr)
    except TypeError as err:  # an unknown key
        raise ValueError(f"metrics and deepr overrides must name fields of MetricsConfig and DeepRConfig: {err}") from None
    _check_device(profile.device)


def chunks(profile: Profile) -> list[list[tuple[float, int]]]:
    check_profile(profile)
    jobs = grid(profile)
    return [jobs[i : i + profile.chunk_size] for i in range(0, len(jobs), profile.chunk_size)]


def provenance() -> dict:
    """Package versions and the git commit, stored with every row."""
    import torch

    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True).stdout.strip()
        commit += "-dirty" if dirty else ""
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    return {"torch": torch.__version__, "numpy": np.__version__, "pandas": pd.__version__,
            "python": sys.version.split()[0], "commit": commit}


def write_atomic(frame: pd.DataFrame, path: Path) -> None:
    """Write a CSV so that ``path`` holds either the old file or the whole new one, never a part."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            frame.to_csv(f, index=False)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; a results table is for everyone to read
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def chunk_parameters(profile: Profile, index: int, rows_path: Path) -> dict:
    """The papermill parameters of chunk ``index``'s notebook run."""
    jobs = grid(profile)[index * profile.chunk_size : (index + 1) * profile.chunk_size]  # checked by run()
    first = index * profile.chunk_size
    return {
        "p_values": [p for p, _ in jobs], "seeds": [s for _, s in jobs],
        "network_ids": list(range(first, first + len(jobs))),
        "n_train": profile.n_train or 0, "n_test": profile.n_test or 0,
        "epochs": profile.epochs, "bottleneck_epochs": profile.bottleneck_epochs,
        "max_epochs": profile.max_epochs, "coupling": profile.coupling,
        "metrics": dict(profile.metrics), "deepr": dict(profile.deepr), "device": profile.device, "compile": len(jobs) >= 4,
        "rows_path": str(rows_path), "config_hash": profile.fingerprint(), "progress": False,
    }


def _check_manifest(out: Path, profile: Profile) -> None:
    manifest = out / "manifest.json"
    want = {"fingerprint": profile.fingerprint(), "profile": asdict(profile)}
    if manifest.exists():
        have = json.loads(manifest.read_text())
        if have["fingerprint"] != want["fingerprint"]:
            raise ValueError(
                f"{out} holds a sweep with another configuration (fingerprint {have['fingerprint']}, "
                f"this one {want['fingerprint']}); choose another --out, or delete {out} to start over"
            )
    out.mkdir(parents=True, exist_ok=True)
    manifest.write_text(json.dumps(want, indent=1, default=str))


def collect(out: Path) -> pd.DataFrame:
    """All finished chunks' rows, as one table."""
    files = sorted((Path(out) / "chunks").glob("chunk_*.csv"))
    if not files:
        return pd.DataFrame()
    return pd.concat([pd.read_csv(f) for f in files], ignore_index=True)


def run(profile: Profile, out: Path, results: Path | None = None, log=print) -> pd.DataFrame:
    """Run (or resume) a sweep; returns the results table (also written to ``results``)."""
    import papermill

    out = Path(out)
    results = Path(results) if results else out / "results.csv"
    plan = chunks(profile)
    _check_manifest(out, profile)
    todo = [i for i in range(len(plan)) if not (out / "chunks" / f"chunk_{i:03d}.csv").exists()]
    log(f"sweep: {len(plan)} chunks of up to {profile.chunk_size} networks; {len(plan) - len(todo)} done, "
        f"{len(todo)} to run; configuration {profile.fingerprint()}")
    started = time.perf_counter()
    for done, i in enumerate(todo, 1):
        rows = out / "chunks" / f"chunk_{i:03d}.csv"
        record = out / "notebooks" / f"chunk_{i:03d}.ipynb"
        record.parent.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        papermill.execute_notebook(str(NOTEBOOK), str(record), kernel_name="python3", progress_bar=False,
                                   parameters=chunk_parameters(profile, i, rows), cwd=str(ROOT))
        if not rows.exists():
            raise RuntimeError(f"chunk {i} ran but wrote no rows to {rows}; see {record}")
        write_atomic(collect(out), results)
        elapsed = time.perf_counter() - started
        eta = elapsed / done * (len(todo) - done)
        log(f"chunk {i + 1}/{len(plan)} done in {time.perf_counter() - t0:.0f} s "
            f"({done}/{len(todo)} this run; about {eta / 60:.1f} min left)")
    table = collect(out)
    if len(table):
        write_atomic(table, results)
    return table


def profile_from_args(name: str, **overrides) -> Profile:
    if name not in PROFILES:
        raise ValueError(f"profile must be one of {sorted(PROFILES)}, got {name!r}")
    overrides = {k: v for k, v in overrides.items() if v is not None}
    if "p" in overrides:
        overrides["p"] = tuple(float(v) for v in overrides["p"])
    if "deepr" in overrides:
        overrides["deepr"] = parse_overrides(overrides["deepr"], DeepRConfig, "deepr")
    return replace(PROFILES[name], **overrides)


def parse_overrides(items, cls, name: str) -> dict:
    """``["key=value", ...]`` as overrides of the dataclass ``cls``'s number fields.

    Each value is converted to the type of the field's default and checked by constructing ``cls``
    (a clear error naming the field otherwise); a key given twice is refused, and an override equal
    to the default is dropped, so that it does not count as another configuration.
    """
    defaults = cls()
    settable = {f.name: getattr(defaults, f.name) for f in dataclasses.fields(cls)
                if type(getattr(defaults, f.name)) in (int, float)}
    out = {}
    for item in items:
        key, sep, value = str(item).partition("=")
        if not sep or key not in settable:
            raise ValueError(f"{name} overrides must be key=value with key one of {', '.join(settable)}; "
                             f"got {item!r}")
        if key in out:
            raise ValueError(f"{name} override {key} is given twice")
        try:
            out[key] = type(settable[key])(value)
        except ValueError:
            raise ValueError(f"{name} override {key} must be a {type(settable[key]).__name__}, "
                             f"got {value!r}") from None
    cls(**out)  # range checks, with the parameter named
    return {k: v for k, v in out.items() if v != settable[k]}


def measure(p_values, seeds, *, n_train: int | None = None, n_test: int | None = None, epochs: int = 5,
            bottleneck_epochs: int = 7, max_epochs: int = 0, coupling: str = "eq3", metrics: dict | None = None,
            deepr: dict | None = None, network_ids=None, device: str = "cpu", compile: bool = False, progress: bool = False) -> pd.DataFrame:
    """One chunk's work: train the networks (p_values[i], seeds[i]) in both architectures, each
    architecture as one batched computation, and measure them with every metric.

    Returns the rows of :func:`modlib.metrics.compute_all`, plus how each network was trained
    (epochs_trained, rewired, train_seconds), metric_seconds and the data sizes.
    """
    from . import config, data, model, train
    from . import metrics as mx

    if len(p_values) != len(seeds) or not len(p_values):
        raise ValueError(f"p_values and seeds need one entry per network, got {len(p_values)} and {len(seeds)}")
    train_data = data.paired_mnist("train", n=n_train or None)
    test_data = data.paired_mnist("test", n=n_test or None)
    ids = list(network_ids) if network_ids is not None else list(range(len(p_values)))
    deepr_cfg = config.DeepRConfig(**(deepr or {}))
    nets, results = {}, {}
    for arch, bottleneck, n_epochs in (("standard", 0, epochs), ("bottleneck", 5, bottleneck_epochs)):
        nets[arch] = model.ModularRNN(list(p_values), list(seeds),
                                      config.ModelConfig(coupling=coupling, bottleneck=bottleneck), deepr_cfg)
        schedule = config.TrainConfig(epochs=n_epochs, max_epochs=max_epochs and max(max_epochs, n_epochs),
                                      deepr=deepr_cfg)
        results[arch] = train.train(nets[arch], train_data, test_data, schedule, device=device,
                                    progress=progress, compile=compile)
    start = time.perf_counter()
    table = mx.compute_all(nets["standard"], nets["bottleneck"], train_data, test_data,
                           mx.MetricsConfig(**(metrics or {})), accuracy_standard=results["standard"].accuracy,
                           accuracy_bottleneck=results["bottleneck"].accuracy, network_ids=ids, progress=progress)
    position = table["network"].map({net_id: i for i, net_id in enumerate(ids)})
    for arch, res in results.items():
        here = table["architecture"] == arch
        table.loc[here, "epochs_trained"] = [res.epochs[i] for i in position[here]]
        table.loc[here, "rewired"] = [res.rewired[i] for i in position[here]]
        table.loc[here, "train_seconds"] = res.seconds
    table["metric_seconds"] = time.perf_counter() - start
    table["n_train"], table["n_test"] = len(train_data), len(test_data)
    table["deepr"] = " ".join(f"{k}={v}" for k, v in sorted((deepr or {}).items()))  # "" = the defaults
    return table
