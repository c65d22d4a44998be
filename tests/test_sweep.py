"""The sweep and its store, end to end on tiny grids: reuse by content, damaged pieces, one writer,
relative paths, provenance, and the CLI's refusals."""

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from modlib import experiment as ex
from modlib import store as st
from modlib import sweep
from modlib.config import ConfigError

TINY = {"data.n_train": 200, "data.n_test": 100, "data.val_fraction": 0.0, "train.epochs": 1,
        "train.bottleneck_epochs": 1, "metrics.bottleneck_epochs": 1, "metrics.n_pairs": 100,
        "metrics.cka_repeats": 1}
TINY_ARGS = ["--n-train", "200", "--n-test", "100", "--epochs", "1", "--bottleneck-epochs", "1",
             "--set", "metrics.bottleneck_epochs=1", "metrics.n_pairs=100", "metrics.cka_repeats=1",
             "data.val_fraction=0", "--quiet"]
TIMING = ["train_seconds", "metric_seconds"]


def tiny_sweep(p=(1e-4, 1.0), seeds=2) -> sweep.Sweep:
    return sweep.Sweep(ex.override(ex.Experiment(), TINY), axes=(("p", tuple(p)),), seeds=seeds)


class Log(list):
    def __call__(self, line):
        self.append(str(line))

    def computed(self) -> int:
        """Networks the run said it would compute."""
        line = next(x for x in self if " to compute" in x)
        return int(line.split(" stored, ")[1].split()[0])


def run(spec, out, **kw):
    log = Log()
    table = sweep.run(spec, out, log=log, progress=False, **kw)
    return table, log


