"""Command line: ``python -m modlib sweep [--profile quick|paper] [options]`` and ``python -m modlib promote``.

The sweep's options are built from the experiment tree (:mod:`modlib.experiment`): ``--set KEY=VALUE``
and ``--grid KEY=V1,V2,...`` take any of its dotted fields, listed by ``--help`` with their
defaults and the paper's values; the older flags (``--p``, ``--n-train``, ``--coupling``, ...) are
shorthands for some of them. argparse is enough for this: the tree gives the list of fields, and the
shorthands stay exactly as they were.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import experiment as ex
from . import sweep
from .config import ConfigError

# shorthand flag -> dotted field it sets
SHORTHANDS = {"n_train": "data.n_train", "n_test": "data.n_test", "epochs": "train.epochs",
              "bottleneck_epochs": "train.bottleneck_epochs", "max_epochs": "train.max_epochs",
              "coupling": "model.coupling"}


def _fields_text() -> str:
    quick, paper = sweep.PROFILES["quick"].base, sweep.PROFILES["paper"].base
    lines = ["settings (--set KEY=VALUE, --grid KEY=V1,V2,...): KEY = default [profile values where they differ]",
             "  and the note from the source, which gives the paper's value:"]
    for f in ex.fields():
        shown = []
        for name, base in (("paper", paper), ("quick", quick)):
            value = ex.get(base, f.key)
            if value != f.default and f.key not in ("p", "seed"):
                shown.append(f"{name}: {value!r}")
        extra = f" [{'; '.join(shown)}]" if shown else ""
        lines.append(f"  {f.key} = {f.default!r}{extra}\n      {f.note}")
    lines.append("\np is a sweep axis in both profiles (quick: 5 values, paper: the paper's 10); seeds: quick 2, paper 10.")
    return "\n".join(lines)


class OneLineParser(argparse.ArgumentParser):
    """argparse, with a usage error said in one line (the full usage is one --help away)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    ap = OneLineParser(prog="python -m modlib", description="Runnable edition of Béna & Goodman (2021).")
    sub = ap.add_subparsers(dest="command", required=True)
    sw = sub.add_parser("sweep", help="train and measure networks over a grid of any settings (resumable)",
                        description=sweep.__doc__, epilog=_fields_text(),
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    g = sw.add_argument_group("what to compute")
    g.add_argument("--profile", default="quick", choices=sorted(sweep.PROFILES),
                   help="the base sweep: quick, a student's few-minute run (default); paper, the paper's full sweep; "
                        "bandwidth, the paper's sweep for b = 0..3 bits between the modules; cells, six values "
                        "of p for each cell")
    g.add_argument("--set", dest="sets", action="append", nargs="+", metavar="KEY=VALUE", default=[],
                   help="change a setting of the base experiment, e.g. train.deepr.lr_dense=0.003 (see below)")
    g.add_argument("--grid", dest="grids", action="append", metavar="KEY=V1,V2,...", default=[],
                   help="sweep a setting over values (an axis; repeat for more axes), e.g. model.coupling=eq3,authors")
    g.add_argument("--p", type=str, nargs="+", help="connection fractions, each in [1/N^2, 1] (the p axis)")
    g.add_argument("--seeds", type=int, help="repeats per grid point: seeds 0..SEEDS-1")
    g.add_argument("--n-train", help="training pairs (data.n_train)")
    g.add_argument("--n-test", help="test pairs (data.n_test)")
    g.add_argument("--epochs", help="epochs of the standard network (train.epochs)")
    g.add_argument("--bottleneck-epochs", help="epochs of the bottleneck network (train.bottleneck_epochs)")
    g.add_argument("--max-epochs", help="the authors' longer schedule (train.max_epochs): keep training networks "
                   "below train.target_accuracy on validation pairs up to this many epochs; set data.val_fraction > 0")
    g.add_argument("--coupling", help="model.coupling: eq3 (as eq. (3) writes it, default) or authors")
    g.add_argument("--deepr", nargs="+", metavar="KEY=VALUE",
                   help="Deep-R settings, e.g. lr_dense=0.003 (shorthand for --set train.deepr.KEY=VALUE)")
    r = sw.add_argument_group("how and where to run it")
    r.add_argument("--chunk-size", type=int, help="networks per papermill run; size it to the device "
                   "(default: quick 10, paper 50, bandwidth 25, cells 18)")
    r.add_argument("--device", default="cpu", help="cpu or cuda")
    r.add_argument("--executor", default="serial", choices=sweep.EXECUTORS,
                   help="serial: one chunk after another in this process (default); dask: chunks as Dask tasks")
    r.add_argument("--workers", type=int, default=2, help="dask: workers of the LocalCluster started for the sweep")
    r.add_argument("--threads-per-worker", type=int, default=1, help="dask: threads (torch threads) per worker")
    r.add_argument("--scheduler", help="dask: address of a running scheduler (tcp://HOST:PORT) instead of a LocalCluster")
    r.add_argument("--compile", default="auto", choices=("auto", "on", "off"),
                   help="torch.compile the optimizer updates (auto: for chunks of 4 networks or more)")
    r.add_argument("--out", type=Path, help="the store, a folder (default: runs/<profile>)")
    r.add_argument("--reuse", type=Path, nargs="+", default=[], metavar="STORE",
                   help="other stores to take networks from, read-only (e.g. runs/paper for --profile bandwidth)")
    r.add_argument("--results", type=Path, help="also write the results table here (default: only <out>/results.csv)")
    r.add_argument("--force", action="store_true", help="overwrite a --results table of another sweep")
    r.add_argument("--wait", action="store_true", help="wait for another sweep using the same --out instead of stopping")
    r.add_argument("--dry-run", action="store_true", help="say what would be computed and stop")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    pr = sub.add_parser("promote", help="copy a finished sweep table into results/ after checking its provenance")
    pr.add_argument("table", type=Path, help="a sweep's results.csv, e.g. runs/paper/results.csv")
    pr.add_argument("dest", type=Path, help="where it goes, e.g. results/paper.csv")
    pr.add_argument("--force", action="store_true", help="overwrite a table of another sweep")
    return ap


def sweep_from_args(args) -> tuple[sweep.Sweep, int]:
    """The sweep and chunk size that the command line asks for."""
    base_sweep = sweep.PROFILES[args.profile]
    changes = {}
    for group in args.sets:
        for key, value in ex.parse_assignments(group).items():
            if key in changes:
                raise ConfigError(f"--set {key} is given twice")
            changes[key] = value
    for flag, key in SHORTHANDS.items():
        value = getattr(args, flag)
        if value is not None:
            if key in changes:
                raise ConfigError(f"{key} is given twice (--{flag.replace('_', '-')} and --set)")
            changes[key] = value
    prefixed = []
    for item in args.deepr or ():
        if "=" not in str(item):
            raise ConfigError(f"--deepr takes KEY=VALUE (e.g. lr_dense=0.003), got {item!r}")
        prefixed.append("train.deepr." + str(item).strip())
    for full, value in ex.parse_assignments(prefixed, "--deepr").items():
        if full in changes:
            raise ConfigError(f"{full} is given twice")
        changes[full] = value
    base = ex.override(base_sweep.base, changes)
    axes = dict(base_sweep.axes)
    given = set()
    for item in args.grids:
        key, sep, values = str(item).partition("=")
        key = key.strip()
        if not sep or not values:
            raise ConfigError(f"--grid takes KEY=V1,V2,... (e.g. model.coupling=eq3,authors), got {item!r}")
        ex._split(key)
        if key in given or key in changes:
            raise ConfigError(f"{key} is given twice (--grid and --set, or two --grid)")
        if isinstance(ex.get(base, key), tuple):
            raise ConfigError(f"--grid cannot sweep {key}, a tuple; use --set for it")
        given.add(key)
        axes[key] = tuple(ex.parse_value(key, v) if not ex._is_str_field(key) else v.strip() for v in values.split(","))
    if args.p is not None:
        if "p" in given:
            raise ConfigError("p is given twice (--p and --grid p=...)")
        axes["p"] = tuple(ex.parse_value("p", v) for v in args.p)
    seeds = base_sweep.seeds if args.seeds is None else args.seeds
    if isinstance(seeds, int) and seeds < 1:
        raise ConfigError(f"seeds must be a positive integer (repeats per grid point), got {seeds}")
    spec = sweep.Sweep(base, axes=tuple(axes.items()), seeds=seeds)
    chunk_size = args.chunk_size if args.chunk_size is not None else sweep.CHUNK_SIZE[args.profile]
    return spec, chunk_size


def main(argv=None) -> int:
    ap = build_parser()
    args = ap.parse_args(argv)
    try:
        if args.command == "promote":
            sweep.promote(args.table, args.dest, force=args.force)
            return 0
        spec, chunk_size = sweep_from_args(args)
        out = (args.out or Path("runs") / args.profile).resolve()
        experiments = sweep.check(spec, chunk_size, args.device)  # every setting, before any work
        if args.dry_run:
            p = sweep.plan(spec, out, chunk_size, args.device, args.compile, dry_run=True, reuse=args.reuse)
            reused = sum(k in p.stored for k in p.keys)
            print(f"{len(experiments)} networks in sweep {spec.hash()}: {reused} stored in {out}, "
                  f"{sum(len(c['keys']) for c in p.todo)} to compute in {len(p.todo)} chunk(s)")
            return 0
        table = sweep.run(spec, out, args.results, chunk_size=chunk_size, device=args.device, executor=args.executor,
                          workers=args.workers, threads_per_worker=args.threads_per_worker, scheduler=args.scheduler,
                          compile=args.compile, wait=args.wait, force=args.force, progress=not args.quiet,
                          reuse=args.reuse)
    except (ConfigError, sweep.StoreError) as err:
        print(f"python -m modlib {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: the finished chunks are stored; run the same command again to go on", file=sys.stderr)
        return 130
    print(f"{table['network'].nunique()} networks, {len(table)} rows in {args.results or out / 'results.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
