"""The sparse-end ablation (book: the discussion, "The sparse end"): which of the authors' choices
lets one connection per direction carry the parity bit at the paper's input scale.

Trains, for each coupling (eq. (3), the authors'), the networks of each reading of the authors'
code alone and of all of them (with --leave-one-out also of all but one; `modlib.readings`),
5 seeds each, 5 epochs, and writes one row per network. Run from a clean tree: the rows record the commit and the code hash.

Usage: .venv/bin/python scripts/sparse_end_ablation.py [--seeds 5] [--out results/sparse_end_ablation.csv]
"""

import argparse
import sys
import time
from pathlib import Path

import torch

from modlib import readings, store


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=5, help="seeds per reading (default 5)")
    ap.add_argument("--out", default="results/sparse_end_ablation.csv", help="the table to write (replaced)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--leave-one-out", action="store_true", help="also train all readings but one, for each")
    args = ap.parse_args()
    if args.seeds < 1:
        print(f"sparse_end_ablation: --seeds must be a positive integer, got {args.seeds}", file=sys.stderr)
        return 2
    out = Path(args.out)
    start = time.perf_counter()
    names = readings.reading_names(leave_one_out=args.leave_one_out)
    table = readings.ablation(seeds=range(args.seeds), names=names, device=args.device)
    store.write_atomic(table, out)
    print(f"{len(table)} networks in {time.perf_counter() - start:.0f} s -> {out}")
    if table["commit"].str.endswith("-dirty").any():
        print("warning: the tree had uncommitted changes; commit and rerun before committing the table",
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    torch.set_num_threads(torch.get_num_threads())
    sys.exit(main())
