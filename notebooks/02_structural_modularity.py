# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Structural modularity
#
# *You will see* the directed modularity $Q$ of section 2.3 of {cite:t}`bena2021extreme`, derived to
# its closed form, checked on the adjacency matrices of real networks, and plotted against $p$.
# *Time:* about 10 s on a 2-core CPU at the default parameters; nothing is trained.
#
# :::{admonition} Objectives and prerequisites
# :class: tip
# - **After this chapter you can** compute the directed modularity $Q$ of eq. (4) of any network, derive its closed form eq. (5) for two modules, and read why $Q$ is a compressed ruler at the sparse end.
# - **You need** chapter 1; sums over the entries of an adjacency matrix.
# :::

# %% tags=["parameters"]
p = 0.01  # inter-module connection fraction, per direction (paper: 1e-4..1)
n_hidden = 100  # N, units per module (paper: 100)
n_sweep = 10  # values of p, geometric from 1/N^2 to 1 (paper: 10)
n_curve = 200  # points on the closed-form curve
q_marks = (0.49, 0.35)  # values of Q the results single out (paper: 0.49, 0.35)
p_threshold = 0.01  # p below which specialization appears (paper: 0.01)
seed = 0  # seed of the first network's connection pattern
n_threads = 1  # torch CPU threads; 1 is fastest on a small, busy CPU

# %%
import numpy as np
import pandas as pd
import torch
from myst_nb import glue

from modlib import config, exercises, model, plots, structure

torch.set_num_threads(n_threads)

# %% [markdown]
# ## Modularity of a directed graph
#
# Treat the $2N$ units as the nodes of a directed graph, with an edge $i \to j$ wherever unit $i$
# feeds unit $j$: every pair inside a module (the dense $W_{hh}$, self-connections included) and
# the $\operatorname{round}(p N^2)$ active connections of each direction between modules. With $A$
# its adjacency matrix, $M = \sum_{ij} A_{ij}$ its number of edges, $g_i$ the module of unit $i$,
# and $k^{\text{out}}_i$, $k^{\text{in}}_j$ the out- and in-degrees, Newman's modularity
# {cite}`newman2006modularity` adapted to directed graphs is (the paper's eq. (4) and (9))
#
# (eq-q-directed)=
# $$
# Q = \frac{1}{M} \sum_{ij} \left( A_{ij} - \frac{k^{\text{out}}_i k^{\text{in}}_j}{M} \right)
#     \delta(g_i, g_j).
# \tag{4}
# $$
#
# The first term is the share of edges that stay inside a module; the second is that share's
# expected value if the edges were shuffled with every unit keeping its degrees.
# {numref}`fig-adjacency` shows the adjacency of one network.

# %%
cfg = config.ModelConfig(n_hidden=n_hidden)
net = model.ModularRNN(p, seeds=seed, cfg=cfg)
A = net.adjacency()[0]  # (2N, 2N), A[i, j] = 1 for an edge i -> j
groups = net.groups()  # (2N,), 0 for the first N units
fig_adjacency = plots.adjacency(A, groups)

# %% tags=["remove-cell"]
glue("fig-adjacency", fig_adjacency, display=False)
glue("p_used", float(p), display=False)
glue("n_conn", int(net.n_conn[0]), display=False)
glue("n_conn_text", model.connections_text(p, n_hidden), display=False)

# %% [markdown]
# ```{glue:figure} fig-adjacency
# :name: fig-adjacency
#
# The adjacency matrix $A$ of one network with $p$ = {glue:text}`p_used:g`, source unit $i$ by
# row and target unit $j$ by column, module 0's units first. Grey: the edges inside the modules;
# coloured squares: the edges between them, blue from module 0 and orange from module 1.
# ```
#
# Two solid blocks lie on the diagonal, the dense modules; the off-diagonal blocks hold the
# {glue:text}`n_conn_text` of each direction, one dot each.
#
# ## The closed form
#
# Write $N$ for the units per module and $pN^2$ for the edges per direction. Three sums are all
# {ref}`(4) <eq-q-directed>` needs. The number of edges is
#
# (eq-q-edges)=
# $$
# M = \underbrace{2N^2}_{\text{inside}} + \underbrace{2pN^2}_{\text{between}} = 2N^2(1 + p).
# \tag{2.1}
# $$
#
# The edges inside modules are all $2N^2$ entries with $\delta(g_i, g_j) = 1$. For the second
# term, the sum over pairs in the same module factors by module,
# $\sum_{ij} k^{\text{out}}_i k^{\text{in}}_j \delta(g_i, g_j) = \sum_g \big(\sum_{i \in g}
# k^{\text{out}}_i\big)\big(\sum_{j \in g} k^{\text{in}}_j\big)$, and each module sends $N^2$ edges
# to itself and $pN^2$ to the other, and receives as many:
#
# (eq-q-group-degrees)=
# $$
# \sum_{i \in g} k^{\text{out}}_i = \sum_{j \in g} k^{\text{in}}_j = N^2 (1 + p)
# \qquad \text{for } g = 0, 1.
# \tag{2.2}
# $$
#
# Putting {ref}`(2.1) <eq-q-edges>` and {ref}`(2.2) <eq-q-group-degrees>` into {ref}`(4) <eq-q-directed>`:
#
# (eq-q-derivation)=
# \begin{equation*}
# \begin{aligned}
# Q &= \frac{2N^2}{M} - \frac{2 \left(N^2 (1 + p)\right)^2}{M^2}
#    = \frac{1}{1 + p} - \frac{2 N^4 (1 + p)^2}{4 N^4 (1 + p)^2} \\
#   &= \frac{1}{1 + p} - \frac{1}{2}
#    = \frac{1 - p}{2 (1 + p)},
# \end{aligned}
# \tag{2.3}
# \end{equation*}
#
# which is the closed form {ref}`(5) <eq-q-closed-form>` of the introduction, the paper's eq. (5). The
# paper's appendix A.1 reaches it by approximating every unit's degree by $N(1 + p)$; the
# derivation above shows that only the totals per module matter, and those are exact. So **eq. (5)
# holds exactly, wherever the $pN^2$ edges of each direction fall**, and $Q$ computed from any
# model's adjacency must equal it to rounding error, with $p$ the realised fraction
# $\operatorname{round}(pN^2)/N^2$.

