"""Deep-R (Bellec et al. 2018) on the inter-module connections, vectorised over networks.

Paper: section 2.4; book: chapter 3, Deep-R. Each possible connection has a fixed sign s and a parameter
theta; it is active when theta > 0 (weight s * theta), dormant otherwise (weight 0). After every
gradient step on the sub-networks, :meth:`DeepR.step`:

1. takes an Adam step on the active theta only (dormant ones get no gradient and keep their state),
   with a learning rate geometric in p from ``lr_sparsest`` (one connection) to ``lr_dense`` (p = 1);
2. shrinks active theta by ``lr * l1`` and adds the random walk ``lr * noise * (1 - p) * N(0, 1)``;
3. makes every theta that fell to <= 0 dormant, and activates as many dormant connections of the
   same direction, drawn uniformly at random, with theta = ``rewire_theta``.

So each direction of each network always has exactly ``n_conn`` active connections.
A newly activated connection starts Adam afresh (zero moments, its own step count).

Two readings of the authors' code are settings (off by default): ``order="noise_first"`` applies
the l1 shrinkage and the random walk before the Adam step, which then moves only the connections
still active (one that the shrinkage or the walk took to theta <= 0 cannot be saved by its
gradient, as it can in the default order), and ``reset_on_rewire=False`` lets a
newly activated connection keep whatever Adam state it had.
"""

from __future__ import annotations

import math

import torch

from . import optim
from .config import DeepRConfig
from .model import ModularRNN


def deepr_lr(n_conn: torch.Tensor, n_hidden: int, cfg: DeepRConfig) -> torch.Tensor:
    """Adam learning rate per network, geometric in the connection count.

    lr = lr_sparsest * (lr_dense / lr_sparsest) ** (log10(p N^2) / log10(N^2)), so 0.1 for one
    connection and 0.01 for all N^2 at the defaults (Table 1). n_conn: (E,) -> (E,) float64.
    """
    frac = torch.log10(n_conn.double()) / math.log10(n_hidden**2)
    return cfg.lr_sparsest * (cfg.lr_dense / cfg.lr_sparsest) ** frac


