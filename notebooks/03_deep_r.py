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
# # Deep Rewiring
#
# *You will see* how Deep-R {cite}`bellec2018deep` trains the connections between the modules
# (section 2.4 of {cite:t}`bena2021extreme`): a very sparse network and a denser one (at the
# defaults, one connection per direction and a hundred), their fixed connection counts, and which
# connections survive training, minibatch by minibatch. *Time:* about 30 s on a 2-core CPU at the default parameters.
#
# :::{admonition} Objectives and prerequisites
# :class: tip
# - **After this chapter you can** explain how Deep-R keeps a fixed number of trainable connections while it rewires them, and measure how often a network rewires and which connections survive.
# - **You need** chapter 1; gradient descent with Adam; what a learning-rate schedule is.
# :::

# %% tags=["parameters"]
p = 1e-4  # connection fraction per direction, 1 connection (paper: 1e-4..1)
p_compare = 0.01  # a denser network, for contrast (paper: 1e-4..1)
n_train = 20_000  # training pairs (paper: all 47,993)
n_test = 2_000  # test pairs (paper: all 7,998)
epochs = 5  # training epochs (paper: 5)
log_every = 5  # minibatches between two snapshots of the active connections
seed = 0  # seed of the pairing, the networks and their training
n_threads = 1  # torch CPU threads; 1 is fastest on a small, busy CPU
# assert the chapter's findings (they need the default sizes or larger)
check_findings = True

# %%
import dataclasses

import numpy as np
import torch
from myst_nb import glue

from modlib import config, data, deepr, model, plots, structure, train

torch.set_num_threads(n_threads)

# %% [markdown]
# ## The algorithm
#
# Between the modules, which connections exist is learned along with their weights. Every one of
# the $N^2$ possible connections of a direction has a sign $s_{ij} \in \{-1, +1\}$, drawn once and
# never changed, and a parameter $\theta_{ij}$. The connection is **active** when $\theta_{ij} > 0$
# and **dormant** otherwise:
#
# (eq-deepr-weight)=
# \begin{equation*}
# w_{ij} = \begin{cases} s_{ij}\, \theta_{ij} & \text{if } \theta_{ij} > 0, \\
#                        0 & \text{otherwise.} \end{cases}
# \tag{3.1}
# \end{equation*}
#
# At the start exactly $\operatorname{round}(pN^2)$ connections per direction are active, chosen at
# random, with $\theta_{ij} = |\xi_{ij}| / \sqrt{N}$, $\xi_{ij} \sim \mathcal{N}(0, 1)$. Then, for
# every minibatch, after the modules' own weights take their Adadelta step {cite}`zeiler2012adadelta`:
#
# 1. the active $\theta$ take an Adam step {cite}`kingma2015adam` on the loss, with a learning rate
#    geometric in the number of connections, from $\eta_1 = 0.1$ for one connection to
#    $\eta_{N^2} = 0.01$ for all $N^2$ (`lr_sparsest` and `lr_dense`; the results chapter shows
#    what a smaller $\eta_{N^2}$ changes),
#
#    (eq-deepr-lr)=
#    $$
#    \eta(p) = \eta_1 \left(\eta_{N^2} / \eta_1\right)^{\log_{10}(p N^2) / \log_{10}(N^2)},
#    \tag{3.2}
#    $$
#
#    decaying by a factor $0.95$ per epoch;
# 2. the active $\theta$ shrink and take a random-walk step,
#
#    (eq-deepr-walk)=
#    $$
#    \theta_{ij} \leftarrow \theta_{ij} - \eta\, \lambda_1 + \eta\, \sigma (1 - p)\, \nu_{ij},
#    \qquad \nu_{ij} \sim \mathcal{N}(0, 1),
#    \tag{3.3}
#    $$
#
#    with $\lambda_1$ = {glue:text}`l1:g` and $\sigma$ = {glue:text}`sigma:g`; the factor $1 - p$
#    anneals the exploration away as the network becomes dense;
# 3. every connection whose $\theta$ fell to $0$ or below becomes dormant, and as many dormant
#    connections of the same direction, drawn uniformly at random, become active with a tiny
#    $\theta$ = {glue:text}`rewire_theta:g`.
#
# Dormant connections get no gradient. So the number of active connections of each direction is
# the same after every step, and with it the network's structure in the sense of chapter 2: its
# $Q$, {ref}`(5) <eq-q-closed-form>`, never moves, while *which* units are connected keeps changing. Table 1
# of the paper gives "Betas 0.9/0.95" for the two optimizers; like the authors' public code, we
# read them as the per-epoch learning-rate decays of Adadelta and of Adam.

