"""Elementwise optimizer updates, written once so that they can run eagerly or fused by torch.compile.

Adadelta (Zeiler 2012) here is PyTorch's ``torch.optim.Adadelta`` formula, step for step (a unit
test checks it); writing it as one function lets ``torch.compile`` fuse its dozen passes over the
weights into one, which is most of the optimizer's cost when many networks train at once.
"""

from __future__ import annotations

import functools

import torch


def adadelta_(params, grads, square_avg, acc_delta, lr: torch.Tensor, rho: float, eps: float) -> None:
    """One Adadelta step, in place, over lists of tensors. ``lr`` is a 0-d tensor."""
    for p, g, sq, acc in zip(params, grads, square_avg, acc_delta):
        sq.mul_(rho).addcmul_(g, g, value=1 - rho)
        delta = (acc + eps).sqrt() / (sq + eps).sqrt() * g
        acc.mul_(rho).addcmul_(delta, delta, value=1 - rho)
        p.sub_(lr * delta)


def adam_(params, grads, exp_avg, exp_avg_sq, step: torch.Tensor, lr: torch.Tensor,
          beta1: float, beta2: float, eps: float) -> None:
    """One Adam step, in place, over lists of tensors: ``torch.optim.Adam``'s formula (no weight
    decay, no amsgrad). ``step`` is a 0-d tensor counting steps, incremented here; ``lr`` is 0-d."""
    step.add_(1)
    bias1, bias2 = 1 - beta1**step, 1 - beta2**step
    for p, g, m, v in zip(params, grads, exp_avg, exp_avg_sq):
        m.lerp_(g, 1 - beta1)
        v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
        p.sub_(lr / bias1 * m / ((v / bias2).sqrt() + eps))


def adam_masked_(theta, grad, exp_avg, exp_avg_sq, steps, active, lr, corrections,
                 beta1: float, beta2: float, eps: float, l1: float) -> None:
    """Deep-R's gradient step on theta, in place, on the active entries only: theta (E, 2, N, N) with
    ``lr`` (E, 1, 1, 1), or a 1-d list of entries with one ``lr`` per entry (as Deep-R calls it).

    Adam with a per-entry step count, then the l1 shrinkage. Adam's bias corrections 1 - beta^t
    are read from ``corrections`` (2, L), the table of :func:`bias_corrections` (L above every
    step count): the same numbers as computing the powers, without a power per entry.
    Dormant entries (``active`` False) and their Adam state do not change.
    """
    act = active.to(theta.dtype)
    steps.add_(act)
    exp_avg.lerp_(grad, act * (1 - beta1))
    exp_avg_sq.lerp_(grad * grad, act * (1 - beta2))
    t = steps.clamp(min=1).long()
    m_hat = exp_avg / corrections[0][t]
    v_hat = exp_avg_sq / corrections[1][t]
    theta.sub_(act * lr * (m_hat / (v_hat.sqrt() + eps) + l1))


def adam_active_(theta, grad, exp_avg, exp_avg_sq, steps, lr, corrections,
                 beta1: float, beta2: float, eps: float, l1: float) -> None:
    """:func:`adam_masked_` on the entries of theta above zero (Deep-R's active connections): one
    pass fewer than forming that mask first, once compiled."""
    adam_masked_(theta, grad, exp_avg, exp_avg_sq, steps, theta > 0, lr, corrections, beta1, beta2, eps, l1)


def bias_corrections(beta1: float, beta2: float, length: int, dtype=torch.float32, device="cpu") -> torch.Tensor:
    """Adam's bias corrections 1 - beta^k for k = 0 .. length - 1, (2, length): the powers computed
    once, as ``1 - beta ** t`` computes them for a tensor of step counts t."""
    k = torch.arange(length, dtype=dtype, device=device)
    return torch.stack([1 - beta1**k, 1 - beta2**k])


@functools.cache
def compiled(name: str):
    """The torch.compile'd version of one of this module's functions (compiled on first call)."""
    return torch.compile(globals()[name], dynamic=False)
