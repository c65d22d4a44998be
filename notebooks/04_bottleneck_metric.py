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
# # The bottleneck metric
#
# *You will see* why retraining a whole readout says nothing about what a sub-network learned, the
# bottleneck network of fig. 1b of {cite:t}`bena2021extreme`, and its metric (section 3.1) and
# specialization (section 3.4) for a very sparse and a dense network.
# *Time:* about 20 s on a 2-core CPU at the default parameters, one thread per process.
#
# :::{admonition} Objectives and prerequisites
# :class: tip
# - **After this chapter you can** say why a narrow retrained readout measures what a sub-network carries, compute the bottleneck metric and the specialization of eq. (8) for two networks.
# - **You need** chapters 1 and 3; training a linear readout; test accuracy.
# :::

# %% tags=["parameters"]
# 1 connection per direction, and all (paper: 10 values, 1e-4..1)
p_values = [1e-4, 1.0]
n_train = 10_000  # training pairs (paper: all 47,993)
n_test = 2_000  # test pairs (paper: all 7,998)
bottleneck = 5  # units of the bottleneck layer (paper: 5)
epochs = 5  # training epochs of the bottleneck network (paper: 7)
bottleneck_epochs = 5  # epochs of readout retraining (paper: 5)
seed = 0  # seed of the pairing, the networks and the metric
# assert the chapter's findings (they need the default sizes or larger)
check_findings = True

# %%
import torch
from myst_nb import glue

from modlib import config, data, metrics, model, plots, train

# %% [markdown]
# ## Retraining a whole readout is too powerful
#
# To ask whether sub-network $n$ can do sub-task $k$ of {ref}`(2) <eq-subtask>` (name digit $D_k$), we
# would like to read the answer out of it. Left as trained, its readout {ref}`(1.2) <eq-readout>` answers the
# main task, so some retraining is unavoidable. The simplest choice, retraining the readout
# $W^{(n)}_{hr}, \beta^{(n)}_{hr}$ from the $N$ hidden units, is too powerful: the state of $N$
# tanh units driven by an image holds so much about the image that a linear readout classifies
# the digit well even when no weight below it was trained.
#
# We check this on *untrained* networks. A network whose "bottleneck" is as wide as its hidden
# layer ($N$ units) has a readout from a random, invertible linear image of the full state, so
# retraining it is retraining a full readout; beside it, the same untrained network with a
# bottleneck of a few units. `metrics.bottleneck_metric` retrains the last layer of sub-network $n$
# to name digit $k$ and returns the test accuracy $M(n, k)$, shape `(E, 2, 2)`
# ({numref}`fig-wide-readout`).

# %%
train_data = data.paired_mnist("train", n=n_train, seed=seed)
test_data = data.paired_mnist("test", n=n_test, seed=seed)
cfg = metrics.MetricsConfig(bottleneck_epochs=bottleneck_epochs, seed=seed)
labels = [f"p = {p:g}" for p in p_values]
N = config.ModelConfig().n_hidden
narrow_cfg = config.ModelConfig(bottleneck=bottleneck)
wide_cfg = config.ModelConfig(bottleneck=N)  # as wide as the hidden layer
wide = model.ModularRNN(p_values, seeds=seed, cfg=wide_cfg)  # untrained
narrow = model.ModularRNN(p_values, seeds=seed, cfg=narrow_cfg)  # untrained
M_wide = metrics.bottleneck_metric(wide, train_data, test_data, cfg)  # (E, 2, 2)
M_narrow = metrics.bottleneck_metric(narrow, train_data, test_data, cfg)  # (E, 2, 2)
own_wide = metrics.own_and_other(M_wide)[0]  # (E, 2): M(n, n)
own_narrow = metrics.own_and_other(M_narrow)[0]  # (E, 2)
fig_wide = plots.raw_metric(M_wide, [f"untrained, {label}" for label in labels],
                            f"accuracy, readout from all {N} units", chance=0.1)

# %% tags=["remove-cell"]
glue("fig-wide-readout", fig_wide, display=False)
for e, key in enumerate(["sparse", "dense"]):
    glue(f"p_{key}", float(p_values[e]), display=False)
    glue(f"conn_text_{key}", model.connections_text(p_values[e], N), display=False)
glue("N_used", N, display=False)
assert M_wide.shape == M_narrow.shape == (len(p_values), 2, 2), (
    "unexpected metric shape")
assert all(((0 <= M) & (M <= 1)).all() for M in (M_wide, M_narrow)), (
    "an accuracy outside [0, 1]")
if check_findings:  # chance is 0.1
    assert (own_wide > 0.5).all(), (
        "a wide readout should read the own digit well: raise n_train")
    assert own_narrow.mean() < own_wide.mean() - 0.2, (
        "the bottleneck should constrain the readout: is bottleneck_units small?")