# %%
nets = model.ModularRNN([p, p_compare], seeds=seed)  # E = 2 networks
labels = [f"p = {value:g}" for value in (p, p_compare)]
cfg = config.TrainConfig(epochs=epochs)
N = nets.cfg.n_hidden
lr = deepr.deepr_lr(nets.n_conn, N, cfg.deepr)  # (E,), eq-deepr-lr
sign_before = nets.sign.clone()  # (E, 2, N, N)
theta_before = nets.theta.detach()[0][nets.active()[0]]  # sparse network's theta
counts = nets.active().sum((-1, -2))  # (E, 2) active connections

# %% tags=["remove-cell"]
assert (counts == nets.n_conn[:, None]).all(), (
    "each direction must hold exactly n_conn connections")
assert ((cfg.deepr.lr_dense <= lr) & (lr <= cfg.deepr.lr_sparsest)).all(), (
    "the Deep-R rate must lie between lr_dense and lr_sparsest")
glue("l1", cfg.deepr.l1, display=False)
glue("sigma", cfg.deepr.noise, display=False)
glue("rewire_theta", cfg.deepr.rewire_theta, display=False)
glue("log_every", log_every, display=False)
glue("p_sparse", float(p), display=False)
glue("p_compare_used", float(p_compare), display=False)
p_values_used = (p, p_compare)
for e, key in enumerate(["sparse", "compare"]):
    glue(f"n_conn_{key}", int(nets.n_conn[e]), display=False)
    glue(f"conn_text_{key}", model.connections_text(p_values_used[e], N), display=False)
    glue(f"lr_{key}", lr[e].item(), display=False)

# %% [markdown]
# The sparse network has {glue:text}`conn_text_sparse` per direction and learning rate
# $\eta$ = {glue:text}`lr_sparse:.3g`; the other has {glue:text}`conn_text_compare` and
# $\eta$ = {glue:text}`lr_compare:.3g`.
#
# ## Training
#
# Both networks train together, in one call of `train.train`. It reports the test accuracy after
# each epoch and the rewirings of each epoch; to watch the connections themselves we hand it a
# `deepr.ConnectionLog` as `on_step`, which it calls after every minibatch. The log keeps the
# initial connections and a snapshot every {glue:text}`log_every` minibatches:
# {glue:text}`n_snapshots` snapshots, {glue:text}`log_mib:.1f` MiB of booleans.
# {numref}`fig-deepr-training` shows the test accuracy of both networks.

# %%
train_data = data.paired_mnist("train", n=n_train, seed=seed)
test_data = data.paired_mnist("test", n=n_test, seed=seed)
log = deepr.ConnectionLog(nets, every=log_every)  # called after every minibatch
result = train.train(nets, train_data, test_data, cfg, progress=False, on_step=log)
# (S, E, 2, N, N) bool, (S,) minibatch of each snapshot
active, times = log.active, log.times
rewired = torch.tensor(result.rewired_per_epoch).T  # (epochs, E)
fig_training = plots.training_curves(result.history, labels)

# %% tags=["remove-cell"]
glue("fig-deepr-training", fig_training, display=False)
glue("n_snapshots", len(times), display=False)
glue("log_mib", active.nbytes / 2**20, display=False)
for e, key in enumerate(["sparse", "compare"]):
    glue(f"acc_{key}", result.accuracy[e], display=False)
assert all(len(h) == epochs and 0 <= h[-1] <= 1 for h in result.history), (
    "want one test accuracy in [0, 1] per epoch and network")
if check_findings:  # chance is 0.1
    assert min(result.accuracy) > 0.2, "a network is near chance: raise epochs or n_train"
    assert result.accuracy[1] > result.accuracy[0], (
        "the denser network should be ahead of the sparse one: raise epochs or n_train")

