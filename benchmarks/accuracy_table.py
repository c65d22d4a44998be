"""Validation and test accuracy after training at the ten sweep values of p, several seeds each (the discussion, point 1).

This table is what settings are chosen by (input scale, learning rates, the longer schedule), so the
networks train on MNIST's training images less a held-out tenth (``--val-fraction``), the longer
schedule stops on those validation pairs, and the median that a choice should read is the
validation one; the test accuracy is printed beside it as the reported figure only.

Usage: python benchmarks/accuracy_table.py [--seeds 3] [--epochs 5] [--coupling eq3] [--input-scale S]
       [--max-epochs 0] [--set key=value ...]
Prints one line per p (connections per direction, accuracy per seed, median) and the wall time.
"""

import argparse
import dataclasses
import os
import time

import numpy as np
import pandas as pd
import torch

from modlib import config, data, model, train


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--max-epochs", type=int, default=0)
    ap.add_argument("--coupling", default="eq3")
    ap.add_argument("--input-scale", type=float, default=config.ModelConfig().input_scale)
    ap.add_argument("--n-train", type=int, default=None)
    ap.add_argument("--val-fraction", type=float, default=config.DataConfig().val_fraction,
                    help="share of the training images held out as validation pairs (default 0.1)")
    ap.add_argument("--p", type=float, nargs="*", default=None)
    ap.add_argument("--set", nargs="*", default=[], help="TrainConfig/DeepRConfig overrides, key=value")
    ap.add_argument("--out", help="also append the accuracies to this CSV (one row per network)")
    args = ap.parse_args()
    ps = args.p or list(np.geomspace(1e-4, 1, 10))
    deepr_kw, train_kw = {}, {}
    for item in args.set:
        key, value = item.split("=")
        target = deepr_kw if key in {f.name for f in dataclasses.fields(config.DeepRConfig)} else train_kw
        target[key] = type(getattr(config.DeepRConfig() if target is deepr_kw else config.TrainConfig(), key))(value)
    cfg = config.TrainConfig(epochs=args.epochs, max_epochs=args.max_epochs,
                             deepr=config.DeepRConfig(**deepr_kw), **train_kw)
    tr = data.paired_mnist("train", n=args.n_train, val_fraction=args.val_fraction)
    va = data.paired_mnist("validation", val_fraction=args.val_fraction)
    te = data.paired_mnist("test")
    p_all = [p for p in ps for _ in range(args.seeds)]
    seeds = [s for _ in ps for s in range(args.seeds)]
    net = model.ModularRNN(p_all, seeds, config.ModelConfig(coupling=args.coupling, input_scale=args.input_scale), cfg.deepr)
    t0 = time.perf_counter()
    res = train.train(net, tr, te, cfg, compile=True, progress=False, val_data=va)
    dt = time.perf_counter() - t0
    acc = np.array(res.accuracy).reshape(len(ps), args.seeds)
    val = np.array([h[-1] for h in res.val_history]).reshape(len(ps), args.seeds)
    print(f"coupling={args.coupling} input_scale={args.input_scale} epochs={args.epochs} "
          f"max_epochs={args.max_epochs} set={args.set}")
    for i, p in enumerate(ps):
        n = model.n_connections(p, 100)
        ep = res.epochs[i * args.seeds:(i + 1) * args.seeds]
        rew = res.rewired[i * args.seeds:(i + 1) * args.seeds]
        print(f"p={p:.2e} conn={n:5d} validation={np.round(val[i], 3).tolist()} median={np.median(val[i]):.3f} "
              f"| test median={np.median(acc[i]):.3f} "
              f"epochs={ep} rewired={rew}")
    print(f"wall {dt:.0f} s for {sum(res.epochs)} network-epochs")
    if args.out:
        rows = pd.DataFrame({"p": p_all, "n_conn": net.n_conn.tolist(), "seed": seeds, "accuracy": res.accuracy,
                             "val_accuracy": val.flatten().tolist(), "val_fraction": args.val_fraction,
                             "epochs": res.epochs, "rewired": res.rewired, "coupling": args.coupling,
                             "input_scale": args.input_scale, "lr_dense": cfg.deepr.lr_dense,
                             "max_epochs": args.max_epochs,
                             "settings": " ".join(args.set)})
        rows.to_csv(args.out, mode="a", header=not os.path.exists(args.out), index=False)


if __name__ == "__main__":
    torch.set_num_threads(torch.get_num_threads())
    main()
