"""Command line: ``python -m modlib sweep [--profile quick|paper] [options]``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import sweep


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m modlib", description="Runnable edition of Béna & Goodman (2021).")
    sub = ap.add_subparsers(dest="command", required=True)
    sw = sub.add_parser("sweep", help="train and measure networks over a grid of p and seeds (resumable)",
                        description=sweep.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sw.add_argument("--profile", default="quick", choices=sorted(sweep.PROFILES),
                    help="quick: a student's few-minute run (default); paper: the paper's full sweep")
    sw.add_argument("--p", type=float, nargs="+", help="connection fractions, each in [1/N^2, 1]")
    sw.add_argument("--seeds", type=int, help="repeats per p (>= 1)")
    sw.add_argument("--n-train", type=int, help="training pairs (default: the profile's)")
    sw.add_argument("--n-test", type=int, help="test pairs (default: the profile's)")
    sw.add_argument("--epochs", type=int, help="epochs of the standard network")
    sw.add_argument("--bottleneck-epochs", type=int, help="epochs of the bottleneck network")
    sw.add_argument("--chunk-size", type=int, help="networks per papermill run; size it to the device")
    sw.add_argument("--coupling", choices=["eq3", "authors"],
                    help="how the other module's input enters: as eq. (3) writes it (default) or as in the authors' code")
    sw.add_argument("--max-epochs", type=int,
                    help="the authors' longer schedule: keep training networks below 0.9 test accuracy up to this many epochs")
    sw.add_argument("--deepr", nargs="+", metavar="KEY=VALUE",
                    help="Deep-R settings other than the defaults, e.g. lr_dense=0.003 (see modlib.config.DeepRConfig)")
    sw.add_argument("--device", help="cpu or cuda")
    sw.add_argument("--out", type=Path, help="run folder (default: runs/<profile>)")
    sw.add_argument("--results", type=Path, help="results table (default: <out>/results.csv)")
    args = ap.parse_args(argv)
    try:
        profile = sweep.profile_from_args(
            args.profile, p=args.p, seeds=args.seeds, n_train=args.n_train, n_test=args.n_test,
            epochs=args.epochs, bottleneck_epochs=args.bottleneck_epochs, chunk_size=args.chunk_size,
            device=args.device, deepr=args.deepr, coupling=args.coupling, max_epochs=args.max_epochs)
        sweep.chunks(profile)  # validates the grid before any work
    except (ValueError, TypeError) as err:
        ap.error(str(err))
    out = args.out or Path("runs") / args.profile
    table = sweep.run(profile, out, args.results)
    print(f"{len(table)} rows in {args.results or out / 'results.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
