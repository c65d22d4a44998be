"""Figures of the book: each function takes results (tensors, arrays, lists) and returns a Figure.

Nothing here trains or changes a model. Figures are made with pyplot and closed before they are
returned, so a notebook shows each one exactly once (as the value of its cell) and pyplot keeps no
figure alive; save one with ``fig.savefig(path)``.

Shapes follow modlib's conventions (see :mod:`modlib.model`): ``E`` networks, sub-network or
direction axis of size 2, ``N`` hidden units, ``S`` snapshots in time.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from .data import PairedDigits

def _sharp_in_notebooks() -> None:
    """In a notebook (and so in the book), show figures at twice their pixel size ("retina"), so
    that they stay sharp on any screen; outside IPython nothing changes."""
    try:
        from IPython import get_ipython
        from matplotlib_inline.backend_inline import set_matplotlib_formats
    except ImportError:
        return
    if get_ipython() is not None:
        set_matplotlib_formats("retina")


_sharp_in_notebooks()

MODULE_COLORS = ("tab:blue", "tab:orange")  # sub-network 0, sub-network 1
DIRECTION_NAMES = ("0→1", "1→0")  # direction d maps sub-network d to sub-network 1 - d


def _done(fig: Figure) -> Figure:
    """Lay out and close a pyplot figure, so that it is shown once, as a cell's value."""
    fig.tight_layout()
    plt.close(fig)
    return fig


def _np(x) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


# --- The task (section 2.1) --------------------------------------------------------------------
def digit_pairs(data: PairedDigits, n: int = 8, start: int = 0) -> Figure:
    """The first ``n`` pairs of ``data`` as images: sub-network 0's digit above sub-network 1's,
    each pair titled with its digits (D0, D1) and its target (eq. 1)."""
    images = _np(data.inputs(slice(start, start + n)))  # (n, 2, 784)
    digits, target = _np(data.digits[start : start + n]), _np(data.target[start : start + n])
    fig, axes = plt.subplots(2, n, figsize=(1.25 * n, 3.0), squeeze=False)
    for i in range(n):
        for j in range(2):
            ax = axes[j, i]
            ax.imshow(images[i, j].reshape(28, 28), cmap="gray_r")
            ax.set_xticks([])
            ax.set_yticks([])
            for side in ax.spines.values():
                side.set_color(MODULE_COLORS[j])
                side.set_linewidth(2)
            ax.set_xlabel(f"D{j} = {digits[i, j]}", fontsize=9)
        axes[0, i].set_title(f"target {target[i]}", fontsize=10)
    axes[0, 0].set_ylabel("sub-network 0", fontsize=9)
    axes[1, 0].set_ylabel("sub-network 1", fontsize=9)
    return _done(fig)


def target_table(target, keep) -> Figure:
    """Target of eq. (1) for every ordered pair of digits; excluded pairs greyed out.

    target, keep: (10, 10) indexed [D0, D1] (integers, booleans).
    """
    target, keep = _np(target), _np(keep).astype(bool)
    d0, d1 = np.meshgrid(np.arange(10), np.arange(10), indexing="ij")
    takes_second = (d0 + d1) % 2 == 1  # different parity: the target is D1
    colour = np.where(keep, np.where(takes_second, 1.0, 0.0), np.nan)  # (10, 10)
    fig, ax = plt.subplots(figsize=(4.6, 4.2))
    cmap = plt.get_cmap("coolwarm").copy()
    cmap.set_bad("0.85")
    ax.imshow(np.ma.masked_invalid(colour), cmap=cmap, vmin=-0.6, vmax=1.6)
    for i in range(10):
        for j in range(10):
            text = str(target[i, j]) if keep[i, j] else "×"
            ax.text(j, i, text, ha="center", va="center", fontsize=9, color="k" if keep[i, j] else "0.45")
    ax.set_xticks(range(10))
    ax.set_yticks(range(10))
    ax.set_xlabel("D1, digit shown to sub-network 1")
    ax.set_ylabel("D0, digit shown to sub-network 0")
    ax.set_title("target; blue: same parity (D0), red: different (D1)", fontsize=9)
    return _done(fig)


# --- The architecture (section 2.2) ------------------------------------------------------------
def readouts(r, digits, target, n: int = 4) -> Figure:
    """Readouts r^0, r^1 of one network for the first ``n`` examples, and the competitive decision.

    r: (2, B, C) readouts of the two sub-networks; digits: (B, 2) the pair's digits (D0, D1);
    target: (B,) the target of eq. (1).
    The sub-network with the largest value anywhere in its readout decides; its maximum is starred.
    """
    r, digits, target = _np(r), _np(digits), _np(target)
    C = r.shape[-1]
    cols = min(n, 2)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 2.6 * rows), sharey=True, squeeze=False)
    width = 0.4
    for b, ax in enumerate(axes.flat[:n]):
        for m in range(2):
            ax.bar(np.arange(C) + (m - 0.5) * width, r[m, b], width, color=MODULE_COLORS[m], label=f"$r^{{({m})}}$")
        mu = int(r[:, b].max(-1).argmax())
        pred = int(r[mu, b].argmax())
        ax.plot(pred + (mu - 0.5) * width, r[mu, b, pred], marker="*", ms=12, color="k", ls="none")
        ax.axhline(0, color="0.6", lw=0.5)
        ax.set_xticks(range(C))
        ax.set_xlabel("class")
        ax.set_title(f"D0={digits[b, 0]}, D1={digits[b, 1]}, target {target[b]}:\nsub-network {mu} answers {pred}",
                     fontsize=9)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel("readout")
    axes[0, 0].legend(fontsize=8, loc="lower left")
    return _done(fig)


