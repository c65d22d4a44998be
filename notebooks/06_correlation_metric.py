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
# # The correlation metric and CKA
#
# *You will see* how the hidden states of a very sparse and a dense network depend on each digit,
# measured by the mean correlation of section 3.3 of {cite:t}`bena2021extreme` and by the CKA
# distance of its appendix A.3, and the specialization both give.
# *Time:* about 15 s on a 2-core CPU at the default parameters, one thread per process.
#
# :::{admonition} Objectives and prerequisites
# :class: tip
# - **After this chapter you can** compute the correlation metric of eq. (7) and the CKA distance on hidden states, and say what each is blind to.
# - **You need** chapters 1 and 4; Pearson correlation; a little linear algebra (centred Gram matrices).
# :::

# %% tags=["parameters"]
# 1 connection per direction, and all (paper: 10 values, 1e-4..1)
p_values = [1e-4, 1.0]
n_train = 10_000  # training pairs (paper: all 47,993)
n_test = 2_000  # test pairs, for the accuracy and both metrics (paper: all 7,998)
epochs = 5  # training epochs (paper: 5)
cka_repeats = 5  # random pairings x -> x' averaged for CKA (paper: not stated)
seed = 0  # seed of the pairing, the networks and the CKA pairings
# assert the chapter's findings (they need the default sizes or larger)
check_findings = True

# %%
import torch
from myst_nb import glue

from modlib import cka, config, data, metrics, model, plots, train

# %% [markdown]
# ## Correlated states
#
# The third measure retrains nothing: it looks at the hidden states directly. If sub-network $n$
# only computes with its own digit, its final state $h^{(n)}_T$ should barely change when only the
# *other* digit changes. So take two test examples $x, x'$ that share digit $k$, and compare
# sub-network $n$'s states with the Pearson correlation over its $N$ units,
#
# (eq-pearson)=
# $$
# \operatorname{corr}(u, v) = \frac{\sum_i (u_i - \bar u)(v_i - \bar v)}
#                                  {\lVert u - \bar u \rVert \, \lVert v - \bar v \rVert}.
# \tag{6.1}
# $$
#
# The **correlation metric** is its mean over all such pairs (the paper's eq. (7)):
#
# (eq-correlation-metric)=
# $$
# M(n, k) = \mathbb{E}_{x \neq x'}\Big[\operatorname{corr}\big(h^{(n)}_T(x), h^{(n)}_T(x')\big)
#            \,\Big|\, D_k(x) = D_k(x')\Big].
# \tag{7}
# $$
#
# $M(n, n)$ is high when sub-network $n$'s state is set by its own digit; $M(n, 1 - n)$ is high
# when it is set by the other's. `modlib` averages over *all* pairs of test examples sharing the
# digit, every pair weighted equally, without forming them: with $z$ the standardized states,
# $\sum_{x \neq x'} z_x \cdot z_{x'} = \lVert \sum_x z_x \rVert^2 - \sum_x \lVert z_x \rVert^2$
# within each digit.
#
# First, two networks train on the main task ({numref}`fig-corr-training`).

# %%
train_data = data.paired_mnist("train", n=n_train, seed=seed)
test_data = data.paired_mnist("test", n=n_test, seed=seed)
labels = [f"p = {p:g}" for p in p_values]
nets = model.ModularRNN(p_values, seeds=seed)  # E = 2 standard networks
train_cfg = config.TrainConfig(epochs=epochs)
result = train.train(nets, train_data, test_data, train_cfg, progress=False)
fig_training = plots.training_curves(result.history, labels)

# %% tags=["remove-cell"]
glue("fig-corr-training", fig_training, display=False)
assert all(0 <= a <= 1 for a in result.accuracy), "an accuracy outside [0, 1]"
if check_findings:  # chance is 0.1
    assert all(a > 0.25 for a in result.accuracy), (
        "a network is near chance: raise epochs or n_train")
for e, key in enumerate(["sparse", "dense"]):
    glue(f"acc_{key}", result.accuracy[e], display=False)
    glue(f"conn_text_{key}", model.connections_text(p_values[e], nets.cfg.n_hidden),
         display=False)
glue("n_train_used", len(train_data), display=False)
glue("n_test_used", len(test_data), display=False)

# %% [markdown]
# ```{glue:figure} fig-corr-training
# :name: fig-corr-training
#
# Test accuracy on the main task after each epoch of the two networks, one line per value of
# $p$; the dotted line is chance (0.1).
# ```
#
# Trained on {glue:text}`n_train_used:,` pairs, the networks reach {glue:text}`acc_sparse:.1%`
# ({glue:text}`conn_text_sparse` per direction) and {glue:text}`acc_dense:.1%`
# ({glue:text}`conn_text_dense`) on the main task.
#
# {numref}`fig-within-digit` shows their final states on the {glue:text}`n_test_used:,` test
# pairs, grouped by one digit.

