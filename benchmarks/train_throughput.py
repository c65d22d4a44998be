"""Training throughput: the batched trainer against a plain one-network-at-a-time loop.

Prints, measured side by side in one run on this machine:
- network-epochs per second of ``modlib.train.train`` (batched, fused updates) at E = 1, 10, 100;
- network-epochs per second of a plain loop: the same model written as a reader would write it in
  PyTorch (nn.Linear layers, a Python loop over time steps, torch.optim.Adadelta and Adam, Deep-R
  with masks), training one network after another;
- the achieved GFLOP/s of each, against the machine's measured float32 matmul rate;
- where the milliseconds of one step at the largest E go (gather, forward, backward, Adadelta,
  Deep-R), for three populations of p (mixed; the sweep's sparse and dense p-major chunks), beside
  the floor: the step's batched matmuls and the optimizers' updates alone, at the same shapes;
- the paper sweep's training (its network-epochs, split between its sparse and dense chunks) at
  those step times and at the floor.

A network-epoch is one pass over the ~48k training pairs; each run here trains on a slice of
``--pairs`` pairs and scales (the cost per step does not depend on the epoch).
Usage: python benchmarks/train_throughput.py [--pairs 3840] [--sizes 1 10 100] [--device cpu|cuda]
       [--cell rnn leaky gru lstm] [--matmul float32|bf16|tf32]
With ``--cell`` each cell is timed the same way, its plain loop written with torch's own cell module.
With ``--device cuda`` the batched trainer runs on the GPU (its matmul rate measured there); the plain
loop and the floor, written for the CPU, are skipped.
With ``--matmul bf16`` (or ``tf32`` on a GPU) the batched trainer, the breakdown and the floor run their
matrix products at that precision (``train.matmul``); the plain loop stays float32.
"""

from __future__ import annotations

import argparse
import sys
import math
import time

import numpy as np
import torch
from torch import nn

from modlib import config, data, model, runtime, sweep, train

N, C, T, D = 100, 10, 5, 784
PAIRS_PER_EPOCH = 47_993  # training pairs of the paper's split
PAPER_P = np.geomspace(1e-4, 1.0, 10)  # the paper's grid of p


def flops_per_pair() -> float:
    """Multiply-adds x 2 of one training example: forward, and backward to the weights."""
    inputs = 2 * 2 * D * N  # W_ih x, both sub-networks (backward: weight gradient only)
    recurrent = (T - 1) * 2 * (2 * N) ** 2  # both sub-networks and both directions of W_sparse
    readout = 2 * 2 * N * C
    return 2 * inputs + 3 * (recurrent + readout)


def matmul_rate(n: int = 2048, repeats: int = 10, device: str = "cpu") -> float:
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    a @ b
    sync = torch.cuda.synchronize if torch.device(device).type == "cuda" else (lambda: None)
    sync()
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    sync()
    return 2 * n**3 * repeats / (time.perf_counter() - start) / 1e9


class PlainNet(nn.Module):
    """One two-module RNN, eq. (3), written plainly."""

    def __init__(self, p: float):
        super().__init__()
        self.ih = nn.ModuleList(nn.Linear(D, N) for _ in range(2))
        self.hh = nn.ModuleList(nn.Linear(N, N) for _ in range(2))
        self.hr = nn.ModuleList(nn.Linear(N, C) for _ in range(2))
        for param in self.parameters():
            nn.init.uniform_(param, -0.1, 0.1)
        k = max(1, round(p * N * N))
        self.theta = nn.Parameter(torch.zeros(2, N * N))
        for d in range(2):
            self.theta.data[d, torch.randperm(N * N)[:k]] = torch.randn(k).abs() / math.sqrt(N)
        self.theta.data = self.theta.data.view(2, N, N)
        self.register_buffer("sign", torch.randint(0, 2, (2, N, N)) * 2.0 - 1)

    def forward(self, x0, x1):
        w = self.sign * torch.relu(self.theta)
        h = [torch.zeros(len(x0), N), torch.zeros(len(x0), N)]
        for _ in range(T):
            h = [
                torch.tanh(self.ih[0](x0) + self.hh[0](h[0]) + h[1] @ w[1].T),
                torch.tanh(self.ih[1](x1) + self.hh[1](h[1]) + h[0] @ w[0].T),
            ]
        r = torch.stack([self.hr[0](h[0]), self.hr[1](h[1])])  # (2, B, C)
        mu = r.amax(-1).argmax(0)
        return r[mu, torch.arange(len(x0))]