class DeepR:
    """Deep-R optimizer for ``model.theta`` (E, 2, N, N) of a :class:`ModularRNN`."""

    def __init__(self, model: ModularRNN, cfg: DeepRConfig | None = None, compile: bool = False):
        self.model = model
        self.compile = compile  # fuse the elementwise update with torch.compile
        self.cfg = cfg or DeepRConfig()
        theta = model.theta
        N = model.cfg.n_hidden
        self.lr = deepr_lr(model.n_conn, N, self.cfg).to(theta.dtype).to(theta.device)  # (E,)
        self.noise_scale = self.cfg.noise * (1 - model.p).to(theta.dtype).to(theta.device)  # (E,)
        self.exp_avg = torch.zeros_like(theta)
        self.exp_avg_sq = torch.zeros_like(theta)
        self.steps = torch.zeros_like(theta)  # Adam step count of each connection while active
        # One generator per network, seeded from the network's seed: a network's random stream does
        # not depend on which other networks are trained beside it.
        self.generators = [torch.Generator().manual_seed(10_000_019 * (s + 1)) for s in model.seeds]
        self.rewired = torch.zeros(model.n_networks, 2, dtype=torch.long)  # total rewirings (E, 2)

    def decay_lr(self) -> None:
        """Per-epoch learning-rate decay (Table 1: 0.95)."""
        self.lr = self.lr * self.cfg.lr_decay

    @torch.no_grad()
    def step(self) -> None:
        """One Deep-R update of theta, after ``loss.backward()``."""
        if self.model.cfg.connections == "fixed":
            return  # a fixed mask: nothing to rewire, and the modules' optimizer trains the weights
        theta, cfg = self.model.theta, self.cfg
        E = theta.shape[0]
        grad = theta.grad if theta.grad is not None else torch.zeros_like(theta)
        active = theta > 0  # (E, 2, N, N), before the step
        lr = self.lr.view(E, 1, 1, 1)
        update = optim.compiled("adam_masked_") if self.compile else optim.adam_masked_
        if cfg.order == "noise_first":  # the authors' code: l1 and the random walk, then Adam on
            theta.sub_(active * lr * cfg.l1)  # the connections they left active
            if cfg.noise > 0:
                self._random_walk(active)
            update(theta, grad, self.exp_avg, self.exp_avg_sq, self.steps, theta > 0, lr,
                   cfg.betas[0], cfg.betas[1], cfg.eps, 0.0)
        else:
            update(theta, grad, self.exp_avg, self.exp_avg_sq, self.steps, active, lr,
                   cfg.betas[0], cfg.betas[1], cfg.eps, cfg.l1)
            if cfg.noise > 0:
                self._random_walk(active)
        n_died = (active & (theta <= 0)).sum(dim=(-1, -2))  # (E, 2)
        if n_died.any():
            self._rewire(n_died)

    def _random_walk(self, active: torch.Tensor) -> None:
        """theta += lr * noise * (1 - p) * N(0, 1) on the active connections.

        Each network draws one normal per active connection (2 n_conn; none for a network whose
        connections were cut) from its own generator, in the row-major order of its active
        connections; networks at p = 1 (no walk) draw none.
        """
        theta = self.model.theta
        E = theta.shape[0]
        scale = self.lr * self.noise_scale  # (E,)
        where = active.view(E, -1).nonzero()  # (K, 2), sorted by network, then position
        counts = torch.bincount(where[:, 0], minlength=E).tolist()  # 2 n_conn per network, or 0 once cut
        draws = [torch.randn(k, generator=g) if s > 0 else torch.zeros(k)
                 for g, k, s in zip(self.generators, counts, scale.tolist())]
        steps = torch.cat(draws).to(theta.device) * scale[where[:, 0]]
        theta.view(E, -1).index_put_((where[:, 0], where[:, 1]), steps, accumulate=True)

    def _rewire(self, n_died: torch.Tensor) -> None:
        """Activate n_died[e, d] dormant connections of network e, direction d, uniformly at random."""
        theta = self.model.theta
        flat = theta.view(theta.shape[0], 2, -1)
        for e, d in n_died.nonzero().tolist():
            count = int(n_died[e, d])
            keys = torch.rand(flat.shape[-1], generator=self.generators[e]).to(theta.device)
            keys[flat[e, d] > 0] = 2.0  # active connections are never drawn
            chosen = keys.topk(count, largest=False).indices
            flat[e, d, chosen] = self.cfg.rewire_theta
            if self.cfg.reset_on_rewire:
                for state in (self.exp_avg, self.exp_avg_sq, self.steps):
                    state.view_as(flat)[e, d, chosen] = 0.0
        self.rewired += n_died.cpu()


class ConnectionLog:
    """Records the active inter-module connections during training: an ``on_step`` callback for
    :func:`modlib.train.train`.

    Keeps the initial pattern and one snapshot every ``every`` minibatches. After training,
    ``times`` (S,) holds the minibatch of each snapshot (0 = initial) and ``active`` the patterns,
    (S, E, 2, N, N) bool, on the CPU. Memory: S * E * 2 * N^2 bytes.
    """

    def __init__(self, model: ModularRNN, every: int = 1):
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"every must be a positive integer, got {every!r}")
        self.every = every
        self._times = [0]
        self._active = [model.active().cpu()]

    def __call__(self, epoch: int, step: int, model: ModularRNN, deepr: "DeepR") -> None:
        if step % self.every == 0:
            self._times.append(step)
            self._active.append(model.active().cpu())

    @property
    def times(self) -> torch.Tensor:
        return torch.tensor(self._times)

    @property
    def active(self) -> torch.Tensor:
        return torch.stack(self._active)