def training_curves(history: Sequence[Sequence[float]], labels: Sequence[str] | None = None,
                    chance: float = 0.1) -> Figure:
    """Test accuracy after each epoch, one line per network (``TrainResult.history``)."""
    fig, ax = plt.subplots(figsize=(4.8, 3.2))
    for e, acc in enumerate(history):
        ax.plot(np.arange(1, len(acc) + 1), acc, marker="o", label=labels[e] if labels else None)
    ax.axhline(chance, color="0.5", ls=":", label="chance")
    ax.set_xlabel("epoch")
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0, 1)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.legend(fontsize=8)
    return _done(fig)


# --- Structural modularity (section 2.3) -------------------------------------------------------
def adjacency(A, groups=None, title: str | None = None) -> Figure:
    """A directed adjacency matrix (V, V), A[i, j] = 1 for an edge i -> j, rows = source units.

    Entries inside a module are drawn as an image; edges between modules are also drawn as dots,
    so that even a single connection is visible. ``groups`` (V,) gives each unit's module.
    """
    A = _np(A).astype(bool)
    V = A.shape[0]
    groups = np.repeat([0, 1], V // 2) if groups is None else _np(groups)
    between = groups[:, None] != groups[None, :]
    fig, ax = plt.subplots(figsize=(4.4, 4.2))
    ax.imshow(A & ~between, cmap="Greys", vmin=0, vmax=1.6, interpolation="nearest")
    src, dst = np.nonzero(A & between)
    colour = [MODULE_COLORS[g] for g in groups[src]]
    ax.scatter(dst, src, s=6 if len(src) > 400 else 14, c=colour, marker="s", linewidths=0)
    for edge in np.nonzero(np.diff(groups))[0]:
        ax.axhline(edge + 0.5, color="k", lw=0.6)
        ax.axvline(edge + 0.5, color="k", lw=0.6)
    ax.set_xlabel("target unit j")
    ax.set_ylabel("source unit i")
    n_01 = int((A & (groups[:, None] == 0) & between).sum())  # edges leaving module 0
    n_10 = int((A & between).sum()) - n_01
    ax.set_title(title or f"edges between modules: {n_01} (0→1), {n_10} (1→0)", fontsize=10)
    return _done(fig)


def q_against_p(p, q, p_models=None, q_models=None, marks: Sequence[float] = ()) -> Figure:
    """Q against p on a log axis: a curve (p, q), optional points measured on models, and
    dotted lines at the values of Q listed in ``marks``."""
    fig, ax = plt.subplots(figsize=(5.2, 3.4))
    ax.plot(_np(p), _np(q), color="k", lw=1.5, label="closed form, eq. (5)")
    if p_models is not None:
        ax.plot(_np(p_models), _np(q_models), "o", color="tab:red", ms=6, label="model adjacency, eq. (4)")
    for value in marks:
        ax.axhline(value, color="0.6", ls=":", lw=1)
        ax.text(_np(p).max(), value, f"Q = {value:g}", ha="right", va="bottom", fontsize=8, color="0.35")
    ax.set_xscale("log")
    ax.set_xlabel("p, fraction of inter-module connections")
    ax.set_ylabel("Q")
    ax.set_ylim(-0.02, 0.52)
    ax.legend(fontsize=8, loc="lower left")
    return _done(fig)


# --- Deep-R (section 2.4) ----------------------------------------------------------------------
# These read snapshots of ``model.active()``: one per epoch when taken between calls to
# ``train.train``, or as many as a training-time recorder keeps (then pass ``times``, in minibatches).
def _times(S: int, times) -> tuple[np.ndarray, bool]:
    """Snapshot times, and whether they are epochs (the default: 0 = initial, s = after epoch s)."""
    return (np.arange(S), True) if times is None else (_np(times), False)


def _runs(on: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) index of each run of True in a 1-d boolean array."""
    edges = np.diff(np.concatenate([[0], on.astype(np.int8), [0]]))
    return list(zip(np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0] - 1))


def active_connections(active, rewired, labels: Sequence[str], times=None) -> Figure:
    """How Deep-R keeps and changes the connections between modules, for E networks.

    active: (S, E, 2, N, N) bool, the active connections at S snapshots, the first one initial;
    rewired: (n_epochs, E) connections rewired during each epoch (both directions);
    times: (S,) time of each snapshot in minibatches, or None for one snapshot per epoch.
    Panels: active count per direction (flat, by construction); rewirings per epoch (log axis, a
    zero is written as "0"); share of the initial connections still active.
    """
    active, rewired = _np(active).astype(bool), _np(rewired)
    S, E = active.shape[:2]
    t, by_epoch = _times(S, times)
    counts = active.sum(axis=(-1, -2))  # (S, E, 2)
    initial = active[0]  # (E, 2, N, N)
    kept = (active & initial).sum(axis=(-1, -2, -3)) / initial.sum(axis=(-1, -2, -3))  # (S, E)
    marker = "o" if S <= 30 else None
    epochs = np.arange(1, len(rewired) + 1)
    fig, axes = plt.subplots(1, 3, figsize=(10.5, 3.3))
    for e in range(E):
        colour = f"C{e}"
        for d, style in zip(range(2), ("-", "--")):
            axes[0].plot(t, counts[:, e, d], style, marker=marker, color=colour,
                         label=f"{labels[e]}, {DIRECTION_NAMES[d]}")
        x = epochs + (e - (E - 1) / 2) * 0.8 / E
        axes[1].bar(x, np.where(rewired[:, e] > 0, rewired[:, e], np.nan), 0.8 / E, color=colour,
                    label=labels[e])
        for xi in x[rewired[:, e] == 0]:  # no bar on a log axis: write the zero
            axes[1].text(xi, 1, "0", ha="center", va="bottom", fontsize=8, color=colour)
        axes[2].plot(t, kept[:, e], marker=marker, color=colour, label=labels[e])
    axes[0].set_yscale("log")
    axes[0].set_ylabel("active connections")
    axes[1].set_yscale("log")
    axes[1].set_ylim(bottom=0.7)
    axes[1].set_ylabel("rewirings in the epoch")
    axes[1].set_xlabel("epoch")
    axes[1].set_xticks(epochs)
    axes[2].set_ylabel("initial connections still active")
    axes[2].set_ylim(-0.03, 1.03)
    for ax in axes[[0, 2]]:
        ax.set_xlabel("epoch" if by_epoch else "minibatch")
        if by_epoch:
            ax.set_xticks(t)
    for ax in axes:
        ax.legend(fontsize=7)
    return _done(fig)


def connection_timeline(active, theta=None, times=None) -> Figure:
    """Which inter-module connections of one network are active at each snapshot.

    active: (S, 2, N, N) bool, indexed [snapshot, direction, post, pre], the first one initial;
    theta: (2, N, N), the final parameters, to label each connection still active at the end;
    times: (S,) time of each snapshot in minibatches, or None for one snapshot per epoch.
    One row per connection ever active at a snapshot (one that lived and died between two
    snapshots is not seen), so this is for sparse networks: a few connections per direction.
    """
    active = _np(active).astype(bool)
    S = active.shape[0]
    t, by_epoch = _times(S, times)
    ever = np.argwhere(active.any(axis=0))  # (K, 3) rows of (direction, post, pre)
    first = np.array([np.argmax(active[:, d, i, j]) for d, i, j in ever])
    ever = ever[np.lexsort((first, ever[:, 0]))]  # by direction, then by time of first activity
    span = t[-1] - t[0] if S > 1 else 1
    fig, ax = plt.subplots(figsize=(6.4, 0.9 + 0.32 * len(ever)))
    for row, (d, post, pre) in enumerate(ever):
        on = active[:, d, post, pre]
        for a, b in _runs(on):
            ax.plot([t[a], t[b]], [row, row], color=MODULE_COLORS[d], lw=3 if S > 30 else 1,
                    alpha=1 if S > 30 else 0.4, solid_capstyle="butt")
            if S > 30 and a == b:  # seen at one snapshot only
                ax.plot(t[a], row, marker="|", ms=10, color=MODULE_COLORS[d])
        if S <= 30:
            ax.scatter(t[on], np.full(on.sum(), row), marker="s", s=80, color=MODULE_COLORS[d])
        if theta is not None and on[-1]:
            ax.text(t[-1] + 0.05 * span, row, f"θ = {float(_np(theta)[d, post, pre]):.2f}", va="center",
                    fontsize=8)
    ax.set_yticks(range(len(ever)))
    ax.set_yticklabels([f"{DIRECTION_NAMES[d]}: unit {pre} → unit {post}" for d, post, pre in ever], fontsize=8)
    ax.set_ylim(len(ever) - 0.5, -0.5)
    ax.set_xlim(t[0] - 0.1 * span, t[-1] + (0.3 if theta is not None else 0.1) * span)
    if by_epoch:
        ax.set_xticks(t)
    ax.set_xlabel("epoch (0 = initial)" if by_epoch else "minibatch")
    return _done(fig)


# --- metrics chapters (04-06) ------------------------------------------------------------------
# Figures of the three measures of functional specialization (section 3): the bottleneck network
# (fig. 1b), raw metrics M(n, k), the specialization of eq. (8), the weight masks of section 3.2
# and the within-digit correlations of section 3.3.
def bottleneck_architecture(n_inputs: int = 784, n_hidden: int = 100, bottleneck: int = 5,
                            n_classes: int = 10) -> Figure:
    """Fig. 1b as a diagram: each sub-network's layers, from its image to its readout.

    Each layer is a box whose height grows with the log of its width; the sparse connections join
    the two hidden layers, and the weights that the bottleneck metric retrains (W_br, section 3.1)
    are drawn in red.
    """
    sizes = [n_inputs, n_hidden, bottleneck, n_classes]
    names = ["image", "hidden, tanh", "bottleneck", "readout"]
    x = np.array([0.0, 2.2, 4.4, 6.6])
    width = 0.9
    height = [0.25 + 0.32 * np.log10(s) for s in sizes]
    centre = {0: 3.0, 1: 0.0}  # sub-network 0 above sub-network 1
    fig, ax = plt.subplots(figsize=(8.6, 4.4))
    for n in range(2):
        y = centre[n]
        for i, (size, name) in enumerate(zip(sizes, names)):
            ax.add_patch(plt.Rectangle((x[i] - width / 2, y - height[i] / 2), width, height[i],
                                       facecolor=MODULE_COLORS[n], alpha=0.25 if i != 1 else 0.45,
                                       edgecolor=MODULE_COLORS[n], lw=1.5))
            ax.text(x[i], y, f"{size}", ha="center", va="center", fontsize=10)
            ax.text(x[i], y - height[i] / 2 - 0.12, name, ha="center", va="top", fontsize=8)
        arrows = [("$W_{ih}$", "0.3"), ("$W_{hb}$", "0.3"), ("$W_{br}$ (retrained)", "tab:red")]
        for i, (label, colour) in enumerate(arrows):
            ax.annotate("", xy=(x[i + 1] - width / 2, y), xytext=(x[i] + width / 2, y),
                        arrowprops=dict(arrowstyle="->", color=colour, lw=2.2 if colour == "tab:red" else 1.2))
            ax.text((x[i] + x[i + 1]) / 2, y + 0.1, label, ha="center", va="bottom", fontsize=9,
                    color=colour if colour == "tab:red" else "k")
        top = y + height[1] / 2  # the recurrent loop W_hh over the hidden layer
        ax.annotate("", xy=(x[1] + 0.2, top), xytext=(x[1] - 0.2, top),
                    arrowprops=dict(arrowstyle="->", connectionstyle="arc3,rad=-1.6", color="0.3", lw=1.2))
        ax.text(x[1] + 0.35, top + 0.15, "$W_{hh}$", fontsize=9)
    for n, dx in ((0, -0.15), (1, 0.15)):  # W_sparse^{n -> 1-n}
        start, end = centre[n], centre[1 - n]
        sgn = 1 if start > end else -1
        ax.annotate("", xy=(x[1] + dx, end + sgn * height[1] / 2), xytext=(x[1] + dx, start - sgn * height[1] / 2),
                    arrowprops=dict(arrowstyle="->", color=MODULE_COLORS[n], lw=1.4, ls="--"))
    ax.text(x[1] + 0.3, 1.5, "$W_{\\mathrm{sparse}}$: $pN^2$\nconnections\neach way", fontsize=8, va="center")
    ax.annotate("competitive\ndecision", xy=(x[3] + width / 2 + 0.1, 1.5), xytext=(x[3] + 1.2, 1.5),
                ha="left", va="center", fontsize=9)
    for n in range(2):
        ax.annotate("", xy=(x[3] + 1.15, 1.5), xytext=(x[3] + width / 2, centre[n]),
                    arrowprops=dict(arrowstyle="->", color="0.3", lw=1))
    for n in range(2):
        ax.text(x[0] - width / 2 - 0.2, centre[n], f"sub-network {n}", ha="right", va="center",
                fontsize=9, color=MODULE_COLORS[n], rotation=90)
    ax.set_xlim(x[0] - 1.0, x[3] + 2.4)
    ax.set_ylim(-1.4, 4.3)
    ax.set_axis_off()
    return _done(fig)


def raw_metric(M, labels: Sequence[str], metric: str = "M(n, k)", vmin: float = 0.0, vmax: float = 1.0,
               chance: float | None = None, cmap: str = "viridis") -> Figure:
    """A raw metric M(n, k) of E networks, one 2 x 2 table per network.

    M: (E, 2, 2) indexed [network, sub-network n, sub-task k] (k: predict digit k); row n, column
    k. Values are written in the cells; ``chance``, if given, is named in the title.
    """
    M = _np(M).astype(float)
    E = M.shape[0]
    colours = plt.get_cmap(cmap)
    fig, axes = plt.subplots(1, E, figsize=(3.1 * E + 0.9, 2.9), squeeze=False, layout="constrained")
    for e, ax in enumerate(axes[0]):
        image = ax.imshow(M[e], cmap=colours, vmin=vmin, vmax=vmax)
        for n in range(2):
            for k in range(2):
                value = M[e, n, k]
                red, green, blue, _ = colours(np.clip((value - vmin) / (vmax - vmin), 0, 1))
                dark = 0.299 * red + 0.587 * green + 0.114 * blue < 0.5  # text in white on a dark cell
                ax.text(k, n, f"{value:.2f}", ha="center", va="center", fontsize=12,
                        color="w" if dark else "k", fontweight="bold" if n == k else "normal")
        ax.set_xticks([0, 1], ["digit 0", "digit 1"])
        ax.set_yticks([0, 1], ["sub-net 0", "sub-net 1"])
        for n, tick in enumerate(ax.get_yticklabels()):
            tick.set_color(MODULE_COLORS[n])
        ax.set_xlabel("sub-task k")
        ax.set_title(labels[e], fontsize=10)
    fig.colorbar(image, ax=axes[0].tolist(), shrink=0.85, label=metric)
    if chance is not None:
        fig.suptitle(f"{metric}; chance {chance:g}", fontsize=10)
    plt.close(fig)  # laid out by matplotlib's constrained layout, which places the shared colour bar
    return fig


def specialization_bars(S: dict, labels: Sequence[str]) -> Figure:
    """The specialization of eq. (8), one panel per measure.

    S: {measure name: (E, 2) array, [network, sub-network n]}; bars grouped by network, coloured
    by sub-network, with the value written above each bar.
    """
    fig, axes = plt.subplots(1, len(S), figsize=(3.4 * len(S) + 0.4, 3.2), squeeze=False, sharey=True)
    width = 0.36
    for ax, (name, values) in zip(axes[0], S.items()):
        values = _np(values).astype(float)  # (E, 2)
        E = values.shape[0]
        for n in range(2):
            xs = np.arange(E) + (n - 0.5) * width
            ax.bar(xs, values[:, n], width, color=MODULE_COLORS[n], label=f"sub-network {n}")
            for xi, v in zip(xs, values[:, n]):
                ax.text(xi, v + (0.03 if v >= 0 else -0.03), f"{v:.2f}", ha="center",
                        va="bottom" if v >= 0 else "top", fontsize=8)
        ax.axhline(0, color="0.4", lw=0.8)
        ax.set_xticks(np.arange(E), labels, fontsize=9)
        ax.set_ylim(-1.05, 1.15)
        ax.set_title(name, fontsize=10)
    axes[0, 0].set_ylabel("specialization, eq. (8)")
    axes[0, 0].legend(fontsize=8, loc="lower left")
    return _done(fig)


def mask_accuracy(trained, untrained, labels: Sequence[str], chance: float = 0.1) -> Figure:
    """Test accuracy on digit k of the masked networks, masks found on the trained networks and on
    their untrained copies (the control of section 3.2). trained, untrained: (E, 2) [network, k]."""
    trained, untrained = _np(trained).astype(float), _np(untrained).astype(float)
    E = trained.shape[0]
    fig, ax = plt.subplots(figsize=(1.9 * E + 2.4, 3.2))
    width = 0.38
    for i, (values, name, style) in enumerate(((trained, "trained network", dict(alpha=1.0)),
                                                (untrained, "untrained copy", dict(alpha=0.45, hatch="//")))):
        for k in range(2):
            xs = np.arange(E) * 2.4 + k + (i - 0.5) * width
            ax.bar(xs, values[:, k], width, color="tab:green" if i == 0 else "0.6", edgecolor="k", lw=0.5,
                   label=name if k == 0 else None, **style)
            for xi, v in zip(xs, values[:, k]):
                ax.text(xi, v + 0.01, f"{v:.2f}", ha="center", va="bottom", fontsize=7)
    ticks = [e * 2.4 + k for e in range(E) for k in range(2)]
    ax.set_xticks(ticks, [f"{labels[e]}\ndigit {k}" for e in range(E) for k in range(2)], fontsize=8)
    ax.axhline(chance, color="0.5", ls=":", label="chance")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("masked network's test accuracy")
    ax.legend(fontsize=8, loc="upper right", ncol=3)
    return _done(fig)


def _tensor_label(name: str, n: int) -> str:
    """Tick label of tensor ``name`` of sub-network n, e.g. ("W_hh", 1) -> "$W_{hh}^{(1)}$"; a bias
    ("b_hh") is written beta, as in the book's equations."""
    base, _, sub = name.partition("_")
    base = "\\beta" if base == "b" else base
    return f"${base}_{{{sub}}}^{{({n})}}$"


def mask_kept(kept, names: Sequence[str], labels: Sequence[str], q: float | None = None) -> Figure:
    """Which parameters the weight masks keep, one panel per network.

    kept: (E, 2, T, 2) indexed [network, sub-task k, tensor, sub-network n], the fraction of the
    tensor's entries (of sub-network n) that the mask for digit k keeps; names: the T tensor names
    as in :func:`modlib.metrics.mask_layout` ("w_hh", "b_hh", ...). ``q``, the overall fraction
    kept, is drawn as a dotted line.
    """
    from matplotlib.patches import Patch

    kept = _np(kept).astype(float)
    E, _, T, _ = kept.shape
    fig, axes = plt.subplots(1, E, figsize=(4.2 * E, 3.2), squeeze=False, sharey=True)
    width = 0.38
    for e, ax in enumerate(axes[0]):
        xs = np.arange(2 * T)  # tensor t of sub-network n at 2 t + n
        for k, hatch in zip(range(2), ("", "//")):
            values = kept[e, k].reshape(-1)  # (T * 2,) ordered (t, n)
            colours = [MODULE_COLORS[n] for _t in range(T) for n in range(2)]
            ax.bar(xs + (k - 0.5) * width, values, width, color=colours, hatch=hatch, edgecolor="k", lw=0.4)
        ax.set_xticks(xs, [_tensor_label(name.capitalize() if name.startswith("w") else name, n)
                           for name in names for n in range(2)], fontsize=9)
        if q is not None:
            ax.axhline(q, color="0.4", ls=":", lw=1)
        ax.set_title(labels[e], fontsize=10)
    handles = [Patch(facecolor="w", edgecolor="k", hatch=h, label=f"mask for digit {k}")
               for k, h in zip(range(2), ("", "//"))]
    if q is not None:
        handles.append(plt.Line2D([], [], color="0.4", ls=":", label=f"q = {q:g}"))
    axes[0, 0].set_ylabel("fraction of the tensor kept")
    axes[0, 0].legend(handles=handles, fontsize=8)
    return _done(fig)


def within_digit_correlations(h, digits, labels: Sequence[str], n_digits: int = 10,
                              vmin: float = 0.0, vmax: float = 1.0) -> Figure:
    """Mean Pearson correlation of final states between examples grouped by one digit.

    h: (E, 2, B, N) final states h_T^n of E networks on B test pairs; digits: (B, 2). One row per
    network (titled with its label), one panel per (sub-network n, digit k), in the order: sub-network
    0 by its own digit D0, by the other digit D1, then sub-network 1 by its own digit D1, by the other
    digit D0. Entry (i, j) is the mean corr(h^n(x), h^n(x')) over pairs x != x' whose digit k is i
    and j. The mean of the diagonal, weighted by its number of pairs, is the correlation metric
    M(n, k) of eq. (7). Colours run from ``vmin`` to ``vmax`` (one colour bar for all panels).
    """
    from .cka import standardize

    z = standardize(torch.as_tensor(h).double())  # (E, 2, B, N)
    E = z.shape[0]
    corr = {}  # k -> (E, 2, 10, 10)
    for k in range(2):
        onehot = torch.nn.functional.one_hot(torch.as_tensor(digits)[:, k].long(), n_digits).double()  # (B, 10)
        counts = onehot.sum(0)  # (10,)
        sums = torch.einsum("bg,enbd->engd", onehot, z)  # (E, 2, 10, N)
        pairs = sums @ sums.transpose(-1, -2)  # (E, 2, 10, 10) sums of z_x . z_x' over the two groups
        self_terms = torch.einsum("bg,enbd->eng", onehot, z.pow(2))  # (E, 2, 10) pairs x = x'
        pairs = pairs - torch.diag_embed(self_terms)
        n_pairs = counts[:, None] * counts[None, :] - torch.diag(counts)  # (10, 10)
        corr[k] = (pairs / n_pairs.clamp(min=1)).numpy()
    fig = plt.figure(figsize=(8.4, 2.75 * E + 0.2), layout="constrained")
    grid, side = fig.subfigures(1, 2, width_ratios=[1, 0.1], wspace=0)
    for e, row in enumerate(grid.subfigures(E, 1, squeeze=False)[:, 0]):  # one row per network
        row.suptitle(labels[e], fontsize=11, fontweight="bold")
        for col, ax in enumerate(row.subplots(1, 4)):
            n, other = divmod(col, 2)  # sub-network n by its own digit, then by the other one
            k = 1 - n if other else n
            image = ax.imshow(corr[k][e, n], cmap="magma", vmin=vmin, vmax=vmax)
            ax.set_title(f"sub-network {n}\nby its {'other' if other else 'own'} digit $D_{k}$",
                         fontsize=9, color=MODULE_COLORS[n])
            ax.set_xticks(range(n_digits))
            ax.set_yticks(range(n_digits))
            ax.tick_params(labelsize=8, length=2, pad=1.5)
            ax.set_xlabel(f"$D_{k}$ of x\u2032", fontsize=9, labelpad=1)
            ax.set_ylabel(f"$D_{k}$ of x", fontsize=9, labelpad=1)
    bar = side.colorbar(image, cax=side.add_axes((0.0, 0.12, 0.22, 0.76)))
    bar.set_label("mean correlation of the states", fontsize=9)
    bar.ax.tick_params(labelsize=8)
    plt.close(fig)  # laid out by matplotlib's constrained layout, which places the shared colour bar
    return fig


# --- results chapter (07): figures 2-4 of the paper ---------------------------------------------
def specialization_against_structure(summary, metrics=("bottleneck", "weight_mask", "correlation", "cka"),
                                     labels=None) -> Figure:
    """Fig. 2: each metric's specialization (mean and one standard deviation over seeds) against p on
    a log axis (left) and against Q (right). ``summary``: :func:`modlib.results.summary`."""
    labels = labels or {}
    present = [m for m in metrics if m in set(summary["metric"])]
    fig, axes = plt.subplots(len(present), 2, figsize=(9, 2.3 * len(present)), sharey="row", squeeze=False)
    for row, metric in zip(axes, present):
        part = summary[summary["metric"] == metric].sort_values("p")
        mean, std = part["mean"].to_numpy(), part["std"].fillna(0).to_numpy()
        for ax, x in zip(row, (part["p"].to_numpy(), part["Q"].to_numpy())):
            ax.plot(x, mean, "o-", color="tab:purple", ms=4)
            ax.fill_between(x, mean - std, mean + std, color="tab:purple", alpha=0.25, lw=0)
            ax.axhline(0, color="grey", lw=0.6)
        row[0].set_xscale("log")
        row[0].set_ylabel(f"{labels.get(metric, metric)}\nspecialization")
    axes[-1, 0].set_xlabel("p, fraction of inter-module connections")
    axes[-1, 1].set_xlabel("Q, structural modularity")
    return _done(fig)


def specialization_compare(summaries: dict, metrics=("bottleneck", "weight_mask", "correlation", "cka"),
                           labels=None, x: str = "p",
                           xlabel: str = "p, fraction of inter-module connections") -> Figure:
    """Each metric's mean specialization against p for several sweeps, one line per sweep (mean and
    one standard deviation). ``summaries``: {legend label: :func:`modlib.results.summary`}; an empty
    one (no network passed a filter) draws no line. ``x``: the column on the (log) x axis, e.g.
    ``n_conn`` where the sweeps differ in module size."""
    labels = labels or {}
    summaries = {name: summ for name, summ in summaries.items() if len(summ)}
    present = [m for m in metrics if all(m in set(s["metric"]) for s in summaries.values())]
    rows = -(-len(present) // 2)
    fig, axes = plt.subplots(rows, 2, figsize=(8, 3 * rows), sharex=True, squeeze=False)
    for ax in axes.flat[len(present):]:
        ax.set_visible(False)
    for ax, metric in zip(axes.flat, present):
        for (name, summ), color in zip(summaries.items(), ("tab:purple", "tab:orange", "tab:green", "tab:blue")):
            part = summ[summ["metric"] == metric].sort_values(x)
            mean, std = part["mean"].to_numpy(), part["std"].fillna(0).to_numpy()
            ax.plot(part[x], mean, "o-", ms=4, color=color, label=name)
            ax.fill_between(part[x], mean - std, mean + std, color=color, alpha=0.2, lw=0)
        ax.axhline(0, color="grey", lw=0.6)
        ax.set_xscale("log")
        ax.set_title(labels.get(metric, metric))
        ax.set_ylabel("specialization")
    for ax in axes[-1]:
        ax.set_xlabel(xlabel)
    axes[0, 0].legend(frameon=False, fontsize=8)
    return _done(fig)


def raw_metrics(raw, metrics=("bottleneck", "weight_mask", "correlation", "cka_distance"), labels=None) -> Figure:
    """Fig. 3: each raw metric on the sub-network's own digit and on the other digit, against p.
    ``raw``: :func:`modlib.results.raw_summary`."""
    labels = labels or {}
    present = [m for m in metrics if m in set(raw["metric"])]
    fig, axes = plt.subplots(1, len(present), figsize=(3.2 * len(present), 3), squeeze=False)
    for ax, metric in zip(axes[0], present):
        for digit, color in (("own", "tab:green"), ("other", "tab:red")):
            part = raw[(raw["metric"] == metric) & (raw["digit"] == digit)].sort_values("p")
            mean, std = part["mean"].to_numpy(), part["std"].fillna(0).to_numpy()
            ax.plot(part["p"], mean, "o-", ms=4, color=color, label=f"{digit} digit")
            ax.fill_between(part["p"], mean - std, mean + std, color=color, alpha=0.2, lw=0)
        ax.set_xscale("log")
        ax.set_xlabel("p")
        ax.set_title(labels.get(metric, metric))
    axes[0, 0].set_ylabel("M(n, k)")
    axes[0, 0].legend(frameon=False)
    return _done(fig)


def accuracy_against_p(acc, chance: float = 0.1, ceiling: float | None = None) -> Figure:
    """Fig. 4: global test accuracy of the trained networks against p, per architecture (mean, one
    standard deviation and the worst network). ``acc``: :func:`modlib.results.accuracy_summary`;
    ``ceiling``: the best accuracy without communication
    (:func:`modlib.data.no_communication_accuracy`), drawn as a dashed line."""
    fig, ax = plt.subplots(figsize=(5, 3.2))
    for (arch, part), color in zip(acc.groupby("architecture"), ("tab:gray", "tab:blue")):
        part = part.sort_values("p")
        ax.errorbar(part["p"], part["mean"], yerr=part["std"].fillna(0), fmt="o-", ms=4, capsize=2,
                    color=color, label=f"{arch} (mean ± sd)")
        ax.plot(part["p"], part["min"], "v", ms=4, color=color, alpha=0.6, label=f"{arch} (worst)")
    ax.axhline(chance, color="grey", lw=0.6, ls=":")
    if ceiling is not None:
        ax.axhline(ceiling, color="tab:red", lw=0.9, ls="--", label="best without communication")
    ax.set_xscale("log")
    ax.set_xlabel("p, fraction of inter-module connections")
    ax.set_ylabel("test accuracy, main task")
    ax.legend(frameon=False, fontsize=8)
    return _done(fig)


def specialization_at(summ, x: str, line: str, metrics=("bottleneck", "weight_mask", "correlation", "cka"),
                      labels=None, xlabel: str | None = None, name: str | None = None) -> Figure:
    """Each metric's mean specialization (± one standard deviation) against the column ``x`` (a
    sweep's axis, linear scale), one line per value of the column ``line``; ``summ`` holds one row
    per (x, line, metric), e.g. the rows of :func:`modlib.results.summary` at one p."""
    labels = labels or {}
    present = [m for m in metrics if m in set(summ["metric"])]
    rows = -(-len(present) // 2)
    fig, axes = plt.subplots(rows, 2, figsize=(8, 2.8 * rows), sharex=True, squeeze=False)
    for ax in axes.flat[len(present):]:
        ax.set_visible(False)
    colors = ("tab:purple", "tab:orange", "tab:green", "tab:blue")
    for ax, metric in zip(axes.flat, present):
        part = summ[summ["metric"] == metric]
        for (value, one), color in zip(part.groupby(line), colors):
            one = one.sort_values(x)
            ax.errorbar(one[x], one["mean"], yerr=one["std"].fillna(0), fmt="o-", ms=4, capsize=2,
                        color=color, label=f"{name or line} = {value}")
        ax.axhline(0, color="grey", lw=0.6)
        ax.set_title(labels.get(metric, metric))
        ax.set_ylabel("specialization")
    for ax in axes[-1]:
        ax.set_xlabel(xlabel or x)
    axes[0, 0].legend(frameon=False, fontsize=8)
    return _done(fig)


def specialization_over_time(summ, axis: str, metrics=("correlation", "bottleneck"), labels=None,
                             name: str = "b") -> Figure:
    """Mean specialization against the step t, one panel per metric, one colour per value of the
    column ``axis``; solid: the sparsest p, dashed: the densest. ``summ``: from
    :func:`modlib.results.over_time` with ``by=(axis,)``."""
    labels = labels or {}
    present = [m for m in metrics if m in set(summ["metric"])]
    fig, axes = plt.subplots(1, len(present), figsize=(4.2 * len(present), 3.2), sharey=True, squeeze=False)
    colors = ("tab:gray", "tab:purple", "tab:orange", "tab:green", "tab:blue")
    p_values = sorted(summ["p"].unique())
    for ax, metric in zip(axes[0], present):
        for (value, part), color in zip(summ[summ["metric"] == metric].groupby(axis), colors):
            for p, style in ((p_values[0], "o-"), (p_values[-1], "s--")):
                one = part[part["p"] == p].sort_values("step")
                ax.errorbar(one["step"], one["mean"], yerr=one["std"].fillna(0), fmt=style, ms=4, capsize=2,
                            color=color, label=f"{name} = {value}" if p == p_values[0] else None)
        ax.axhline(0, color="grey", lw=0.6)
        ax.set_title(labels.get(metric, metric))
        ax.set_xlabel("step t")
        ax.set_xticks(sorted(summ["step"].unique()))
    axes[0, 0].set_ylabel("specialization")
    axes[0, 0].legend(frameon=False, fontsize=8, title=f"solid: p = {p_values[0]:g}; dashed: p = {p_values[-1]:g}",
                      title_fontsize=7)
    return _done(fig)


def accuracy_by(acc, axis: str, ceilings: dict | None = None, name: str = "b", x: str = "p",
                xlabel: str = "p, fraction of inter-module connections") -> Figure:
    """Global test accuracy against p, one line per value of a sweep's axis (mean and one standard
    deviation over seeds), each with its own best accuracy without communication as a dashed line
    of the same colour. ``acc``: :func:`modlib.results.accuracy_summary` of one architecture made
    with ``by=(axis,)``; ``ceilings``: {value: accuracy}; ``name``: the axis in the legend; ``x``:
    the column on the (log) x axis."""
    ceilings = ceilings or {}
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    colors = ("tab:gray", "tab:purple", "tab:orange", "tab:green", "tab:blue", "tab:red")
    for (value, part), color in zip(acc.groupby(axis), colors):
        part = part.sort_values(x)
        ax.errorbar(part[x], part["mean"], yerr=part["std"].fillna(0), fmt="o-", ms=4, capsize=2,
                    color=color, label=f"{name} = {value}")
        if value in ceilings:
            ax.axhline(ceilings[value], color=color, lw=0.9, ls="--")
    ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("test accuracy, main task")
    if ceilings:
        ax.legend(frameon=False, fontsize=8, title="dashed: without communication", title_fontsize=7)
    else:
        ax.legend(frameon=False, fontsize=8)
    return _done(fig)


# --- The sparse end: readings of the authors' code (the discussion) -----------------------------
def reading_ablation(table, order: Sequence[str], ceiling: float | None = None,
                     reference: float | None = None, reference_label: str = "reference") -> Figure:
    """Test accuracy of every network of the sparse-end ablation, one row per reading (in ``order``,
    top to bottom) and one panel per coupling: each seed a grey dot, the mean a black bar.
    ``table``: one row per network with ``reading``, ``coupling`` and ``accuracy``
    (``results/sparse_end_ablation.csv``); ``ceiling``: the best accuracy without communication
    (dashed); ``reference``: another accuracy to compare with (dotted)."""
    couplings = list(dict.fromkeys(table["coupling"]))
    fig, axes = plt.subplots(1, len(couplings), figsize=(4.2 * len(couplings) + 1.5, 0.3 * len(order) + 1.2),
                             sharey=True, sharex=True, squeeze=False)
    y = {name: i for i, name in enumerate(order)}
    for ax, coupling in zip(axes[0], couplings):
        part = table[table["coupling"] == coupling]
        ax.scatter(part["accuracy"], part["reading"].map(y), s=9, color="tab:gray", alpha=0.7, zorder=2)
        means = part.groupby("reading")["accuracy"].mean()
        ax.scatter(means.to_numpy(), means.index.map(y), marker="|", s=180, color="k", zorder=3)
        if ceiling is not None:
            ax.axvline(ceiling, color="tab:red", lw=0.9, ls="--", label="best without communication")
        if reference is not None:
            ax.axvline(reference, color="tab:green", lw=0.9, ls=":", label=reference_label)
        ax.set_title({"eq3": "coupling of eq. (3)", "authors": "the authors' coupling"}.get(coupling, coupling),
                     fontsize=10)
        ax.set_xlabel("test accuracy, main task")
        ax.grid(axis="x", lw=0.3)
    axes[0, 0].set_yticks(range(len(order)), order, fontsize=8)
    axes[0, 0].invert_yaxis()
    axes[0, -1].legend(frameon=False, fontsize=8, loc="lower right")
    return _done(fig)