# %% [markdown]
# ```{glue:figure} fig-deepr-training
# :name: fig-deepr-training
#
# Test accuracy on the main task after each epoch, for the sparse network ($p$ =
# {glue:text}`p_sparse:g`) and the denser one ($p$ = {glue:text}`p_compare_used:g`); the dotted
# line is chance (0.1).
# ```
#
# The sparse network reaches {glue:text}`acc_sparse:.1%` and the denser one
# {glue:text}`acc_compare:.1%`; at the default sizes both are well above chance, the denser one
# ahead.
#
# ## A constant number of connections
#
# Whatever the rewiring does, every snapshot must hold exactly $\operatorname{round}(pN^2)$ active
# connections per direction, the signs must not have changed, and $Q$ must still be
# {ref}`(5) <eq-q-closed-form>`. A connection active at a snapshot but not at the one before was switched
# on by a rewiring in between, so the snapshots see at most as many new connections as there
# were rewirings. {numref}`fig-deepr-connections` follows the connections of both networks.

# %%
counts = active.sum((-1, -2))  # (S, E, 2)
q_after = structure.q_modularity(nets.adjacency(), nets.groups())  # (E,)
q_formula = structure.q_closed_form(nets.p)  # (E,), eq-q-closed-form
steps = epochs * -(-len(train_data) // cfg.batch_size)  # minibatches in all
total = torch.tensor(result.rewired)  # (E,) rewirings in the whole run
# (E,) new connections at a snapshot
seen = (active[1:] & ~active[:-1]).sum((0, -1, -2, -3))
n_initial = active[0].sum((-1, -2, -3))  # (E,)
kept = (active[-1] & active[0]).sum((-1, -2, -3)) / n_initial  # (E,)
first_share = rewired[0] / total.clamp(min=1)  # (E,) share in epoch 1
lifetime = steps * n_initial / total.clamp(min=1)  # (E,) minibatches
fig_connections = plots.active_connections(active, rewired, labels, times=times)

# %% tags=["remove-cell"]
glue("fig-deepr-connections", fig_connections, display=False)
# at every snapshot
assert (counts == nets.n_conn[None, :, None]).all(), (
    "Deep-R must keep the connection count at every snapshot")
assert torch.equal(nets.sign, sign_before), (
    "Deep-R must never change a connection's sign")
assert torch.allclose(q_after, q_formula, rtol=0, atol=1e-12), (
    "Q after training must still equal eq. (5)")
assert len(times) == 1 + steps // log_every, (
    "unexpected snapshot times")
assert times[-1] == steps - steps % log_every, (
    "unexpected snapshot times")
assert torch.equal(rewired.sum(0), total), (
    "rewirings per epoch must add up to the total")
assert (seen <= total).all(), "more new connections seen than rewirings made"
for e, key in enumerate(["sparse", "compare"]):
    glue(f"rewired_{key}", int(total[e]), display=False)
    glue(f"seen_{key}", int(seen[e]), display=False)
    glue(f"kept_{key}", kept[e].item(), display=False)
    glue(f"first_share_{key}", first_share[e].item(), display=False)
    glue(f"lifetime_{key}", lifetime[e].item(), display=False)
glue("steps", steps, display=False)

# %% [markdown]
# ```{glue:figure} fig-deepr-connections
# :name: fig-deepr-connections
#
# Left: the active connections of each direction (solid 0→1, dashed 1→0) at every snapshot, log
# axis. Middle: the rewirings of each epoch, both directions together, log axis. Right: the share
# of the initial connections still active at each snapshot. One colour per network.
# ```
#
# The active count of each direction stays fixed at every snapshot (flat lines). At the default
# sizes most rewirings come early, and the share of the initial connections still active falls
# fastest in the first epoch.
#
# Over {glue:text}`steps:,` minibatches the sparse network rewired {glue:text}`rewired_sparse`
# times and the other {glue:text}`rewired_compare:,` times, on average one rewiring per connection
# every {glue:text}`lifetime_sparse:,.0f` and {glue:text}`lifetime_compare:,.0f` minibatches. The
# first epoch holds {glue:text}`first_share_sparse:.0%` and {glue:text}`first_share_compare:.0%` of
# them. A new connection starts with a tiny $\theta$, and Adam's first step moves it by about
# $\eta$, down when the gradient says so, whatever the gradient's size: a new connection the loss
# does not want dies at the next minibatch, long before the $\lambda_1$ shrinkage and the random
# walk {ref}`(3.3) <eq-deepr-walk>` matter, while a connection the loss needs soon has a $\theta$ far from
# zero. Many connections therefore live and die between two snapshots: the snapshots saw
# {glue:text}`seen_compare:,` of the denser network's {glue:text}`rewired_compare:,` new
# connections. At the end, {glue:text}`kept_compare:.0%` of its initial connections are still
# active.
#
# ## Which connections survive
#
# {numref}`fig-deepr-timeline` shows the sparse network's connections, one row for each connection
# seen active at a snapshot.