class PlainCellNet(PlainNet):
    """One two-module network of another cell, written plainly with torch's own cell modules
    (nn.RNNCell for the leaky cell, nn.GRUCell, nn.LSTMCell); the other module's signal is added to
    the hidden state the cell reads."""

    def __init__(self, p: float, cell: str):
        super().__init__(p)
        self.cell = cell
        make = {"leaky": nn.RNNCell, "gru": nn.GRUCell, "lstm": nn.LSTMCell}[cell]
        self.cells = nn.ModuleList(make(D, N) for _ in range(2))
        del self.ih, self.hh
        for param in self.cells.parameters():
            nn.init.uniform_(param, -0.1, 0.1)

    def forward(self, x0, x1):
        w = self.sign * torch.relu(self.theta)
        h = [torch.zeros(len(x0), N), torch.zeros(len(x0), N)]
        c = [torch.zeros(len(x0), N), torch.zeros(len(x0), N)]
        for _ in range(T):
            read = [h[0] + h[1] @ w[1].T, h[1] + h[0] @ w[0].T]
            new = []
            for n, x in enumerate((x0, x1)):
                if self.cell == "lstm":
                    hn, c[n] = self.cells[n](x, (read[n], c[n]))
                elif self.cell == "leaky":
                    hn = 0.5 * h[n] + 0.5 * self.cells[n](x, read[n])
                else:
                    hn = self.cells[n](x, read[n])
                new.append(hn)
            h = new
        r = torch.stack([self.hr[0](h[0]), self.hr[1](h[1])])  # (2, B, C)
        mu = r.amax(-1).argmax(0)
        return r[mu, torch.arange(len(x0))]


def plain_train(p: float, train_data: data.PairedDigits, batch_size: int = 128, cell: str = "rnn") -> None:
    net = PlainNet(p) if cell == "rnn" else PlainCellNet(p, cell)
    dense = torch.optim.Adadelta([q for name, q in net.named_parameters() if name != "theta"], lr=0.5)
    adam = torch.optim.Adam([net.theta], lr=0.05)
    k = int((net.theta[0] > 0).sum())
    order = torch.randperm(len(train_data))
    for start in range(0, len(train_data), batch_size):
        idx = order[start : start + batch_size]
        x = train_data.inputs(idx)
        loss = nn.functional.cross_entropy(net(x[:, 0], x[:, 1]), train_data.target[idx])
        dense.zero_grad()
        adam.zero_grad()
        loss.backward()
        active = net.theta.detach() > 0
        net.theta.grad *= active
        dense.step()
        adam.step()
        with torch.no_grad():  # Deep-R: l1, noise, rewiring to keep k per direction
            net.theta -= active * 0.05 * (1e-4 - 1e-4 * torch.randn_like(net.theta))
            for d in range(2):
                flat = net.theta[d].view(-1)
                missing = k - int((flat > 0).sum())
                if missing > 0:
                    dormant = (flat <= 0).nonzero().squeeze(1)
                    flat[dormant[torch.randperm(len(dormant))[:missing]]] = 1e-12


