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

Random numbers come from a counter-based generator (:func:`uniform`): each draw is a hash of the
network's seed, the step, what the draw is for and the connection's position. So a network's
draws do not depend on which networks train beside it, and the draws of every network come
from one vectorised call instead of one generator call per network.

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

# Deep-R updates the whole tensors in place where over 1/20 of the entries are active: at E = 100
# the two forms cost the same near a fill of 5 % (the list form 2.6 ms faster at 2 %, the in-place
# one 4 ms faster at 11 %, paired in one process)
DENSE_FILL = 20


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
        self.cfg = cfg or DeepRConfig()
        # the update of the whole tensors (many active entries) fused into one pass by torch.compile
        self._adam_in_place = optim.compiled("adam_active_") if compile else optim.adam_active_
        # the walk of the active entries: the gathers, the hash, the float64 conversion and the scale fused
        self._walk_at = torch.compile(_walk_at, dynamic=True) if compile else _walk_at
        self._corrections = None  # Adam's bias corrections, a table grown with the step count
        theta = model.theta
        N = model.cfg.n_hidden
        self.lr = deepr_lr(model.n_conn, N, self.cfg).to(theta.dtype).to(theta.device)  # (E,)
        self.noise_scale = self.cfg.noise * (1 - model.p).to(theta.dtype).to(theta.device)  # (E,)
        self.exp_avg = torch.zeros_like(theta)
        self.exp_avg_sq = torch.zeros_like(theta)
        self.steps = torch.zeros_like(theta)  # Adam step count of each connection while active
        # Each network's random stream is keyed by its own seed: it does not depend on which other
        # networks are trained beside it.
        self.keys = network_keys(model.seeds).to(theta.device)  # (E,) int64
        self.n_steps = 0  # Deep-R steps taken: the counter of the random streams
        self.rewired = torch.zeros(model.n_networks, 2, dtype=torch.long)  # total rewirings (E, 2)
        # the flat positions of the active entries, kept from one step to the next (a scan of theta
        # for them costs 4-7 ms at E = 100), with the (storage, version) of theta they were read at:
        # any in-place change of theta in between (e.g. cut_connections) makes step() read them again
        self._active, self._active_at = None, None
        # which places of that list walk, their networks and scales: a place keeps its network from
        # one step to the next (a rewired connection takes a dead one's place in the same row), so
        # this holds until the list is read afresh or the learning rates change (each epoch)
        self._lineage = 0  # counts the readings of the list from theta
        self._walk_plan, self._walk_key = None, None

    def decay_lr(self) -> None:
        """Per-epoch learning-rate decay (Table 1: 0.95)."""
        self.lr = self.lr * self.cfg.lr_decay

    @torch.no_grad()
    def step(self) -> None:
        """One Deep-R update of theta, after ``loss.backward()``.

        Only the active connections change (a dormant one keeps its theta and its Adam state until
        it is rewired), so the update runs on the list of active entries, all networks at once.
        """
        if self.model.cfg.connections == "fixed":
            return  # a fixed mask: nothing to rewire, and the modules' optimizer trains the weights
        theta, cfg = self.model.theta, self.cfg
        E, _, N, _ = theta.shape
        self.n_steps += 1
        flat = theta.view(-1)
        idx = self.active_index()  # (K,) the active entries, before the step
        if cfg.order != "noise_first" and len(idx) * DENSE_FILL > len(flat):
            th = self._step_in_place(idx)
        else:
            net = idx // (2 * N * N)
            lr = self.lr[net]  # (K,)
            th = flat[idx]
            grad = theta.grad.view(-1)[idx] if theta.grad is not None else torch.zeros_like(th)
            state = [t.view(-1)[idx] for t in (self.exp_avg, self.exp_avg_sq, self.steps)]
            if cfg.order == "noise_first":  # the authors' code: l1 and the random walk, then Adam on
                th -= lr * cfg.l1  # the connections they left active
                th += self._walk(idx)
                optim.adam_masked_(th, grad, *state, th > 0, lr, self.corrections(), *cfg.betas, cfg.eps, 0.0)
            else:
                optim.adam_masked_(th, grad, *state, torch.ones_like(th, dtype=torch.bool), lr,
                                   self.corrections(), *cfg.betas, cfg.eps, cfg.l1)
                th += self._walk(idx)
            flat[idx] = th
            for t, values in zip((self.exp_avg, self.exp_avg_sq, self.steps), state):
                t.view(-1)[idx] = values
        dead = (th <= 0).nonzero().squeeze(1)  # places in idx of the connections that died
        if len(dead):
            dead_rows = idx[dead] // (N * N)  # network e and direction d of each, as e * 2 + d
            rows, pos = self._rewire(torch.bincount(dead_rows, minlength=E * 2).view(E, 2))
            # as many connections rewired as died in each row: they take the dead ones' places in
            # the list, each a place of its own row, so that a place keeps its network (the order
            # of the list does not matter to the update; :meth:`_walking` relies on this)
            places = dead[torch.sort(dead_rows, stable=True).indices]
            idx = idx.clone()
            idx[places] = (rows * (N * N) + pos)[torch.sort(rows, stable=True).indices]
        self._active, self._active_at = idx, (theta.data_ptr(), theta._version)

    def active_index(self) -> torch.Tensor:
        """The flat positions of the active entries of theta (theta > 0), in no fixed order: kept
        from the last step while theta has not changed in place since (its version counter), else
        read from theta. A change made through ``theta.data`` bypasses the counter: change theta
        itself (under ``torch.no_grad()``) between steps."""
        theta = self.model.theta
        if self._active is None or self._active_at != (theta.data_ptr(), theta._version):
            self._active = (theta.detach().view(-1) > 0).nonzero().squeeze(1)
            self._lineage += 1
        return self._active

    def _step_in_place(self, idx: torch.Tensor) -> torch.Tensor:
        """:meth:`step` (default order) on the whole tensors, where many entries are active: the
        same elementwise update of every active entry as the list form, without gathering the
        entries and their Adam state and scattering them back (each a pass over all of them).
        Returns theta at the entries ``idx`` after the step."""
        theta, cfg = self.model.theta, self.cfg
        E = theta.shape[0]
        grad = theta.grad if theta.grad is not None else torch.zeros_like(theta)
        lr = self.lr.view(E, 1, 1, 1)
        self._adam_in_place(theta, grad, self.exp_avg, self.exp_avg_sq, self.steps, lr, self.corrections(),
                            *cfg.betas, cfg.eps, cfg.l1)
        flat = theta.view(-1)
        _, walking, steps = self._walk_list(idx)
        if len(walking):
            flat.index_add_(0, walking, steps)
        return flat[idx]

    def corrections(self) -> torch.Tensor:
        """Adam's bias corrections 1 - beta^k (:func:`modlib.optim.bias_corrections`) for every step
        count up to this step's: a table of 4096 steps, doubled when training goes past it (so
        that a compiled update sees few table sizes)."""
        need = self.n_steps + 1  # an entry's step count is at most the steps taken
        if self._corrections is None or self._corrections.shape[1] < need:
            length = max(4096, 1 << (need - 1).bit_length())
            theta = self.model.theta
            self._corrections = optim.bias_corrections(*self.cfg.betas, length, theta.dtype, theta.device)
        return self._corrections

    def _walk(self, idx: torch.Tensor) -> torch.Tensor:
        """The random walk lr * noise * (1 - p) * N(0, 1) of the active entries ``idx`` (flat
        positions in theta): the normal of a connection is :func:`normal` of (network key, step,
        its position in the network's (2, N, N) theta). Zero where the walk is off (noise 0, or
        p = 1), and drawn only where it is on."""
        on, _, steps = self._walk_list(idx)
        out = torch.zeros(len(idx), dtype=self.model.theta.dtype, device=idx.device)
        out[on] = steps
        return out

    def _walk_list(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The walk of :meth:`_walk` where it is on: the walking entries' places in ``idx`` (the
        list of :meth:`active_index`), their flat positions in theta, and their steps."""
        per_net = self.model.theta[0].numel()
        on, net_on, scale_on = self._walking(idx, per_net)
        if not len(on):
            return on, idx[:0], scale_on
        head = _head(self.keys, self.n_steps, _WALK)  # each network's stream at this step
        where, steps = self._walk_at(idx, on, net_on, head, scale_on, per_net)
        return on, where, steps

    def _walking(self, idx: torch.Tensor, per_net: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The places in the list ``idx`` whose connections walk (lr * noise * (1 - p) > 0), their
        networks and their scales: read once per reading of the list and per learning rate."""
        tensors = (self.lr, self.noise_scale)  # the same objects, unchanged in place
        key = (self._lineage, len(idx), *(t._version for t in tensors))
        known = self._walk_key
        if known is None or known[0] != key or any(a is not b for a, b in zip(known[1], tensors)):
            net = idx // per_net
            scale = (self.lr * self.noise_scale)[net]  # (K,)
            on = (scale > 0).nonzero().squeeze(1)
            self._walk_plan, self._walk_key = (on, net[on], scale[on]), (key, tensors)
        return self._walk_plan

    def _rewire(self, n_died: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Activate n_died[e, d] dormant connections of network e, direction d, uniformly at random
        (without replacement), every (e, d) at once: see :func:`draw_dormant`. Returns the rows
        e * 2 + d and the positions (in the row's N^2) of the connections activated."""
        theta = self.model.theta
        E = theta.shape[0]
        flat = theta.view(E * 2, -1)
        rows = n_died.view(-1).nonzero().squeeze(1)  # (R,) rows e * 2 + d that lost connections
        counts = n_died.view(-1)[rows]
        keys = _mix(self.keys[rows // 2] ^ (rows % 2).to(torch.int32))  # a stream per network and direction
        row, pos = draw_dormant(flat[rows] > 0, counts, keys, self.n_steps)
        rows = rows[row]
        flat[rows, pos] = self.cfg.rewire_theta
        if self.cfg.reset_on_rewire:
            for state in (self.exp_avg, self.exp_avg_sq, self.steps):
                state.view(E * 2, -1)[rows, pos] = 0.0
        self.rewired += n_died.cpu()
        return rows, pos


# --------------------------------------------------------------------------------------------------
# Counter-based random numbers: a draw is a hash of (key, step, purpose, index), so any set of draws
# comes from one vectorised call, and a network's draws depend on its own key alone. The hashes work
# on int32 tensors holding the bits of uint32 values (int32 products wrap, and vectorise where int64
# products do not); a right shift is made logical by masking the sign bits it copies.
_WALK, _REWIRE, _REWIRE_ALL = 1, 2, 3  # what a draw is for: separate streams
_C1, _C2 = 0x7FEB352D, 0x846CA68B - 2**32  # the multipliers of the hash, as int32


def _int32(value: int) -> int:
    """A uint32 value's bits as a Python int in the range of int32."""
    value &= 0xFFFFFFFF
    return value - 2**32 if value >= 2**31 else value


def _mix(x: torch.Tensor) -> torch.Tensor:
    """A 32-bit integer hash, the "lowbias32" finaliser (good avalanche), of an int32 tensor."""
    x = x ^ ((x >> 16) & 0xFFFF)
    x = x * _C1
    x = x ^ ((x >> 15) & 0x1FFFF)
    x = x * _C2
    return x ^ ((x >> 16) & 0xFFFF)


def network_keys(seeds) -> torch.Tensor:
    """The key of each network's Deep-R stream from its seed: (E,) int32."""
    seeds = torch.tensor([_int32(int(s) ^ 0x5EEDDEE9) for s in seeds], dtype=torch.int32)
    return _mix(_mix(seeds) + _int32(0x9E3779B9))


def _head(key: torch.Tensor, step: int, purpose: int) -> torch.Tensor:
    """The stream of (key, step, purpose), before the index is hashed in: int32 like ``key``."""
    return _mix(key + _mix(torch.tensor(_int32(step * 8 + purpose), dtype=torch.int32, device=key.device)))


def _bits_at(head: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """:func:`bits` from a stream's head (:func:`_head`)."""
    return _mix(_mix(head ^ index.to(torch.int32)))


def _uniform_of(b: torch.Tensor) -> torch.Tensor:
    """Uniform float64 in (0, 1) from 32 random bits (int32), all of them (exact: never 0 or 1)."""
    return ((b.to(torch.int64) & 0xFFFFFFFF).to(torch.float64) + 0.5) / 2**32


def _normal_at(head: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """:func:`normal` from a stream's head (:func:`_head`)."""
    return torch.special.ndtri(_uniform_of(_bits_at(head, index))).float()


def _walk_at(idx: torch.Tensor, on: torch.Tensor, net_on: torch.Tensor, head: torch.Tensor, scale_on: torch.Tensor,
             per_net: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The random walk of the walking entries ``idx[on]`` (flat positions in theta) of networks
    ``net_on`` from the streams' heads (E,) at this step: their positions and their steps
    ``scale_on * normal``, the normal drawn at each entry's position in its network's theta."""
    where = idx[on]
    return where, _normal_at(head[net_on], where % per_net) * scale_on


def bits(key: torch.Tensor, step: int, purpose: int, index: torch.Tensor) -> torch.Tensor:
    """32 random bits per entry (int32): a hash of (key, step, purpose, index); key and index are
    int32 tensors (or index int64 below 2^31) that broadcast."""
    return _bits_at(_head(key, step, purpose), index)


def uniform(key: torch.Tensor, step: int, purpose: int, index: torch.Tensor) -> torch.Tensor:
    """Uniform float64 in (0, 1), all 32 random bits of :func:`bits` (exact: never 0 or 1)."""
    return _uniform_of(bits(key, step, purpose, index))


def below(key: torch.Tensor, step: int, purpose: int, index: torch.Tensor, m: int) -> torch.Tensor:
    """Uniform integers in [0, m) (m < 2^31), int64: the top of ``bits * m / 2^32``."""
    return ((bits(key, step, purpose, index).to(torch.int64) & 0xFFFFFFFF) * m) >> 32


def normal(key: torch.Tensor, step: int, purpose: int, index: torch.Tensor) -> torch.Tensor:
    """Standard normals, float32: the inverse normal distribution function of :func:`uniform`,
    computed in float64 (the tails reach 6.2 standard deviations)."""
    return _normal_at(_head(key, step, purpose), index)


def draw_dormant(active: torch.Tensor, counts: torch.Tensor, keys: torch.Tensor, step: int,
                 oversample: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    """For each row r of ``active`` (R, M) bool, ``counts[r]`` distinct dormant positions drawn
    uniformly at random without replacement from the stream ``keys[r]`` at ``step``.

    Rows with at least a quarter of their positions dormant draw positions uniformly from all M, in
    a fixed sequence, and keep the first ``counts[r]`` that are dormant and new (the accepted
    sequence is a uniform draw without replacement); the others rank every dormant position by a
    uniform key and keep the ``counts[r]`` smallest. Returns (row, position), each (sum counts,).
    """
    R, M = active.shape
    device = active.device
    dormant = M - active.sum(1)  # (R,)
    if bool((counts > dormant).any()):
        raise ValueError("asked for more connections than are dormant")
    out_row, out_pos = [], []
    full = dormant * 4 < M
    # Mostly dormant rows: sequential uniform draws over all positions, rejection of active/repeats.
    sparse_rows = (~full).nonzero().squeeze(1)
    if len(sparse_rows):
        taken = active[sparse_rows].clone()
        need = counts[sparse_rows].clone()
        start = torch.zeros_like(need)  # draws used so far, per row
        while bool((need > 0).any()):
            m = need * oversample + 8  # candidates this round, per row
            r = torch.repeat_interleave(torch.arange(len(need), device=device), m)
            j = start[r] + torch.arange(len(r), device=device) - torch.repeat_interleave(m.cumsum(0) - m, m)
            pos = below(keys[sparse_rows[r]], step, _REWIRE, j, M)  # uniform in [0, M)
            flat = r * M + pos
            # first occurrence of each (row, position) in the sequence, then only dormant ones
            order = torch.sort(flat, stable=True).indices
            first = torch.ones(len(flat), dtype=torch.bool, device=device)
            first[order[1:]] = flat[order[1:]] != flat[order[:-1]]
            ok = first & ~taken[r, pos]
            rank = torch.zeros_like(r)
            rank[ok] = _rank_within(r[ok])  # 0, 1, ... among accepted draws of the same row, in order
            keep = ok & (rank < need[r])
            taken[r[keep], pos[keep]] = True
            out_row.append(sparse_rows[r[keep]])
            out_pos.append(pos[keep])
            need -= torch.bincount(r[keep], minlength=len(need))
            start += m
    # Mostly active rows: all the dormant positions when that many are asked for (p = 1), else
    # rank the dormant positions by a uniform key and keep the smallest.
    rows = full.nonzero().squeeze(1)
    every = rows[counts[rows] == dormant[rows]]
    if len(every):
        r, pos = (~active[every]).nonzero().unbind(1)
        out_row.append(every[r])
        out_pos.append(pos)
    rows = rows[(counts[rows] < dormant[rows]) & (counts[rows] > 0)]
    if len(rows):
        key = uniform(keys[rows].unsqueeze(1), step, _REWIRE_ALL, torch.arange(M, device=device))  # (F, M)
        key[active[rows]] = 2.0  # active positions are never drawn
        c = counts[rows]
        top = key.topk(int(c.max()), dim=1, largest=False).indices  # (F, max c), smallest key first
        keep = torch.arange(top.shape[1], device=device) < c.unsqueeze(1)
        out_row.append(rows.unsqueeze(1).expand_as(top)[keep])
        out_pos.append(top[keep])
    if not out_row:
        empty = torch.zeros(0, dtype=torch.long, device=device)
        return empty, empty
    return torch.cat(out_row), torch.cat(out_pos)


def _rank_within(r: torch.Tensor) -> torch.Tensor:
    """For a non-decreasing integer sequence r, the position of each entry within its run of equal values."""
    idx = torch.arange(len(r), device=r.device)
    starts = torch.ones(len(r), dtype=torch.bool, device=r.device)
    starts[1:] = r[1:] != r[:-1]
    return idx - torch.cummax(torch.where(starts, idx, 0), 0).values


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