# %%
h = metrics.final_states(nets, test_data)  # (E, 2, B, N)
fig_within = plots.within_digit_correlations(h, test_data.digits, labels)

# %% tags=["remove-cell"]
glue("fig-within-digit", fig_within, display=False)
assert h.shape == (len(p_values), 2, len(test_data), nets.cfg.n_hidden), (
    "unexpected state shape")
assert h.abs().max() <= 1, "tanh states must lie in [-1, 1]"  # tanh units

# %% [markdown]
# ```{glue:figure} fig-within-digit
# :name: fig-within-digit
#
# Mean correlation of sub-network $n$'s final states between test examples $x \neq x'$ whose digit
# $D_k$ is $i$ (row) and $j$ (column), one row of panels per network: for each sub-network, its
# states grouped by its own digit, then by the other digit. The diagonal holds the pairs of
# eq. (7).
# ```
#
# At the default sizes, when a sub-network's states are grouped by its own digit (first and third
# columns) the diagonal is bright: examples of the same digit give similar states. Grouped by the
# other digit (second and fourth columns) the panels are flatter, flattest in the sparse network,
# where the other digit hardly reaches the sub-network. A checkerboard, where one appears, is the
# digit's parity, which the task requires the networks to encode.

# {numref}`fig-correlation-metric` gives the correlation metric of both networks.

# %%
cfg = metrics.MetricsConfig(cka_repeats=cka_repeats, seed=seed)
# (E, 2, 2): [e, n, k]
M_corr = metrics.correlation_metric(nets, test_data, cfg, states=h)
fig_corr = plots.raw_metric(M_corr, labels, "mean correlation M(n, k)")

# %% tags=["remove-cell"]
glue("fig-correlation-metric", fig_corr, display=False)
assert M_corr.shape == (len(p_values), 2, 2), "unexpected metric shape"
# positive here, as eq. (8) needs
assert ((0 < M_corr) & (M_corr <= 1)).all(), (
    "a mean correlation outside (0, 1]")
for e, key in enumerate(["sparse", "dense"]):
    own, other = metrics.own_and_other(M_corr[e])  # (2,) each
    glue(f"corr_own_{key}", own.mean().item(), display=False)
    glue(f"corr_other_{key}", other.mean().item(), display=False)

# %% [markdown]
# ```{glue:figure} fig-correlation-metric
# :name: fig-correlation-metric
#
# The correlation metric $M(n, k)$ of eq. (7): the mean correlation of sub-network $n$'s (row)
# final states over pairs of test examples that share digit $D_k$ (column), one panel per network;
# the own digit is on the diagonal.
# ```
#
# In the sparse network, states sharing the own digit correlate at
# {glue:text}`corr_own_sparse:.2f` on average and states sharing the other digit at
# {glue:text}`corr_other_sparse:.2f`; in the dense network, {glue:text}`corr_own_dense:.2f` and
# {glue:text}`corr_other_dense:.2f`. All states correlate somewhat: tanh units driven by similar
# images share a common pattern.
#
# ## CKA distance
#
# Appendix A.3 of the paper reports the same comparison with linear centred kernel alignment
# (CKA, {cite}`kornblith2019similarity`), which compares whole representations rather than pairs
# of state vectors. For two matrices $X, Y$ of shape $B \times N$, one row per example, with
# their columns centred over the examples,
#
# (eq-cka)=
# $$
# \operatorname{CKA}(X, Y) = \frac{\lVert Y^\top X \rVert_F^2}
#                                 {\lVert X^\top X \rVert_F \, \lVert Y^\top Y \rVert_F} \in [0, 1].
# \tag{6.2}
# $$
#
# CKA is 1 when $Y = X$ and stays 1 if either side is rotated or scaled, so it does not care in
# which units a representation is written. Here $X$ holds sub-network $n$'s states for the test
# examples, and $Y$ the states of partners $x'$: each example paired with another one, drawn at
# random, that shares its digit $k$. If digit $k$ alone sets the state, $Y \approx X$ and CKA is
# near 1. Like the paper, we report the **distance** $1 - \operatorname{CKA}$, 0 for identical
# representations, averaged over {glue:text}`cka_repeats_used` random pairings
# ({numref}`fig-cka-distance`).

# %%
# (E, 2, 2): 1 - CKA
D_cka = metrics.cka_distance_metric(nets, test_data, cfg, states=h)
fig_cka = plots.raw_metric(D_cka, labels, "CKA distance 1 - CKA", cmap="viridis_r")

# %% tags=["remove-cell"]
glue("fig-cka-distance", fig_cka, display=False)
assert D_cka.shape == (len(p_values), 2, 2) and ((0 <= D_cka) & (D_cka <= 1)).all(), (
    "a CKA distance outside [0, 1]")