def step_floor(p: list[float], batch_size: int = 128, repeats: int = 10) -> tuple[float, float]:
    """Seconds per minibatch of E = len(p) networks spent in the parts no implementation of this
    trainer can skip: the batched matmuls of one training step at the trainer's shapes (the input
    projection and its weight gradient; T - 1 recurrent steps forward, their backward to the states
    and to the weights, with the full recurrent matrix (E, 2N, 2N), or with each module's W_hh
    (2E, N, N) where the trainer gathers the few connections between the modules) and the
    optimizers' elementwise updates (Adadelta on the sub-networks; Deep-R's Adam on the active
    entries). Returns (matmul seconds, optimizer seconds), each the fastest of ``repeats`` runs."""
    from modlib import optim

    E, B = len(p), batch_size
    n_conn = torch.tensor([model.n_connections(v, N) for v in p])
    gathered = 2 * int(n_conn.sum()) <= model.SPARSE_FRACTION * E * 2 * N * N
    x, w_ih, g_drive = torch.randn(2 * E, B, D), torch.randn(2 * E, N, D), torch.randn(2 * E, N, B)
    J, H = (2 * E, N) if gathered else (E, 2 * N)  # the recurrence's batch and matrix size
    h, w, g = torch.randn(J, H, B), torch.randn(J, H, H), torch.randn(J, H, B)
    out, acc = torch.empty(J, H, B), torch.zeros(J, H, H)
    dense = [torch.randn(E, 2, N, D), torch.randn(E, 2, N, N), torch.randn(E, 2, C, N)]
    grads, sq, delta = [torch.randn_like(t) for t in dense], [torch.rand_like(t) for t in dense], \
        [torch.rand_like(t) for t in dense]
    K = 2 * int(n_conn.sum())  # active inter-module entries
    theta, tg = torch.rand(K), torch.randn(K)
    m, v, steps, active = torch.zeros(K), torch.zeros(K), torch.zeros(K), torch.ones(K, dtype=torch.bool)
    adadelta = optim.compiled("adadelta_")
    lr, lr_k = torch.tensor(0.5), torch.full((K,), 0.05)
    corrections = optim.bias_corrections(0.9, 0.999, 4096)

    def matmuls():
        torch.bmm(w_ih, x.transpose(1, 2))  # input projection
        torch.bmm(g_drive, x)  # its weight gradient
        for _ in range(T - 1):
            torch.baddbmm(h, w, h, out=out)  # forward
            torch.bmm(w, g)  # backward to the states
            acc.baddbmm_(g, h.transpose(1, 2))  # backward to W

    def updates():
        adadelta(dense, grads, sq, delta, lr, 0.9, 1e-6)
        optim.adam_masked_(theta, tg, m, v, steps, active, lr_k, corrections, 0.9, 0.999, 1e-8, 1e-4)

    times = []
    for fn in (matmuls, updates):
        fn()
        runs = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            runs.append(time.perf_counter() - start)
        times.append(min(runs))
    return times[0], times[1]


