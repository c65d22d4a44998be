"""The three measures of functional specialization and the specialization measure.

Paper: section 3 (3.1 bottleneck metric, 3.2 weight-mask metric with eq. (6), 3.3 correlation
metric with eq. (7), 3.4 specialization with eq. (8)), appendix A.3 (CKA distance) and Table 1;
book: chapters 4-6, one per metric.

Every metric runs on all E networks of a :class:`~modlib.model.ModularRNN` at once and returns a
raw metric ``M[e, n, k]`` of shape (E, 2, 2): sub-network n on sub-task k (predict digit k).
:func:`compute_all` gathers them into one table (one row per network, n, k and metric), and
:func:`specialization_table` turns it into eq. (8), one row per network, n and metric.

Randomness: every draw comes from a generator seeded with the network's own seed and
``MetricsConfig.seed``, so a network's metrics do not depend on which networks are measured beside
it. The random initialisations are the same for sub-network n on task k and for sub-network 1 - n on
task 1 - k ("own" and "other" draws), so swapping the two sub-networks (and the two digits) mirrors
every metric exactly.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from . import cka, optim, runtime, structure
from .config import TrainConfig, check_bool, check_int, check_real
from .data import PairedDigits, network_inputs
from .model import ModularRNN, per_network_loss, run_cell

ADADELTA_EPS = TrainConfig().eps  # the same Adadelta epsilon as the main training
METRICS = ("bottleneck", "weight_mask", "correlation", "cka_distance")
# Columns that identify one measurement's network (and the step of the states it read) in the tables.
NETWORK_COLUMNS = ["network", "architecture", "p", "n_conn", "Q", "seed", "coupling", "accuracy", "step"]
_SALT = {"bottleneck": 11, "mask": 23, "subset": 37, "pairing": 41, "order": 53}


@dataclass(frozen=True)
class MetricsConfig:
    """Settings of the three metrics; the defaults are the paper's (Table 1; the book's chapters 4-6)."""

    # Bottleneck metric (section 3.1; Table 1 "Bottleneck re-training")
    bottleneck_units: int = 5  # width of the bottleneck layer of the network this metric retrains (paper: 5, fig. 1b)
    bottleneck_epochs: int = 5  # (paper: 5)
    bottleneck_lr: float = 0.5  # Adadelta learning rate (paper: 0.5)
    bottleneck_lr_decay: float = 0.9  # per-epoch decay (paper: 0.9)
    bottleneck_rho: float = 0.9  # Adadelta's running-average decay (PyTorch default)
    bottleneck_batch_size: int = 128  # (paper: 128)
    bottleneck_repeats: int = 1  # independent re-initialisations averaged (paper: not stated)
    # Weight-mask metric (section 3.2; Table 1 "Mask training")
    q: float = 0.05  # fraction of the masked parameters kept (paper: 5%)
    mask_epochs: int = 1  # (paper: 1)
    mask_lr: float = 0.1  # SGD learning rate (paper: 0.1)
    mask_momentum: float = 0.9  # (paper: 0.9)
    mask_weight_decay: float = 5e-4  # on the scores (paper: not stated; the authors' code: 5e-4)
    mask_batch_size: int = 128  # (paper: 128)
    mask_bias_std: float = 0.01  # bias scores ~ N(0, 0.01^2) (edge-popup, the authors' code)
    mask_repeats: int = 1  # independent masks averaged (paper: not stated)
    # Correlation metric (section 3.3) and CKA distance (appendix A.3), on the test pairs
    n_pairs: int | None = None  # test pairs used (a seeded random subset); None = all (about 8000)
    cka_repeats: int = 5  # random pairings x -> x' averaged for CKA
    # Over time (beyond the paper; book: the discussion)
    time_resolved: bool = False  # also measure the correlation metric and the bottleneck probe on the states of every earlier step t = 1..T-1 (paper: h_T only)
    # Shared
    seed: int = 0  # seeds every draw of the metrics, with each network's own seed
    eval_batch_size: int = 2000  # pairs per forward pass when computing states and accuracies

    def __post_init__(self):
        for name in ("bottleneck_epochs", "bottleneck_batch_size", "bottleneck_repeats", "mask_epochs",
                     "mask_batch_size", "mask_repeats", "cka_repeats", "eval_batch_size"):
            check_int(self, name, 1)
        check_int(self, "bottleneck_units", 1)
        check_int(self, "seed", 0)
        check_int(self, "n_pairs", 2, none_ok=True)
        for name in ("bottleneck_lr", "mask_lr", "mask_bias_std"):
            check_real(self, name, 0, low_open=True)
        for name in ("bottleneck_lr_decay", "q"):
            check_real(self, name, 0, 1, low_open=True)
        for name in ("bottleneck_rho", "mask_momentum"):
            check_real(self, name, 0, 1, high_open=True)
        check_real(self, "mask_weight_decay", 0)
        check_bool(self, "time_resolved")


def _seed(*parts: int) -> int:
    """One 63-bit seed from several integers (a fixed polynomial hash)."""
    s = 0
    for part in parts:
        s = (s * 1_000_003 + int(part) + 1) % (2**63 - 1)
    return s


def _device(model: ModularRNN) -> torch.device:
    return model.theta.device


def _batches(n: int, batch_size: int):
    return (slice(start, start + batch_size) for start in range(0, n, batch_size))


def _batch_orders(n: int, epochs: int, seeds, cfg_seed: int, purpose: int) -> list[torch.Tensor]:
    """The order of the training pairs in each epoch, per network: one (E, n) tensor per epoch.

    Network e's permutations come from a generator seeded with its own seed, ``cfg_seed`` and the
    metric (``purpose``), so a network's metric does not depend on the networks beside it.
    """
    gens = [torch.Generator().manual_seed(_seed(_SALT["order"], s, cfg_seed, purpose)) for s in seeds]
    return [torch.stack([torch.randperm(n, generator=g) for g in gens]) for _ in range(epochs)]


@torch.no_grad()
def final_states(model: ModularRNN, data: PairedDigits, batch_size: int = 2000,
                 bottleneck: bool = False, step: int | None = None) -> torch.Tensor:
    """h_T of eq. (3) for every pair of ``data``: (E, 2, n, N); with ``bottleneck=True`` the
    bottleneck states b^n = W_hb^n h_T^n + b_hb^n instead: (E, 2, n, bottleneck). ``step`` = t in
    1..T takes the states h_t of that step instead (the same as h_T at t = T)."""
    T = model.cfg.n_steps
    if step is not None and not (isinstance(step, int) and 1 <= step <= T):
        raise ValueError(f"step must be an integer in [1, {T}] (the network's steps), got {step!r}")
    out = []
    for batch in _batches(len(data), batch_size):
        x = data.inputs(batch).transpose(0, 1).to(_device(model))  # (2, B, 784)
        h = model.hidden_states(x) if step in (None, T) else model.states(x)[step - 1]  # (E, 2, B, N)
        out.append(model.bottleneck_states(h) if bottleneck else h)
    return torch.cat(out, dim=2)


def untrained_copy(model: ModularRNN) -> ModularRNN:
    """The networks of ``model`` as they were initialised (same p, seeds, architecture and Deep-R
    initialisation), untrained.

    The paper's control for the weight-mask metric (section 3.2): masks found on trained networks
    must perform clearly better than masks found on these.
    """
    net = ModularRNN(model.p.tolist(), list(model.seeds), model.cfg, model.deepr_cfg)
    return net.to(_device(model))


# ------------------------------------------------------------------------------------------------
# Bottleneck metric (section 3.1)


def readout_init(model: ModularRNN, cfg: MetricsConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """Fresh bottleneck-to-readout weights U(-a, a), a = ``model.cfg.init_range`` (the paper's 0.1).

    Returns w (E, 2, 2, R, C, F) and b (E, 2, 2, R, C), indexed [network, n, k, repeat]; F is the
    bottleneck size. The draw for (n, k) depends on the network's seed, the repeat, and whether
    n == k, so that swapping the two sub-networks mirrors the metric exactly.
    """
    E, C, F_ = model.n_networks, model.cfg.n_classes, model.cfg.bottleneck
    R, a = cfg.bottleneck_repeats, model.cfg.init_range
    w = torch.empty(E, 2, 2, R, C, F_)
    b = torch.empty(E, 2, 2, R, C)
    for e, seed in enumerate(model.seeds):
        for r in range(R):
            for own in (True, False):
                gen = torch.Generator().manual_seed(_seed(_SALT["bottleneck"], seed, cfg.seed, r, own))
                w_draw = (torch.rand(C, F_, generator=gen) * 2 - 1) * a
                b_draw = (torch.rand(C, generator=gen) * 2 - 1) * a
                for n in range(2):
                    k = n if own else 1 - n
                    w[e, n, k, r], b[e, n, k, r] = w_draw, b_draw
    device = _device(model)
    return w.to(device), b.to(device)


def retrain_readouts(b_train: torch.Tensor, digits: torch.Tensor, w: torch.Tensor, bias: torch.Tensor,
                     cfg: MetricsConfig, orders: list[torch.Tensor] | None = None,
                     progress: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Train the bottleneck-to-readout weights of every (network, n, k, repeat) at once. Paper: section 3.1.

    b_train: (E, 2, n_train, F) bottleneck states b^n of the training pairs (fixed: everything below
    the readout is frozen); digits: (n_train, 2) the digits (D0, D1); w (E, 2, 2, R, C, F) and
    bias (E, 2, 2, R, C) the initial weights. Readout (n, k) computes r^n = w b^n + bias and is
    trained on the cross-entropy with digit k: Adadelta, ``cfg.bottleneck_lr`` decaying by
    ``cfg.bottleneck_lr_decay`` per epoch, minibatches in ``orders`` (one permutation of the
    training pairs per epoch, (n_train,) shared by the networks or (E, n_train) one per network; by
    default drawn from each network's seed, see :func:`bottleneck_metric`). The problems are independent:
    their losses are summed, so each gets exactly the gradient it would get alone.
    Returns the trained (w, bias). The gradient is written out (the softmax minus the one-hot target),
    a few operations on small tensors per step instead of autograd's graph.
    """
    n_train = b_train.shape[2]
    E = b_train.shape[0]
    if orders is None:
        orders = _batch_orders(n_train, cfg.bottleneck_epochs, [0] * E, cfg.seed, 0)
    w, bias = w.clone(), bias.clone()
    params = [w, bias]
    square_avg = [torch.zeros_like(p) for p in params]
    acc_delta = [torch.zeros_like(p) for p in params]
    lr = torch.tensor(cfg.bottleneck_lr, device=w.device)
    target_all = digits.t().to(w.device)  # (2, n_train), row k is digit k
    R = w.shape[3]
    steps = len(orders) * math.ceil(n_train / cfg.bottleneck_batch_size)
    bar = tqdm(total=steps, disable=not progress, desc="bottleneck readouts")
    rows = torch.arange(E, device=w.device)[:, None]  # (E, 1)
    for order in orders:
        order = order.to(w.device).expand(E, -1)  # (E, n_train)
        for batch in _batches(n_train, cfg.bottleneck_batch_size):
            idx = order[:, batch]  # (E, B)
            x = b_train[rows, :, idx].transpose(1, 2)  # (E, 2, B, F)
            logits = torch.einsum("enbf,enkrcf->enkrbc", x, w) + bias.unsqueeze(-2)  # (E, 2, 2, R, B, C)
            target = target_all[:, idx].transpose(0, 1)  # (E, 2, B), [e, k, b]: digit k
            target = target[:, None, :, None, :, None].expand(E, 2, 2, R, -1, 1)  # (E, 2, 2, R, B, 1)
            # the gradient of the mean cross-entropy, written out: (softmax - one-hot) / B
            d_logits = torch.softmax(logits, -1).scatter_add_(-1, target, torch.full_like(logits[..., :1], -1.0))
            d_logits /= idx.shape[1]
            grads = [torch.einsum("enkrbc,enbf->enkrcf", d_logits, x), d_logits.sum(-2)]
            optim.adadelta_(params, grads, square_avg, acc_delta, lr, cfg.bottleneck_rho, ADADELTA_EPS)
            bar.update(1)
        lr = lr * cfg.bottleneck_lr_decay
    bar.close()
    return w.detach(), bias.detach()


@torch.no_grad()
def readout_accuracy(b_test: torch.Tensor, digits: torch.Tensor, w: torch.Tensor,
                     bias: torch.Tensor) -> torch.Tensor:
    """Accuracy of readout (n, k) on digit k: b_test (E, 2, n_test, F), digits (n_test, 2) ->
    (E, 2, 2, R) indexed [network, n, k, repeat]."""
    logits = torch.einsum("enbf,enkrcf->enkrbc", b_test, w) + bias.unsqueeze(-2)  # (E, 2, 2, R, B, C)
    target = digits.t().to(w.device)[None, None, :, None, :]  # (1, 1, 2, 1, B)
    return (logits.argmax(-1) == target).double().mean(-1)


def bottleneck_metric(model: ModularRNN, train_data: PairedDigits, test_data: PairedDigits,
                      cfg: MetricsConfig | None = None, progress: bool = False,
                      step: int | None = None) -> torch.Tensor:
    """Bottleneck metric M(n, k) of every network: (E, 2, 2) test accuracy. Paper: section 3.1.

    On networks trained on the main task with a bottleneck (``model.cfg.bottleneck > 0``), only
    sub-network n's W_br^n, b_br^n are re-initialised and retrained so that its own readout r^n
    predicts digit k; M(n, k) is the test accuracy on digit k (chance 0.1), averaged over
    ``cfg.bottleneck_repeats``. Since everything below W_br^n is frozen, the bottleneck states are
    computed once for all pairs and the 5 -> 10 linear readouts are trained on them, for all
    networks, both n and both k together (the same as retraining through the whole network: a
    unit test checks it). ``step`` = t < T retrains the same readouts on b_t = W_hb h_t + b_hb,
    the states of an earlier step (a linear probe of what the bottleneck holds at that step).
    """
    cfg = cfg or MetricsConfig()
    runtime.keep_freed_memory()
    if not model.cfg.bottleneck:
        raise ValueError("bottleneck_metric needs a bottleneck network (model.cfg.bottleneck > 0)")
    b_train = final_states(model, train_data, cfg.eval_batch_size, bottleneck=True, step=step)  # (E, 2, n, F)
    b_test = final_states(model, test_data, cfg.eval_batch_size, bottleneck=True, step=step)
    orders = _batch_orders(len(train_data), cfg.bottleneck_epochs, model.seeds, cfg.seed, 0)  # (E, n) per epoch
    w, bias = retrain_readouts(b_train, train_data.digits, *readout_init(model, cfg), cfg, orders=orders,
                               progress=progress)
    return readout_accuracy(b_test, test_data.digits, w, bias).mean(-1).cpu()  # (E, 2, 2)


# ------------------------------------------------------------------------------------------------
# Weight-mask metric (section 3.2)


def mask_layout(model: ModularRNN) -> tuple[list[tuple[str, tuple[int, ...]]], torch.Tensor]:
    """The masked parameters of one network, in the order of its flat score vector.

    Returns [(name, shape)] for W_hh, b_hh, W_hr, b_hr (each with the sub-network axis first, e.g.
    ("w_hh", (2, N, N))), and the sub-network of every entry of the flat vector: (D,) int64.
    W_ih, b_ih and the inter-module weights are not masked (section 3.2).
    """
    if model.cfg.bottleneck:
        raise ValueError("the weight-mask metric is defined on the standard network (model.cfg.bottleneck == 0)")
    N, C = model.cfg.n_hidden, model.cfg.n_classes
    G = model.w_hh.shape[-2]  # N, or 3N / 4N for a gated cell (all its gates' recurrent weights)
    layout = [("w_hh", (2, G, N)), ("b_hh", (2, G)), ("w_hr", (2, C, N)), ("b_hr", (2, C))]
    labels = torch.cat([torch.arange(2).repeat_interleave(math.prod(shape[1:])) for _, shape in layout])
    return layout, labels


def init_scores(model: ModularRNN, cfg: MetricsConfig) -> torch.Tensor:
    """Initial mask scores (E, 2, R, D) indexed [network, task k, repeat, flat parameter].

    Weights: kaiming-uniform as in edge-popup, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = N;
    biases: N(0, cfg.mask_bias_std^2). The scores of the sub-network of digit k ("own") and of the
    other one are separate draws, the same for both k, so that swapping sub-networks mirrors them.
    """
    layout, labels = mask_layout(model)
    E, R = model.n_networks, cfg.mask_repeats
    scores = torch.empty(E, 2, R, len(labels), dtype=torch.float32)
    for e, seed in enumerate(model.seeds):
        for r in range(R):
            parts = {}
            for own in (True, False):
                gen = torch.Generator().manual_seed(_seed(_SALT["mask"], seed, cfg.seed, r, own))
                draw = {}
                for name, shape in layout:
                    one = shape[1:]  # one sub-network's tensor
                    if name.startswith("w"):
                        draw[name] = (torch.rand(one, generator=gen) * 2 - 1) / math.sqrt(shape[-1])
                    else:
                        draw[name] = torch.randn(one, generator=gen) * cfg.mask_bias_std
                parts[own] = draw
            for k in range(2):
                by_n = [parts[n == k] for n in range(2)]  # sub-network k gets the "own" draw
                scores[e, k, r] = torch.cat([torch.stack([by_n[0][name], by_n[1][name]]).flatten()
                                             for name, _shape in layout])
    return scores.to(_device(model))


class TopQ(torch.autograd.Function):
    """Binary mask keeping the ``n_keep`` highest scores of each row, with a straight-through gradient.

    scores: (J, D) -> mask (J, D) of 0.0 / 1.0 with exactly ``n_keep`` ones per row (a global top-k
    over all masked tensors of one network). Backward passes the gradient to the scores unchanged
    (edge-popup, Ramanujan et al. 2019). Paper: section 3.2.
    """

    @staticmethod
    def forward(ctx, scores, n_keep: int):
        index = scores.topk(n_keep, dim=-1, sorted=False).indices
        return torch.zeros_like(scores).scatter_(-1, index, 1.0)

    @staticmethod
    def backward(ctx, grad):
        return grad, None


def n_kept(n_params: int, q: float) -> int:
    """Parameters kept by a mask of fraction q: round(q D), at least 1."""
    return max(1, int(round(q * n_params)))


def _flat_values(model: ModularRNN) -> torch.Tensor:
    """The masked parameters of each network as one flat vector: (E, D), in :func:`mask_layout` order."""
    layout, _ = mask_layout(model)
    E = model.n_networks
    return torch.cat([getattr(model, name).detach().reshape(E, -1) for name, _shape in layout], dim=1)


def _unflatten(flat: torch.Tensor, layout) -> dict[str, torch.Tensor]:
    sizes = [math.prod(shape) for _, shape in layout]
    return {name: part.view(flat.shape[0], *shape) for (name, shape), part in zip(layout, flat.split(sizes, dim=1))}


def masked_readouts(model: ModularRNN, masked: torch.Tensor, net: torch.Tensor, drive: torch.Tensor) -> torch.Tensor:
    """Readouts of J masked networks in one batched pass of eq. (3). Paper: eq. (3), section 3.2.

    masked: (J, D) the masked parameters (values times mask) in :func:`mask_layout` order;
    net: (J,) which of the E networks each masked network comes from (its W_ih, b_ih and
    inter-module weights, unmasked); drive: (E, 2, B, N) from :meth:`ModularRNN.input_drive`.
    Returns r (J, 2, B, C).
    """
    layout, _ = mask_layout(model)
    p = _unflatten(masked, layout)
    h = run_cell(model.cfg, drive[net], p["w_hh"], p["b_hh"], model.w_sparse().detach()[net])  # (J, 2, B, N)
    return h @ p["w_hr"].transpose(-1, -2) + p["b_hr"].unsqueeze(2)  # (J, 2, B, C)


@dataclass
class MaskResult:
    """What the weight-mask metric found, per network."""

    share: torch.Tensor  # (E, 2, 2) [e, n, k]: share of the kept parameters in sub-network n, eq. (6)
    accuracy: torch.Tensor  # (E, 2) [e, k]: test accuracy of the masked network on digit k
    masks: torch.Tensor  # (E, 2, R, D) bool [e, k, repeat]: the final masks, in mask_layout order


def weight_mask_metric(model: ModularRNN, train_data: PairedDigits, test_data: PairedDigits,
                       cfg: MetricsConfig | None = None, progress: bool = False) -> MaskResult:
    """Weight-mask metric M(n, k) = |S_k ∩ theta_n| / |S_k| of every network. Paper: section 3.2, eq. (6).

    All weights stay frozen. Each masked parameter (W_hh, b_hh, W_hr, b_hr of both sub-networks)
    gets a score (:func:`init_scores`); the forward pass keeps only the top ``cfg.q`` of the scores
    of each network (:class:`TopQ`), and the scores are trained with SGD (momentum, weight decay)
    to predict digit k through the competitive decision. All 2 E R masked networks (E networks x
    2 tasks x R repeats) run as one batched forward pass. Returns the share of kept parameters in
    each sub-network (M(0, k) + M(1, k) = 1) and the masked networks' test accuracy on digit k,
    averaged over repeats. Run it on :func:`untrained_copy` for the paper's control.
    """
    cfg = cfg or MetricsConfig()
    runtime.keep_freed_memory()
    layout, labels = mask_layout(model)
    device = _device(model)
    E, R = model.n_networks, cfg.mask_repeats
    values = _flat_values(model)  # (E, D)
    D = values.shape[1]
    keep = n_kept(D, cfg.q)
    scores = init_scores(model, cfg).reshape(E * 2 * R, D).requires_grad_(True)  # (J, D), j = (e, k, r)
    J = scores.shape[0]
    net = torch.arange(E, device=device).repeat_interleave(2 * R)  # (J,) network of each masked net
    task = torch.arange(2, device=device).repeat_interleave(R).repeat(E)  # (J,) digit k of each
    momentum_buf = torch.zeros_like(scores)
    images, pairs = train_data.images.to(device), train_data.pairs.to(device)
    digits = train_data.digits.to(device)
    n_train = len(train_data)
    orders = _batch_orders(n_train, cfg.mask_epochs, model.seeds, cfg.seed, 1)  # (E, n) per epoch
    bar = tqdm(total=len(orders) * math.ceil(n_train / cfg.mask_batch_size), disable=not progress,
               desc=f"weight masks ({J} masked networks)")
    for order in orders:
        order = order.to(device)
        for batch in _batches(n_train, cfg.mask_batch_size):
            idx = order[:, batch]  # (E, B), each network's own minibatch
            x = network_inputs(images, pairs, idx)  # (E, 2, B, 784)
            with torch.no_grad():
                drive = model.input_drive(x)  # (E, 2, B, N), frozen
            mask = TopQ.apply(scores, keep)  # (J, D)
            r = masked_readouts(model, values[net] * mask, net, drive)  # (J, 2, B, C)
            r_out, _ = model.decide(r)  # (J, B, C)
            target = digits[idx][net, :, task]  # (J, B): digit k of masked network j's minibatch
            loss = per_network_loss(r_out, target).sum()
            (grad,) = torch.autograd.grad(loss, [scores])
            with torch.no_grad():  # SGD with momentum and weight decay, as torch.optim.SGD
                grad = grad + cfg.mask_weight_decay * scores
                momentum_buf.mul_(cfg.mask_momentum).add_(grad)
                scores.sub_(cfg.mask_lr * momentum_buf)
            bar.update(1)
    bar.close()
    with torch.no_grad():
        final = TopQ.apply(scores, keep)  # (J, D)
        share = torch.stack([(final * (labels.to(device) == n)).sum(-1) for n in range(2)], -1) / keep  # (J, 2)
        correct = torch.zeros(J, device=device, dtype=torch.float64)
        for batch in _batches(len(test_data), cfg.eval_batch_size):
            x = test_data.inputs(batch).transpose(0, 1).to(device)  # (2, B, 784)
            r_out, _ = model.decide(masked_readouts(model, values[net] * final, net, model.input_drive(x)))
            target = test_data.digits[batch].to(device).t()[task]  # (J, B)
            correct += (r_out.argmax(-1) == target).sum(-1)
        accuracy = correct / len(test_data)  # (J,)
    share = share.view(E, 2, R, 2).mean(2).transpose(1, 2)  # (E, n, k)
    return MaskResult(share=share.cpu().double(), accuracy=accuracy.view(E, 2, R).mean(-1).cpu(),
                      masks=final.view(E, 2, R, D).bool().cpu())


# ------------------------------------------------------------------------------------------------
# Correlation metric (section 3.3) and CKA distance (appendix A.3)


def _test_subset(test_data: PairedDigits, cfg: MetricsConfig) -> PairedDigits:
    """The test pairs the correlation metrics use: all, or a seeded random subset of ``cfg.n_pairs``."""
    if cfg.n_pairs is None or cfg.n_pairs >= len(test_data):
        return test_data
    gen = torch.Generator().manual_seed(_seed(_SALT["subset"], cfg.seed))
    keep = torch.randperm(len(test_data), generator=gen)[: cfg.n_pairs].sort().values
    return dataclasses.replace(test_data, pairs=test_data.pairs[keep], digits=test_data.digits[keep],
                               target=test_data.target[keep])


def correlation_metric(model: ModularRNN, test_data: PairedDigits, cfg: MetricsConfig | None = None,
                       states: torch.Tensor | None = None) -> torch.Tensor:
    """Correlation metric M(n, k) of every network: (E, 2, 2). Paper: section 3.3, eq. (7).

    The mean Pearson correlation between the final states h_T^n(x) and h_T^n(x') (N-unit vectors)
    over all pairs of different test examples x, x' whose digit k is the same, each pair weighted
    equally (computed exactly, without forming the pairs: :func:`cka.mean_within_group_correlation`).
    ``states`` (E, 2, n, N) may be given for the (subset of the) test pairs to skip the forward pass.
    """
    cfg = cfg or MetricsConfig()
    data = _test_subset(test_data, cfg)
    h = states if states is not None else final_states(model, data, cfg.eval_batch_size)  # (E, 2, n, N)
    digits = data.digits.to(h.device)
    out = torch.stack([cka.mean_within_group_correlation(h, digits[:, k]) for k in range(2)], dim=-1)
    return out.cpu()  # (E, n, k)


def cka_distance_metric(model: ModularRNN, test_data: PairedDigits, cfg: MetricsConfig | None = None,
                        states: torch.Tensor | None = None) -> torch.Tensor:
    """CKA distance 1 - CKA(H^n(X), H^n(X')) of every network: (E, 2, 2). Paper: appendix A.3.

    X is the set of test examples; X' pairs every example with another test example with the same
    digit k, drawn at random (:func:`cka.partners_within_groups`); H^n(X) is the (n_examples, N)
    matrix of sub-network n's final states. Linear CKA of the two matrices (Kornblith et al. 2019)
    is high when sub-network n's representation is determined by digit k. Averaged over
    ``cfg.cka_repeats`` pairings; 0 means identical representations (a distance, unlike eq. (7)).
    """
    cfg = cfg or MetricsConfig()
    data = _test_subset(test_data, cfg)
    h = states if states is not None else final_states(model, data, cfg.eval_batch_size)  # (E, 2, n, N)
    out = torch.zeros(h.shape[0], 2, 2, dtype=torch.float64)
    for r in range(cfg.cka_repeats):
        for k in range(2):
            # the same generator state for both k: the pairing depends only on the digit groups
            gen = torch.Generator().manual_seed(_seed(_SALT["pairing"], cfg.seed, r))
            partner = cka.partners_within_groups(data.digits[:, k], gen)
            valid = (partner >= 0).nonzero().squeeze(1)  # examples with a partner (all but singletons)
            position = torch.full_like(partner, -1)
            position[valid] = torch.arange(len(valid))
            perm = position[partner[valid]].to(h.device)  # the pairing as a permutation of the valid rows
            for e in range(h.shape[0]):  # one network at a time bounds the memory
                out[e, :, k] += cka.linear_cka_repaired(h[e][:, valid.to(h.device)], perm).cpu()
    return 1.0 - out / cfg.cka_repeats


# ------------------------------------------------------------------------------------------------
# Specialization (section 3.4) and the tables


def own_and_other(M: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Split raw metrics M[..., n, k] (last two axes: sub-network n, sub-task k) into M(n, n), each
    sub-network on its own digit, and M(n, 1 - n), on the other digit: two (..., 2) tensors, the
    inputs of eq. (8)."""
    if M.shape[-2:] != (2, 2):
        raise ValueError(f"M must end in (sub-network, sub-task) axes of size (2, 2), got shape {tuple(M.shape)}")
    return M.diagonal(dim1=-2, dim2=-1), M.flip(-1).diagonal(dim1=-2, dim2=-1)


def specialization(own, other, on_zero: str = "raise"):
    """S(n) = (M(n, n) - M(n, 1 - n)) / (M(n, n) + M(n, 1 - n)). Paper: eq. (8).

    own = M(n, n), other = M(n, 1 - n): numbers, arrays or tensors of non-negative metrics; S is in
    [-1, 1], 1 when sub-network n is specialized on its own digit only, 0 when it does both equally.
    Where both are 0, S is undefined: a ValueError (``on_zero="raise"``) or NaN (``on_zero="nan"``).
    """
    if on_zero not in ("raise", "nan"):
        raise ValueError(f"on_zero must be 'raise' or 'nan', got {on_zero!r}")
    is_tensor = isinstance(own, torch.Tensor) or isinstance(other, torch.Tensor)
    a = np.asarray(own.cpu() if isinstance(own, torch.Tensor) else own, dtype=float)
    b = np.asarray(other.cpu() if isinstance(other, torch.Tensor) else other, dtype=float)
    if (a < 0).any() or (b < 0).any():
        raise ValueError("eq. (8) needs non-negative metrics M(n, n) and M(n, 1 - n), got a negative value")
    total = a + b
    if (total == 0).any() and on_zero == "raise":
        raise ValueError("specialization is undefined where M(n, n) = M(n, 1 - n) = 0 (eq. 8 divides by their sum)")
    with np.errstate(invalid="ignore", divide="ignore"):
        s = np.where(total == 0, np.nan, (a - b) / np.where(total == 0, 1.0, total))
    if is_tensor:
        return torch.as_tensor(s)
    return float(s) if s.ndim == 0 else s


def _network_columns(model: ModularRNN, architecture: str, accuracy, network_ids) -> pd.DataFrame:
    E = model.n_networks
    ids = list(range(E)) if network_ids is None else list(network_ids)
    if len(ids) != E:
        raise ValueError(f"network_ids must have one entry per network ({E}), got {len(ids)}")
    acc = np.asarray(accuracy, dtype=float).reshape(-1)
    if len(acc) != E:
        raise ValueError(f"accuracy must have one entry per network ({E}), got {len(acc)}")
    with torch.no_grad():
        q = structure.q_modularity(model.adjacency().cpu(), model.groups().cpu()).numpy()
    return pd.DataFrame({"network": ids, "architecture": architecture, "p": model.p.cpu().numpy(),
                         "n_conn": model.n_conn.cpu().numpy(), "Q": q, "seed": list(model.seeds),
                         "coupling": model.cfg.coupling, "accuracy": acc, "step": model.cfg.n_steps})


def _rows(networks: pd.DataFrame, metric: str, value: torch.Tensor, subtask_accuracy=None,
          step: int | None = None) -> pd.DataFrame:
    """Long rows from a (E, 2, 2) [e, n, k] metric; subtask_accuracy (E, 2, 2) or None; ``step``:
    the step of the states measured (default: the last, T)."""
    E = len(networks)
    e, n, k = np.meshgrid(np.arange(E), np.arange(2), np.arange(2), indexing="ij")
    sub = np.full((E, 2, 2), np.nan) if subtask_accuracy is None else np.asarray(subtask_accuracy, dtype=float)
    rows = networks.iloc[e.ravel()].reset_index(drop=True)
    rows["subnetwork"], rows["task"], rows["metric"] = n.ravel(), k.ravel(), metric
    rows["value"] = np.asarray(value, dtype=float).ravel()
    rows["subtask_accuracy"] = sub.ravel()
    if step is not None:
        rows["step"] = step
    return rows


def compute_all(standard: ModularRNN | None = None, bottleneck: ModularRNN | None = None,
                train_data: PairedDigits | None = None, test_data: PairedDigits | None = None,
                cfg: MetricsConfig | None = None, *, accuracy_standard=None, accuracy_bottleneck=None,
                mask_control: bool = False, network_ids=None, progress: bool = False) -> pd.DataFrame:
    """All metrics of section 3 for a stack of standard networks and/or bottleneck networks.

    ``standard`` (``cfg.bottleneck == 0``) gives the weight-mask, correlation and CKA-distance
    metrics; ``bottleneck`` gives the bottleneck metric (either may be None). ``accuracy_*`` is each
    network's main-task test accuracy (computed with :func:`modlib.train.accuracy` if not given);
    ``mask_control=True`` adds the weight-mask metric of the untrained networks (metric
    "weight_mask_untrained"; the paper's control). ``network_ids`` labels the E networks (default
    0..E-1) so that a sweep can append tables.

    Returns a long table, one row per (network, architecture, subnetwork n, task k, metric):
    network, architecture ("standard"/"bottleneck"), p, n_conn, Q (eq. 4 on the network's real
    adjacency), seed, coupling, accuracy (main task), step (the step t of the states measured: T,
    and with ``cfg.time_resolved`` every earlier step for the correlation metric and the bottleneck
    probe), subnetwork, task, metric, value (M(n, k)), and subtask_accuracy (the retrained part's
    test accuracy on digit k: the bottleneck readout's, or the masked network's; NaN for the
    correlation metrics).
    """
    from .train import accuracy as main_accuracy

    cfg = cfg or MetricsConfig()
    if standard is None and bottleneck is None:
        raise ValueError("give a standard network, a bottleneck network, or both")
    if test_data is None:
        raise ValueError("test_data is needed by every metric")
    tables = []
    if standard is not None:
        if standard.cfg.bottleneck:
            raise ValueError("standard must be a network without bottleneck (cfg.bottleneck == 0)")
        if train_data is None:
            raise ValueError("train_data is needed by the weight-mask metric")
        acc = main_accuracy(standard, test_data) if accuracy_standard is None else accuracy_standard
        nets = _network_columns(standard, "standard", acc, network_ids)
        mask = weight_mask_metric(standard, train_data, test_data, cfg, progress=progress)
        tables.append(_rows(nets, "weight_mask", mask.share, mask.accuracy[:, None, :].expand(-1, 2, -1)))
        if mask_control:
            ctrl = weight_mask_metric(untrained_copy(standard), train_data, test_data, cfg, progress=progress)
            tables.append(_rows(nets, "weight_mask_untrained", ctrl.share,
                                ctrl.accuracy[:, None, :].expand(-1, 2, -1)))
        data = _test_subset(test_data, cfg)
        h = final_states(standard, data, cfg.eval_batch_size)  # (E, 2, n, N)
        tables.append(_rows(nets, "correlation", correlation_metric(standard, data, cfg, states=h)))
        tables.append(_rows(nets, "cka_distance", cka_distance_metric(standard, data, cfg, states=h)))
        for t in range(1, standard.cfg.n_steps) if cfg.time_resolved else ():
            h_t = final_states(standard, data, cfg.eval_batch_size, step=t)
            tables.append(_rows(nets, "correlation", correlation_metric(standard, data, cfg, states=h_t), step=t))
    if bottleneck is not None:
        if train_data is None:
            raise ValueError("train_data is needed by the bottleneck metric")
        acc = main_accuracy(bottleneck, test_data) if accuracy_bottleneck is None else accuracy_bottleneck
        nets = _network_columns(bottleneck, "bottleneck", acc, network_ids)
        value = bottleneck_metric(bottleneck, train_data, test_data, cfg, progress=progress)
        tables.append(_rows(nets, "bottleneck", value, value))
        for t in range(1, bottleneck.cfg.n_steps) if cfg.time_resolved else ():
            value = bottleneck_metric(bottleneck, train_data, test_data, cfg, step=t)
            tables.append(_rows(nets, "bottleneck", value, value, step=t))
    return pd.concat(tables, ignore_index=True)


def specialization_table(table: pd.DataFrame, min_accuracy: float = 0.0, on_zero: str = "raise") -> pd.DataFrame:
    """Eq. (8) for every network, sub-network and metric of a :func:`compute_all` table.

    Returns one row per (network, architecture, subnetwork, metric) with the network columns, own
    (M(n, n)), other (M(n, 1 - n)) and specialization. The CKA distance becomes metric "cka" with
    own/other the similarity CKA = 1 - distance, so that +1 means specialized as for the others.
    Networks whose main-task accuracy is below ``min_accuracy`` are left out (appendix A.4).
    """
    if not 0 <= min_accuracy <= 1:
        raise ValueError(f"min_accuracy must be in [0, 1], got {min_accuracy!r}")
    t = table[table["accuracy"] >= min_accuracy] if min_accuracy > 0 else table
    keys = [c for c in NETWORK_COLUMNS if c in t.columns] + ["subnetwork", "metric"]
    own = t[t["task"] == t["subnetwork"]][keys + ["value"]].rename(columns={"value": "own"})
    other = t[t["task"] != t["subnetwork"]][keys + ["value"]].rename(columns={"value": "other"})
    out = own.merge(other, on=keys, how="inner", validate="one_to_one")
    is_cka = out["metric"] == "cka_distance"
    out.loc[is_cka, ["own", "other"]] = 1.0 - out.loc[is_cka, ["own", "other"]].to_numpy()
    out.loc[is_cka, "metric"] = "cka"
    out["specialization"] = specialization(out["own"].to_numpy(), out["other"].to_numpy(), on_zero=on_zero)
    return out.reset_index(drop=True)
