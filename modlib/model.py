"""The two-module recurrent network, held as a stack of E independent networks.

Paper: section 2.2, eq. (3), the competitive decision, and the bottleneck variant (fig. 1b);
book: chapter 1, the task and the network.

Every parameter carries a leading axis of E networks, each with its own connection fraction p and
seed, so that a sweep trains many networks as one batched computation (E = 1 is the plain case).
Axis conventions used throughout modlib:

- ``E`` networks, ``B`` examples, sub-network ``n`` in {0, 1} (axis of size 2), ``N`` hidden units;
- the inter-module weights of direction ``d`` map sub-network ``d`` to sub-network ``1 - d``:
  ``theta[:, 0]`` is W_sparse^{0->1}, ``theta[:, 1]`` is W_sparse^{1->0}, each (post, pre) = (N, N);
- a weight matrix is stored (out, in), as in ``torch.nn.Linear``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .config import GATES, DeepRConfig, ModelConfig


def n_connections(p: float, n_hidden: int) -> int:
    """Connections per direction for fraction p: round(p N^2), at least 1. Paper: section 2.3."""
    return max(1, int(round(p * n_hidden**2)))


def connections_text(p: float, n_hidden: int) -> str:
    """The connections per direction at fraction p in words, for a book's prose: "one connection",
    "100 connections" or "all 10,000 connections" (p = 1)."""
    n = n_connections(p, n_hidden)
    if n == 1:
        return "one connection"
    return f"all {n:,} connections" if n == n_hidden**2 else f"{n:,} connections"


def check_p(p, n_hidden: int) -> None:
    """Raise a clear error unless p is a number in [1/N^2, 1]."""
    low = 1.0 / n_hidden**2
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not (low * (1 - 1e-9) <= p <= 1):
        raise ValueError(f"p must be a number in [1/N^2, 1] = [{low:g}, 1] for N = {n_hidden}, got {p!r}")


def _as_list(value, name: str) -> list:
    """A number or a sequence as a non-empty list."""
    if isinstance(value, torch.Tensor):
        value = value.tolist()
    value = list(value) if isinstance(value, (list, tuple, range)) else [value]
    if not value:
        raise ValueError(f"{name} must not be empty")
    return value


class ModularRNN(nn.Module):
    """E independent two-module RNNs (eq. 3) with Deep-R inter-module connections.

    Args:
        p: connection fraction per network (a number, or one per network), in [1/N^2, 1].
        seeds: integer seed per network (a number, or one per network); it fixes the network's
            initial weights, signs and connection pattern, and the random stream of its training.
        cfg: architecture (``ModelConfig``); ``cfg.bottleneck > 0`` gives fig. 1b's network.
        deepr: Deep-R settings used to initialise theta.
    """

    def __init__(
        self,
        p: float | Sequence[float],
        seeds: int | Sequence[int] = 0,
        cfg: ModelConfig | None = None,
        deepr: DeepRConfig | None = None,
    ):
        super().__init__()
        cfg = cfg or ModelConfig()
        deepr = deepr or DeepRConfig()
        self.cfg = cfg
        self.deepr_cfg = deepr  # the Deep-R settings theta was initialised with
        p_list, seed_list = _as_list(p, "p"), _as_list(seeds, "seeds")
        if len(p_list) == 1:
            p_list = p_list * len(seed_list)
        if len(seed_list) == 1:
            seed_list = seed_list * len(p_list)
        if len(seed_list) != len(p_list):
            raise ValueError(f"seeds must have one entry per network ({len(p_list)}), got {len(seed_list)}")
        N = cfg.n_hidden
        for value in p_list:
            check_p(value, N)
        for s in seed_list:
            if isinstance(s, bool) or not isinstance(s, int) or s < 0:
                raise ValueError(f"seeds must be non-negative integers, got {s!r}")
        self.seeds = seed_list
        counts = [n_connections(value, N) for value in p_list]
        self.register_buffer("n_conn", torch.tensor(counts, dtype=torch.long))  # (E,)

        per_net = [self._init_one(s, c, cfg, deepr) for s, c in zip(seed_list, counts)]
        for name in per_net[0]:
            stacked = torch.stack([net[name] for net in per_net])
            if name == "sign":
                self.register_buffer("sign", stacked)  # (E, 2, N, N), +-1, fixed
            else:
                setattr(self, name, nn.Parameter(stacked))
        if cfg.connections == "fixed":
            # A fixed mask: the connections Deep-R would start from, never rewired; their weights
            # start at s * theta and are trained freely (no sign constraint) with the modules'.
            self.register_buffer("mask", self.theta.detach() > 0)  # (E, 2, N, N)
            with torch.no_grad():
                self.theta.mul_(self.sign)

    @property
    def n_networks(self) -> int:
        return len(self.n_conn)

    @property
    def p(self) -> torch.Tensor:
        """Realised connection fraction per network, n_conn / N^2: (E,)."""
        return self.n_conn.double() / self.cfg.n_hidden**2

    @staticmethod
    def _init_one(seed: int, count: int, cfg: ModelConfig, deepr: DeepRConfig) -> dict:
        """One network's parameters, drawn in a fixed order from its own generator."""
        gen = torch.Generator().manual_seed(seed)
        N, C, a = cfg.n_hidden, cfg.n_classes, cfg.init_range
        G = GATES[cfg.cell] * N  # rows of W_ih and W_hh: one block per gate, in torch's order

        def uniform(*shape):
            return (torch.rand(shape, generator=gen) * 2 - 1) * a

        out = {
            "w_ih": uniform(2, G, cfg.n_inputs),
            "b_ih": uniform(2, G),
            "w_hh": uniform(2, G, N),
            "b_hh": uniform(2, G),
        }
        if cfg.bottleneck:
            out |= {
                "w_hb": uniform(2, cfg.bottleneck, N),
                "b_hb": uniform(2, cfg.bottleneck),
                "w_br": uniform(2, C, cfg.bottleneck),
                "b_br": uniform(2, C),
            }
        else:
            out |= {"w_hr": uniform(2, C, N), "b_hr": uniform(2, C)}
        # Deep-R (section 2.4): fixed random signs; exactly `count` active connections per direction.
        out["sign"] = torch.where(torch.rand(2, N, N, generator=gen) < 0.5, -1.0, 1.0)
        theta = torch.zeros(2, N * N)
        for d in range(2):
            if deepr.init_with_replacement:  # the authors' code: repeats leave fewer distinct connections
                chosen = torch.randint(N * N, (count,), generator=gen).unique()
            else:
                chosen = torch.randperm(N * N, generator=gen)[:count]
            values = torch.randn(count, generator=gen).abs()[: len(chosen)]
            theta[d, chosen] = deepr.init_scale * values / math.sqrt(N)
        out["theta"] = theta.view(2, N, N)
        return out

    # ----------------------------------------------------------------------------------------------
    @torch.no_grad()
    def cut_connections(self) -> "ModularRNN":
        """Make every inter-module connection dormant (theta = 0): the modules cannot communicate,
        and Deep-R, which only trains and rewires to replace active connections that die, leaves
        them so. The control for :func:`modlib.data.no_communication_accuracy`. Returns the model."""
        self.theta.zero_()
        if self.cfg.connections == "fixed":
            self.mask.zero_()
        return self

    def active(self) -> torch.Tensor:
        """Active inter-module connections: (E, 2, N, N) bool; theta > 0 under Deep-R, the fixed mask
        with ``connections="fixed"``."""
        return self.mask if self.cfg.connections == "fixed" else self.theta > 0

    def w_sparse(self) -> torch.Tensor:
        """Inter-module weights w = s * theta where theta > 0, else 0 (Deep-R), or theta on the fixed
        mask (``connections="fixed"``): (E, 2, N, N) = (E, d, post, pre)."""
        if self.cfg.connections == "fixed":
            return self.theta * self.mask
        return self.sign * torch.relu(self.theta)

    def recurrent_matrix(self) -> torch.Tensor:
        """The full recurrent matrix over both sub-networks, (E, 2N, 2N) as (post, pre); see
        :func:`recurrent_matrix`."""
        return recurrent_matrix(self.w_hh, self.w_sparse(), self.cfg.coupling)

    def input_drive(self, x: torch.Tensor) -> torch.Tensor:
        """W_ih^n x^n + b_ih^n, the input term of eq. (3), the same at every step.

        x: (E, 2, B, 784) per-network inputs, or (2, B, 784) shared by all networks.
        Returns (E, 2, B, N).
        """
        E, G = self.n_networks, self.w_ih.shape[-2]  # G = N, or 3N / 4N for a gated cell
        B = x.shape[-2]
        if x.dim() == 3:  # the same inputs for every network: one large product per module
            w = self.w_ih.transpose(0, 1).reshape(2, E * G, -1)  # (2, E G, 784)
            drive = torch.bmm(w, x.transpose(1, 2)).view(2, E, G, B).transpose(0, 1)  # (E, 2, G, B)
        else:
            drive = InputProjection.apply(x.reshape(E * 2, B, -1), self.w_ih.reshape(E * 2, G, -1))  # (2E, G, B)
            drive = drive.view(E, 2, G, B)
        if self.cfg.input_scale != 1:
            drive = drive * self.cfg.input_scale
        # stored units-major, (E, 2, G, B), as the recurrence reads it; returned as a view (E, 2, B, G)
        return (drive + self.b_ih.unsqueeze(-1)).transpose(-1, -2)

    def hidden_states(self, x: torch.Tensor) -> torch.Tensor:
        """Final hidden states h_T of eq. (3) (or of ``cfg.cell``) for inputs x (E, 2, B, 784) or
        (2, B, 784): (E, 2, B, N)."""
        return run_cell(self.cfg, self.input_drive(x), self.w_hh, self.b_hh, self.w_sparse())

    @torch.no_grad()
    def states(self, x: torch.Tensor) -> torch.Tensor:
        """Hidden states of every step t = 1..T (no gradient): (T, E, 2, B, N); the last is
        :meth:`hidden_states`, to the bit."""
        return run_cell(self.cfg, self.input_drive(x), self.w_hh, self.b_hh, self.w_sparse(), all_steps=True)

    def bottleneck_states(self, h: torch.Tensor) -> torch.Tensor:
        """b^n = W_hb^n h_T^n + b_hb^n (fig. 1b): (E, 2, B, N) -> (E, 2, B, bottleneck)."""
        return _layer(h, self.w_hb, self.b_hb)

    def readout(self, h: torch.Tensor) -> torch.Tensor:
        """r^n from final states h (E, 2, B, N): (E, 2, B, C)."""
        if self.cfg.bottleneck:
            return _layer(self.bottleneck_states(h), self.w_br, self.b_br)
        return _layer(h, self.w_hr, self.b_hr)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Readouts of both sub-networks, (E, 2, B, C), for inputs x (E, 2, B, 784) or (2, B, 784)."""
        return self.readout(self.hidden_states(x))

    def decide(self, r: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The network's output from readouts r (E, 2, B, C) by ``cfg.decision``: see
        :func:`competitive_decision`. Returns r_out (E, B, C) and the deciding module mu (E, B)."""
        return competitive_decision(r, self.cfg.decision)

    def readout_parameters(self) -> list[nn.Parameter]:
        """The layers after h_T: W_hr, b_hr, or the bottleneck W_hb, b_hb and its readout W_br, b_br."""
        names = ("w_hb", "b_hb", "w_br", "b_br") if self.cfg.bottleneck else ("w_hr", "b_hr")
        return [getattr(self, name) for name in names]

    # ----------------------------------------------------------------------------------------------
    def adjacency(self) -> torch.Tensor:
        """Directed 0/1 adjacency of each network, (E, 2N, 2N), A[i, j] = 1 for an edge i -> j.

        Units of sub-network 0 come first. Each sub-network is dense (self-connections included),
        and between them only the active Deep-R connections count. Paper: section 2.3.
        """
        E, N = self.n_networks, self.cfg.n_hidden
        active = self.active().to(torch.float32)  # (E, d, post, pre)
        ones = torch.ones(E, N, N, device=active.device)
        top = torch.cat([ones, active[:, 0].transpose(-1, -2)], dim=-1)  # from sub-network 0 (pre)
        bottom = torch.cat([active[:, 1].transpose(-1, -2), ones], dim=-1)
        return torch.cat([top, bottom], dim=-2)

    def groups(self) -> torch.Tensor:
        """Sub-network label of each unit: (2N,) with 0 for the first N units, on the model's device."""
        return torch.arange(2 * self.cfg.n_hidden, device=self.theta.device) // self.cfg.n_hidden

    def weights(self, e: int = 0) -> dict[str, torch.Tensor]:
        """Readable views of network e's weights: ``{"W_ih^0": (N, 784), ..., "W_sparse^0->1": ...}``."""
        out = {}
        names = {"w_ih": "W_ih", "b_ih": "b_ih", "w_hh": "W_hh", "b_hh": "b_hh", "w_hr": "W_hr",
                 "b_hr": "b_hr", "w_hb": "W_hb", "b_hb": "b_hb", "w_br": "W_br", "b_br": "b_br"}
        for attr, label in names.items():
            if hasattr(self, attr):
                for n in range(2):
                    out[f"{label}^{n}"] = getattr(self, attr)[e, n].detach()
        w_s = self.w_sparse()[e].detach()
        out["W_sparse^0->1"], out["W_sparse^1->0"] = w_s[0], w_s[1]
        return out

    def dense_parameters(self) -> list[nn.Parameter]:
        """The sub-networks' own parameters (trained with Adadelta), in a fixed order."""
        return [param for name, param in self.named_parameters() if name != "theta"]


