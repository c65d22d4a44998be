"""Sweeps over any axis of the experiment tree (paper: section 4, figs. 2-4; book: chapter 7 and "Running sweeps").

A sweep (:class:`Sweep`) is a base experiment (a named profile: ``quick``, ``paper``) plus axes,
each any dotted field of :class:`~modlib.experiment.Experiment` with a list of values, plus seeds.
Its networks (:func:`grid`) are cut into chunks: networks that differ only in ``p`` and the seed
train together as one batched computation, the others go to separate chunks. Each chunk is one
papermill run of the chunk notebook (``notebooks/08_sweep_chunk.ipynb``), which trains its networks
in both architectures, computes every metric and stores its rows as one piece of the
content-addressed store (:mod:`modlib.store`); the executed notebook is kept beside it as the
run's record.

A rerun reuses exactly the stored networks it shares with the new grid (same experiment, same
code) and computes the rest, whatever the chunk size; the results table holds only the networks
asked for, in grid order, each once. Chunks run one after another in this process (``serial``) or
as tasks of a Dask ``distributed`` cluster (``dask``): a ``LocalCluster`` started for the sweep, or
any running scheduler, e.g. workers started on a Slurm or PBS cluster with dask-jobqueue.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import experiment as ex
from . import runtime
from . import store as st
from .config import N_HIDDEN, ConfigError
from .experiment import Experiment
from .store import ROOT, StoreError

NOTEBOOK = ROOT / "notebooks" / "08_sweep_chunk.ipynb"
PAPER_P = tuple(float(p) for p in np.geomspace(1 / N_HIDDEN**2, 1.0, 10))
EXECUTORS = ("serial", "dask")
# The chunk's kernel talks to this process over local TCP ports; ipykernel warns about that at every
# start ("running over TCP without encryption"), which says nothing useful to a sweep's user.
KERNEL_ARGUMENTS = ["--IPKernelApp.log_level=ERROR"]


def fields(axis: str) -> list[str]:
    """The fields an axis sets: one (``"p"``), or several linked ones whose values go together
    (``"model.n_hidden,n_conn"``, values ``(10, 1), (10, 100), ...``: a grid that is not a product,
    e.g. connection counts up to each module size's N^2)."""
    return [part.strip() for part in axis.split(",")]


@dataclass(frozen=True)
class Sweep:
    """A grid of experiments: ``base`` with every combination of the ``axes`` values, for each seed."""

    base: Experiment = field(default_factory=Experiment)
    axes: tuple[tuple[str, tuple], ...] = (("p", PAPER_P),)  # (dotted field, values) pairs (paper: p only)
    seeds: tuple[int, ...] = tuple(range(10))  # (paper: 10 repeats per p)

    def __post_init__(self):
        axes = tuple((str(k), tuple(v)) for k, v in (self.axes.items() if isinstance(self.axes, dict) else self.axes))
        object.__setattr__(self, "axes", axes)
        seeds = tuple(range(self.seeds)) if isinstance(self.seeds, int) and not isinstance(self.seeds, bool) \
            else tuple(self.seeds)
        object.__setattr__(self, "seeds", seeds)
        names = [part for k, _ in axes for part in fields(k)]
        for key in names:
            ex._split(key)
            if key == "seed":
                raise ConfigError("seeds are their own axis: give them with --seeds (a count) or as Sweep(seeds=...)")
        if len(set(names)) != len(names):
            raise ConfigError(f"an axis is given twice: {names}")
        linked = []
        for key, values in axes:
            if not values:
                raise ConfigError(f"axis {key} must hold at least one value")
            n = len(fields(key))
            if n > 1:  # a linked axis: each value sets its fields together
                for v in values:
                    if not isinstance(v, (tuple, list)) or len(v) != n:
                        raise ConfigError(f"axis {key} links {n} fields: each value must be {n} values, got {v!r}")
                values = tuple(tuple(v) for v in values)
            linked.append((key, values))
        axes = tuple(linked)
        object.__setattr__(self, "axes", axes)
        if {"p", "n_conn"} <= set(names):
            raise ConfigError("p and n_conn both set the connection count: sweep one of them")
        for key, values in axes:
            if len(set(values)) != len(values):
                dup = sorted({v for v in values if values.count(v) > 1}, key=str)
                raise ConfigError(f"axis {key} holds a value twice ({', '.join(map(str, dup))}): "
                                  "identical networks would count as two")
        if not seeds:
            raise ConfigError("seeds must hold at least one seed (a positive count with --seeds)")
        for s in seeds:
            if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 0:
                raise ConfigError(f"seeds must be non-negative integers, got {s!r}")
        if len(set(seeds)) != len(seeds):
            raise ConfigError(f"a seed is given twice: {list(seeds)}")

    def to_dict(self) -> dict:
        return {"base": self.base.to_dict(), "axes": [[k, [list(x) if isinstance(x, tuple) else x for x in v]]
                                                      for k, v in self.axes],
                "seeds": [int(s) for s in self.seeds]}

    def hash(self) -> str:
        """What a results table is a table of: base, axes and seeds."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:16]


# What a student runs (the qualitative figure 2 in about a minute on a laptop CPU), and the paper's
# sweep (section 4: 10 values of p x 10 seeds, full data, every metric). Neither selects
# anything, so neither holds out validation pairs: both train on all training pairs.
_NO_HOLDOUT = {"data.val_fraction": 0.0}
PROFILES = {
    "quick": Sweep(ex.override(Experiment(), {**_NO_HOLDOUT, "data.n_train": 20000, "data.n_test": 2000,
                                              "train.epochs": 4, "train.bottleneck_epochs": 4,
                                              "metrics.bottleneck_epochs": 2, "metrics.n_pairs": 2000,
                                              "metrics.cka_repeats": 2}),
                   axes=(("p", (1e-4, 1e-3, 1e-2, 1e-1, 1.0)),), seeds=2),
    "paper": Sweep(ex.override(Experiment(), _NO_HOLDOUT)),
    # How much must the modules say? The paper's sweep for b = 0..3 bits of the other digit
    # (b = 1 is the paper's task: those networks are the paper sweep's, reused with --reuse).
    "bandwidth": Sweep(ex.override(Experiment(), {**_NO_HOLDOUT, "task.name": "bandwidth"}),
                       axes=(("task.bits", (0, 1, 2, 3)), ("p", PAPER_P)), seeds=5),
    # Other cells: the paper's sweep at six of its values of p and three seeds for each cell (the
    # "rnn" networks are the paper sweep's, reused with --reuse).
    "cells": Sweep(ex.override(Experiment(), _NO_HOLDOUT),
                   axes=(("model.cell", ("rnn", "leaky", "gru", "lstm")), ("p", PAPER_P[::2][:4] + PAPER_P[7::2])),
                   seeds=3),
    # Resources: module size N against the connection count, from one connection to all-to-all
    # (1, N^0.5, N, N^1.5, N^2 per direction), three seeds.
    "resources": Sweep(ex.override(Experiment(), _NO_HOLDOUT),
                       axes=(("model.n_hidden,n_conn", tuple((n, round(n ** (k / 2))) for n in (10, 25, 50, 100)
                                                             for k in range(5))),), seeds=3),
    # Separability: the input covariance c against p, with Deep-R and with fixed random masks of the
    # same count, three seeds.
    "separability": Sweep(ex.override(Experiment(), _NO_HOLDOUT),
                          axes=(("task.covariance", (0.0, 0.5, 0.9, 1.0)), ("model.connections", ("deepr", "fixed")),
                                ("p", tuple(PAPER_P[i] for i in (0, 2, 4, 7, 9)))), seeds=3),
    # Specialization over time: the correlation metric and the bottleneck probe at every step, for a
    # sparse (one connection) and a dense (all-to-all) network at each bandwidth b, three seeds.
    "over_time": Sweep(ex.override(Experiment(), {**_NO_HOLDOUT, "task.name": "bandwidth",
                                                  "metrics.time_resolved": True}),
                       axes=(("task.bits", (0, 1, 2, 3)), ("p", (PAPER_P[0], 1.0))), seeds=3),
    # The core finding (fig. 2) on Fashion-MNIST: the cells sweep's six values of p, three seeds.
    "fashion": Sweep(ex.override(Experiment(), {**_NO_HOLDOUT, "task.dataset": "fashion_mnist"}),
                     axes=(("p", PAPER_P[::2][:4] + PAPER_P[7::2]),), seeds=3),
}
CHUNK_SIZE = {"quick": 10, "paper": 50, "bandwidth": 25, "cells": 18, "resources": 15, "separability": 15,
              "over_time": 6, "fashion": 18}  # networks per papermill run (per architecture): p-major, so
# the paper sweep runs a sparse and a dense chunk of each architecture


def grid(sweep: Sweep) -> list[Experiment]:
    """The sweep's networks in a fixed order, the order of its table: seed-major, then the axes'
    product in the order given."""
    out = []
    for seed in sweep.seeds:
        for combo in itertools.product(*(v for _, v in sweep.axes)):
            settings = {}
            for (key, _), value in zip(sweep.axes, combo):
                names = fields(key)
                settings.update(zip(names, value) if len(names) > 1 else {key: value})
            out.append(ex.override(sweep.base, {**settings, "seed": int(seed)}))
    return out


@functools.cache
def _available_pairs(split: str, val_fraction: float, seed: int, task=None) -> int:
    """Pairs in a split of the task at the full data size (loads the images once per process)."""
    from .data import paired

    return len(paired(split, task, seed=seed, val_fraction=val_fraction))


def check(sweep: Sweep, chunk_size: int = 20, device: str = "cpu") -> list[Experiment]:
    """Refuse, before any work, every setting a chunk would otherwise fail on minutes later; returns
    the grid."""
    from .train import _check_device

    if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1:
        raise ConfigError(f"chunk_size must be a positive integer (networks per chunk), got {chunk_size!r}")
    try:
        _check_device(device)
    except (RuntimeError, ValueError) as err:
        raise ConfigError(f"device: {err}") from None
    experiments = grid(sweep)
    for matmul in sorted({e.train.matmul for e in experiments}):
        try:
            runtime.check_matmul(matmul, device)
        except ValueError as err:
            raise ConfigError(str(err)) from None
    for d, task in {(e.data, e.task) for e in experiments}:
        for name, split in (("n_train", "train"), ("n_test", "test")):
            value = getattr(d, name)
            try:
                available = _available_pairs(split, d.val_fraction if split == "train" else 0.0, d.seed, task)
            except FileNotFoundError as err:
                raise ConfigError(f"task.dataset = {task.dataset}: {err}") from None
            if value is not None and value > available:
                raise ConfigError(f"data.{name} must be at most {available} (the {split} pairs"
                                  f"{f' with data.val_fraction = {d.val_fraction:g}' if split == 'train' and d.val_fraction else ''}), got {value}")
    return experiments


def chunks(experiments: list[Experiment], chunk_size: int) -> list[list[int]]:
    """Indices of the experiments cut into chunks: only networks of the same shape key (differing in
    p and seed alone) share a chunk, and within each group the networks are taken in order of p
    (then in the order given), so that a chunk holds networks of similar sparsity: a chunk of sparse
    networks computes the signal between the modules entry by entry (``model.two_modules``)."""
    groups: dict[str, list[int]] = {}
    for i, e in enumerate(experiments):
        groups.setdefault(ex.shape_key(e), []).append(i)
    groups = {key: sorted(idx, key=lambda i: experiments[i].p) for key, idx in groups.items()}
    return [idx[i : i + chunk_size] for idx in groups.values() for i in range(0, len(idx), chunk_size)]


# -------------------------------------------------------------------------------------------------
# One chunk's work


def measure(experiments, device: str = "cpu", compile: bool = False, progress: bool = False) -> pd.DataFrame:
    """Train the experiments' networks in both architectures, each architecture as one batched
    computation, and measure them with every metric. They must differ only in ``p`` and ``seed``.

    Returns the rows of :func:`modlib.metrics.compute_all` (``network`` numbers the experiments in
    the order given), plus how each network was trained (epochs_trained, rewired, train_seconds),
    metric_seconds, the data sizes and each row's ``experiment`` hash.
    """
    from . import data, model, train
    from . import metrics as mx

    exps = [e if isinstance(e, Experiment) else Experiment.from_dict(e) for e in experiments]
    if not exps:
        raise ValueError("measure needs at least one experiment")
    if len({ex.shape_key(e) for e in exps}) > 1:
        raise ValueError("the experiments of one chunk may differ only in p and seed")
    first = exps[0]
    d, task = first.data, first.task  # one task per chunk: the shape key hashes it
    train_data = data.paired("train", task, n=d.n_train, seed=d.seed, val_fraction=d.val_fraction)
    test_data = data.paired("test", task, n=d.n_test, seed=d.seed)
    val_data = data.paired("validation", task, seed=d.seed, val_fraction=d.val_fraction) if d.val_fraction else None
    p_values, seeds = [e.p for e in exps], [e.seed for e in exps]
    nets, results = {}, {}
    for arch, bottleneck in (("standard", False), ("bottleneck", True)):
        nets[arch] = model.ModularRNN(p_values, seeds, first.model_config(bottleneck), first.train.deepr)
        results[arch] = train.train(nets[arch], train_data, test_data, first.train.for_architecture(bottleneck),
                                    device=device, progress=progress, compile=compile,
                                    val_data=val_data if first.train.max_epochs else None,
                                    test_every_epoch=False)  # the table records the final accuracy only
    start = time.perf_counter()
    with runtime.matmul_precision(first.train.matmul, device):  # the metrics' retraining as the training
        table = mx.compute_all(nets["standard"], nets["bottleneck"], train_data, test_data, first.metrics,
                               accuracy_standard=results["standard"].accuracy,
                               accuracy_bottleneck=results["bottleneck"].accuracy, progress=progress)
    position = table["network"].to_numpy()
    for arch, res in results.items():
        here = (table["architecture"] == arch).to_numpy()
        table.loc[here, "epochs_trained"] = np.asarray(res.epochs)[position[here]]
        table.loc[here, "rewired"] = np.asarray(res.rewired)[position[here]]
        table.loc[here, "train_seconds"] = res.seconds
    table["metric_seconds"] = time.perf_counter() - start
    table["n_train"], table["n_test"] = len(train_data), len(test_data)
    table["n_val"] = len(val_data) if val_data is not None else 0
    table["deepr"] = ex.deepr_overrides(first)  # "" = the paper's Deep-R settings
    table["experiment"] = [ex.experiment_hash(exps[i]) for i in position]
    table["device"] = str(device)
    return st.integer_columns(table)


def run_chunk(spec: dict) -> str:
    """Run one chunk as a papermill run of the chunk notebook and check the piece it stored.

    ``spec`` (plain data, so that a Dask worker can run it) holds the piece's name, the store, its
    experiments (dicts) and keys, the code hash, device, compile, threads. Returns the piece's name.
    Importable by Dask workers (a function of modlib, not of a notebook or ``__main__``).
    """
    import papermill

    store = st.Store(spec["store"])
    name = spec["piece"]
    record = store.notebook(name)
    record.parent.mkdir(parents=True, exist_ok=True)
    papermill.execute_notebook(str(NOTEBOOK), str(record), kernel_name="python3", progress_bar=False,
                               parameters={k: spec[k] for k in ("experiments", "piece", "store", "keys", "code",
                                                                "device", "compile", "threads")} | {"progress": False},
                               cwd=str(store.root), extra_arguments=KERNEL_ARGUMENTS)
    try:
        store.validate(name)
    except ValueError as err:
        raise RuntimeError(f"chunk {name} ran but its piece is not valid ({err}); see {record}") from None
    return name


# -------------------------------------------------------------------------------------------------
# The whole sweep


@dataclass
class Plan:
    """What a run will do: the grid, each network's key, the stored rows it reuses, the chunks to run."""

    experiments: list[Experiment]
    keys: list[str]
    stored: dict[str, pd.DataFrame]
    todo: list[dict]  # chunk specs for run_chunk


def plan(sweep: Sweep, out: Path, chunk_size: int, device: str = "cpu", compile: str = "auto",
         threads: int = 0, log=print, dry_run: bool = False, reuse=()) -> Plan:
    """The networks of ``sweep`` that the store ``out`` holds, and the chunks that compute the rest
    (``dry_run``: look only, leaving damaged pieces where they are). Networks that ``out`` lacks
    are also looked up, read-only, in the stores ``reuse`` (e.g. the paper sweep's, for the
    networks another sweep shares with it: same experiment, same code)."""
    experiments = check(sweep, chunk_size, device)
    store = st.Store(out)
    code = st.code_hash()
    keys = [st.network_key(ex.experiment_hash(e), code, device) for e in experiments]
    stored = store.scan(log=log, set_aside=not dry_run)
    wanted = set(keys)
    for other in reuse:
        other = Path(other).resolve()
        if not other.is_dir():
            raise ConfigError(f"reuse: {other} is not a sweep's store (a folder)")
        if other != store.root:
            for key, rows in st.Store(other).scan(log=log, set_aside=False).items():
                if key in wanted and key not in stored:
                    stored[key] = rows
    missing = [i for i, k in enumerate(keys) if k not in stored]
    todo = []
    for idx in chunks([experiments[i] for i in missing], chunk_size):
        members = [missing[i] for i in idx]
        piece_keys = [keys[i] for i in members]
        todo.append({
            "piece": st.piece_name(piece_keys), "store": str(store.root), "keys": piece_keys,
            "experiments": [experiments[i].to_dict() for i in members], "code": code, "device": device,
            "compile": {"on": True, "off": False}.get(compile, len(members) >= 4), "threads": threads,
        })
    return Plan(experiments, keys, stored, todo)


def assemble(sweep: Sweep, experiments: list[Experiment], keys: list[str], stored: dict) -> pd.DataFrame:
    """The results table: the rows of the networks asked for, in grid order, each exactly once."""
    parts = []
    for i, (e, key) in enumerate(zip(experiments, keys)):
        if key not in stored:
            continue
        rows = stored[key].copy()
        rows["network"] = i
        for axis, _ in sweep.axes:
            for name in fields(axis):
                if name not in ("p", "n_conn"):  # (those two are columns of every table)
                    rows[name] = _cell(ex.get(e, name))
        parts.append(rows)
    if not parts:
        return pd.DataFrame()
    table = pd.concat(parts, ignore_index=True)
    table["sweep"] = sweep.hash()
    return st.integer_columns(table)


def _cell(value):
    return "none" if value is None else value


def check_results_target(results: Path, sweep: Sweep, force: bool) -> None:
    """Refuse to overwrite a table of another sweep (unless ``force``), and refuse to write into
    ``results/`` from a tree with uncommitted changes."""
    results = Path(results).resolve()
    if results.exists() and not force:
        try:
            have = set(pd.read_csv(results, usecols=["sweep"])["sweep"].astype(str))
        except (ValueError, KeyError, pd.errors.ParserError, pd.errors.EmptyDataError):
            have = {"(none recorded)"}
        if have != {sweep.hash()}:
            raise StoreError(f"{results} holds a table of another sweep ({', '.join(sorted(have))}; this one "
                             f"{sweep.hash()}): give --force to overwrite it, or choose another --results")
    if _inside(results, ROOT / "results"):
        changed = st.uncommitted_changes(ignore=[results])
        if changed:
            raise StoreError(f"a table in results/ must come from a clean tree, and {len(changed)} path(s) have "
                             f"uncommitted changes ({', '.join(changed[:3])}): commit them, or write under runs/ "
                             "and `python -m modlib promote` the table later")


def _inside(path: Path, folder: Path) -> bool:
    try:
        Path(path).resolve().relative_to(Path(folder).resolve())
        return True
    except ValueError:
        return False


def check_clean_rows(table: pd.DataFrame, where: str) -> None:
    """A committed table holds rows of one code version, each from a clean tree."""
    dirty = table.loc[table["commit"].astype(str).str.endswith("-dirty") | (table["commit"] == "unknown"),
                      "network"].nunique()
    if dirty:
        raise StoreError(f"{dirty} network(s) of {where} were computed from a tree with uncommitted changes; "
                         "rerun them from a clean tree into a fresh --out")
    if table["code"].nunique() != 1:
        raise StoreError(f"{where} mixes {table['code'].nunique()} code versions")


def run(sweep: Sweep, out: str | Path, results: str | Path | None = None, *, chunk_size: int = 20,
        device: str = "cpu", executor: str = "serial", workers: int = 2, threads_per_worker: int = 1,
        scheduler: str | None = None, compile: str = "auto", wait: bool = False, force: bool = False,
        progress: bool = True, log=print, reuse=()) -> pd.DataFrame:
    """Run (or resume) a sweep into the store ``out``; returns the results table (also written to
    ``<out>/results.csv`` after every chunk, and to ``results`` at the end). Networks held by the
    stores ``reuse`` are taken from there (read-only) instead of computed."""
    out = Path(out).resolve()
    final = Path(results).resolve() if results else out / "results.csv"
    if executor not in EXECUTORS:
        raise ConfigError(f"executor must be one of {', '.join(EXECUTORS)}, got {executor!r}")
    if compile not in ("auto", "on", "off"):
        raise ConfigError(f"compile must be auto, on or off, got {compile!r}")
    for name, value in (("workers", workers), ("threads_per_worker", threads_per_worker)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{name} must be a positive integer, got {value!r}")
    check(sweep, chunk_size, device)
    if results:
        check_results_target(final, sweep, force)
    with st.Lock(out, wait=wait, log=log):
        threads = threads_per_worker if executor == "dask" else 0
        p = plan(sweep, out, chunk_size, device, compile, threads, log=log, reuse=reuse)
        log(f"sweep {sweep.hash()}: {len(p.experiments)} networks, {len(p.experiments) - sum(len(c['keys']) for c in p.todo)} "
            f"stored, {sum(len(c['keys']) for c in p.todo)} to compute in {len(p.todo)} chunk(s) of up to {chunk_size} "
            f"(code {st.code_hash()}, store {out})")
        stored = dict(p.stored)

        def done(name: str) -> None:
            table = st.Store(out).validate(name)
            for key, rows in table.groupby("key", sort=False):
                stored[key] = rows
            st.write_atomic(assemble(sweep, p.experiments, p.keys, stored), out / "results.csv")

        if p.todo:
            (_run_serial if executor == "serial" else _run_dask)(
                p.todo, done, progress=progress, log=log, workers=workers, threads_per_worker=threads_per_worker,
                scheduler=scheduler)
        table = assemble(sweep, p.experiments, p.keys, stored)
        missing = [k for k in p.keys if k not in stored]
        if missing:
            raise StoreError(f"{len(missing)} network(s) were not computed; run the sweep again to retry them")
        st.write_atomic(table, out / "results.csv")
        if results:
            if _inside(final, ROOT / "results"):
                check_clean_rows(table, str(final))
            st.write_atomic(table, final)
    return table


def _bar(total: int, progress: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, disable=not progress, unit="chunk", desc="sweep", smoothing=0)


def _run_serial(todo, done, progress, log, **_):
    bar = _bar(len(todo), progress)
    started = time.perf_counter()
    for i, spec in enumerate(todo, 1):
        t0 = time.perf_counter()
        done(run_chunk(spec))
        bar.update(1)
        left = (time.perf_counter() - started) / i * (len(todo) - i)
        log(f"chunk {i}/{len(todo)} ({len(spec['keys'])} networks) done in {time.perf_counter() - t0:.0f} s; "
            f"about {left / 60:.1f} min left")
    bar.close()


def _run_dask(todo, done, progress, log, workers, threads_per_worker, scheduler):
    from dask.distributed import Client, LocalCluster, as_completed

    cluster = None
    if scheduler:
        client = Client(scheduler)
    else:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=threads_per_worker, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
    try:
        log(f"dask: {len(client.scheduler_info()['workers'])} worker(s) at {client.scheduler.address}")
        futures = [client.submit(run_chunk, spec, key=f"modlib-chunk-{spec['piece']}", pure=False) for spec in todo]
        bar = _bar(len(todo), progress)
        started, finished = time.perf_counter(), 0
        for future in as_completed(futures):
            done(future.result())
            finished += 1
            bar.update(1)
            left = (time.perf_counter() - started) / finished * (len(todo) - finished)
            log(f"chunk {finished}/{len(todo)} done; about {left / 60:.1f} min left")
        bar.close()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def promote(table_path: str | Path, dest: str | Path, force: bool = False, log=print) -> pd.DataFrame:
    """Copy a finished sweep table (e.g. ``runs/paper/results.csv``) to ``dest`` (e.g. in ``results/``),
    after checking it: one sweep, one code version, every row from a clean tree, and no other
    sweep's table overwritten unless ``force``."""
    table_path, dest = Path(table_path).resolve(), Path(dest).resolve()
    if not table_path.exists():
        raise StoreError(f"no table at {table_path}; run the sweep first")
    table = pd.read_csv(table_path)
    need = {"sweep", "code", "commit", "network", "key"} - set(table.columns)
    if need:
        raise StoreError(f"{table_path} is not a table of the store (no {', '.join(sorted(need))} column)")
    if table["sweep"].nunique() != 1:
        raise StoreError(f"{table_path} mixes {table['sweep'].nunique()} sweeps")
    check_clean_rows(table, str(table_path))
    last = table["step"] == table.groupby("network")["step"].transform("max") if "step" in table else True
    if (table[last].groupby("network").size() != st.ROWS_PER_NETWORK).any():
        raise StoreError(f"{table_path} has networks without their {st.ROWS_PER_NETWORK} rows")
    if dest.exists() and not force:
        try:
            have = set(pd.read_csv(dest, usecols=["sweep"])["sweep"].astype(str))
        except (ValueError, KeyError, pd.errors.ParserError, pd.errors.EmptyDataError):
            have = {"(none recorded)"}
        if have != set(table["sweep"].astype(str)):
            raise StoreError(f"{dest} holds a table of another sweep ({', '.join(sorted(have))}): give --force "
                             "to overwrite it")
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(table_path, dest)
    log(f"{table['network'].nunique()} networks ({len(table)} rows, sweep {table['sweep'].iloc[0]}, "
        f"commit {table['commit'].iloc[0]}) copied to {dest}")
    return table


# -------------------------------------------------------------------------------------------------
# Helpers for notebooks


def stand_in(n_train: int, epochs: int) -> dict:
    """The overrides of a chapter's small stand-in sweep, run when its committed table is missing:
    ``n_train`` training pairs, ``epochs`` epochs for both architectures, 1000 test pairs and
    shortened metrics."""
    return {"data.n_train": n_train, "data.n_test": 1000, "train.epochs": epochs,
            "train.bottleneck_epochs": epochs, "metrics.bottleneck_epochs": 2,
            "metrics.n_pairs": 1000, "metrics.cka_repeats": 1}


def experiments(base: Experiment | dict | None = None, p=(1e-4, 1.0), seeds=(0,), **overrides) -> list[Experiment]:
    """Experiments for a small p x seeds grid on ``base`` (an Experiment or a partial dict) with
    dotted overrides, in the sweep's order: ``sweep.experiments(p=[1e-4, 1], **{"data.n_train": 500})``."""
    if base is None:
        base = Experiment()
    elif isinstance(base, dict):
        base = Experiment.from_dict(base)
    base = ex.override(base, overrides) if overrides else base
    return grid(Sweep(base, axes=(("p", tuple(p)),), seeds=tuple(seeds)))


def compute(spec: Sweep, n_train: int, epochs: int) -> pd.DataFrame:
    """A small version of a sweep, computed here without a store (a chapter's stand-in when its
    committed table is missing): the sweep's grid with the overrides of :func:`stand_in`, one
    batched computation per chunk of networks that can train together. Returns the table in the
    sweep's long format: ``network`` numbers the grid, one column per axis field."""
    small = Sweep(ex.override(spec.base, stand_in(n_train, epochs)), spec.axes, spec.seeds)
    exps = grid(small)
    parts = []
    for idx in chunks(exps, len(exps)):
        part = measure([exps[i] for i in idx])
        part["network"] = np.asarray(idx)[part["network"].to_numpy()]
        for axis, _ in small.axes:
            for name in fields(axis):
                if name not in ("p", "n_conn"):
                    part[name] = [_cell(ex.get(exps[i], name)) for i in part["network"]]
        parts.append(part)
    return st.integer_columns(pd.concat(parts, ignore_index=True))
