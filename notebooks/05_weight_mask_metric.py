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
# # The weight-mask metric
#
# *You will see* binary masks trained on the frozen weights of a very sparse and a dense network
# (section 3.2 of {cite:t}`bena2021extreme`): where the kept weights lie, how well the masked
# networks name each digit, and the same masks on untrained copies, the paper's control.
# *Time:* about 20 s on a 2-core CPU at the default parameters, one thread per process.
#
# :::{admonition} Objectives and prerequisites
# :class: tip
# - **After this chapter you can** train binary weight masks on a frozen network with a straight-through gradient, and read the metric of eq. (6) against the untrained control.
# - **You need** chapters 1 and 4; eq. (8); what a top-k selection is.
# :::

# %% tags=["parameters"]
# 1 connection per direction, and all (paper: 10 values, 1e-4..1)
p_values = [1e-4, 1.0]
n_train = 10_000  # training pairs, for the networks and the masks (paper: all 47,993)
n_test = 2_000  # test pairs (paper: all 7,998)
epochs = 5  # training epochs of the networks (paper: 5)
q = 0.05  # fraction of the masked parameters a mask keeps (paper: 0.05)
mask_epochs = 2  # mask training epochs (paper: 1 of all pairs, 375 minibatches)
seed = 0  # seed of the pairing, the networks and the masks
# assert the chapter's findings (they need the default sizes or larger)
check_findings = True

# %%
import math

import torch
from myst_nb import glue

from modlib import config, data, metrics, model, plots, train

# %% [markdown]
# ## Masks on frozen weights
#
# A second way to ask what a sub-network does is to keep all its weights as trained and ask which
# of them a task needs. A binary **mask** switches most weights off; it is trained to make the
# masked network do a sub-task, while the weights themselves never change. Masks can find good
# sub-networks even in random networks {cite}`ramanujan2020hidden`, and have been used to
# measure functional modularity {cite}`csordas2021modular`. The paper trains them with the
# *edge-popup* algorithm {cite}`ramanujan2020hidden`.
#
# Write $\theta = \theta_0 \cup \theta_1$ for the masked parameters, where $\theta_n$ holds
# sub-network $n$'s $W^{(n)}_{hh}, \beta^{(n)}_{hh}, W^{(n)}_{hr}, \beta^{(n)}_{hr}$. The input
# weights $W^{(n)}_{ih}, \beta^{(n)}_{ih}$ and the connections between the modules take part in the
# forward pass but are not masked. Every masked parameter $\theta_i$ gets a real score $s_i$, and
# the forward pass uses only the parameters with the highest scores:
#
# (eq-mask)=
# \begin{equation*}
# \tilde\theta_i = m_i\, \theta_i, \qquad
# m_i = \begin{cases} 1 & \text{if } s_i \text{ is among the } q\,|\theta| \text{ largest scores},\\
#                     0 & \text{otherwise.} \end{cases}
# \tag{5.1}
# \end{equation*}
#
# The ranking is global: one top-$q$ over all masked tensors of both sub-networks, so *where* the
# kept parameters land is free and is what we measure. The step from scores to $m$ has no
# gradient; edge-popup passes the gradient straight through, as if $m_i$ were $s_i$:
#
# (eq-straight-through)=
# $$
# \frac{\partial L}{\partial s_i} \leftarrow \frac{\partial L}{\partial m_i}
# = \theta_i \frac{\partial L}{\partial \tilde\theta_i}.
# \tag{5.2}
# $$
#
# A mask for sub-task $k$ is trained so that the masked network, through its competitive decision
# {ref}`(1.3) <eq-decision>`, names digit $D_k$ (SGD, learning rate 0.1, momentum 0.9, Table 1). If it keeps
# the set $S^q_k \subseteq \theta$, the **weight-mask metric** is the share of it that lies in
# sub-network $n$ (the paper's eq. (6)):
#
# (eq-mask-metric)=
# $$
# M(n, k) = \frac{|S^q_k \cap \theta_n|}{|S^q_k|} = \frac{|S^q_k \cap \theta_n|}{q\,|\theta|},
# \qquad M(0, k) + M(1, k) = 1.
# \tag{6}
# $$

