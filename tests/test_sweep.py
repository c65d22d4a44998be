"""The sweep: a tiny grid end to end, killed after its first chunk and resumed."""

import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from modlib import sweep

TINY = ["--p", "1e-4", "1", "--seeds", "2", "--n-train", "400", "--n-test", "300", "--epochs", "1",
        "--bottleneck-epochs", "1", "--chunk-size", "2"]


def test_malformed_grids_are_refused():
    for bad, named in ((["--p", "0", "1"], "p"), (["--p", "1e-5"], "p"), (["--p", "1.5"], "p"),
                       (["--seeds", "0"], "seeds"), (["--chunk-size", "0"], "chunk_size"),
                       (["--deepr", "lr_dense=-1"], "lr_dense"), (["--deepr", "eps=0"], "eps"),
                       (["--deepr", "l1=inf"], "l1"), (["--deepr", "bogus=1"], "bogus"),
                       (["--deepr", "lr_dense"], "lr_dense"), (["--deepr", "l1=x"], "l1"),
                       (["--deepr", "l1=1", "l1=2"], "l1"), (["--epochs", "0"], "epochs"),
                       (["--bottleneck-epochs", "0"], "bottleneck_epochs"), (["--max-epochs", "-1"], "max_epochs"),
                       (["--n-train", "0"], "n_train"), (["--n-test", "100000"], "n_test"),
                       (["--coupling", "both"], "coupling")):
        proc = subprocess.run([sys.executable, "-m", "modlib", "sweep", *bad], capture_output=True, text=True)
        assert proc.returncode == 2
        assert any(word in proc.stderr for word in ("must be", "twice", "invalid choice"))
        assert named in proc.stderr.split("error:")[-1], (bad, proc.stderr)
    with pytest.raises(ValueError, match=r"p must be in \[1/N\^2, 1\]"):
        sweep.grid(sweep.Profile(p=(2.0,)))
    with pytest.raises(ValueError, match="seeds must be a positive integer"):
        sweep.grid(sweep.Profile(seeds=0))
    with pytest.raises(ValueError, match="coupling must be"):  # early, not inside a chunk's notebook
        sweep.chunks(sweep.Profile(coupling="both"))
    with pytest.raises(ValueError, match="overrides must name fields"):
        sweep.chunks(sweep.Profile(metrics={"no_such_setting": 1}))


def test_interrupted_sweep_resumes_without_redoing_finished_chunks(tmp_path):
    out = tmp_path / "run"
    first = out / "chunks" / "chunk_000.csv"
    proc = subprocess.Popen([sys.executable, "-m", "modlib", "sweep", *TINY, "--out", str(out)],
                            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not first.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    assert first.exists(), "the first chunk never finished"
    os.killpg(proc.pid, signal.SIGKILL)  # the sweep and its notebook kernel
    proc.wait()
    assert not (out / "chunks" / "chunk_001.csv").exists()
    stamp = first.stat().st_mtime_ns
    assert set(pd.read_csv(first)["seed"]) == {0}  # seed-major order: the first chunk is seed 0

    log = []
    profile = sweep.profile_from_args("quick", p=[1e-4, 1.0], seeds=2, n_train=400, n_test=300, epochs=1,
                                      bottleneck_epochs=1, chunk_size=2)
    table = sweep.run(profile, out, log=log.append)
    assert "1 done, 1 to run" in log[0]
    assert first.stat().st_mtime_ns == stamp  # the finished chunk was not redone
    assert (out / "notebooks" / "chunk_001.ipynb").exists()  # the executed notebook is kept
    # one row per network, architecture, sub-network, sub-task and metric, for all four networks
    assert sorted(table["network"].unique()) == [0, 1, 2, 3]
    assert set(zip(table["p"], table["seed"])) == {(1e-4, 0), (1.0, 0), (1e-4, 1), (1.0, 1)}
    per = table.groupby(["network", "architecture", "metric"]).size()
    assert (per == 4).all()
    assert {"config_hash", "commit", "torch", "accuracy", "Q"} <= set(table.columns)
    assert table["config_hash"].nunique() == 1
    assert pd.read_csv(out / "results.csv").shape == table.shape

    with pytest.raises(ValueError, match="another configuration"):
        sweep.run(sweep.profile_from_args("quick", p=[1e-4, 1.0], seeds=2, n_train=400, n_test=300, epochs=2,
                                          bottleneck_epochs=1, chunk_size=2), out)


def test_deepr_overrides_are_checked_recorded_and_applied():
    assert sweep.parse_overrides(["lr_dense=0.003"], sweep.DeepRConfig, "deepr") == {"lr_dense": 0.003}
    with pytest.raises(ValueError, match="lr_dense must be > 0"):
        sweep.parse_overrides(["lr_dense=0"], sweep.DeepRConfig, "deepr")
    with pytest.raises(ValueError, match="key one of lr_sparsest, lr_dense"):
        sweep.parse_overrides(["betas=0.9"], sweep.DeepRConfig, "deepr")  # tuples cannot be given this way
    paper = sweep.profile_from_args("paper")
    changed = sweep.profile_from_args("paper", deepr=["lr_dense=0.003"])
    assert changed.deepr == {"lr_dense": 0.003} and changed.fingerprint() != paper.fingerprint()
    same = sweep.profile_from_args("paper", deepr=["lr_dense=0.01"])  # the default: the same sweep
    assert same.deepr == {} and same.fingerprint() == paper.fingerprint()
    assert sweep.chunk_parameters(changed, 0, "rows.csv")["deepr"] == {"lr_dense": 0.003}

    tiny = dict(n_train=256, n_test=128, epochs=1, bottleneck_epochs=1,
                metrics={"bottleneck_epochs": 1, "n_pairs": 128, "cka_repeats": 1})
    default = sweep.measure([1e-4], [0], **tiny)
    # an l1 shrinkage of lr * l1 = 100 per step ends every connection at every step: 2 steps x 2 directions
    harsh = sweep.measure([1e-4], [0], deepr={"l1": 1000.0}, **tiny)
    assert set(default["deepr"]) == {""} and set(harsh["deepr"]) == {"l1=1000.0"}
    assert set(harsh["rewired"]) == {4.0} and set(default["rewired"]) != {4.0}
    # the initialisation too: at p = 1 a sixth of the initial theta ~ |N(0, 1)| / 10 lie within the
    # two Adam steps of 0.01 from zero; scaled up 1000 times, almost none do
    dense = sweep.measure([1.0], [0], **tiny)
    big = sweep.measure([1.0], [0], deepr={"init_scale": 1000.0}, **tiny)
    assert dense["rewired"].min() > 1000 and big["rewired"].max() < 10


def test_committed_paper_table_matches_the_current_configuration():
    """results/paper.csv, which the book reads, must have been made under today's paper profile and
    library defaults: changing a default without re-running the sweep fails here."""
    root = sweep.ROOT / "results"
    table = pd.read_csv(root / "paper.csv", usecols=["config_hash"])
    assert set(table["config_hash"]) == {sweep.profile_from_args("paper").fingerprint()}
    low = pd.read_csv(root / "paper_lr_dense_0.003.csv", usecols=["config_hash", "deepr"])
    assert set(low["deepr"]) == {"lr_dense=0.003"}
    assert set(low["config_hash"]) == {sweep.profile_from_args("paper", deepr=["lr_dense=0.003"]).fingerprint()}
    authors = pd.read_csv(root / "paper_authors_coupling.csv", usecols=["config_hash", "coupling"])
    assert set(authors["coupling"]) == {"authors"}
    assert set(authors["config_hash"]) == {sweep.profile_from_args("paper", coupling="authors").fingerprint()}