glue("wide_own", own_wide.mean().item(), display=False)
glue("narrow_own", own_narrow.mean().item(), display=False)
glue("bottleneck_used", bottleneck, display=False)

# %% [markdown]
# ```{glue:figure} fig-wide-readout
# :name: fig-wide-readout
#
# The accuracy $M(n, k)$ of a readout retrained from all {glue:text}`N_used` hidden units of
# sub-network $n$ (row) to name digit $D_k$ (column), for the two *untrained* networks, one
# panel each; the own digit is on the diagonal, chance is 0.1.
# ```
#
# With no training at all, the sub-networks name their own digit $D_n$ with accuracy
# {glue:text}`wide_own:.0%` on average (at the default sizes, far above chance). The more
# connections join the sub-networks, the better even the other digit can be read out: at the
# default all-to-all end it is well above chance.
#
# With a bottleneck of {glue:text}`bottleneck_used` units the same untrained networks name their own
# digit only {glue:text}`narrow_own:.0%` of the time. A measure built on retraining must leave
# the readout too little room to do the sub-network's work for it.
#
# ## The bottleneck network
#
# The paper's answer (fig. 1b) is a narrow linear layer between each sub-network and its readout:
#
# (eq-bottleneck)=
# $$
# b^{(n)} = W^{(n)}_{hb} h^{(n)}_T + \beta^{(n)}_{hb}, \qquad
# r^{(n)} = W^{(n)}_{br} b^{(n)} + \beta^{(n)}_{br},
# \tag{4.1}
# $$
#
# with $b^{(n)}$ of a few units (the paper's 5; here {glue:text}`bottleneck_used`), enough to carry
# which digit was seen but too few to carry much of the image: in the spirit of the information bottleneck {cite}`tishby2000information`, it keeps
# what was computed and drops the stimulus. The network is trained on the main task as before,
# with {ref}`(4.1) <eq-bottleneck>` in place of {ref}`(1.2) <eq-readout>` and the same competitive decision
# {ref}`(1.3) <eq-decision>`, as {numref}`fig-bottleneck-network` draws it.

# %%
fig_network = plots.bottleneck_architecture(bottleneck=bottleneck)

# %% tags=["remove-cell"]
glue("fig-bottleneck-network", fig_network, display=False)

# %% [markdown]
# ```{glue:figure} fig-bottleneck-network
# :name: fig-bottleneck-network
#
# The bottleneck network (the paper's fig. 1b): for each sub-network, its image, hidden layer,
# bottleneck and readout, each box labelled with its number of units. The two hidden layers
# exchange information only through $W_{\text{sparse}}$ (dashed); the red weights $W_{br}$ are the
# only ones the metric retrains.
# ```
#
# The **bottleneck metric** $M(n, k)$ of sub-network $n$ on sub-task $k$ is the test accuracy
# after (section 3.1)
#
# 1. training the bottleneck network on the main task,
# 2. freezing every parameter except $W^{(n)}_{br}, \beta^{(n)}_{br}$,
# 3. re-initializing those and retraining them, so that $r^{(n)}$ alone names digit $D_k$:
#
# (eq-bottleneck-metric)=
# $$
# M(n, k) = \Pr_{\text{test}}\Big[\operatorname*{arg\,max}_i r^{(n)}_i = D_k\Big]
# \quad \text{after retraining } W^{(n)}_{br}, \beta^{(n)}_{br} \text{ on } D_k.
# \tag{4.2}
# $$
#
# Retraining uses Adadelta {cite}`zeiler2012adadelta` with learning rate 0.5 decaying by 0.9 per
# epoch (Table 1). Since everything below $W^{(n)}_{br}$ is frozen, `modlib` computes the
# bottleneck states once and trains the four small readouts $(n, k)$ of each network on them
# together.
#
# ## Training two bottleneck networks
#
# Both networks train on the main task together ({numref}`fig-bottleneck-training`).

# %%
# as `narrow`, to be trained
nets = model.ModularRNN(p_values, seeds=seed, cfg=narrow_cfg)
train_cfg = config.TrainConfig(epochs=epochs)
result = train.train(nets, train_data, test_data, train_cfg, progress=False)
fig_training = plots.training_curves(result.history, labels)

# %% tags=["remove-cell"]
glue("fig-bottleneck-training", fig_training, display=False)
assert all(0 <= a <= 1 for a in result.accuracy), "an accuracy outside [0, 1]"
if check_findings:  # chance is 0.1
    assert all(a > 0.25 for a in result.accuracy), (
        "a network is near chance: raise epochs or n_train")
for e, key in enumerate(["sparse", "dense"]):
    glue(f"acc_{key}", result.accuracy[e], display=False)
glue("epochs_used", epochs, display=False)
glue("n_train_used", len(train_data), display=False)

