"""The Dask executor gives the serial executor's table, and a worker killed in the middle of a chunk
costs that chunk only."""

import os
import signal
import threading
import time

import pytest

from modlib import sweep

from test_sweep import TINY, same, tiny_sweep

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    out = tmp_path_factory.mktemp("serial") / "store"
    return sweep.run(tiny_sweep(), out, chunk_size=2, progress=False, log=lambda *_: None)


def test_a_local_cluster_gives_the_serial_table(serial, tmp_path):
    table = sweep.run(tiny_sweep(), tmp_path / "dask", chunk_size=2, executor="dask", workers=2,
                      threads_per_worker=1, progress=False, log=lambda *_: None)
    assert same(table, serial)


def test_a_killed_worker_costs_its_chunk_only(serial, tmp_path):
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    client = distributed.Client(cluster)
    try:
        pids = list(client.run(os.getpid).values())
        out = tmp_path / "store"
        result, errors, log = {}, [], []

        def go():
            try:
                result["table"] = sweep.run(tiny_sweep(), out, chunk_size=2, executor="dask",
                                            scheduler=cluster.scheduler_address, progress=False, log=log.append)
            except Exception as err:  # reported below
                errors.append(err)

        worker = threading.Thread(target=go)
        worker.start()
        deadline = time.time() + 120
        while not list((out / "notebooks").glob("*.ipynb")) and time.time() < deadline:
            time.sleep(0.1)
        time.sleep(1.5)  # inside the chunk: its kernel is training
        assert not list((out / "pieces").glob("*.json")), "the chunks finished before the kill"
        os.kill(pids[0], signal.SIGKILL)
        worker.join(timeout=400)
        assert not worker.is_alive() and not errors, (errors, log)
        assert same(result["table"], serial)
        assert pids[0] not in client.run(os.getpid).values()  # that worker really died (and was replaced)
    finally:
        client.close()
        cluster.close()


def test_unknown_executor_and_bad_worker_counts_are_refused(tmp_path):
    with pytest.raises(sweep.ConfigError, match="executor"):
        sweep.run(tiny_sweep(), tmp_path, executor="spark")
    with pytest.raises(sweep.ConfigError, match="workers"):
        sweep.run(tiny_sweep(), tmp_path, executor="dask", workers=0)
    assert TINY["data.val_fraction"] == 0.0
