"""Wall time of the three metrics of section 3 (and CKA) for E = 1 and E = 20 networks, on the full data
with the paper's settings (MetricsConfig defaults), next to the time to train the same networks.

Usage: python benchmarks/metrics_throughput.py [--networks 1 20] [--n-train N] [--compile] [--threads T]
       [--matmul float32|bf16|tf32]
With ``--matmul`` the metrics and the training run at that precision of the matrix products
(``train.matmul``, as a sweep runs them).
Training time: one epoch of modlib.train.train is timed for each architecture and multiplied by the
paper's epochs (5 standard, 7 bottleneck); the metrics run on freshly initialised networks (their
cost does not depend on the weights). Prints one block per E.
"""

import argparse
import sys
import time

import numpy as np
import torch

from modlib import config, data, metrics, model, runtime, train


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--networks", type=int, nargs="*", default=[1, 20])
    ap.add_argument("--n-train", type=int, default=None, help="training pairs (default: all, about 48k)")
    ap.add_argument("--compile", action="store_true", help="train with compile=True (fused optimizers)")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    ap.add_argument("--matmul", default="float32", choices=runtime.MATMUL,
                    help="precision of the matrix products (train.matmul; default float32)")
    args = ap.parse_args()
    try:
        runtime.check_matmul(args.matmul, "cpu")
    except ValueError as err:
        sys.exit(str(err))
    if args.threads:
        torch.set_num_threads(args.threads)
    tr = data.paired_mnist("train", n=args.n_train)
    te = data.paired_mnist("test")
    cfg = metrics.MetricsConfig()
    print(f"{len(tr)} train / {len(te)} test pairs, torch threads {torch.get_num_threads()}, "
          f"MetricsConfig defaults (bottleneck {cfg.bottleneck_epochs} epochs, mask {cfg.mask_epochs} epoch, "
          f"q = {cfg.q}, all test pairs for correlation, {cfg.cka_repeats} CKA pairings), "
          f"matrix products: {args.matmul}")
    for E in args.networks:
        ps = list(np.geomspace(1e-4, 1, 10))
        p = [ps[i % len(ps)] for i in range(E)] if E > 1 else [0.01]
        seeds = list(range(E))
        std = model.ModularRNN(p, seeds)
        bott = model.ModularRNN(p, seeds, config.ModelConfig(bottleneck=5))
        times = {}
        with runtime.matmul_precision(args.matmul, "cpu"):  # as a sweep runs the metrics
            _, times["bottleneck"] = timed(lambda: metrics.bottleneck_metric(bott, tr, te, cfg))
            _, times["weight_mask"] = timed(lambda: metrics.weight_mask_metric(std, tr, te, cfg))
            h, t_states = timed(lambda: metrics.final_states(std, te, cfg.eval_batch_size))
            _, t_corr = timed(lambda: metrics.correlation_metric(std, te, cfg, states=h))
            _, t_cka = timed(lambda: metrics.cka_distance_metric(std, te, cfg, states=h))
            times["correlation (+ test states)"] = t_states + t_corr
            times["cka_distance"] = t_cka
        total = sum(times.values())
        one_epoch = config.TrainConfig(epochs=1, matmul=args.matmul)
        _, t_std = timed(lambda: train.train(model.ModularRNN(p, seeds), tr, te, one_epoch, progress=False,
                                             compile=args.compile))
        _, t_bott = timed(lambda: train.train(model.ModularRNN(p, seeds, config.ModelConfig(bottleneck=5)), tr, te,
                                              one_epoch, progress=False, compile=args.compile))
        train_total = 5 * t_std + 7 * t_bott
        print(f"\nE = {E} networks (p = {', '.join(f'{v:.0e}' for v in sorted(set(p)))})")
        for name, t in times.items():
            print(f"  {name:28s} {t:8.1f} s")
        print(f"  {'all metrics':28s} {total:8.1f} s  ({total / E:.1f} s per network)")
        print(f"  training, 1 epoch timed:     standard {t_std:.1f} s, bottleneck {t_bott:.1f} s"
              f"{' (compile=True)' if args.compile else ''}")
        print(f"  {'training 5 + 7 epochs (est.)':28s} {train_total:8.1f} s  = 5 x {t_std:.1f} + 7 x {t_bott:.1f}")
        print(f"  metrics / training           {total / train_total:8.2f}")


if __name__ == "__main__":
    main()