# %%
train_data = data.paired_mnist("train", n=n_train, seed=seed)
test_data = data.paired_mnist("test", n=n_test, seed=seed)
labels = [f"p = {p:g}" for p in p_values]
nets = model.ModularRNN(p_values, seeds=seed)  # E = 2 standard networks
layout, owner = metrics.mask_layout(nets)  # [(name, shape)], (D,) sub-network of each
n_masked = len(owner)  # |theta|
n_keep = metrics.n_kept(n_masked, q)  # q |theta|

# %% tags=["remove-cell"]
assert n_masked == sum(math.prod(shape) for _, shape in layout), (
    "the layout does not cover the masked parameters")
# half in each sub-network
assert (owner == 0).sum() == n_masked // 2, (
    "each sub-network must own half of the masked parameters")
glue("n_masked", n_masked, display=False)
glue("n_keep", n_keep, display=False)
glue("q_used", q, display=False)
glue("n_readout", math.prod(dict(layout)["w_hr"][1:]), display=False)
for e, key in enumerate(["sparse", "dense"]):
    glue(f"conn_text_{key}", model.connections_text(p_values[e], nets.cfg.n_hidden),
         display=False)

# %% [markdown]
# Each network has $|\theta|$ = {glue:text}`n_masked:,` masked parameters, and a mask keeps
# $q\,|\theta|$ = {glue:text}`n_keep:,` of them ($q$ = {glue:text}`q_used:g`), about as many as the
# {glue:text}`n_readout:,` weights of one readout $W^{(n)}_{hr}$.
#
# ## Training the networks
#
# Both networks first train on the main task ({numref}`fig-mask-training`).

# %%
train_cfg = config.TrainConfig(epochs=epochs)
result = train.train(nets, train_data, test_data, train_cfg, progress=False)
fig_training = plots.training_curves(result.history, labels)

# %% tags=["remove-cell"]
glue("fig-mask-training", fig_training, display=False)
assert all(0 <= a <= 1 for a in result.accuracy), "an accuracy outside [0, 1]"
if check_findings:  # chance is 0.1
    assert all(a > 0.25 for a in result.accuracy), (
        "a network is near chance: raise epochs or n_train")
for e, key in enumerate(["sparse", "dense"]):
    glue(f"acc_{key}", result.accuracy[e], display=False)
glue("n_train_used", len(train_data), display=False)

# %% [markdown]
# ```{glue:figure} fig-mask-training
# :name: fig-mask-training
#
# Test accuracy on the main task after each epoch of the two networks, one line per value of
# $p$; the dotted line is chance (0.1).
# ```
#
# After training on {glue:text}`n_train_used:,` pairs the networks reach
# {glue:text}`acc_sparse:.1%` ({glue:text}`conn_text_sparse` per direction) and
# {glue:text}`acc_dense:.1%` ({glue:text}`conn_text_dense`).
#
# ## Masks for each digit
#
# `metrics.weight_mask_metric` trains the four masks of each network (two digits, and the masks of
# all networks together) and returns the shares $M(n, k)$ of {ref}`(6) <eq-mask-metric>`, the masked
# networks' test accuracy on digit $k$, and the masks themselves ({numref}`fig-mask-share`).

# %%
cfg = metrics.MetricsConfig(q=q, mask_epochs=mask_epochs, seed=seed)
mask = metrics.weight_mask_metric(nets, train_data, test_data, cfg)
fig_share = plots.raw_metric(mask.share, labels, "share of kept parameters M(n, k)")

# %% tags=["remove-cell"]
glue("fig-mask-share", fig_share, display=False)
E = len(p_values)
assert mask.share.shape == (E, 2, 2) and mask.accuracy.shape == (E, 2), (
    "unexpected mask result shapes")
assert ((0 <= mask.share) & (mask.share <= 1)).all(), "a share outside [0, 1]"
# M(0, k) + M(1, k) = 1
assert torch.allclose(mask.share.sum(1), torch.ones(E, 2).double()), (
    "eq. (6): M(0, k) + M(1, k) must be 1")