# %%
q_model = structure.q_modularity(A, groups).item()  # eq. (4), real adjacency
q_formula = structure.q_closed_form(net.p[0].item())  # eq. (5)
n_conn = int(net.n_conn[0])
k_out, k_in = A.sum(1), A.sum(0)  # (2N,) each
N = n_hidden

# %% tags=["remove-cell"]
# eq-q-edges
assert A.sum() == 2 * N**2 + 2 * n_conn, (
    "the adjacency must hold two dense modules and n_conn edges per direction")
# eq-q-group-degrees
assert k_out[:N].sum() == k_in[:N].sum() == N**2 + n_conn, (
    "module 0's degrees do not add up")
assert abs(q_model - q_formula) < 1e-12 and 0 <= q_model <= 0.5, (
    "eq. (4) on the model must equal eq. (5)")
glue("q_model", q_model, display=False)
glue("q_formula", q_formula, display=False)
glue("k_out_min", int(k_out.min()), display=False)
glue("k_out_max", int(k_out.max()), display=False)

# %% [markdown]
# For this network ($p$ = {glue:text}`p_used:g`, {glue:text}`n_conn_text` per direction),
# {ref}`(4) <eq-q-directed>` on the adjacency gives $Q$ = {glue:text}`q_model:.12f` and
# {ref}`(5) <eq-q-closed-form>` gives {glue:text}`q_formula:.12f`, although the out-degrees of the units
# range from {glue:text}`k_out_min` to {glue:text}`k_out_max`.
#
# ## $Q$ against $p$
#
# The sweep of the paper builds networks at ten values of $p$, geometric from one connection per
# direction to all $N^2$; here we build {glue:text}`n_sweep_used` such networks. Each is a fresh
# network with its own random connection pattern.

# %%
p_sweep = np.geomspace(1 / n_hidden**2, 1, n_sweep).tolist()
seeds = list(range(seed, seed + n_sweep))  # a fresh pattern for each network
nets = model.ModularRNN(p_sweep, seeds=seeds, cfg=cfg)  # E = n_sweep networks
q_sweep = structure.q_modularity(nets.adjacency(), groups)  # (E,), eq. (4)
q_sweep_formula = structure.q_closed_form(nets.p)  # (E,), eq. (5)
pd.DataFrame({
    "connections per direction": nets.n_conn.tolist(),
    "p": nets.p.tolist(),
    "Q, eq. (4)": q_sweep.tolist(),
    "Q, eq. (5)": q_sweep_formula.tolist(),
})

# %% tags=["remove-cell"]
glue("n_sweep_used", n_sweep, display=False)
assert torch.allclose(q_sweep, q_sweep_formula, rtol=0, atol=1e-12), (
    "eq. (4) on the models must equal eq. (5)")
assert (q_sweep.diff() < 0).all() and q_sweep.max() <= 0.5, (
    "Q must fall as p grows, from at most 1/2")

# %% [markdown]
# {numref}`fig-q-against-p` draws {ref}`(5) <eq-q-closed-form>` over the whole range of $p$, with
# these networks on it.

# %%
p_curve = np.geomspace(1 / n_hidden**2, 1, n_curve)
q_curve = structure.q_closed_form(p_curve)  # (n_curve,)
q_threshold = structure.q_closed_form(p_threshold)
q_isolated = structure.q_closed_form(0.0)  # no connections at all: 1/2
fig_q = plots.q_against_p(p_curve, q_curve, nets.p, q_sweep, marks=q_marks)

