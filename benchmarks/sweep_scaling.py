"""How the cost of a sweep grows with the number of networks.

Runs the real sweep (``modlib.sweep.run``: papermill chunks, training in both architectures, every
metric, atomic result tables) on small data for E = 10, 50 and 100 networks, and prints the wall
time, the time per network-epoch, and the cost relative to E = 10 scaled linearly (a ratio at or
below 1 means the cost grows at most linearly in E).

Usage: python benchmarks/sweep_scaling.py [--sizes 10 50 100] [--n-train 2000] [--chunk-size 25]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from modlib import sweep


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10, 50, 100])
    ap.add_argument("--n-train", type=int, default=2000)
    ap.add_argument("--n-test", type=int, default=1000)
    ap.add_argument("--epochs", type=int, default=1, help="epochs of each architecture")
    ap.add_argument("--chunk-size", type=int, default=25)
    args = ap.parse_args()
    print(f"small data: {args.n_train} training pairs, {args.n_test} test pairs, {args.epochs} epoch(s) per "
          f"architecture, chunks of {args.chunk_size} networks, every metric (small settings)")
    base = None
    for E in args.sizes:
        profile = sweep.Profile(p=sweep.PAPER_P, seeds=-(-E // len(sweep.PAPER_P)), n_train=args.n_train,
                                n_test=args.n_test, epochs=args.epochs, bottleneck_epochs=args.epochs,
                                metrics={"bottleneck_epochs": 1, "n_pairs": args.n_test, "cka_repeats": 1},
                                chunk_size=args.chunk_size)
        with tempfile.TemporaryDirectory() as out:
            start = time.perf_counter()
            table = sweep.run(profile, Path(out), log=lambda *_: None)
            wall = time.perf_counter() - start
        n = table.drop_duplicates(["network", "architecture"]).shape[0] // 2
        per = wall / (n * 2 * args.epochs)
        base = base or wall / n
        print(f"E = {n:4d}: {len(sweep.chunks(profile)):3d} chunks, wall {wall:7.1f} s, "
              f"{per:6.2f} s per network-epoch, cost / (linear from E = {args.sizes[0]}) = {wall / n / base:4.2f}")


if __name__ == "__main__":
    main()