def same(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    cols = [c for c in a.columns if c not in TIMING]
    return a[cols].reset_index(drop=True).equals(b[cols].reset_index(drop=True))


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """A tiny sweep (2 p x 2 seeds, chunks of 2) computed once; tests work on copies of its store."""
    out = tmp_path_factory.mktemp("base") / "store"
    table, log = run(tiny_sweep(), out, chunk_size=2)
    return out, table


def copy(stored, tmp_path) -> Path:
    dest = tmp_path / "store"
    shutil.copytree(stored[0], dest)
    return dest


def test_the_table_holds_every_network_once_with_its_provenance(stored):
    out, table = stored
    assert len(table) == 4 * st.ROWS_PER_NETWORK and table["network"].tolist() == sorted(table["network"])
    assert table.groupby("network").size().eq(st.ROWS_PER_NETWORK).all()
    nets = table.drop_duplicates("network")
    assert nets[["p", "seed"]].values.tolist() == [[1e-4, 0], [1.0, 0], [1e-4, 1], [1.0, 1]]  # seed-major
    assert table["code"].nunique() == 1 and table["code"].iloc[0] == st.code_hash()
    assert table["sweep"].nunique() == 1 and table["commit"].notna().all()
    for col in ("epochs_trained", "rewired", "network", "n_train"):
        assert table[col].dtype == "int64", col
    assert len(list((out / "pieces").glob("*.json"))) == 2 and len(list((out / "notebooks").glob("*.ipynb"))) == 2
    assert same(pd.read_csv(out / "results.csv"), table)


def test_other_p_values_compute_only_the_new_networks(stored, tmp_path):
    out = copy(stored, tmp_path)
    table, log = run(tiny_sweep(p=(1e-4, 0.5)), out, chunk_size=2)
    assert log.computed() == 2  # p = 0.5 for both seeds; p = 1e-4 comes from the store
    assert sorted(set(table["p"])) == [1e-4, 0.5] and table["network"].nunique() == 4
    old = stored[1]
    reused = table[table["p"] == 1e-4].drop(columns=["network", "sweep"])
    assert same(reused, old[old["p"] == 1e-4].drop(columns=["network", "sweep"]))
    one_seed, log = run(tiny_sweep(seeds=1), out, chunk_size=2)
    assert log.computed() == 0 and set(one_seed["seed"]) == {0} and one_seed["network"].nunique() == 2


def test_a_time_resolved_sweep_stores_every_step_and_promotes(tmp_path):
    """With metrics.time_resolved a network has 8 more rows per earlier step; the store checks each
    piece against its own experiments' count, and promote reads the last step's 16 rows."""
    timed = sweep.Sweep(ex.override(ex.Experiment(), {**TINY, "metrics.time_resolved": True}),
                        axes=(("p", (1e-4,)),), seeds=1)
    table, _ = run(timed, tmp_path / "store", chunk_size=1)
    steps = ex.Experiment().model.n_steps
    assert len(table) == st.rows_per_network(timed.base.to_dict()) == 16 + 8 * (steps - 1)
    assert sorted(table["step"].unique()) == list(range(1, steps + 1))
    assert (table["step"] == steps).sum() == st.ROWS_PER_NETWORK
    clean = pd.read_csv(tmp_path / "store" / "results.csv").assign(commit="0123456789ab")
    clean.to_csv(tmp_path / "clean.csv", index=False)  # (this test may run from an edited tree)
    promoted = sweep.promote(tmp_path / "clean.csv", tmp_path / "timed.csv", log=Log())
    assert len(promoted) == len(table)
    piece = next((tmp_path / "store" / "pieces").glob("*.csv"))
    rows = pd.read_csv(piece)
    body = rows[rows["step"] == steps].to_csv(index=False).encode()  # the earlier steps lost
    piece.write_bytes(body)
    record = json.loads(piece.with_suffix(".json").read_text())  # (a record that agrees)
    record.update(sha256=hashlib.sha256(body).hexdigest(), rows=st.ROWS_PER_NETWORK)
    piece.with_suffix(".json").write_text(json.dumps(record))
    log = Log()
    assert len(sweep.plan(timed, tmp_path / "store", 1, log=log).todo) == 1
    assert any("expected" in line for line in log), log


def test_another_store_lends_its_networks_read_only(stored, tmp_path):
    """--reuse: a sweep sharing networks with another store takes them from there (same rows),
    computes only the others into its own store, and leaves the other store as it was."""
    before = sorted(p.name for p in (stored[0] / "pieces").iterdir())
    bits = sweep.Sweep(ex.override(ex.Experiment(), {**TINY, "task.name": "bandwidth"}),
                       axes=(("task.bits", (1, 2)), ("p", (1e-4,))), seeds=1)
    table, log = run(bits, tmp_path / "own", chunk_size=2, reuse=[stored[0]])
    assert log.computed() == 1  # b = 2; b = 1 is the parity task, stored in the other store
    assert table["task.bits"].tolist() == [1] * 16 + [2] * 16
    old = stored[1]
    lent = table[table["task.bits"] == 1].drop(columns=["network", "sweep", "task.bits"])
    assert same(lent, old[(old["p"] == 1e-4) & (old["seed"] == 0)].drop(columns=["network", "sweep"]))
    assert sorted(p.name for p in (stored[0] / "pieces").iterdir()) == before
    with pytest.raises(ConfigError, match="reuse"):
        sweep.run(bits, tmp_path / "own", reuse=[tmp_path / "nowhere"], progress=False, log=Log())


def test_another_chunk_size_recomputes_and_duplicates_nothing(stored, tmp_path):
    out = copy(stored, tmp_path)
    table, log = run(tiny_sweep(), out, chunk_size=1)
    assert log.computed() == 0 and len(table) == 4 * st.ROWS_PER_NETWORK
    assert same(table, stored[1])
    table, log = run(tiny_sweep(p=(1e-4, 1.0, 0.1)), out, chunk_size=3)
    assert log.computed() == 2 and len(table) == 6 * st.ROWS_PER_NETWORK and not table.duplicated(
        ["p", "seed", "architecture", "subnetwork", "task", "metric"]).any()


def test_damaged_pieces_are_reported_and_recomputed(stored, tmp_path):
    out = copy(stored, tmp_path)
    first, second = sorted((out / "pieces").glob("*.csv"))
    text = first.read_text()
    cut = text.index("bottleneck", text.index("\n", 2000))  # a row cut just after its metric field
    first.write_text(text[: cut + len("bottleneck")])
    second.write_text(second.read_text().splitlines()[0] + "\n")  # header only
    table, log = run(tiny_sweep(), out, chunk_size=2)
    damaged = [line for line in log if line.startswith("damaged piece")]
    assert len(damaged) == 2 and any(first.name in line for line in damaged)
    assert all("checksum" in line for line in damaged)
    assert log.computed() == 4 and same(table, stored[1])  # the same networks again, bit for bit
    # a truncated record, an empty rows file, a record without its rows
    first_json = first.with_suffix(".json")
    first_json.write_text(first_json.read_text()[:40])
    second.write_text("")
    table, log = run(tiny_sweep(), out, chunk_size=2)
    assert sum(line.startswith("damaged piece") for line in log) == 2 and same(table, stored[1])
    assert any("unreadable record" in line for line in log)
    assert list((out / "pieces").glob("*.damaged"))


def test_results_of_another_sweep_are_not_overwritten(stored, tmp_path):
    out = copy(stored, tmp_path)
    target = tmp_path / "table.csv"
    run(tiny_sweep(), out, results=target, chunk_size=2)
    before = target.read_bytes()
    with pytest.raises(sweep.StoreError, match="another sweep.*--force"):
        run(tiny_sweep(seeds=1), out, results=target, chunk_size=2)
    assert target.read_bytes() == before
    run(tiny_sweep(), out, results=target, chunk_size=2)  # the same sweep may rewrite its table
    table, _ = run(tiny_sweep(seeds=1), out, results=target, chunk_size=2, force=True)
    assert pd.read_csv(target)["network"].nunique() == 2


def test_a_results_table_in_results_needs_a_clean_tree(stored, tmp_path, monkeypatch):
    monkeypatch.setattr(st, "uncommitted_changes", lambda ignore=(): ["modlib/model.py"])
    with pytest.raises(sweep.StoreError, match="clean tree.*modlib/model.py"):
        run(tiny_sweep(), copy(stored, tmp_path), results=st.ROOT / "results" / "never_written.csv", chunk_size=2)
    assert not (st.ROOT / "results" / "never_written.csv").exists()
    dirty = stored[1].assign(commit="abc123-dirty")
    dirty.to_csv(tmp_path / "dirty.csv", index=False)
    with pytest.raises(sweep.StoreError, match="uncommitted changes"):
        sweep.promote(tmp_path / "dirty.csv", tmp_path / "promoted.csv")
    clean = stored[1].assign(commit="abc123")
    clean.to_csv(tmp_path / "clean.csv", index=False)
    sweep.promote(tmp_path / "clean.csv", tmp_path / "promoted.csv", log=lambda *_: None)
    assert (tmp_path / "promoted.csv").read_bytes() == (tmp_path / "clean.csv").read_bytes()


def test_one_writer_per_store_and_relative_paths_from_any_directory(stored, tmp_path):
    """Two sweeps started together on one store, from a directory outside the repository, with a
    relative --out: one computes every piece, the other waits and computes nothing; a third, not
    waiting, stops with one line. Nothing is written inside the repository."""
    shutil.copytree(stored[0], tmp_path / "rel")
    for piece in (tmp_path / "rel" / "pieces").glob("*"):
        piece.unlink()  # the same store, emptied: every piece must be computed
    before = set(os.listdir(st.ROOT))
    cmd = [sys.executable, "-m", "modlib", "sweep", "--p", "1e-4", "1", "--seeds", "2", "--chunk-size", "2",
           *TINY_ARGS, "--out", "rel", "--wait"]
    procs = [subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for _ in range(2)]
    lock = tmp_path / "rel" / ".lock"
    deadline = time.time() + 60
    while not lock.exists() and time.time() < deadline:
        time.sleep(0.05)
    busy = subprocess.run([c for c in cmd if c != "--wait"], cwd=tmp_path, capture_output=True, text=True)
    outs = [p.communicate(timeout=300)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    assert busy.returncode == 2 and "is in use by pid" in busy.stderr and "Traceback" not in busy.stderr
    assert len(busy.stderr.strip().splitlines()) == 1
    computed = sorted(int(o.split(" stored, ")[1].split()[0]) for o in outs)
    assert computed == [0, 4], outs  # exactly one of them computed each piece
    assert any("waiting" in o for o in outs)
    table = pd.read_csv(tmp_path / "rel" / "results.csv")
    assert same(st.integer_columns(table), stored[1])
    assert set(os.listdir(st.ROOT)) == before and not lock.exists()


def test_a_stale_lock_of_a_dead_process_is_taken_over(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / ".lock").write_text(json.dumps({"pid": dead.pid, "host": os.uname().nodename, "since": "then"}))
    log = Log()
    with st.Lock(tmp_path, log=log):
        assert json.loads((tmp_path / ".lock").read_text())["pid"] == os.getpid()
    assert "no longer runs" in log[0] and not (tmp_path / ".lock").exists()


REFUSALS = [
    (["--p", "0", "1"], "p must be in"), (["--p", "1e-5"], "p must be in"), (["--p", "1.5"], "p must be in"),
    (["--p", "1e-4", "1e-4"], "axis p holds a value twice"), (["--seeds", "0"], "seeds"),
    (["--chunk-size", "0"], "chunk_size"), (["--deepr", "lr_dense=-1"], "train.deepr.lr_dense"),
    (["--deepr", "eps=0"], "train.deepr.eps"), (["--deepr", "l1=inf"], "train.deepr.l1"),
    (["--deepr", "bogus=1"], "train.deepr.bogus"), (["--deepr", "lr_dense"], "lr_dense"),
    (["--deepr", "l1=x"], "train.deepr.l1 must be a number"), (["--deepr", "l1=1", "l1=2"], "twice"),
    (["--epochs", "0"], "train.epochs"), (["--bottleneck-epochs", "0"], "train.bottleneck_epochs"),
    (["--max-epochs", "-1"], "train.max_epochs"), (["--max-epochs", "15"], "data.val_fraction"),
    (["--n-train", "0"], "data.n_train"), (["--n-test", "100000"], "data.n_test must be at most"),
    (["--coupling", "both"], "model.coupling"), (["--set", "train.lr=0.5x"], "train.lr must be a number"),
    (["--set", "train.rho=1"], "train.rho"), (["--set", "model.init_range=inf"], "model.init_range"),
    (["--set", "nonsense=1"], "nonsense"), (["--set", "task.bits=2"], "task.bits must be 1 with name 'parity'"),
    (["--set", "task.dataset=cifar10"], "task.dataset must be one of"),
    (["--set", "task.covariance=1.5"], "task.covariance"), (["--set", "model.cell=transformer"], "model.cell must be one of"),
    (["--set", "model.connections=random"], "model.connections must be one of"),
    (["--set", "model.n_hidden=1"], "model.n_hidden must be an integer in [2, 1000]"),
    (["--set", "model.n_hidden=1001"], "model.n_hidden must be an integer in [2, 1000]"),
    (["--set", "n_conn=20000"], "n_conn must be an integer in [0, 10000]"),
    (["--set", "model.cell=gru", "--coupling", "authors"], "model.coupling must be 'eq3' with the gru cell"),
    (["--set", "task.name=bandwidth", "task.bits=4"], "task.bits must be an integer in [0, 3]"), (["--grid", "model.coupling=eq3,eq3"], "twice"),
    (["--grid", "train.deepr.betas=0.9"], "betas"), (["--set", "data.n_train=5", "--n-train", "6"], "twice"),
    (["--set", "train.matmul=fp16"], "train.matmul must be one of"),
    (["--set", "train.matmul=tf32"] if not __import__("torch").cuda.is_available()
     else ["--set", "train.matmul=bf16", "--device", "cuda"], "train.matmul = "),
    (["--executor", "spark"], "invalid choice"), (["--device", "cuda:0"] if not __import__("torch").cuda.is_available()
                                                  else ["--device", "tpu"], "device"),
]

# Each refusal runs in its own process, as `python -m modlib sweep ARGS` would: a runner that has
# imported modlib once forks a child per case, whose exit status and standard error are its own
# (a process of its own per case costs an import of torch each, about 2.5 s).
_FORKED_CLI = """
import json, os, sys, traceback
from modlib import __main__ as cli
results = []
for args in json.loads(sys.argv[1]):
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(write, 2)
        code = 1  # an uncaught exception: its traceback, and status 1, as the interpreter gives
        try:
            code = cli.main(args)
        except SystemExit as stop:
            code = stop.code
            if isinstance(code, str):  # sys.exit("message"): the message, and status 1
                print(code, file=sys.stderr)
                code = 1
        except BaseException:
            traceback.print_exc()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code or 0)
    os.close(write)
    with os.fdopen(read) as pipe:
        stderr = pipe.read()
    status = os.waitpid(pid, 0)[1]
    results.append([os.waitstatus_to_exitcode(status), stderr])
print(json.dumps(results))
"""


@pytest.fixture(scope="module")
def refusals(tmp_path_factory):
    """What the command line did with each case of REFUSALS: (exit status, standard error, its
    --out folder) by case."""
    root = tmp_path_factory.mktemp("refusals")
    argv = [["sweep", *args, "--out", str(root / f"never{i}")] for i, (args, _) in enumerate(REFUSALS)]
    proc = subprocess.run([sys.executable, "-c", _FORKED_CLI, json.dumps(argv)], capture_output=True, text=True,
                          check=True)
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    return {i: (code, stderr, root / f"never{i}") for i, (code, stderr) in enumerate(results)}


@pytest.mark.parametrize("case", range(len(REFUSALS)), ids=[" ".join(a) for a, _ in REFUSALS])
def test_bad_settings_are_refused_in_one_line_before_any_work(case, refusals):
    args, named = REFUSALS[case]
    code, stderr, out = refusals[case]
    assert code == 2, stderr
    assert named in stderr, (args, stderr)
    assert "Traceback" not in stderr and len(stderr.strip().splitlines()) <= 3
    assert not out.exists()


def test_the_command_refuses_in_one_line_as_its_own_process(tmp_path):
    """One refusal through `python -m modlib sweep` itself: exit status 2 and one line, before any work."""
    proc = subprocess.run([sys.executable, "-m", "modlib", "sweep", "--p", "1.5", "--out", str(tmp_path / "never")],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "p must be in" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) <= 3
    assert not (tmp_path / "never").exists()


def test_committed_tables_match_the_current_configuration():
    """results/paper.csv is the paper profile, computed by the store from one clean commit; the other
    readings carry the settings their commands name."""
    root = st.ROOT / "results"
    paper = pd.read_csv(root / "paper.csv")
    assert set(paper["sweep"]) == {sweep.PROFILES["paper"].hash()}
    wanted = {ex.experiment_hash(e) for e in sweep.grid(sweep.PROFILES["paper"])}
    assert set(paper["experiment"]) == wanted and paper["network"].nunique() == 100
    assert paper["code"].nunique() == 1 and not paper["commit"].str.endswith("-dirty").any()
    low = pd.read_csv(root / "paper_lr_dense_0.003.csv", usecols=["deepr", "coupling"])
    assert set(low["deepr"]) == {"lr_dense=0.003"} and set(low["coupling"]) == {"eq3"}
    # its b = 1 networks are the paper table's (seeds 0-4): the same rows, value for value
    bandwidth = _profile_table("bandwidth", 200)
    assert sorted(bandwidth["task.bits"].unique()) == [0, 1, 2, 3]
    cols = ["key", "architecture", "p", "seed", "accuracy", "subnetwork", "task", "metric", "value"]
    one = bandwidth[bandwidth["task.bits"] == 1][cols].sort_values(cols[:8]).reset_index(drop=True)
    same = paper[paper["seed"] < 5][cols].sort_values(cols[:8]).reset_index(drop=True)
    assert len(one) == 50 * st.ROWS_PER_NETWORK and one.equals(same)
    authors = pd.read_csv(root / "paper_authors_coupling.csv")
    assert set(authors["coupling"]) == {"authors"}
    assert authors["code"].nunique() == 1 and not authors["commit"].str.endswith("-dirty").any()
    assert authors["network"].nunique() == 100
    # the paper sweep with bf16 products: the paper grid's networks with train.matmul = bf16, each its
    # own experiment (no row shared with the float32 table), from one clean commit
    bf16 = pd.read_csv(root / "paper_bf16.csv")
    low = sweep.Sweep(ex.override(sweep.PROFILES["paper"].base, {"train.matmul": "bf16"}),
                      axes=sweep.PROFILES["paper"].axes, seeds=sweep.PROFILES["paper"].seeds)
    assert set(bf16["sweep"]) == {low.hash()} and bf16["network"].nunique() == 100
    assert set(bf16["experiment"]) == {ex.experiment_hash(e) for e in sweep.grid(low)}
    assert not set(bf16["experiment"]) & set(paper["experiment"]) and not set(bf16["key"]) & set(paper["key"])
    assert bf16["code"].nunique() == 1 and not bf16["commit"].str.endswith("-dirty").any()


@pytest.mark.parametrize("profile, networks", [("cells", 72), ("fashion", 18), ("resources", 60),
                                               ("separability", 120), ("over_time", 24)])
def test_the_tables_beyond_the_paper_are_their_profiles(profile, networks):
    """Each chapter beyond the paper reads a committed table: its profile's whole grid, from one clean
    commit; the over_time table has every step of every network."""
    table = _profile_table(profile, networks)
    if profile == "over_time":
        steps = table.groupby("network")["step"].agg(lambda s: sorted(set(s)))
        assert steps.map(lambda s: s == [1, 2, 3, 4, 5]).all()
        record = sweep.grid(sweep.PROFILES[profile])[0].to_dict()
        assert table.groupby("network").size().eq(st.rows_per_network(record)).all()
    else:
        assert set(table["step"]) == {5}


def _profile_table(profile: str, networks: int) -> pd.DataFrame:
    """results/<profile>.csv is that profile's sweep, every network of its grid once, each with every
    row, computed by the store from one clean commit."""
    table = pd.read_csv(st.ROOT / "results" / f"{profile}.csv")
    assert set(table["sweep"]) == {sweep.PROFILES[profile].hash()}, profile
    grid = sweep.grid(sweep.PROFILES[profile])
    assert set(table["experiment"]) == {ex.experiment_hash(e) for e in grid}, profile
    assert table["network"].nunique() == len(grid) == networks, profile
    last = table[table["step"] == table["step"].max()]  # (time-resolved tables add earlier steps)
    assert last.groupby("network").size().eq(st.ROWS_PER_NETWORK).all(), profile
    assert table["code"].nunique() == 1 and not table["commit"].str.endswith("-dirty").any(), profile
    return table


def test_linked_axes_set_their_fields_together_and_are_columns_of_the_table():
    spec = sweep.PROFILES["resources"]
    pairs = [(e.model.n_hidden, e.n_conn) for e in sweep.grid(spec)[:20]]
    assert pairs[:5] == [(10, 1), (10, 3), (10, 10), (10, 32), (10, 100)] and pairs[-1] == (100, 10000)
    assert all(e.p == e.n_conn / e.model.n_hidden**2 for e in sweep.grid(spec))
    assert [len(c) for c in sweep.chunks(sweep.grid(spec), 15)] == [15] * 4  # one chunk per N
    with pytest.raises(ConfigError, match="links 2 fields: each value must be 2 values"):
        sweep.Sweep(axes=(("model.n_hidden,n_conn", ((10, 1), 25)),))
    with pytest.raises(ConfigError, match="p and n_conn both"):
        sweep.Sweep(axes=(("model.n_hidden,n_conn", ((10, 1),)), ("p", (1.0,))))
    with pytest.raises(ConfigError, match="n_conn must be an integer in \\[0, 100\\]"):
        sweep.grid(sweep.Sweep(axes=(("model.n_hidden,n_conn", ((10, 101),)),), seeds=1))
    with pytest.raises(ConfigError, match="given twice"):
        sweep.Sweep(axes=(("model.n_hidden,n_conn", ((10, 1),)), ("model.n_hidden", (25,))))
    assert json.loads(json.dumps(spec.to_dict()))["axes"][0][1][0] == [10, 1]