# exactly q |theta| kept by every mask
assert (mask.masks.sum(-1) == n_keep).all(), (
    "each mask must keep exactly q of the parameters")
for e, key in enumerate(["sparse", "dense"]):
    glue(f"own_{key}", mask.share[e].diagonal().mean().item(), display=False)

# %% [markdown]
# ```{glue:figure} fig-mask-share
# :name: fig-mask-share
#
# The weight-mask metric $M(n, k)$ of eq. (6): the share of the parameters kept by the mask for
# digit $D_k$ (column) that lie in sub-network $n$ (row), one panel per network; each column sums
# to 1.
# ```
#
# At the default sizes, the sparse network's masks lie mostly in the sub-network that sees the
# digit (the diagonal), while the dense network's two masks put their parameters in the same
# places, whatever the digit. In the sparse network, a mask for digit $k$ keeps on average {glue:text}`own_sparse:.0%` of its
# parameters in sub-network $k$; in the dense network, {glue:text}`own_dense:.0%`.
#
# ## The control: masks on untrained networks
#
# A mask can make even a random network do something, so the paper checks that masks do
# markedly better on the trained networks than on untrained ones. `metrics.untrained_copy` gives
# the same networks as initialized, before training; the masks are trained on them in the same way
# ({numref}`fig-mask-accuracy`).

# %%
untrained = metrics.untrained_copy(nets)
control = metrics.weight_mask_metric(untrained, train_data, test_data, cfg)
gain = mask.accuracy - control.accuracy  # (E, 2) [network, k]
fig_accuracy = plots.mask_accuracy(mask.accuracy, control.accuracy, labels)

# %% tags=["remove-cell"]
glue("fig-mask-accuracy", fig_accuracy, display=False)
assert ((0 <= control.accuracy) & (control.accuracy <= 1)).all(), (
    "an accuracy outside [0, 1]")
if check_findings:  # trained weights: better masks
    assert gain.mean() > 0.15 and (gain.mean(1) > 0).all(), (
        "masks on trained networks should beat the untrained control: "
        "raise epochs or n_train")
glue("mask_acc", mask.accuracy.mean().item(), display=False)
glue("control_acc", control.accuracy.mean().item(), display=False)
glue("gain", gain.mean().item(), display=False)

# %% [markdown]
# ```{glue:figure} fig-mask-accuracy
# :name: fig-mask-accuracy
#
# Test accuracy of the masked networks on each sub-task (naming digit $D_k$), for masks trained on
# the trained networks (green) and on their untrained copies (grey, hatched); the dotted line is
# chance (0.1).
# ```
#
# On average over networks and digits, masks on trained networks name the digit with accuracy
# {glue:text}`mask_acc:.1%` against {glue:text}`control_acc:.1%` on untrained copies, a difference
# of {glue:text}`gain:.2f`. At the default sizes the masked trained networks are well above chance
# and above the masked untrained copies: the masks use what training built.
#
# ## Which parameters a mask keeps
#
# The masks are returned as booleans over the flat parameter vector, in the order of
# `metrics.mask_layout`. Splitting them by tensor gives the fraction of each tensor that each
# mask keeps ({numref}`fig-mask-kept`).

# %%
sizes = [math.prod(shape) for _, shape in layout]
parts = mask.masks.float().split(sizes, dim=-1)  # T tensors, each (E, 2, R, size)
# T x (E, 2, R, 2)
by_sub = [part.view(*part.shape[:3], 2, -1).mean(-1) for part in parts]
kept = torch.stack(by_sub, dim=-2).mean(2)  # (E, k, T, n): share of each tensor kept
names = [name for name, _ in layout]
readout = names.index("w_hr")
# W_hr^(k), mask for digit k
own_readout = kept[0, [0, 1], readout, [0, 1]].mean().item()
fig_kept = plots.mask_kept(kept, names, labels, q=q)

# %% tags=["remove-cell"]
glue("fig-mask-kept", fig_kept, display=False)
glue("own_readout_kept", own_readout, display=False)
glue("w_hh_kept", kept[0, :, names.index("w_hh"), :].mean().item(), display=False)