glue("cka_repeats_used", cka_repeats, display=False)
for e, key in enumerate(["sparse", "dense"]):
    own, other = metrics.own_and_other(D_cka[e])  # (2,) each
    glue(f"cka_own_{key}", own.mean().item(), display=False)
    glue(f"cka_other_{key}", other.mean().item(), display=False)

# %% [markdown]
# ```{glue:figure} fig-cka-distance
# :name: fig-cka-distance
#
# The CKA distance $1 - \mathrm{CKA}$ between sub-network $n$'s (row) states and those of partner
# examples that share digit $D_k$ (column), one panel per network; a small distance (the light
# end of the scale) means similar representations.
# ```
#
# A distance is small where a similarity is large, so the own digit is now the *small* value: in
# the sparse network {glue:text}`cka_own_sparse:.2f` when the own digit is shared against
# {glue:text}`cka_other_sparse:.2f` (at the default sizes nearly the maximum) when the other digit
# is; in the dense network {glue:text}`cka_own_dense:.2f` and {glue:text}`cka_other_dense:.2f`.
#
# ## Specialization
#
# Eq. {ref}`(8) <eq-specialization>` of chapter 4 needs a quantity that grows with the ability to do a
# sub-task. The mean correlation is one; for CKA we use the similarity
# $\operatorname{CKA} = 1 - \text{distance}$, as `metrics.specialization_table` does
# ({numref}`fig-corr-specialization`).

# %%
similarity = 1 - D_cka  # (E, 2, 2): CKA
# (E, 2) each: M(n, n) and M(n, 1 - n)
own_corr, other_corr = metrics.own_and_other(M_corr)
own_cka, other_cka = metrics.own_and_other(similarity)
S_corr = metrics.specialization(own_corr, other_corr)  # (E, 2)
S_cka = metrics.specialization(own_cka, other_cka)  # (E, 2)
bars = {"correlation, eq. (7)": S_corr, "CKA": S_cka}
fig_spec = plots.specialization_bars(bars, labels)

# %% tags=["remove-cell"]
glue("fig-corr-specialization", fig_spec, display=False)
assert S_corr.shape == S_cka.shape == (len(p_values), 2), "unexpected shape"
assert ((-1 <= S_corr) & (S_corr <= 1)).all(), "eq. (8) must lie in [-1, 1]"
assert ((-1 <= S_cka) & (S_cka <= 1)).all(), (
    "eq. (8) must lie in [-1, 1]")
if check_findings:  # sparser: more specialized
    assert S_corr[0].mean() > S_corr[1].mean() + 0.1, (
        "the sparse network should specialize more: raise epochs or n_train")
    assert S_cka[0].mean() > S_cka[1].mean() + 0.15, (
        "the sparse network should specialize more: raise epochs or n_train")
for e, key in enumerate(["sparse", "dense"]):
    glue(f"spec_corr_{key}", S_corr[e].mean().item(), display=False)
    glue(f"spec_cka_{key}", S_cka[e].mean().item(), display=False)

# %% [markdown]
# ```{glue:figure} fig-corr-specialization
# :name: fig-corr-specialization
#
# The specialization of eq. (8) from the correlation metric (left) and from CKA (right), for each
# sub-network (blue: 0, orange: 1) of each network.
# ```
#
# The correlation gives {glue:text}`spec_corr_sparse:.2f` against {glue:text}`spec_corr_dense:.2f`
# (means over the two sub-networks), CKA {glue:text}`spec_cka_sparse:.2f` against
# {glue:text}`spec_cka_dense:.2f`. At the default sizes both measures put the sparse network well
# above the dense one, and CKA rates it higher still: the pattern that all states share raises
# every pairwise correlation, $M(n, n)$ and $M(n, 1 - n)$ alike, and so pulls eq.
# {ref}`(8) <eq-specialization>` towards 0, while CKA, computed on centred columns, removes it.
# CKA's value for the dense network varies more from one network to the next (change `seed`).
#
# ## Comparison with the paper
#
# The paper (fig. 2, bottom row) finds the correlation specialization flat until $p < 0.01$
# ($Q > 0.49$) and rising steeply for the sparsest networks, and appendix A.3 (fig. 3) shows that
# the CKA distance agrees. At the default parameters, one connection per direction and all of them,
# our two ends agree in direction, for both measures. At all-to-all connections our values are not
# 0: each image enters only its own sub-network, so the own digit
# leaves a stronger trace in the state even when the sub-networks are fully connected; how far
# from 0 varies between networks (change `seed`). The paper's figure shows means over ten
# networks per $p$, trained on all the data; the results chapter runs that sweep.
#
# ## Exercises
#
# **Exercise 1.** Check {ref}`(7) <eq-correlation-metric>` by brute force: for sub-network 0 of the sparse
# network and $k = 0$, take the first 300 test pairs, form every pair of different examples with
# the same $D_0$ using `torch.corrcoef`, and compare their mean with
# `cka.mean_within_group_correlation` on the same examples.

