"""Training E networks on the main task at once: Adadelta (or Adam) for the sub-networks, Deep-R between them.

Paper: section 2.4 and Table 1; book: chapter 3 and the discussion. Each network has its own data order, drawn from
its own seed, and its own loss; the losses are summed, so every network gets exactly the gradient it
would get if trained alone (checked by a unit test).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from tqdm.auto import tqdm

from . import optim, runtime
from .config import TrainConfig
from .data import PairedDigits, network_inputs
from .deepr import DeepR
from .model import ModularRNN, per_network_loss





@dataclass
class TrainResult:
    """What a training run produced, per network (E entries each)."""

    accuracy: list[float]  # final test accuracy on the main task
    epochs: list[int]  # epochs each network trained
    history: list[list[float]] = field(default_factory=list)  # test accuracy after each epoch
    val_history: list[list[float]] = field(default_factory=list)  # validation accuracy after each epoch (with val_data)
    rewired: list[int] = field(default_factory=list)  # connections rewired (both directions)
    rewired_per_epoch: list[list[int]] = field(default_factory=list)  # the same, epoch by epoch
    seconds: float = 0.0  # wall time of the whole run


def _check_device(device) -> torch.device:
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' was asked for but torch.cuda.is_available() is False")
    return device


@torch.no_grad()
def predict(model: ModularRNN, data: PairedDigits, batch_size: int = 2000) -> torch.Tensor:
    """Predictions of every network on every pair of ``data``: (E, n_pairs) int64."""
    device = model.theta.device
    out = []
    for start in range(0, len(data), batch_size):
        x = data.inputs(slice(start, start + batch_size)).transpose(0, 1).to(device)  # (2, B, 784)
        r_out, _ = model.decide(model(x))
        out.append(r_out.argmax(-1).cpu())
    return torch.cat(out, dim=1)


def accuracy(model: ModularRNN, data: PairedDigits, target: torch.Tensor | None = None) -> torch.Tensor:
    """Main-task (or given-target) accuracy of every network: (E,) float."""
    target = data.target if target is None else target
    return (predict(model, data) == target).double().mean(1)


def train(
    model: ModularRNN,
    train_data: PairedDigits,
    test_data: PairedDigits,
    cfg: TrainConfig | None = None,
    device: str | torch.device = "cpu",
    progress: bool = True,
    compile: bool = False,
    on_step: Callable[[int, int, ModularRNN, DeepR], None] | None = None,
    val_data: PairedDigits | None = None,
    test_every_epoch: bool = True,
) -> TrainResult:
    """Train every network of ``model`` on the main task of eq. (1).

    Runs ``cfg.epochs`` epochs; with ``cfg.max_epochs`` set, networks whose accuracy on ``val_data``
    (validation pairs held out from the training images, never the test pairs) is still below
    ``cfg.target_accuracy`` keep training, up to ``cfg.max_epochs`` (the others are frozen).
    ``compile=True`` fuses the optimizers' elementwise updates with torch.compile (about 20 s to
    compile once per process, then several times faster for many networks; the same numbers to
    float rounding: the fused kernels may round a last bit differently).
    The matrix products run at ``cfg.matmul``'s precision (:func:`modlib.runtime.matmul_precision`;
    refused at once where the device cannot run it).
    ``on_step(epoch, step, model, deepr)``, if given, is called after every minibatch's Deep-R
    update (``step`` counts minibatches from 1), e.g. with a :class:`modlib.deepr.ConnectionLog`.
    Returns per-network test (and validation) accuracy after each epoch; with
    ``test_every_epoch=False`` the test pairs are read once, after the last epoch (``history`` then
    holds that one accuracy per network; the final accuracy is the same), as a sweep, which records
    only the final accuracy, does: each reading of the test pairs costs about 1.6 s for 50 networks.
    The longer schedule (``cfg.max_epochs``) reads them after every epoch either way.
    """
    cfg = cfg or TrainConfig()
    if cfg.max_epochs and val_data is None:
        raise ValueError("the longer schedule (max_epochs > 0) stops on validation accuracy: pass val_data "
                         "(pairs held out from the training images, data.val_fraction > 0)")
    device = _check_device(device)
    runtime.keep_freed_memory()
    with runtime.matmul_precision(cfg.matmul, device):  # checks cfg.matmul first
        return _train(model, train_data, test_data, cfg, device, progress, compile, on_step, val_data,
                      test_every_epoch)


def _train(model, train_data, test_data, cfg, device, progress, compile, on_step, val_data,
           test_every_epoch) -> TrainResult:
    """:func:`train` once its arguments are checked, at its matrix-product precision."""
    model.to(device)
    E, n = model.n_networks, len(train_data)
    if n < 1:
        raise ValueError("train_data must hold at least one pair")
    images = train_data.images.to(device)
    pairs, target = train_data.pairs.to(device), train_data.target.to(device)
    frozen = model.readout_parameters() if cfg.freeze_readout else []
    dense = [p for p in model.dense_parameters() if not any(p is q for q in frozen)]
    if model.cfg.connections == "fixed":
        dense.append(model.theta)  # fixed connections: their weights train with the modules'
    for p in frozen:
        p.requires_grad_(False)  # left at its initial values: no gradient, no update
    state = [[torch.zeros_like(p) for p in dense] for _ in range(2)]  # Adadelta's or Adam's two averages
    lr = torch.tensor(cfg.lr, device=device)
    if cfg.optimizer == "adam":
        adam = optim.compiled("adam_") if compile else optim.adam_
        adam_step = torch.zeros((), device=device)

        def update(grads):
            adam(dense, grads, *state, adam_step, lr, *cfg.adam_betas, cfg.adam_eps)
    else:
        adadelta = optim.compiled("adadelta_") if compile else optim.adadelta_

        def update(grads):
            adadelta(dense, grads, *state, lr, cfg.rho, cfg.eps)
    deepr = DeepR(model, cfg.deepr, compile=compile)
    order_gens = [torch.Generator().manual_seed(7_919 * (s + 1)) for s in model.seeds]
    training = torch.ones(E, dtype=torch.bool, device=device)  # networks still training
    epochs_done = [0] * E
    history: list[list[float]] = [[] for _ in range(E)]
    val_history: list[list[float]] = [[] for _ in range(E)]
    rewired_per_epoch: list[list[int]] = [[] for _ in range(E)]
    step = 0
    total_epochs = max(cfg.epochs, cfg.max_epochs)
    steps_per_epoch = -(-n // cfg.batch_size)
    x_buffer = images.new_empty(E * 2 * min(n, cfg.batch_size), images.shape[1])  # reused every minibatch
    start_time = time.perf_counter()
    bar = tqdm(total=total_epochs * steps_per_epoch, disable=not progress, desc=f"training {E} networks")
    for epoch in range(total_epochs):
        order = torch.stack([torch.randperm(n, generator=g) for g in order_gens]).to(device)  # (E, n)
        for start in range(0, n, cfg.batch_size):
            idx = order[:, start : start + cfg.batch_size]  # (E, B)
            x = network_inputs(images, pairs, idx, out=x_buffer)  # (E, 2, B, 784)
            r_out, _ = model.decide(model(x))  # (E, B, C)
            loss = per_network_loss(r_out, target[idx])  # (E,)
            for p in model.parameters():
                p.grad = None
            (loss * training).sum().backward()
            with torch.no_grad():
                update([p.grad for p in dense])
            deepr.step()
            step += 1
            if on_step is not None:
                on_step(epoch, step, model, deepr)
            bar.update(1)
        lr *= cfg.lr_decay
        deepr.decay_lr()
        val_acc = accuracy(model, val_data) if val_data is not None else None
        # the longer schedule stops each network on its own epoch: its test accuracy is read every epoch
        tested = test_every_epoch or cfg.max_epochs or epoch + 1 == cfg.epochs
        acc = accuracy(model, test_data) if tested else None
        rewired_total = deepr.rewired.sum(1).tolist()  # (E,) so far
        for e in range(E):
            if training[e]:
                if acc is not None:
                    history[e].append(float(acc[e]))
                if val_acc is not None:
                    val_history[e].append(float(val_acc[e]))
                rewired_per_epoch[e].append(rewired_total[e] - sum(rewired_per_epoch[e]))
                epochs_done[e] += 1
        if acc is not None:
            bar.set_postfix(median_acc=f"{acc.median():.3f}", min_acc=f"{acc.min():.3f}")
        if epoch + 1 >= cfg.epochs:
            training &= (val_acc < cfg.target_accuracy).to(device) if cfg.max_epochs else False
            deepr.lr = deepr.lr * training.to(deepr.lr.dtype)
            if not training.any():
                break
    bar.close()
    for p in frozen:
        p.requires_grad_(True)  # frozen for this training only: later retraining (the metrics) may train it
    final = [h[-1] for h in history]
    return TrainResult(
        accuracy=final,
        epochs=epochs_done,
        history=history,
        val_history=val_history if val_data is not None else [],
        rewired=deepr.rewired.sum(1).tolist(),
        rewired_per_epoch=rewired_per_epoch,
        seconds=time.perf_counter() - start_time,
    )