# %% [markdown]
# ```{glue:figure} fig-mask-kept
# :name: fig-mask-kept
#
# The fraction of each masked tensor that each mask keeps, one panel per network: the tensors of
# sub-network 0 in blue and of sub-network 1 in orange, the mask for digit 0 plain and for digit 1
# hatched. The dotted line is $q$, the fraction kept overall.
# ```
#
# In the sparse network, the mask for digit $k$ keeps on average
# {glue:text}`own_readout_kept:.0%` of the readout $W^{(k)}_{hr}$ of sub-network $k$; the
# recurrent weights $W_{hh}$ are kept sparingly, {glue:text}`w_hh_kept:.1%` on average. At the
# default sizes the mask keeps much less of the other readout. A mask needs a readout to name a digit, and in the sparse
# network only the readout of the sub-network that sees the digit can. In the dense network both
# masks lean on the readout of the same sub-network, which can name either digit.
#
# ## Specialization
#
# Eq. {ref}`(8) <eq-specialization>` of chapter 4 turns the shares into a specialization per sub-network,
# for the trained networks and for their untrained copies ({numref}`fig-mask-specialization`).

# %%
own, other = metrics.own_and_other(mask.share)  # (E, 2) each: M(n, n) and M(n, 1 - n)
S = metrics.specialization(own, other)  # (E, 2)
own_control, other_control = metrics.own_and_other(control.share)
S_control = metrics.specialization(own_control, other_control)  # (E, 2)
bars = {"trained": S, "untrained copies": S_control}
fig_spec = plots.specialization_bars(bars, labels)

# %% tags=["remove-cell"]
glue("fig-mask-specialization", fig_spec, display=False)
assert ((-1 <= S) & (S <= 1)).all() and ((-1 <= S_control) & (S_control <= 1)).all(), (
    "eq. (8) must lie in [-1, 1]")
if check_findings:  # sparser: more specialized
    assert S[0].mean() > S[1].mean() + 0.2, (
        "the sparse network should specialize more than the dense one: "
        "raise epochs or n_train")
for e, key in enumerate(["sparse", "dense"]):
    glue(f"spec_{key}", S[e].mean().item(), display=False)
    glue(f"spec_control_{key}", S_control[e].mean().item(), display=False)

# %% [markdown]
# ```{glue:figure} fig-mask-specialization
# :name: fig-mask-specialization
#
# The specialization of eq. (8) from the weight-mask metric, for each sub-network (blue: 0,
# orange: 1) of each network, with masks trained on the trained networks (left) and on their
# untrained copies (right).
# ```
#
# The sparse network's sub-networks have a mean specialization of {glue:text}`spec_sparse:.2f`, the
# dense network's {glue:text}`spec_dense:.2f` (at the default sizes: specialized, and hardly). The
# untrained copies give {glue:text}`spec_control_sparse:.2f` and {glue:text}`spec_control_dense:.2f`:
# in an untrained network a digit is still only seen by its own sub-network, so a mask leans
# towards it a little, but training is what makes the difference between sparse and dense.
#
# ## Comparison with the paper
#
# The paper (fig. 2, middle row) finds the weight-mask specialization rising from the densest
# networks on, slowly until $Q \approx 0.4$ ($p \approx 0.1$), and steeply after. At the default
# parameters our two ends agree: high at one connection per direction, near zero at all-to-all. The
# paper chose $q$ as large as possible while still giving $M(n, n) = 1$ at the sparsest $p$; here
# the sparse network's $M(n, n)$ is {glue:text}`own_sparse:.2f` on average, below 1 at the
# defaults: a mask for digit $k$ also keeps some parameters of the other sub-network, part of its
# readout included ({numref}`fig-mask-kept`).
# Our networks and masks trained on {glue:text}`n_train_used:,` pairs, the paper's on about
# 48,000, and the mask training has free choices the paper does not state (the score
# initialization and weight decay here follow edge-popup and the authors' code). Exercise 2 shows
# $M(n, n)$ closer to 1 with a smaller $q$.
# The paper also reports that its masks "were substantially better when applied to already
# trained networks", which the control above reproduces.
#
# ## Exercises
#
# **Exercise 1.** Recompute $M(0, k)$ of {ref}`(6) <eq-mask-metric>` for the sparse network from the masks
# themselves (`mask.masks`, shape `(E, 2, R, D)`) and the sub-network of each parameter (`owner`).