# %% [markdown] tags=["solution"]
# :::{admonition} Solution to exercise 1
# :class: dropdown
# `torch.corrcoef` of a $(B, N)$ matrix gives the $B \times B$ correlations of its rows; keep the
# entries off the diagonal whose two examples share the digit. The two agree to rounding error.
# The code is below.
# :::

# %% tags=["solution", "hide-cell"]
states = h[0, 0, :300].double()  # (300, N): sparse network, sub-network 0
digit = test_data.digits[:300, 0]  # (300,) D0
same = (digit[:, None] == digit[None, :]) & ~torch.eye(300, dtype=torch.bool)  # x != x'
brute = torch.corrcoef(states)[same].mean()
fast = cka.mean_within_group_correlation(states, digit)
assert torch.isclose(brute, fast), (
    "the brute-force mean differs from cka.mean_within_group_correlation")
print(f"brute force {brute:.6f}, modlib {fast:.6f}")

# %% [markdown]
# **Exercise 2.** CKA was said above to ignore a pattern that all states share, which raises every
# pairwise correlation. Check it: add the same random vector $c$ to every state of
# `X = h[0, 0]`, and compare `cka.linear_cka(X, X + c)` with 1, and the mean correlation of pairs
# of states (`torch.corrcoef`) before and after.

# %% [markdown] tags=["solution"]
# :::{admonition} Solution to exercise 2
# :class: dropdown
# Centring the columns over the examples removes $c$, so $\operatorname{CKA}(X, X + c) = 1$
# exactly. Eq. {ref}`(6.1) <eq-pearson>` centres each state over its units instead, which leaves $c$ in
# place: the correlations of all pairs move towards 1. CKA is also unchanged by a rotation $X Q$
# of the state space; try it with `torch.linalg.qr`. The code is below.
# :::

# %% tags=["solution", "hide-cell"]
X = h[0, 0].double()  # (B, N): sparse network, sub-network 0
gen = torch.Generator().manual_seed(seed)
# (N,) one shared pattern
c = 2 * torch.randn(X.shape[1], dtype=torch.float64, generator=gen)
# pairs of different examples, first 200
off_diagonal = ~torch.eye(200, dtype=torch.bool)
before = torch.corrcoef(X[:200])[off_diagonal].mean()
after = torch.corrcoef((X + c)[:200])[off_diagonal].mean()
one = torch.tensor(1.0, dtype=torch.float64)
assert torch.isclose(cka.linear_cka(X, X + c), one), (
    "CKA should ignore a shared shift")
print(f"mean correlation of pairs: {before:.3f} before, {after:.3f} after adding c; "
      f"CKA(X, X + c) = {cka.linear_cka(X, X + c).item():.6f}")

# %% [markdown]
# **Exercise 3.** Measure the correlation specialization of the untrained copies of both networks
# (`metrics.untrained_copy`). Is a sparse network "specialized" before it learns anything?

# %% [markdown] tags=["solution"]
# :::{admonition} Solution to exercise 3
# :class: dropdown
# Partly. The untrained sparse network already scores above the untrained dense one: each of its
# sub-networks is driven by its own image, with next to nothing from the other. Training then
# raises its specialization further, as states of the same digit grow alike. So part of what the
# correlation metric sees is the wiring itself, not what was learned; the two other metrics
# retrain part of the network, and chapter 5 compares masks with untrained copies. The code is
# below.
# :::

# %% tags=["solution", "hide-cell"]
untrained = metrics.untrained_copy(nets)
M_untrained = metrics.correlation_metric(untrained, test_data, cfg)  # (E, 2, 2)
own_untrained, other_untrained = metrics.own_and_other(M_untrained)
S_untrained = metrics.specialization(own_untrained, other_untrained)  # (E, 2)
for name, values in (("untrained", S_untrained), ("trained", S_corr)):
    means = values.mean(1).round(decimals=3).tolist()  # (E,)
    print(f"{name:>9}, mean specialization:", dict(zip(labels, means)))

# %% [markdown]
# ## Summary
#
# - The correlation metric {ref}`(7) <eq-correlation-metric>` asks how similar a sub-network's states are when one digit is held fixed.
# - CKA {ref}`(6.2) <eq-cka>` compares whole representations, blind to rotations; the paper reports it as the distance $1 - \mathrm{CKA}$.
# - Both make the one-connection network far more specialized than the all-to-all one, CKA even more so.
