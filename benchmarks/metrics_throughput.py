"""Wall time of the three metrics of section 3 (and CKA) for E = 1 and E = 20 networks, on the full data
with the paper's settings (MetricsConfig defaults), next to the time to train the same networks.

Usage: python benchmarks/metrics_throughput.py [--networks 1 20] [--n-train N] [--compile] [--threads T]
       [--matmul float32|bf16|tf32]
With ``--matmul`` the metrics and the training run at that precision of the matrix products
(``train.matmul``, as a sweep runs them).
Training time: one epoch of modlib.train.train is timed for each architecture and multiplied by the
paper's epochs (5 standard, 7 bottleneck); the metrics run on freshly initialised networks (their
cost does not depend on the weights). Prints one block per E, ending with the floor: the metrics'
batched matrix products alone at the same shapes (:func:`metrics_floor`), what no implementation of
these metrics can skip.
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


def fastest(fn, repeats: int = 5) -> float:
    """Seconds of the fastest of ``repeats`` calls of ``fn``, after one untimed call."""
    fn()
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t0)
    return min(runs)


def metrics_floor(p: list[float], n_train: int, n_test: int, cfg: metrics.MetricsConfig, N: int = 100,
                  D: int = 784, T: int = 5) -> dict[str, float]:
    """Seconds the metrics of E = len(p) networks spend in their batched matrix products alone, at
    the metrics' shapes: the bottleneck metric's states of every training and test pair (the input
    projection shared by all networks, then T - 1 recurrent products); the weight-mask metric's
    steps (the input projection of E networks' own minibatches; the recurrence of the 2E masked
    networks forward, back to the states and to each module's W_hh) and its test pass; the states of
    the test pairs for the correlation and CKA. The recurrence takes the full matrix (J, 2N, 2N),
    or each module's W_hh (2J, N, N) where the metrics gather the few connections between the
    modules (at most ``model.SPARSE_FRACTION`` of the entries active). The readouts' products (10
    classes from 5 or 100 units) and every elementwise pass are left out."""
    E, B, Bm = len(p), cfg.eval_batch_size, cfg.mask_batch_size
    gathered = sum(2 * model.n_connections(v, N) for v in p) <= model.SPARSE_FRACTION * E * 2 * N * N

    def recurrence(J: int, batch: int, backward: bool):
        """T - 1 recurrent products for J networks (and their backward pass)."""
        K, H = (2 * J, N) if gathered else (J, 2 * N)  # the products' batch and matrix size
        h, w, out = torch.randn(K, H, batch), torch.randn(K, H, H), torch.empty(K, H, batch)
        g, acc = torch.randn(K, H, batch), torch.zeros(2 * J, N, N)

        def run():
            for _ in range(T - 1):
                torch.baddbmm(h, w, h, out=out)
                if backward:
                    torch.bmm(w, g)  # back to the states
                    acc.baddbmm_(g.view(2 * J, N, batch), h.view(2 * J, N, batch).transpose(1, 2))  # to W_hh
        return run

    def shared_inputs(J: int):
        """An evaluation batch of B pairs: the input projection shared by the E networks, then the
        recurrence of J networks (E, or the 2E masked networks, which share their network's)."""
        x, w, rec = torch.randn(2, B, D), torch.randn(2, E * N, D), recurrence(J, B, backward=False)
        return lambda: (torch.bmm(w, x.transpose(1, 2)), rec())

    xm, wm, mask_rec = torch.randn(2 * E, Bm, D), torch.randn(2 * E, N, D), recurrence(2 * E, Bm, backward=True)

    def mask_step():
        torch.bmm(wm, xm.transpose(1, 2))  # each network's own minibatch (frozen: no gradient)
        mask_rec()

    batches = lambda n: -(-n // B)
    states = fastest(shared_inputs(E))
    return {"bottleneck": states * (batches(n_train) + batches(n_test)),
            "weight_mask": fastest(mask_step) * -(-n_train // Bm) * cfg.mask_epochs
            + fastest(shared_inputs(2 * E)) * batches(n_test),
            "correlation, CKA": states * batches(n_test)}


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
        with runtime.matmul_precision(args.matmul, "cpu"):
            floor = metrics_floor(p, len(tr), len(te), cfg)
        print(f"  the floor: their matrix products alone, at the same shapes ({args.matmul}):")
        for name, t in floor.items():
            print(f"    {name:26s} {t:8.1f} s")
        print(f"    {'all metrics':26s} {sum(floor.values()):8.1f} s  (the metrics above: "
              f"{total / sum(floor.values()):.1f}x the floor)")


if __name__ == "__main__":
    main()