# %% [markdown]
# ```{glue:figure} fig-bottleneck-training
# :name: fig-bottleneck-training
#
# Test accuracy on the main task after each epoch of the two bottleneck networks, one line per
# value of $p$; the dotted line is chance (0.1).
# ```
#
# After {glue:text}`epochs_used` epochs on {glue:text}`n_train_used:,` pairs, the network with
# {glue:text}`conn_text_sparse` per direction reaches {glue:text}`acc_sparse:.1%` and the one with
# {glue:text}`conn_text_dense` {glue:text}`acc_dense:.1%`. At the default sizes both are well above
# chance and the dense one is ahead: a single connection per direction can pass little more than
# the parity bit.
#
# ## The metric
#
# {numref}`fig-bottleneck-metric` gives the metric of both trained networks.

# %%
M = metrics.bottleneck_metric(nets, train_data, test_data, cfg)  # (E, 2, 2): [e, n, k]
own, other = metrics.own_and_other(M)  # (E, 2) each: M(n, n) and M(n, 1 - n)
fig_metric = plots.raw_metric(M, labels, "bottleneck accuracy M(n, k)", chance=0.1)

# %% tags=["remove-cell"]
glue("fig-bottleneck-metric", fig_metric, display=False)
assert M.shape == (len(p_values), 2, 2) and ((0 <= M) & (M <= 1)).all(), (
    "unexpected metric shape or range")
if check_findings:  # sparse network: both prefer their own digit
    assert (own[0] > other[0] + 0.1).all(), (
        "the sparse network should read its own digit better: raise epochs or n_train")
for e, key in enumerate(["sparse", "dense"]):
    glue(f"own_{key}", own[e].mean().item(), display=False)
    glue(f"other_{key}", other[e].mean().item(), display=False)
glue("own_trained_sparse_gain", (own[0] - own_narrow[0]).mean().item(), display=False)

# %% [markdown]
# ```{glue:figure} fig-bottleneck-metric
# :name: fig-bottleneck-metric
#
# The bottleneck metric $M(n, k)$ of eq. (4.2), the test accuracy of sub-network $n$ (row) naming
# digit $D_k$ (column) after its readout $W_{br}$ is retrained, one panel per trained network;
# the own digit is on the diagonal, chance is 0.1.
# ```
#
# In the sparse network, the sub-networks name their own digit with accuracy
# {glue:text}`own_sparse:.1%` on average and the other one's with {glue:text}`other_sparse:.1%`.
# At the default sizes, with one connection each way, the second is close to chance: a single
# connection carries almost nothing about the other image. In the dense network the numbers are
# {glue:text}`own_dense:.1%` and {glue:text}`other_dense:.1%`.
# Training raised the sparse network's own-digit accuracy by {glue:text}`own_trained_sparse_gain:.2f`
# over the same network untrained: the bottleneck holds what the network learned to compute.
#
# ## Specialization
#
# Section 3.4 of the paper turns any metric into one number per sub-network, its
# **specialization** (the paper's eq. (8)):
#
# (eq-specialization)=
# $$
# M_{\text{spec}}(n) = \frac{M(n, n) - M(n, 1 - n)}{M(n, n) + M(n, 1 - n)} \in [-1, 1].
# \tag{8}
# $$
#
# It is $1$ when sub-network $n$ does its own sub-task only, $0$ when it does both equally well
# (or equally badly), and $-1$ when it does only the other's. Chapters 5 and 6 apply it to the
# other two metrics. {numref}`fig-bottleneck-specialization` shows it for the two networks.

# %%
S = metrics.specialization(own, other)  # (E, 2), eq-specialization
fig_spec = plots.specialization_bars({"bottleneck metric": S}, labels)

# %% tags=["remove-cell"]
glue("fig-bottleneck-specialization", fig_spec, display=False)
assert S.shape == (len(p_values), 2) and ((-1 <= S) & (S <= 1)).all(), (
    "eq. (8) must lie in [-1, 1]")
if check_findings:  # sparser: more specialized
    assert S[0].mean() > S[1].mean() + 0.2, (
        "the sparse network should specialize more than the dense one: "
        "raise epochs or n_train")
for e, key in enumerate(["sparse", "dense"]):
    glue(f"spec_{key}", S[e].mean().item(), display=False)