# %% tags=["remove-cell"]
glue("fig-q-against-p", fig_q, display=False)
glue("p_threshold", float(p_threshold), display=False)
glue("q_threshold", q_threshold, display=False)
glue("q_threshold_gap", 1 - q_threshold / q_isolated, display=False)
glue("q_marks", " and ".join(f"{value:g}" for value in q_marks), display=False)

# %% [markdown]
# ```{glue:figure} fig-q-against-p
# :name: fig-q-against-p
#
# Structural modularity $Q$ against the connection fraction $p$ on a log axis: the closed form of
# eq. (5) (black line) and eq. (4) computed on the adjacency of each network built above (red
# dots). Dotted lines mark $Q$ = {glue:text}`q_marks`.
# ```
#
# $Q$ stays close to its maximum $\tfrac12$ over most of the logarithmic axis and falls to $0$ only
# over the last two decades, with the models' values exactly on the curve. At $p$ = {glue:text}`p_threshold:g`, where the paper's bottleneck and correlation measures
# begin to show specialization, $Q$ = {glue:text}`q_threshold:.3f`, only
# {glue:text}`q_threshold_gap:.1%` below that of two modules with no connections at all. This is
# why specialization "only for $Q > 0.49$" means *extreme* sparsity: $Q$ is a very compressed
# ruler for the sparse end of the axis.
#
# ## Exercises
#
# **Exercise 1.** Invert {ref}`(5) <eq-q-closed-form>`: which $p$ gives $Q = 0.35$, a network the paper
# calls strongly modular yet finds with little or no functional specialization? How many
# connections per direction is that for $N = 100$?

# %% [markdown] tags=["solution"]
# :::{admonition} Solution to exercise 1
# :class: dropdown
# Solving $Q = (1 - p) / (2(1 + p))$ for $p$ gives $p = (1 - 2Q)/(1 + 2Q)$, so $Q = 0.35$ at
# $p = 0.3/1.7 \approx 0.18$: about 1,800 of the 10,000 possible connections per direction. The
# code is below.
# :::

# %% tags=["solution", "hide-cell"]
p_035 = (1 - 2 * 0.35) / (1 + 2 * 0.35)
assert abs(structure.q_closed_form(p_035) - 0.35) < 1e-12, (
    "p_035 does not give Q = 0.35")
n_035 = model.n_connections(p_035, n_hidden)
print(f"p = {p_035:.4f}, {n_035} connections per direction")

# %% tags=["check", "remove-cell"]
# Check exercise 1: set p_035 (the connection fraction) and n_035 (connections per direction) above.
exercises.check("02.1", lambda: (p_035, n_035))

# %% [markdown]
# **Exercise 2.** Check the claim that {ref}`(5) <eq-q-closed-form>` does not depend on where the edges
# fall: in a copy of `A`, move the connections between modules so that they leave as few units as
# possible (all of them from the first unit of each module while there are at most $N$), and
# compute $Q$ again.

# %% [markdown] tags=["solution"]
# :::{admonition} Solution to exercise 2
# :class: dropdown
# $Q$ is unchanged, to rounding error: a few units now have very large out-degrees, but only the
# totals per module enter $Q$. The code is below.
# :::

# %% tags=["solution", "hide-cell"]
packed = (torch.arange(N * N) < n_conn).float().view(N, N)  # rows in order
B = A.clone()
B[:N, N:] = packed  # all 0 -> 1 connections leave the first unit(s) of module 0
B[N:, :N] = packed  # all 1 -> 0 connections leave the first unit(s) of module 1
assert B.sum() == A.sum(), "moving edges must keep their number"
print(structure.q_modularity(B, groups).item(), q_formula)

# %% [markdown]
# **Exercise 3.** For $g$ equally sized modules with no connections between them, the paper notes
# that $Q$ reaches at most $1 - 1/g$. Build such a network's adjacency for $g = 4$ modules of
# $N$ units and check.

# %% [markdown] tags=["solution"]
# :::{admonition} Solution to exercise 3
# :class: dropdown
# With no edges between modules, the first term of {ref}`(4) <eq-q-directed>` is $1$ and the second is
# $g \cdot (N^2)^2 / (g N^2)^2 = 1/g$. The code is below.
# :::

# %% tags=["solution", "hide-cell"]
g = 4
A4 = torch.block_diag(*[torch.ones(N, N)] * g)  # (gN, gN)
groups4 = torch.arange(g * N) // N
q_four = structure.q_modularity(A4, groups4).item()
print(q_four, 1 - 1 / g)

# %% tags=["check", "remove-cell"]
# Check exercise 3: set q_four, the Q of your four-module network, above.
exercises.check("02.3", lambda: q_four)

# %% [markdown]
# ## Summary
#
# - Directed modularity {ref}`(4) <eq-q-directed>` compares the edges inside modules with their expected number.
# - For two dense modules it is exactly $(1 - p) / (2(1 + p))$, {ref}`(5) <eq-q-closed-form>`, wherever the edges fall.
# - $Q$ stays above $0.49$ up to $p \approx 0.01$: high structural modularity spans most of the sparsity axis.