def _layer(h: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """W h + b for states h (E, 2, B, K) and weights w (E, 2, M, K), b (E, 2, M): (E, 2, B, M).

    Where h is a transposed view of units-major states (E, 2, K, B), as the recurrence returns
    them, the product is taken units-major, W (h^T), without copying h: several times faster on
    the CPU than h W^T on the view, and its gradient to the states comes back units-major too."""
    if h.transpose(-1, -2).is_contiguous():
        return (w @ h.transpose(-1, -2)).transpose(-1, -2) + b.unsqueeze(2)
    return h @ w.transpose(-1, -2) + b.unsqueeze(2)


def recurrent_matrix(w_hh: torch.Tensor, w_sparse: torch.Tensor, coupling: str = "eq3") -> torch.Tensor:
    """The full recurrent matrix over both sub-networks, (J, 2N, 2N) as (post, pre).

    w_hh: (J, 2, N, N) the dense W_hh^n; w_sparse: (J, 2, N, N), direction d maps d -> 1 - d.
    Diagonal blocks are W_hh^n; the off-diagonal block (n, m) is W_sparse^{m->n} for eq. (3)
    (``coupling='eq3'``), or W_hh^n W_sparse^{m->n} for the authors' coupling.
    """
    if coupling == "authors":  # W_hh^n W^{m->n}, direction d still at index d
        w_sparse = torch.stack([w_hh[:, 1] @ w_sparse[:, 0], w_hh[:, 0] @ w_sparse[:, 1]], dim=1)
    return _Blocks.apply(w_hh, w_sparse)


class _Blocks(torch.autograd.Function):
    """The recurrent matrix of :func:`recurrent_matrix` from its four (J, N, N) blocks, written in one
    pass, and its gradient read back as the blocks' two stacks in one pass each: the same numbers as
    concatenations, whose backward pass zero-fills and adds per block (twice as long at E = 100)."""

    @staticmethod
    def forward(ctx, w_hh, w_sparse):
        J, _, N, _ = w_hh.shape
        out = w_hh.new_empty(J, 2, N, 2, N)  # (J, post module, post, pre module, pre)
        out[:, 0, :, 0], out[:, 1, :, 1] = w_hh[:, 0], w_hh[:, 1]
        out[:, 0, :, 1], out[:, 1, :, 0] = w_sparse[:, 1], w_sparse[:, 0]  # W^{1->0}, W^{0->1}
        return out.view(J, 2 * N, 2 * N)

    @staticmethod
    def backward(ctx, grad):
        J, N = grad.shape[0], grad.shape[1] // 2
        g = grad.reshape(J, 2, N, 2, N)
        grad_hh = torch.stack([g[:, 0, :, 0], g[:, 1, :, 1]], dim=1) if ctx.needs_input_grad[0] else None
        grad_sparse = torch.stack([g[:, 1, :, 0], g[:, 0, :, 1]], dim=1) if ctx.needs_input_grad[1] else None
        return grad_hh, grad_sparse


def run_cell(cfg: ModelConfig, x_drive: torch.Tensor, w_hh: torch.Tensor, b_hh: torch.Tensor,
             w_sparse: torch.Tensor, all_steps: bool = False) -> torch.Tensor:
    """The two modules' recurrence for any cell of ``cfg.cell``, over J networks at once.

    x_drive: (J, 2, B, G) the input terms W_ih x + b_ih (G = N, or 3N / 4N for "gru" / "lstm");
    w_hh: (J, 2, G, N); b_hh: (J, 2, G); w_sparse: (J, 2, N, N), direction d maps d -> 1 - d.
    Returns h_T (J, 2, B, N), or with ``all_steps`` every h_t (T, J, 2, B, N) (no gradient path
    is kept for "rnn" then). h_0 = 0 (and c_0 = 0). The cells (book: "Beyond the paper"):

    - "rnn": eq. (3), h_t = tanh(u + W_hh h_{t-1} + b_hh + s_t) with s_t the other module's signal
      W_sparse h^m_{t-1} (or, with the authors' coupling, W_hh (h_{t-1} + W_sparse h^m_{t-1}));
    - "leaky": h_t = (1 - a) h_{t-1} + a tanh(the same pre-activation), a = ``cfg.leak``;
    - "gru", "lstm": torch's GRU and LSTM cells, with h_{t-1} + s_t, s_t = W_sparse h^m_{t-1},
      in place of h_{t-1} inside the recurrent products W_h* h (the carried state is unchanged).
    """
    T = cfg.n_steps
    if cfg.cell == "rnn":
        u = (x_drive + b_hh.unsqueeze(2)).transpose(-1, -2)  # (J, 2, N, B): contiguous for input_drive's layout
        h = two_modules(u.contiguous(), w_hh, w_sparse, cfg.coupling, T, all_steps)  # (.., J, 2, N, B)
        return h.transpose(-1, -2)
    if cfg.cell == "leaky":
        drive = x_drive + b_hh.unsqueeze(2)
        w_rec = recurrent_matrix(w_hh, w_sparse, cfg.coupling)
        J, _, B, N = drive.shape
        u = drive.transpose(1, 2).reshape(J, B, 2 * N)  # (J, B, 2N)
        w = w_rec.transpose(-1, -2)  # (J, 2N, 2N) as (pre, post)
        out, h = [], None
        for t in range(T):
            pre = torch.tanh(u) if t == 0 else torch.tanh(torch.baddbmm(u, h, w))
            h = cfg.leak * pre if t == 0 else (1 - cfg.leak) * h + cfg.leak * pre
            out.append(h.view(J, B, 2, N).transpose(1, 2))
        return torch.stack(out) if all_steps else out[-1]
    J, _, B, G = x_drive.shape
    N = w_hh.shape[-1]
    w_hh_t = w_hh.transpose(-1, -2).reshape(J * 2, N, G)  # (2J, N, G) as (pre, post)
    # the other module's signal in one batched product: module n reads h^m through W^{m->n}
    w_in = torch.stack([w_sparse[:, 1], w_sparse[:, 0]], dim=1).transpose(-1, -2).reshape(J * 2, N, N)
    x_flat = x_drive.reshape(J * 2, B, G)
    b_flat = b_hh.reshape(J * 2, 1, G)
    if cfg.cell == "lstm":
        x_b = x_flat + b_flat  # both biases and the input term, the same at every step
    else:
        x_rz, x_n = x_flat[..., : 2 * N] + b_flat[..., : 2 * N], x_flat[..., 2 * N :]
        b_n = torch.cat([torch.zeros_like(b_flat[..., : 2 * N]), b_flat[..., 2 * N :]], dim=-1)  # (2J, 1, G)
    h = x_drive.new_zeros(J * 2, B, N)
    c = x_drive.new_zeros(J * 2, B, N)
    out = []
    for t in range(T):
        if t == 0:  # h_0 = 0 and no signal yet: the recurrent products vanish
            pre = x_b.expand(-1, B, -1) if cfg.cell == "lstm" else None
            gh = b_n if cfg.cell == "gru" else None
        else:
            other = h.view(J, 2, B, N).flip(1).reshape(J * 2, B, N)
            read = torch.baddbmm(h, other, w_in)  # h_{t-1} + s_t: (2J, B, N)
            if cfg.cell == "lstm":
                pre = torch.baddbmm(x_b, read, w_hh_t)  # (2J, B, 4N)
            else:
                gh = torch.baddbmm(b_n, read, w_hh_t)  # (2J, B, 3N), with b_hn in its last third
        if cfg.cell == "gru":
            r, z = torch.sigmoid(x_rz + gh[..., : 2 * N]).chunk(2, dim=-1)
            n = torch.tanh(x_n + r * gh[..., 2 * N :])
            h = n + z * (h - n)  # (1 - z) n + z h_{t-1}
        else:
            i, f, g, o = pre.chunk(4, dim=-1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
        out.append(h.view(J, 2, B, N))
    return torch.stack(out) if all_steps else out[-1]


class InputProjection(torch.autograd.Function):
    """W x^T for a batch of matrices, x (J, B, D) and W (J, G, D) -> (J, G, B), with a backward pass
    that computes W's gradient from a contiguous (J, G, B) gradient: the transposed layout autograd
    can hand it runs several times slower on the CPU."""

    @staticmethod
    def forward(ctx, x, w):
        ctx.save_for_backward(x, w)
        return torch.bmm(w, x.transpose(1, 2))

    @staticmethod
    def backward(ctx, grad):
        x, w = ctx.saved_tensors
        grad = grad.contiguous()
        grad_x = torch.bmm(grad.transpose(1, 2), w) if ctx.needs_input_grad[0] else None
        grad_w = torch.bmm(grad, x) if ctx.needs_input_grad[1] else None
        return grad_x, grad_w


# Eq. (3)'s recurrence over J networks: states are held units-major, (J, 2, N, B), so that the whole
# recurrent matrix (J, 2N, 2N) or each module's own W_hh (2J, N, N) multiplies them without a copy.
SPARSE_FRACTION = 0.01  # the signal between the modules is gathered entry by entry below this fill


def two_modules(u: torch.Tensor, w_hh: torch.Tensor, w_sparse: torch.Tensor, coupling: str, n_steps: int,
                all_steps: bool = False) -> torch.Tensor:
    """Eq. (3) over both modules: h_1 = tanh(u), h_t = tanh(u + W_hh h_{t-1} + s_t) with s_t the other
    module's signal W_sparse h^m_{t-1} (``coupling="authors"``: tanh(u + W_hh (h_{t-1} + s_t))).

    u: (J, 2, N, B) all input terms (W_ih x + b_ih + b_hh), contiguous; w_hh: (J, 2, N, N) (post, pre);
    w_sparse: (J, 2, N, N), direction d maps d -> 1 - d. Returns h_T (J, 2, N, B), or with
    ``all_steps`` every h_t (T, J, 2, N, B) without a gradient path.

    Two equivalent ways, chosen by the fill of the inter-module weights (the same numbers up to
    float rounding): at most ``SPARSE_FRACTION`` of the entries nonzero, each module's W_hh is a
    batched product and the few connections between them a gather and an index_add over their
    entries; otherwise one product with the full recurrent matrix (J, 2N, 2N) of
    :func:`recurrent_matrix`.
    """
    J, _, N, B = u.shape
    links = None
    backward = torch.is_grad_enabled() and any(t.requires_grad for t in (u, w_hh, w_sparse))  # one to come
    if w_sparse.device.type != "meta" and _nonzero(w_sparse) <= SPARSE_FRACTION * w_sparse.numel():
        j, d, post, pre = (w_sparse != 0).nonzero().unbind(1)
        dst = ((j * 2 + 1 - d) * N + post)  # the row of the receiving unit in the (J * 2 * N, B) states
        src = ((j * 2 + d) * N + pre)
        links = (dst, src)
        w = w_hh.reshape(J * 2, N, N)
        w_k = w_sparse[j, d, post, pre]  # (K,): gradients reach w_sparse through the indexing
    elif coupling == "eq3" and not all_steps and not w_sparse.requires_grad and backward:
        # fixed connections between the modules (the metrics): only the diagonal blocks, W_hh, need
        # a gradient, so the backward pass forms that alone (half the full matrix's)
        with torch.no_grad():
            w = recurrent_matrix(w_hh, w_sparse, coupling)
        return TwoModules.apply(u, w, w_hh, None, False, n_steps)
    else:
        w = recurrent_matrix(w_hh, w_sparse, coupling)  # (J, 2N, 2N)
        w_k = w.new_zeros(0)
    authors = coupling == "authors" and links is not None  # the full matrix already holds W_hh W_sparse
    if all_steps or not backward:
        with torch.no_grad():
            states = _two_module_states(u, w, w_k, links, authors, n_steps)[0]
        # without a backward pass, h_T alone is kept, so that the other steps' states are freed
        # (the autograd Function returns a view of the states it saves)
        return states if all_steps else states[-1].clone()
    return TwoModules.apply(u, w, w_k, links, authors, n_steps)


def _nonzero(w: torch.Tensor) -> int:
    """How many entries of w are nonzero, as the sum of |sign(w)|: in float32 along each leading
    index (exact up to 2^24 entries each), then in float64. About 0.8 ms at E = 100 whatever the
    fill, where ``torch.count_nonzero`` takes 0.8-4.6 ms (slowest at fills far from 0 and 1). A
    NaN entry has sign 0 and is not counted: either form of the recurrence carries it."""
    ones = w.detach().sign().abs_()
    rows = ones.flatten(1) if ones.dim() > 1 else ones.reshape(-1, 1)
    return int(rows.sum(1).sum(dtype=torch.float64))


def _signal(h: torch.Tensor, w_k: torch.Tensor, links, out: torch.Tensor, transpose: bool = False) -> None:
    """out += the signal between the modules for states h (both (J, 2, N, B)): each
    receiving unit (row ``dst``) adds w_k times the sending unit's state (row ``src``); ``transpose``
    sends it back."""
    dst, src = links if not transpose else links[::-1]
    B = h.shape[-1]
    out.view(-1, B).index_add_(0, dst, h.reshape(-1, B)[src] * w_k.unsqueeze(1))


def _two_module_states(u, w, w_k, links, authors: bool, n_steps: int):
    """Forward pass of :func:`two_modules`: all states (T, J, 2, N, B), and with the authors'
    coupling in the gathered form the read states h_{t-1} + s_t of steps 2..T (else None)."""
    J, _, N, B = u.shape
    states = u.new_empty(n_steps, J, 2, N, B)
    reads = u.new_empty(n_steps - 1, J, 2, N, B) if authors else None
    torch.tanh(u, out=states[0])
    flat = (lambda x: x.view(J * 2, N, B)) if links is not None else (lambda x: x.view(J, 2 * N, B))
    for t in range(1, n_steps):
        h, a = states[t - 1], states[t]
        # a = u + W h_{t-1} + s_t, the pre-activation
        if authors:
            reads[t - 1].copy_(h)
            _signal(h, w_k, links, reads[t - 1])
            torch.baddbmm(flat(u), w, flat(reads[t - 1]), out=flat(a))
        else:
            torch.baddbmm(flat(u), w, flat(h), out=flat(a))
            if links is not None:
                _signal(h, w_k, links, a)
        torch.tanh_(a)
    return states, reads


def _product_into(out: torch.Tensor, a: torch.Tensor, b: torch.Tensor, first: bool) -> None:
    """out = a b (``first``) or out += a b, batched: a sum of products with no zero fill."""
    if first:
        torch.bmm(a, b, out=out)
    else:
        out.baddbmm_(a, b)


class TwoModules(torch.autograd.Function):
    """:func:`two_modules`'s recurrence with a hand-written backward pass through time over one
    (T, J, 2, N, B) tensor of states, the weight gradients accumulated in place (about twice as
    fast as autograd on a plain loop). Paper: eq. (3)."""

    @staticmethod
    def forward(ctx, u, w, w_k, links, authors: bool, n_steps: int):
        states, reads = _two_module_states(u, w, w_k, links, authors, n_steps)
        ctx.links, ctx.authors, ctx.n_steps = links, authors, n_steps
        ctx.save_for_backward(states, w, w_k, reads if authors else None)
        return states[-1]  # a view: the states are saved, so changing it in place is an error in backward

    @staticmethod
    def backward(ctx, grad_h):
        states, w, w_k, reads = ctx.saved_tensors
        links, authors, T = ctx.links, ctx.authors, ctx.n_steps
        _, J, _, N, B = states.shape
        flat = (lambda x: x.view(J * 2, N, B)) if links is not None else (lambda x: x.view(J, 2 * N, B))
        grad_h = grad_h.contiguous()
        # dL/d(pre-activation) at step t, g: at the last step written straight into grad_u, the sum
        # of g over the steps (u enters every step); at the others into g_t, then added to it
        grad_u = torch.empty_like(states[0])
        g_t = torch.empty_like(grad_u) if T > 1 else None
        w_t = w.transpose(1, 2).contiguous()  # a contiguous W^T: batched products with it run faster
        # the weight gradients: the last step's product written, the earlier ones added (no zero
        # fill; a single step has no product, so they are zero)
        fresh = torch.empty_like if T > 1 else torch.zeros_like
        # w_k: the links' weights, or W_hh alone (J, 2, N, N) with W holding fixed links (blocks)
        blocks = links is None and w_k.dim() == 4
        grad_w = fresh(w) if ctx.needs_input_grad[1] else None
        grad_k = None
        if ctx.needs_input_grad[2]:
            grad_k = fresh(w_k) if blocks else torch.zeros_like(w_k)
        for t in reversed(range(T)):
            last = t == T - 1
            g = grad_u if last else g_t
            torch.ops.aten.tanh_backward.grad_input(grad_h, states[t], grad_input=g)
            if not last:
                grad_u.add_(g)
            if t == 0:
                break
            h_prev = states[t - 1]
            inp = reads[t - 1] if authors else h_prev  # what W multiplied at step t
            if grad_w is not None:
                _product_into(grad_w, flat(g), flat(inp).transpose(1, 2), first=last)
            if blocks and grad_k is not None:  # each module's own block: g^n (h^n)^T
                _product_into(grad_k.view(J * 2, N, N), g.view(J * 2, N, B),
                              inp.view(J * 2, N, B).transpose(1, 2), first=last)
            back = torch.bmm(w_t, flat(g)).view_as(g)  # W^T g: to h_{t-1}, or to the read state
            g_signal = back if authors else g  # the gradient where the signal s_t enters
            if links is not None:
                dst, src = links
                if grad_k is not None:
                    grad_k += (g_signal.reshape(-1, B)[dst] * h_prev.reshape(-1, B)[src]).sum(1)
                _signal(g_signal, w_k, links, back, transpose=True)
            grad_h = back
        return grad_u, grad_w, grad_k, None, None, None


def competitive_decision(r: torch.Tensor, rule: str = "max") -> tuple[torch.Tensor, torch.Tensor]:
    """The network's output r_out = r^mu with mu = argmax_n max_i r^n_i. Paper: section 2.2.

    ``rule="abs_max"`` takes mu = argmax_n max_i |r^n_i| instead, as the authors' code does.
    r: (E, 2, B, C). Returns r_out (E, B, C) and mu (E, B).
    """
    if rule not in ("max", "abs_max"):
        raise ValueError(f"rule must be 'max' or 'abs_max', got {rule!r}")
    m = (r.abs() if rule == "abs_max" else r).amax(dim=-1)  # (E, 2, B)
    # argmax over the two modules, written out (a comparison is ~20x faster than argmax over an
    # axis of 2 on the CPU): the first of equal maxima, and NaN as the largest, as argmax takes them
    m0, m1 = m[:, 0], m[:, 1]
    mu = ((m1 > m0) | (m1.isnan() & ~m0.isnan())).long()  # (E, B)
    index = mu[:, None, :, None].expand(-1, 1, -1, r.shape[-1])
    return r.gather(1, index).squeeze(1), mu


def per_network_loss(r_out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy per network: r_out (E, B, C), target (E, B) or (B,) -> (E,)."""
    E, B, C = r_out.shape
    target = target.expand(E, B) if target.dim() == 1 else target
    return F.cross_entropy(r_out.reshape(E * B, C), target.reshape(E * B), reduction="none").view(E, B).mean(1)