# %%
theta_after = [t[a] for t, a in zip(nets.theta.detach(), nets.active())]
changed = (active[1:] != active[:-1]).flatten(2).any(-1)  # (S - 1, E) pattern changed
# sparse network's last change
settled = torch.cat([times[:1], times[1:][changed[:, 0]]]).max()
theta_final = nets.theta[0].detach()  # (2, N, N) sparse network
fig_timeline = plots.connection_timeline(active[:, 0], theta_final, times=times)

# %% tags=["remove-cell"]
glue("fig-deepr-timeline", fig_timeline, display=False)
glue("settled_sparse", int(settled), display=False)
glue("theta_before_sparse", theta_before.max().item(), display=False)
glue("theta_after_sparse", theta_after[0].min().item(), display=False)
glue("theta_median_compare", theta_after[1].median().item(), display=False)

# %% [markdown]
# ```{glue:figure} fig-deepr-timeline
# :name: fig-deepr-timeline
#
# The connections between the modules of the sparse network ($p$ = {glue:text}`p_sparse:g`), one
# row per connection seen active at a snapshot (blue: direction 0→1, orange: 1→0), against the
# minibatch; a bar spans the snapshots where the connection was active, and the connections still
# active at the end are labelled with their final $\theta$.
# ```
#
# The sparse network tries a few partners early on and holds the connections it keeps from minibatch {glue:text}`settled_sparse` at the
# latest. A connection that lived and died between two snapshots does not appear; the rewiring
# counts above include it. The sparse network's initial $\theta$ were at most
# {glue:text}`theta_before_sparse:.2f`; its connections at the end have $\theta \ge$
# {glue:text}`theta_after_sparse:.2f`, against a median of
# {glue:text}`theta_median_compare:.2f` in the denser network, whose
# {glue:text}`conn_text_compare` per direction share the work.
#
# ## Exercises
#
# **Exercise 1.** Compute the Deep-R learning rate {ref}`(3.2) <eq-deepr-lr>` for the ten values of $p$ of
# the paper's sweep (`numpy.geomspace(1e-4, 1, 10)`, with $N = 100$) using `deepr.deepr_lr`, and
# check its two ends.

# %% [markdown] tags=["solution"]
# :::{admonition} Solution to exercise 1
# :class: dropdown
# `deepr_lr` takes the connection counts, so convert each $p$ with `model.n_connections`. The rate
# falls by the same factor, $(\eta_1 / \eta_{N^2})^{1/9} = 10^{1/9} \approx 1.29$, from one value of $p$ to the next, from
# $0.1$ to $0.01$. The code is below.
# :::

# %% tags=["solution", "hide-cell"]
p_sweep = np.geomspace(1e-4, 1, 10)
counts_sweep = torch.tensor([model.n_connections(v, 100) for v in p_sweep])
lr_sweep = deepr.deepr_lr(counts_sweep, 100, config.DeepRConfig())
assert abs(lr_sweep[0] - 0.1) < 1e-12 and abs(lr_sweep[-1] - 0.01) < 1e-12, (
    "the rate must run from 0.1 to 0.01")
ratios = lr_sweep[1:] / lr_sweep[:-1]
assert np.allclose(ratios, ratios[0], rtol=0.05), (
    "the rate must fall by one factor per step of the sweep")
print(dict(zip(counts_sweep.tolist(), lr_sweep.numpy().round(4))))