# %% [markdown] tags=["solution"]
# :::{admonition} Solution to exercise 1
# :class: dropdown
# Count the kept parameters that belong to sub-network 0 and divide by the number kept. With one
# repeat ($R = 1$) this is exactly `mask.share[0, 0]`. The code is below.
# :::

# %% tags=["solution", "hide-cell"]
in_sub0 = (mask.masks[0, :, 0] & (owner == 0)).sum(-1)  # (2,) one count per digit k
by_hand = in_sub0 / mask.masks[0, :, 0].sum(-1)
assert torch.allclose(by_hand.double(), mask.share[0, 0]), (
    "the share by hand differs from mask.share")
print("M(0, k) for k = 0, 1:", by_hand.numpy().round(3))

# %% [markdown]
# **Exercise 2.** The paper picked $q$ as large as possible while the sparsest network still gives
# $M(n, n) = 1$. Train masks with $q = 0.01$ on the same networks: how do $M(n, n)$ and the masked
# accuracy change?

# %% [markdown] tags=["solution"]
# :::{admonition} Solution to exercise 2
# :class: dropdown
# A 1% mask (about 220 parameters) is smaller than one readout, so it has little room for anything
# else: in the sparse network most of it lies in the digit's own sub-network, and $M(n, n)$ comes
# closer to 1, at some cost in accuracy. The code is below.
# :::

# %% tags=["solution", "hide-cell"]
cfg_small = metrics.MetricsConfig(q=0.01, mask_epochs=mask_epochs, seed=seed)
small = metrics.weight_mask_metric(nets, train_data, test_data, cfg_small)
own_small = small.share.diagonal(dim1=1, dim2=2)  # (E, 2): M(n, n)
print("M(n, n), q = 0.01:", own_small.numpy().round(3).tolist())
print("accuracy, q = 0.01:", small.accuracy.numpy().round(3).tolist())

# %% [markdown]
# **Exercise 3.** Write the top-$q$ step of {ref}`(5.1) <eq-mask>` yourself: a function that takes a score
# vector and $q$ and returns the 0/1 mask, and check it against `metrics.TopQ` on random scores.

# %% [markdown] tags=["solution"]
# :::{admonition} Solution to exercise 3
# :class: dropdown
# Sort the scores, keep the `metrics.n_kept(D, q)` largest. Ties have probability zero with random
# real scores. The code is below; its backward pass would be the identity, eq.
# {ref}`(5.2) <eq-straight-through>`.
# :::

# %% tags=["solution", "hide-cell"]
def top_q(scores, q):
    """0/1 mask of the round(q D) largest of the scores (D,)."""
    keep = metrics.n_kept(len(scores), q)
    mask = torch.zeros_like(scores)
    mask[scores.argsort(descending=True)[:keep]] = 1.0
    return mask



# %% tags=["check", "remove-cell"]
# Check exercise 3: define top_q(scores, q) above, then run this cell.
scores = torch.randn(1, 1000, generator=torch.Generator().manual_seed(seed))  # (J, D)
reference = metrics.TopQ.apply(scores, metrics.n_kept(1000, q))  # (J, D)
assert torch.equal(top_q(scores[0], q), reference[0]), (
    "exercise 3: top_q keeps other entries than metrics.TopQ; "
    "keep the metrics.n_kept(D, q) largest scores")
print("exercise 3: correct")

# %% [markdown]
# ## Summary
#
# - Edge-popup masks {ref}`(5.1) <eq-mask>` keep the top $q$ of the frozen parameters, trained through a straight-through gradient {ref}`(5.2) <eq-straight-through>`.
# - The metric {ref}`(6) <eq-mask-metric>` is the share of a digit's mask in each sub-network; masks on trained networks beat masks on untrained copies.
# - With one connection per direction, each digit's mask lives mostly in its own sub-network; with all-to-all connections, it does not.
