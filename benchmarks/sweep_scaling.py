"""How the cost of a sweep grows with the number of networks, and serial against Dask.

Runs the real sweep (``modlib.sweep.run``: papermill chunks, training in both architectures, every
metric, the content-addressed store) on small data, each time into a fresh store:

1. for E = 10, 50 and 100 networks (serial): the wall time, the time per network-epoch, and the cost
   relative to E = 10 scaled linearly (a ratio at or below 1 means the cost grows at most linearly);
2. the same small sweep with ``--executor serial`` and with ``--executor dask`` on a LocalCluster of
   2 workers x 1 thread (on a 2-core machine: one core per worker), and whether the tables agree.

Usage: python benchmarks/sweep_scaling.py [--sizes 10 50 100] [--n-train 2000] [--chunk-size 25]
       [--executors-networks 20] [--executors-chunk 5] [--skip-sizes]
Benchmark on an idle machine: two torch processes on two cores slow each other down.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from modlib import experiment as ex
from modlib import sweep


def small_sweep(n: int, n_train: int, n_test: int, epochs: int) -> sweep.Sweep:
    base = ex.override(sweep.PROFILES["paper"].base, {
        "data.n_train": n_train, "data.n_test": n_test, "train.epochs": epochs, "train.bottleneck_epochs": epochs,
        "metrics.bottleneck_epochs": 1, "metrics.n_pairs": n_test, "metrics.cka_repeats": 1})
    return sweep.Sweep(base, axes=(("p", sweep.PAPER_P),), seeds=-(-n // len(sweep.PAPER_P)))


def timed(spec, **kw):
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        table = sweep.run(spec, Path(out), progress=False, log=lambda *_: None, **kw)
        return time.perf_counter() - start, table


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10, 50, 100])
    ap.add_argument("--n-train", type=int, default=2000)
    ap.add_argument("--n-test", type=int, default=1000)
    ap.add_argument("--epochs", type=int, default=1, help="epochs of each architecture")
    ap.add_argument("--chunk-size", type=int, default=25)
    ap.add_argument("--executors-networks", type=int, default=20, help="networks of the serial/Dask comparison")
    ap.add_argument("--executors-chunk", type=int, default=5, help="chunk size of the serial/Dask comparison")
    ap.add_argument("--skip-sizes", action="store_true", help="only the serial/Dask comparison")
    args = ap.parse_args()
    print(f"small data: {args.n_train} training pairs, {args.n_test} test pairs, {args.epochs} epoch(s) per "
          f"architecture, every metric (small settings)")
    if not args.skip_sizes:
        base = None
        for E in args.sizes:
            spec = small_sweep(E, args.n_train, args.n_test, args.epochs)
            wall, table = timed(spec, chunk_size=args.chunk_size)
            n = table["network"].nunique()
            per = wall / (n * 2 * args.epochs)
            base = base or wall / n
            n_chunks = len(sweep.chunks(sweep.grid(spec), args.chunk_size))
            print(f"E = {n:4d}: {n_chunks:3d} chunks of up to {args.chunk_size}, wall {wall:7.1f} s, "
                  f"{per:6.2f} s per network-epoch, cost / (linear from E = {args.sizes[0]}) = {wall / n / base:4.2f}")
    spec = small_sweep(args.executors_networks, args.n_train, args.n_test, args.epochs)
    n_chunks = len(sweep.chunks(sweep.grid(spec), args.executors_chunk))
    print(f"serial against dask: {len(sweep.grid(spec))} networks in {n_chunks} chunks of {args.executors_chunk}")
    serial, serial_table = timed(spec, chunk_size=args.executors_chunk)
    dask, dask_table = timed(spec, chunk_size=args.executors_chunk, executor="dask", workers=2, threads_per_worker=1)
    cols = [c for c in serial_table.columns if not c.endswith("_seconds")]
    equal = serial_table[cols].equals(dask_table[cols])
    print(f"serial (1 process, torch's default threads): {serial:6.1f} s")
    print(f"dask (LocalCluster, 2 workers x 1 thread):   {dask:6.1f} s  ({dask / serial:4.2f} x serial)")
    print(f"tables equal apart from timing columns: {equal}")


if __name__ == "__main__":
    main()