# %% [markdown]
# **Exercise 2.** Switch off the exploration, $\lambda_1 = \sigma = 0$
# (`config.DeepRConfig(l1=0, noise=0)`), and train a fresh sparse network for the same number of
# epochs. How often does it rewire now, and how accurate is it?

# %% [markdown] tags=["solution"]
# :::{admonition} Solution to exercise 2
# :class: dropdown
# Without the shrinkage and the random walk, a connection dies only when the gradient steps
# themselves drive its $\theta$ below zero. That is what ended most connections anyway (see the
# explanation above and exercise 3), so the number of rewirings changes little. The code is below;
# compare with the runs above.
# :::

# %% tags=["solution", "hide-cell"]
quiet = config.DeepRConfig(l1=0, noise=0)
no_walk = config.TrainConfig(epochs=epochs, deepr=quiet)
net_quiet = model.ModularRNN(p, seeds=seed, deepr=quiet)
res = train.train(net_quiet, train_data, test_data, no_walk, progress=False)
print(f"rewired {res.rewired[0]} times, accuracy {res.accuracy[0]:.3f}")

# %% [markdown]
# **Exercise 3.** What sets the rate of rewiring: the Deep-R learning rate {ref}`(3.2) <eq-deepr-lr>` or the
# shrinkage $\lambda_1$ of {ref}`(3.3) <eq-deepr-walk>`? Train fresh copies of both networks for one epoch,
# first with both ends of the learning rate (`lr_sparsest` and `lr_dense`) multiplied by 0.1, 0.3,
# 1 and 3, then with $\lambda_1$ multiplied by 0, 1, 10 and 100 (`dataclasses.replace` on
# `config.DeepRConfig()`), and compare their rewirings with those of the first epoch above.

# %% [markdown] tags=["solution"]
# :::{admonition} Solution to exercise 3
# :class: dropdown
# The learning rate. Adam's step on $\theta$ is of order $\eta$ whatever the gradient's size, so
# $\eta$ says how far a connection moves per minibatch: with a larger $\eta$, connections of
# moderate $\theta$ cross zero more often, and the rewirings grow with it. The shrinkage
# $\eta\lambda_1$ is a fraction $\lambda_1$ = {glue:text}`l1:g` of a step at the paper's value;
# even a hundred times larger it changes the count far less than the learning rate does. With
# both factors at 1 the run is exactly the first epoch of the run above. The code is below.
# :::

# %% tags=["solution", "hide-cell"]
def rewirings(deepr_cfg):
    """Rewirings of fresh copies of both networks after one epoch."""
    fresh = model.ModularRNN([p, p_compare], seeds=seed, deepr=deepr_cfg)
    one_epoch = config.TrainConfig(epochs=1, deepr=deepr_cfg)
    return train.train(fresh, train_data, test_data, one_epoch, progress=False).rewired


paper = config.DeepRConfig()
by_lr = {f: rewirings(dataclasses.replace(paper, lr_sparsest=f * paper.lr_sparsest,
                                          lr_dense=f * paper.lr_dense))
         for f in (0.1, 0.3, 1, 3)}
by_l1 = {f: rewirings(dataclasses.replace(paper, l1=f * paper.l1))
         for f in (0, 1, 10, 100)}
# the first epoch of the run above
assert by_lr[1] == by_l1[1] == rewired[0].tolist(), (
    "the unchanged settings must rewire as in the first epoch above")
print("rewirings in one epoch,", " and ".join(labels))
for f, r in by_lr.items():
    print(f"  learning rate x {f:<4g}", r)
for f, r in by_l1.items():
    print(f"  l1            x {f:<4g}", r)

# %% [markdown]
# ## Summary
#
# - Deep-R keeps exactly $\operatorname{round}(pN^2)$ connections per direction {ref}`(3.1) <eq-deepr-weight>`, so $Q$ is fixed.
# - Adam's steps of order $\eta$ {ref}`(3.2) <eq-deepr-lr>`, more than the shrinkage and the random walk {ref}`(3.3) <eq-deepr-walk>`, decide which connections live; dead ones are replaced at random.
# - With one connection per direction, learning *which* link to keep is what lets the modules share the parity bit.