def step_breakdown(p: list[float], train_data: data.PairedDigits, steps: int = 30, warm: int = 10) -> dict:
    """Where the milliseconds of one training step of E = len(p) networks go, measured on the real
    trainer's code path (modlib.train.train's step, written out with timers around each phase;
    the median of ``steps`` minibatches after ``warm``): gather (the minibatch's images), forward,
    backward, Adadelta, Deep-R. Returns milliseconds per phase."""
    from modlib import optim
    from modlib.deepr import DeepR

    E, B = len(p), 128
    net = model.ModularRNN(p, list(range(E)))
    images, pairs, target = train_data.images, train_data.pairs, train_data.target
    dense = net.dense_parameters()
    state = [[torch.zeros_like(q) for q in dense] for _ in range(2)]
    adadelta, lr = optim.compiled("adadelta_"), torch.tensor(0.5)
    deepr = DeepR(net, compile=True)
    gen = torch.Generator().manual_seed(0)
    order = torch.stack([torch.randperm(len(train_data), generator=gen) for _ in range(E)])
    buffer = images.new_empty(E * 2 * B, images.shape[1])
    phases = {name: [] for name in ("gather", "forward", "backward", "Adadelta", "Deep-R")}
    for i in range(warm + steps):
        start = (i * B) % (len(train_data) - B)
        t0 = time.perf_counter()
        idx = order[:, start : start + B]
        x = data.network_inputs(images, pairs, idx, out=buffer)
        t1 = time.perf_counter()
        r_out, _ = net.decide(net(x))
        loss = model.per_network_loss(r_out, target[idx])
        for q in net.parameters():
            q.grad = None
        t2 = time.perf_counter()
        loss.sum().backward()
        t3 = time.perf_counter()
        with torch.no_grad():
            adadelta(dense, [q.grad for q in dense], *state, lr, 0.9, 1e-6)
        t4 = time.perf_counter()
        deepr.step()
        t5 = time.perf_counter()
        if i >= warm:
            for name, dt in zip(phases, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4)):
                phases[name].append(dt * 1e3)
    return {name: float(np.median(v)) for name, v in phases.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", type=int, default=3840, help="training pairs per timed run")
    ap.add_argument("--sizes", type=int, nargs="+", default=[1, 10, 100], help="numbers of networks E")
    ap.add_argument("--plain-networks", type=int, default=2, help="networks the plain loop trains")
    ap.add_argument("--device", default="cpu", help="cpu or cuda (cuda: the batched trainer only)")
    ap.add_argument("--cell", nargs="+", default=["rnn"], choices=config.CELLS,
                    help="cells to time (default: rnn, eq. (3)); the floor is printed for rnn only")
    ap.add_argument("--matmul", default="float32", choices=runtime.MATMUL,
                    help="precision of the batched trainer's matrix products (train.matmul; default float32)")
    args = ap.parse_args()
    try:
        runtime.check_matmul(args.matmul, args.device)
    except ValueError as err:
        sys.exit(str(err))
    on_cpu = torch.device(args.device).type == "cpu"
    # The allocator setting the trainer applies (modlib.runtime), applied to the plain loop too.
    kept = runtime.keep_freed_memory()
    torch.manual_seed(0)
    train_data = data.paired_mnist("train", n=args.pairs)
    test_data = data.paired_mnist("test", n=200)
    peak = matmul_rate(device=args.device)
    with runtime.matmul_precision(args.matmul, args.device):
        peak_at = matmul_rate(device=args.device)
    scale = PAIRS_PER_EPOCH / args.pairs
    fl = flops_per_pair() * PAIRS_PER_EPOCH / 1e9  # GFLOP per network-epoch
    where = f"{torch.get_num_threads()} threads" if on_cpu else torch.cuda.get_device_name(args.device)
    print(f"torch {torch.__version__}, {where}, malloc keeps freed memory: {kept}; "
          f"float32 matmul (2048^2): {peak:.0f} GFLOP/s"
          + (f", at {args.matmul}: {peak_at:.0f} GFLOP/s" if args.matmul != "float32" else ""))
    if args.matmul != "float32":
        print(f"the batched trainer, the breakdown and the floor: matrix products at {args.matmul} "
              "(percentages: of the float32 rate)")
    print(f"work per network-epoch: {fl:.1f} GFLOP ({PAIRS_PER_EPOCH} pairs, batch 128); timed on {args.pairs} pairs")
    cfg = config.TrainConfig(epochs=1, matmul=args.matmul)
    warm_data = data.paired_mnist("train", n=256)

    for cell in args.cell:
        # GFLOP/s are counted for eq. (3)'s work; a gated cell does 3 or 4 times the recurrent work
        plain = None
        if on_cpu and args.plain_networks:
            start = time.perf_counter()
            for e in range(args.plain_networks):
                plain_train(0.01, train_data, cell=cell)
            plain = args.plain_networks / ((time.perf_counter() - start) * scale)
            print(f"{f'{cell}: plain loop, one network at a time':<42} {plain:7.3f} network-epochs/s  "
                  f"{plain * fl:6.1f} GFLOP/s ({plain * fl / peak:5.1%} of matmul)")
        mcfg = config.ModelConfig(cell=cell)
        for E in args.sizes:
            p = np.geomspace(1e-4, 1.0, E).tolist()
            # compile the fused updates for this E first (torch.compile specialises on shapes), untimed
            train.train(model.ModularRNN(p, list(range(E)), cfg=mcfg), warm_data, test_data, cfg, progress=False,
                        compile=True, device=args.device)
            net = model.ModularRNN(p, list(range(E)), cfg=mcfg)
            result = train.train(net, train_data, test_data, cfg, progress=False, compile=True, device=args.device)
            rate = E / (result.seconds * scale)
            versus = f"  {rate / plain:5.1f}x plain" if plain else ""
            print(f"{f'{cell}: batched trainer, E = {E}, {args.device}':<42} {rate:7.3f} network-epochs/s  "
                  f"{rate * fl:6.1f} GFLOP/s ({rate * fl / peak:5.1%} of matmul){versus}")
    if not on_cpu or "rnn" not in args.cell:
        return
    E = max(args.sizes)
    populations = {
        "mixed": np.geomspace(1e-4, 1.0, E).tolist(),  # the population timed above
        "sparse": np.repeat(PAPER_P[:5], -(-E // 5))[:E].tolist(),  # a p-major chunk of the sweep
        "dense": np.repeat(PAPER_P[5:], -(-E // 5))[:E].tolist(),
    }
    steps = PAIRS_PER_EPOCH / 128
    step_ms, floor_ms = {}, {}
    print(f"\nwhere a step's milliseconds go, E = {E} (median of 30 minibatches; floor: the matmuls and the "
          f"updates alone, at the same shapes)")
    print(f"{'population':<10} {'gather':>7} {'forward':>8} {'backward':>9} {'Adadelta':>9} {'Deep-R':>7} "
          f"{'total':>7} {'net-ep/s':>9} | {'matmuls':>8} {'updates':>8} {'rest':>6} {'floor net-ep/s':>15}")
    for name, p in populations.items():
        with runtime.matmul_precision(args.matmul, args.device):
            ms = step_breakdown(p, train_data)
            total = sum(ms.values())
            mm, upd = (t * 1e3 for t in step_floor(p))
        step_ms[name], floor_ms[name] = total, mm + upd
        print(f"{name:<10} {ms['gather']:7.1f} {ms['forward']:8.1f} {ms['backward']:9.1f} {ms['Adadelta']:9.1f} "
              f"{ms['Deep-R']:7.1f} {total:7.1f} {E / (total / 1e3 * steps):9.3f} | {mm:8.1f} {upd:8.1f} "
              f"{total - mm - upd:6.1f} {E / ((mm + upd) / 1e3 * steps):15.3f}")
    print("(populations: mixed = p geometric from 1e-4 to 1; sparse / dense = the paper grid's five sparsest / "
          "densest p, p-major, as a sweep chunks them; rest = total - matmuls - updates: the elementwise work, "
          "the gathers and the Python between them)")
    # The paper sweep's training at these step times: its p-major chunks split its network-epochs
    # between the sparse and the dense population (one chunk of each per architecture).
    paper = sweep.PROFILES["paper"]
    seeds, grid = len(paper.seeds), dict(paper.axes)["p"]
    per_network = paper.base.train.epochs + paper.base.train.bottleneck_epochs  # standard + bottleneck
    half = {"sparse": sum(v <= PAPER_P[4] for v in grid), "dense": sum(v > PAPER_P[4] for v in grid)}
    epochs = {name: half[name] * seeds * per_network for name in half}  # network-epochs of each population

    def minutes(ms_per_step):
        return sum(epochs[name] * steps * ms_per_step[name] / E / 1e3 for name in epochs) / 60

    print(f"the paper sweep's training ({sum(epochs.values())} network-epochs: {epochs['sparse']} sparse, "
          f"{epochs['dense']} dense) at these step times: {minutes(step_ms):.1f} min; at the floor: "
          f"{minutes(floor_ms):.1f} min (the sweep's metrics come on top: benchmarks/metrics_throughput.py)")


if __name__ == "__main__":
    main()
