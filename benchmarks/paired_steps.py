"""Training steps of this tree's modlib against another revision's, paired in one process.

On a shared 2-core machine one run of a benchmark differs from the next by 10-30 % (the matmul rate
and the memory bandwidth move with the neighbours), more than most single changes gain. This script
measures a change the way that survives it: it extracts ``modlib`` at ``--against`` (a git
revision) as a second package, builds the same E networks in both, and times whole training steps
(gather, forward, backward, the compiled Adadelta and Deep-R updates, as ``modlib.train.train``
takes them) alternating between the two, minibatch by minibatch, on the same minibatches. It prints
the median step of each and the median of the paired differences, for the three populations of
``benchmarks/train_throughput.py`` (mixed p; the paper sweep's sparse and dense chunks).

Usage: python benchmarks/paired_steps.py --against REV [--networks 100] [--steps 50]
       [--populations mixed sparse dense] [--matmul float32|bf16]
With ``--matmul bf16`` this tree's steps run their matrix products at that precision
(``train.matmul``) and the baseline's in float32: ``--against HEAD --matmul bf16`` measures what
the setting gains, on the same code.
"""

from __future__ import annotations

import argparse
import importlib
import io
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
PAPER_P = np.geomspace(1e-4, 1.0, 10)
PAIRS_PER_EPOCH, B = 47_993, 128


def extract(rev: str, into: Path, name: str) -> None:
    """modlib at git revision ``rev`` as the package ``name`` under ``into`` (its imports are relative)."""
    tar = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "modlib"], capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        archive.extractall(into, filter="data")
    (into / "modlib").rename(into / name)


def populations(E: int) -> dict[str, list[float]]:
    return {"mixed": np.geomspace(1e-4, 1.0, E).tolist(),
            "sparse": np.repeat(PAPER_P[:5], -(-E // 5))[:E].tolist(),
            "dense": np.repeat(PAPER_P[5:], -(-E // 5))[:E].tolist()}


def paired(packages: dict, p: list[float], train_data, steps: int, precision: dict,
           warm: int = 10) -> dict[str, np.ndarray]:
    """Milliseconds of each of ``steps`` training steps for each package, taken alternately, each at
    its matrix-product precision (``precision``: train.matmul per package name)."""
    from modlib import data, runtime

    E = len(p)
    images, pairs, target = train_data.images, train_data.pairs, train_data.target
    runs = {}
    for name, pkg in packages.items():
        net = pkg.model.ModularRNN(p, list(range(E)))
        dense = net.dense_parameters()
        runs[name] = dict(net=net, dense=dense, state=[[torch.zeros_like(q) for q in dense] for _ in range(2)],
                          adadelta=pkg.optim.compiled("adadelta_"), deepr=pkg.deepr.DeepR(net, compile=True),
                          loss=pkg.model.per_network_loss, buffer=images.new_empty(E * 2 * B, images.shape[1]))
    gen = torch.Generator().manual_seed(0)
    order = torch.stack([torch.randperm(len(train_data), generator=gen) for _ in range(E)])
    lr = torch.tensor(0.5)
    times = {name: [] for name in packages}
    names = list(packages)
    for i in range(warm + steps):
        start = (i * B) % (len(train_data) - B)
        for name in (names if i % 2 else names[::-1]):  # who goes first alternates
            run = runs[name]
            with runtime.matmul_precision(precision[name], "cpu"):
                t0 = time.perf_counter()
                idx = order[:, start:start + B]
                x = data.network_inputs(images, pairs, idx, out=run["buffer"])
                r_out, _ = run["net"].decide(run["net"](x))
                loss = run["loss"](r_out, target[idx])
                for q in run["net"].parameters():
                    q.grad = None
                loss.sum().backward()
                with torch.no_grad():
                    run["adadelta"](run["dense"], [q.grad for q in run["dense"]], *run["state"], lr, 0.9, 1e-6)
                run["deepr"].step()
                if i >= warm:
                    times[name].append((time.perf_counter() - t0) * 1e3)
    return {name: np.array(t) for name, t in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--against", required=True, help="git revision whose modlib is the baseline")
    ap.add_argument("--networks", type=int, default=100, help="networks E trained at once")
    ap.add_argument("--steps", type=int, default=50, help="timed steps of each (after 10 untimed)")
    ap.add_argument("--populations", nargs="+", default=["mixed", "sparse", "dense"],
                    choices=["mixed", "sparse", "dense"])
    ap.add_argument("--matmul", default="float32", choices=["float32", "bf16"],
                    help="this tree's matrix-product precision (train.matmul); the baseline's is float32")
    args = ap.parse_args()
    if args.networks < 1 or args.steps < 1:
        sys.exit("--networks and --steps must be at least 1")
    rev = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", args.against], capture_output=True,
                         text=True)
    if rev.returncode:
        sys.exit(f"--against must name a git revision of this repository, got {args.against!r}")
    sys.path.insert(0, str(ROOT))
    from modlib import data, runtime

    try:
        runtime.check_matmul(args.matmul, "cpu")
    except ValueError as err:
        sys.exit(str(err))
    runtime.keep_freed_memory()
    this = "this tree" if args.matmul == "float32" else f"this tree at {args.matmul}"
    precision = {this: args.matmul, rev.stdout.strip(): "float32"}
    with tempfile.TemporaryDirectory() as tmp:
        extract(args.against, Path(tmp), "modlib_against")
        sys.path.insert(0, tmp)
        packages = {this: importlib.import_module("modlib"),
                    rev.stdout.strip(): importlib.import_module("modlib_against")}
        for pkg in packages.values():
            for sub in ("model", "deepr", "optim"):
                importlib.import_module(f"{pkg.__name__}.{sub}")
        train_data = data.paired_mnist("train", n=3840)
        E = args.networks
        print(f"E = {E}, {args.steps} steps of each, alternating; ms per step (median), and the median of the "
              f"paired differences (this tree - {rev.stdout.strip()})")
        for name, p in populations(E).items():
            if name not in args.populations:
                continue
            ms = paired(packages, p, train_data, args.steps, precision)
            new, old = ms.values()
            diff = float(np.median(new - old))
            rate = {k: E / (np.median(v) / 1e3 * PAIRS_PER_EPOCH / B) for k, v in ms.items()}
            print(f"{name:<7} " + "  ".join(f"{k}: {np.median(v):6.1f} ms ({rate[k]:.3f} network-epochs/s)"
                                            for k, v in ms.items())
                  + f"  paired difference {diff:+6.1f} ms ({diff / np.median(old):+.0%})")


if __name__ == "__main__":
    main()