# %% [markdown]
# ```{glue:figure} fig-bottleneck-specialization
# :name: fig-bottleneck-specialization
#
# The specialization of eq. (8) from the bottleneck metric, for each sub-network (blue: 0,
# orange: 1) of each network; $1$ is a sub-network that names only its own digit, $0$ one that
# names both equally well.
# ```
#
# The sparse network's sub-networks have a mean specialization of {glue:text}`spec_sparse:.2f`, the
# dense network's {glue:text}`spec_dense:.2f`; at the default sizes both sub-networks of the sparse
# network are clearly specialized and the dense network's much less.
#
# ## Comparison with the paper
#
# The paper (fig. 2, top row) finds the bottleneck specialization flat near its dense value until
# $p < 0.01$ ($Q > 0.49$), then rising steeply to its highest value at one connection per
# direction. At the default parameters, one connection per direction and all of them, our two ends
# agree in direction: the sparse network is far more specialized than the dense one. The paper averages ten networks per $p$ trained on all the data; here there are two
# networks, trained on {glue:text}`n_train_used:,` pairs, so the values move by several hundredths
# with `seed`. A dense network is not exactly at 0 either: each image enters only its own
# sub-network, so even with all-to-all connections the own digit is easier to read out. The
# results chapter runs the full sweep over $p$.
#
# ## Exercises
#
# **Exercise 1.** Compute {ref}`(8) <eq-specialization>` by hand for sub-network 1 of the sparse network
# from `M`, and check it against `S`.

# %% [markdown] tags=["solution"]
# :::{admonition} Solution to exercise 1
# :class: dropdown
# Sub-network 1's own sub-task is $k = 1$, so $M(1, 1)$ is `M[0, 1, 1]` and $M(1, 0)$ is
# `M[0, 1, 0]` (network 0 is the sparse one). The code is below.
# :::

# %% tags=["solution", "hide-cell"]
by_hand = (M[0, 1, 1] - M[0, 1, 0]) / (M[0, 1, 1] + M[0, 1, 0])
print(f"M_spec(1) = {by_hand:.3f}")

# %% tags=["check", "remove-cell"]
# Check exercise 1: set by_hand, your value of eq. (8) for sub-network 1 of the sparse network.
assert abs(float(by_hand) - float(S[0, 1])) < 1e-6, (
    f"exercise 1: by_hand = {float(by_hand):.4f}, not S[0, 1]; "
    "sub-network 1's own digit is k = 1")
print("exercise 1: correct")

# %% [markdown]
# **Exercise 2.** How wide may the bottleneck be before it stops constraining the readout? Measure
# the own-digit accuracy $M(n, n)$ of the untrained sparse network with bottlenecks of 2, 5, 20 and
# 100 units.

# %% [markdown] tags=["solution"]
# :::{admonition} Solution to exercise 2
# :class: dropdown
# The accuracy grows quickly with the width: a handful of random directions of the hidden state
# already separate some digits, and at 100 units the readout sees the whole state. The paper's
# 5 units keep an untrained network well below a trained one. The code is below.
# :::

# %% tags=["solution", "hide-cell"]
for width in [2, 5, 20, 100]:
    width_cfg = config.ModelConfig(bottleneck=width)
    untrained = model.ModularRNN(p_values[0], seeds=seed, cfg=width_cfg)
    # (1, 2, 2)
    M_width = metrics.bottleneck_metric(untrained, train_data, test_data, cfg)
    own_width = M_width.diagonal(dim1=1, dim2=2).mean().item()
    print(f"{width} units: mean M(n, n) = {own_width:.3f}")

# %% [markdown]
# **Exercise 3.** The retraining is itself random: it starts from fresh weights and visits the
# pairs in a random order. Measure the trained networks again with two other metric seeds
# (`MetricsConfig(seed=...)`) and compare the spread of $M_{\text{spec}}$ with the gap between the
# sparse and the dense network.

# %% [markdown] tags=["solution"]
# :::{admonition} Solution to exercise 3
# :class: dropdown
# The spread due to the retraining alone is small compared with the gap between the two networks;
# the spread between networks trained from different seeds (change `seed` above) is larger.
# The code is below.
# :::

# %% tags=["solution", "hide-cell"]
for metric_seed in [1, 2]:
    cfg_seed = metrics.MetricsConfig(bottleneck_epochs=bottleneck_epochs,
                                     seed=metric_seed)
    # (E, 2, 2)
    M_seed = metrics.bottleneck_metric(nets, train_data, test_data, cfg_seed)
    own_seed, other_seed = metrics.own_and_other(M_seed)  # (E, 2) each
    S_seed = metrics.specialization(own_seed, other_seed).mean(1)  # (E,)
    print(f"metric seed {metric_seed}: mean specialization",
          S_seed.round(decimals=3).tolist())

# %% [markdown]
# ## Summary
#
# - Retraining a full readout lets even an untrained network name its digit; a narrow bottleneck {ref}`(4.1) <eq-bottleneck>` (the paper's 5 units) prevents that.
# - The bottleneck metric {ref}`(4.2) <eq-bottleneck-metric>` retrains only $W_{br}^{(n)}$ to name digit $k$; eq. {ref}`(8) <eq-specialization>` compares own and other digit.
# - One connection per direction gives clearly specialized sub-networks; all-to-all connections give much less.
