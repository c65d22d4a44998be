"""The result store of a sweep: content-addressed, validated pieces, one writer at a time.

A *piece* is the work of one chunk: the rows of a few networks trained together. It is named by
what it computed, never by its place in a grid:

- each network's *key* is a hash of its full experiment (:func:`modlib.experiment.experiment_hash`),
  of the code that computes it (:func:`code_hash`: the ``modlib`` sources and the chunk notebook)
  and of the device type;
- a piece's name is a hash of its networks' keys.

``<store>/pieces/<name>.csv`` holds the rows and ``<store>/pieces/<name>.json`` its record: the
keys, the experiments, the row count and the sha256 of the CSV, written last, so that a piece
without a record is unfinished. A piece is trusted only after :func:`validate` passes (record
readable, names and keys agree, checksum, row count, no missing values); a damaged one is reported
in one line and set aside (``.damaged``), and its networks are computed again. The executed chunk
notebook is kept as ``<store>/notebooks/<name>.ipynb``.

:class:`Lock` lets one sweep write to a store at a time (``<store>/.lock`` holds the pid and host).
Only this module and :mod:`modlib.sweep` touch the disk.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
CHUNK_NOTEBOOK_SOURCE = ROOT / "notebooks" / "08_sweep_chunk.py"
# Per network: weight mask, correlation and CKA of the standard network, bottleneck metric of the
# bottleneck one, each for 2 sub-networks x 2 sub-tasks.
ROWS_PER_NETWORK = 16
# With metrics.time_resolved, each earlier step t = 1..T-1 adds the correlation metric and the
# bottleneck probe: 2 metrics x 2 sub-networks x 2 sub-tasks.
ROWS_PER_EARLIER_STEP = 8


def rows_per_network(experiment: dict) -> int:
    """The rows one network of this experiment (a dict, as stored in a piece's record) has."""
    steps = experiment.get("model", {}).get("n_steps", 5)
    timed = experiment.get("metrics", {}).get("time_resolved", False)
    return ROWS_PER_NETWORK + (ROWS_PER_EARLIER_STEP * (steps - 1) if timed else 0)


# Columns a stored row must have filled in.
REQUIRED = ("key", "piece", "experiment", "architecture", "p", "seed", "accuracy", "subnetwork", "task",
            "metric", "value", "epochs_trained", "rewired", "code", "commit")
INTEGER_COLUMNS = ("network", "seed", "n_conn", "subnetwork", "task", "epochs_trained", "rewired", "n_train",
                   "n_test")


class StoreError(RuntimeError):
    """A store that cannot be used as asked (busy, or holding something else); the message says why."""


# -------------------------------------------------------------------------------------------------
# Provenance


@functools.cache
def code_hash() -> str:
    """16 hex digits of sha256 over the ``modlib`` sources and the chunk notebook's source."""
    h = hashlib.sha256()
    for path in sorted((ROOT / "modlib").glob("*.py")) + [CHUNK_NOTEBOOK_SOURCE]:
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def git_commit() -> str:
    """The commit of the tree, with ``-dirty`` when tracked files have uncommitted changes."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("-dirty" if uncommitted_changes() else "")


def uncommitted_changes(ignore=()) -> list[str]:
    """Paths (relative to the repository) with uncommitted changes, untracked files included
    (ignored files are not changes); ``ignore`` leaves some paths out."""
    try:
        out = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return ["(not a git checkout)"]
    skip = {str(Path(p).resolve()) for p in ignore}
    paths = [line[3:].split(" -> ")[-1] for line in out.splitlines() if line.strip()]
    return [p for p in paths if str((ROOT / p).resolve()) not in skip]


def provenance() -> dict:
    """Package versions, the commit and the code hash, stored with every row."""
    import torch

    return {"torch": torch.__version__, "numpy": np.__version__, "pandas": pd.__version__,
            "python": sys.version.split()[0], "commit": git_commit(), "code": code_hash()}


def network_key(experiment_hash: str, code: str, device: str) -> str:
    """What identifies a network's stored rows: its experiment, the code and the device type."""
    import torch

    kind = torch.device(device).type
    return hashlib.sha256(f"{experiment_hash}:{code}:{kind}".encode()).hexdigest()[:16]


def piece_name(keys) -> str:
    return hashlib.sha256(",".join(sorted(keys)).encode()).hexdigest()[:16]


# -------------------------------------------------------------------------------------------------
# Files


def write_atomic(data: str | bytes | pd.DataFrame, path: str | Path) -> None:
    """Write a file so that ``path`` holds either the old file or the whole new one, never a part."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, pd.DataFrame):
        data = data.to_csv(index=False)
    if isinstance(data, str):
        data = data.encode()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; a results table is for everyone to read
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def integer_columns(table: pd.DataFrame) -> pd.DataFrame:
    """Counts stay integers in a table (a CSV column of 5.0 reads as float otherwise)."""
    for col in INTEGER_COLUMNS:
        if col in table.columns and table[col].notna().all():
            table[col] = table[col].astype("int64")
    return table


@dataclass(frozen=True)
class Store:
    """A sweep's folder: ``pieces/`` (rows and records), ``notebooks/`` (executed chunks), ``.lock``."""

    root: Path

    def __post_init__(self):
        object.__setattr__(self, "root", Path(self.root).resolve())

    @property
    def pieces(self) -> Path:
        return self.root / "pieces"

    def csv(self, name: str) -> Path:
        return self.pieces / f"{name}.csv"

    def record(self, name: str) -> Path:
        return self.pieces / f"{name}.json"

    def notebook(self, name: str) -> Path:
        return self.root / "notebooks" / f"{name}.ipynb"

    # ---------------------------------------------------------------------------------------------
    def write_piece(self, name: str, table: pd.DataFrame, keys: list[str], experiments: list[dict]) -> None:
        """Store a piece: its rows (each carrying the piece's name), then its record."""
        table = table.copy()
        table["piece"] = name
        body = integer_columns(table).to_csv(index=False).encode()
        write_atomic(body, self.csv(name))
        record = {"piece": name, "keys": list(keys), "experiments": experiments, "rows": len(table),
                  "sha256": hashlib.sha256(body).hexdigest(), "written": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                  "host": socket.gethostname()}
        write_atomic(json.dumps(record, indent=1), self.record(name))

    def validate(self, name: str) -> pd.DataFrame:
        """The rows of piece ``name`` once every check passes; ValueError naming the failed check."""
        try:
            record = json.loads(self.record(name).read_text())
            keys = record["keys"]
            assert record["piece"] == name == piece_name(keys), "its name does not match its networks"
        except (OSError, ValueError, KeyError, TypeError, AssertionError) as err:
            raise ValueError(f"unreadable record ({type(err).__name__}: {err})") from None
        try:
            body = self.csv(name).read_bytes()
        except OSError:
            raise ValueError("its rows are missing") from None
        if hashlib.sha256(body).hexdigest() != record["sha256"]:
            raise ValueError(f"its rows do not match the checksum in its record ({len(body)} bytes)")
        table = pd.read_csv(io.BytesIO(body))
        try:
            per_key = {k: rows_per_network(e) for k, e in zip(keys, record["experiments"], strict=True)}
        except (KeyError, TypeError, AttributeError, ValueError) as err:
            raise ValueError(f"unreadable record ({type(err).__name__}: {err})") from None
        expected = sum(per_key.values())
        if len(table) != record["rows"] or len(table) != expected:
            raise ValueError(f"{len(table)} rows, expected {expected}")
        missing = [c for c in REQUIRED if c not in table.columns or table[c].isna().any()]
        if missing:
            raise ValueError(f"missing values in {', '.join(missing)}")
        if set(table["piece"]) != {name} or sorted(set(table["key"])) != sorted(keys) \
                or any(n != per_key[k] for k, n in table.groupby("key").size().items()):
            raise ValueError("its rows do not belong to the networks of its record")
        return integer_columns(table)

    def set_aside(self, name: str) -> None:
        """Move a damaged piece out of the way (kept as ``.damaged`` for inspection)."""
        for path in (self.csv(name), self.record(name)):
            if path.exists():
                os.replace(path, path.with_name(path.name + ".damaged"))

    def scan(self, log=print, set_aside: bool = True) -> dict[str, pd.DataFrame]:
        """Rows of every trusted piece, by network key. Damaged pieces are reported and set aside
        (``set_aside=False``: only reported); a piece still being written (rows without a record) is
        left alone."""
        found: dict[str, pd.DataFrame] = {}
        if not self.pieces.exists():
            return found
        for record in sorted(self.pieces.glob("*.json")):
            name = record.stem
            try:
                table = self.validate(name)
            except ValueError as err:
                log(f"damaged piece {self.csv(name)}: {err}; its networks will be computed again")
                if set_aside:
                    self.set_aside(name)
                continue
            for key, rows in table.groupby("key", sort=False):
                found.setdefault(key, rows)
        return found


# -------------------------------------------------------------------------------------------------
# One writer at a time


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Lock:
    """``<store>/.lock``, created exclusively, holding the holder's pid, host and start time.

    A second sweep on the same store waits for it (``wait=True``) or stops with one line naming the
    holder. A lock left by a process of this host that no longer runs is taken over (and said so).
    """

    def __init__(self, root: Path, wait: bool = False, poll: float = 1.0, log=print):
        self.path = Path(root) / ".lock"
        self.wait, self.poll, self.log = wait, poll, log
        self.held = False

    def _holder(self) -> dict | None:
        try:
            return json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        me = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.strftime("%Y-%m-%d %H:%M:%S")}
        said = False
        while True:
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = self._holder()
                if holder is None:  # being written this instant, or unreadable: look again
                    time.sleep(0.05)
                    if self._holder() is None and self.path.exists() and time.time() - self.path.stat().st_mtime > 5:
                        self.log(f"removing the unreadable lock {self.path}")
                        self.path.unlink(missing_ok=True)
                    continue
                if holder.get("host") == me["host"] and not _alive(int(holder.get("pid", -1))):
                    self.log(f"taking over the lock of pid {holder['pid']}, which no longer runs")
                    self.path.unlink(missing_ok=True)
                    continue
                text = (f"{self.path.parent} is in use by pid {holder.get('pid')} on {holder.get('host')} "
                        f"since {holder.get('since')}")
                if not self.wait:
                    raise StoreError(f"{text}: wait for it (--wait), or choose another --out")
                if not said:
                    self.log(f"{text}; waiting")
                    said = True
                time.sleep(self.poll)
                continue
            with os.fdopen(fd, "w") as f:
                json.dump(me, f)
            self.held = True
            return

    def release(self) -> None:
        if self.held:
            self.path.unlink(missing_ok=True)
            self.held = False

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc):
        self.release()
