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
# # Other cells, other images
#
# *You will see* the sweep of {doc}`07_results` repeated with modules built from three other cells
# (a leaky integrator, a GRU and an LSTM) beside the paper's plain RNN, and once more on
# Fashion-MNIST instead of MNIST: does the paper's finding depend on its choice of cell or of
# images?
# *Time:* a few seconds with the committed tables; without them, about two minutes for small
# stand-ins computed here.
#
# :::{admonition} Objectives and prerequisites
# :class: tip
# - **After this chapter you can** tell whether the finding that modules specialize only at
#   extreme sparsity survives a change of cell or of dataset, read where each measure starts to
#   rise for each, and check whether the three measures still agree.
# - **You need** {doc}`07_results` (the measures against $p$, onsets) and the cells of
#   {doc}`../book/families` (their equations).
# :::
#
# The paper notes that its formulation "could be easily adapted for other types of sub-networks
# like LSTMs or leaky RNN cells", and its follow-up reports that specialization holds across
# architecture variants. Each module here is one of the cells of {doc}`../book/families`; the
# other module's signal enters each the same way, through the same Deep-R connections. The second
# half repeats the paper's sweep with the plain RNN on Fashion-MNIST: ten classes of clothing
# images, paired and labelled by the same rule as the digits.

# %% tags=["parameters"]
# relative to the repository: the cells sweep's table (four cells, six values of p,
# three seeds), the Fashion-MNIST sweep's (six values of p, three seeds) and the paper's
# (MNIST)
results_path = "results/cells.csv"
fashion_path = "results/fashion.csv"
paper_path = "results/paper.csv"
min_accuracy = 0.0  # leave out networks below this main-task accuracy
rise = 0.1  # how far above its lowest value a measure must be to count as "risen"
# Used only when a table is missing: small stand-in sweeps.
fallback_cells = ["rnn", "leaky", "gru", "lstm"]
fallback_p = [1e-4, 1.0]  # (the tables: six values from 1e-4 to 1)
fallback_n_train = 2000  # training pairs (the tables: about 48k)
fallback_epochs = 2  # both architectures (the tables: 5 and 7, the paper's)
# assert the chapter's findings (they need the committed tables)
check_findings = True

# %%
import numpy as np
import pandas as pd
from myst_nb import glue

from modlib import data, plots, results, sweep

AXIS = "model.cell"
CELLS = ("rnn", "leaky", "gru", "lstm")


def stand_in(profile, axes=()):
    """A small version of a profile's sweep at fallback_p, one seed, computed here."""
    spec = sweep.Sweep(sweep.PROFILES[profile].base,
                       axes=(*axes, ("p", tuple(fallback_p))),
                       seeds=1)
    return sweep.compute(spec, fallback_n_train, fallback_epochs)


# %% [markdown]
# ## The tables
# `make sweep PROFILE=cells` (`python -m modlib sweep --profile cells`) trains, for each cell, the
# paper's networks at six of its ten values of $p$ with three seeds, in both architectures, and
# measures them as in the paper; `make sweep PROFILE=fashion` does the same for the plain RNN on
# Fashion-MNIST. Each is promoted to `results/` by `python -m modlib promote` (the README's
# section on sweeps).

# %%
if results.resolve(results_path).exists():
    table = results.load(results_path)
    source = f"the sweep's table {results_path}"
else:  # a stand-in, so that the chapter renders without the table
    table = stand_in("cells", [(AXIS, tuple(fallback_cells))])
    n_small = len(fallback_cells) * len(fallback_p)
    source = (f"a small stand-in sweep ({n_small} networks, "
              f"{fallback_n_train} pairs), not the committed table")
spec = results.specialization(table, min_accuracy=min_accuracy, by=(AXIS,))
summary = results.summary(spec, by=(AXIS,))
cells = [c for c in CELLS if c in set(table[AXIS])]
n_networks = table.drop_duplicates(["network", "architecture"]).shape[0]
print(f"read {len(table)} rows from {source}")

# %% tags=["remove-cell"]
glue("cells_source", source, display=False)
glue("cells_networks", int(n_networks), display=False)
glue("cells_n_p", int(table["p"].nunique()), display=False)
glue("cells_n_seeds", int(table.groupby([AXIS, "p"])["seed"].nunique().min()), display=False)
assert spec["specialization"].between(-1, 1).all(), "eq. (8) must lie in [-1, 1]"
assert table.groupby("network")[AXIS].nunique().eq(1).all(), "one cell per network"

# %% [markdown]
# The cells' figures come from {glue:text}`cells_source`: {glue:text}`cells_networks` trained
# networks (both architectures), {glue:text}`cells_n_p` values of $p$ and at least
# {glue:text}`cells_n_seeds` seeds for every cell.
#
# ## Specialization against $p$ for each cell
# {numref}`fig-cells-specialization` is the paper's figure 2 once per cell: one panel per
# measure, one line per cell.

# %%
by_cell = {cell: summary[summary[AXIS] == cell] for cell in cells}
fig_spec = plots.specialization_compare(by_cell, labels=results.LABELS)

# %% tags=["remove-cell"]
glue("fig-cells-specialization", fig_spec, display=False)

# %% [markdown]
# ```{glue:figure} fig-cells-specialization
# :name: fig-cells-specialization
#
# Specialization (eq. (8), mean over seeds ± one standard deviation) of each measure against the
# connection fraction $p$, one line per cell of the modules.
# ```
#
# ## Where each measure starts to rise, and whether the measures agree
# The table below gives, for each cell, the largest $p$ at and below which each measure's mean is
# more than {glue:text}`cells_rise` above its lowest value (as in {doc}`07_results`; NaN: not even
# at one connection), the mean specialization with one connection and all-to-all, and the rank
# correlation of the mean with $p$ ($-1$: it rises steadily as $p$ falls).

# %%
found = results.findings_by(summary, AXIS, rise=rise)
rows = []
for cell in cells:
    for metric in results.METRICS:
        if metric in found[cell]:
            f = found[cell][metric]
            rows.append({"cell": cell, "measure": results.LABELS[metric],
                         "onset p": f["onset_p"],
                         "one connection": round(f["sparsest"], 2),
                         "all-to-all": round(f["densest"], 2),
                         "rank corr. with p": round(f["monotone"], 2)})
onsets = pd.DataFrame(rows).set_index(["cell", "measure"])
onsets

# %% tags=["remove-cell"]
glue("cells_rise", float(rise), display=False)

# %% [markdown]
# ## Accuracy
# {numref}`fig-cells-accuracy` shows the standard networks' accuracy for each cell.

# %%
acc = results.accuracy_summary(table, by=(AXIS,))
standard = acc[acc["architecture"] == "standard"]
fig_acc = plots.accuracy_by(standard, AXIS, name="cell")

# %% tags=["remove-cell"]
glue("fig-cells-accuracy", fig_acc, display=False)

# %% [markdown]
# ```{glue:figure} fig-cells-accuracy
# :name: fig-cells-accuracy
#
# Test accuracy of the standard networks on the main task against $p$ (mean ± one standard
# deviation over seeds), one line per cell.
# ```
#
# ## What the cells say

# %% tags=["remove-cell"]
worst_rank = {c: max(f["monotone"] for f in found[c].values()) for c in cells}
gap = {c: min(f["sparsest"] - f["densest"] for m, f in found[c].items() if m != "cka")
       for c in cells}
acc_one = standard[standard["p"] == standard["p"].min()].set_index(AXIS)["mean"]
acc_all = standard[standard["p"] == standard["p"].max()].set_index(AXIS)["mean"]
silent = data.no_communication_accuracy()
glue("cells_silent", float(silent), display=False)
glue("cells_worst_rank", float(max(worst_rank.values())), display=False)
glue("cells_min_gap", float(min(gap.values())), display=False)
for c in cells:
    glue(f"cells_acc_one_{c}", float(acc_one[c]), display=False)
    glue(f"cells_acc_all_{c}", float(acc_all[c]), display=False)
    for metric in results.METRICS:
        glue(f"cells_{metric}_one_{c}", float(found[c][metric]["sparsest"]), display=False)
        glue(f"cells_{metric}_all_{c}", float(found[c][metric]["densest"]), display=False)
        glue(f"cells_{metric}_onset_{c}", float(found[c][metric]["onset_p"]), display=False)
others = [c for c in cells if c != "rnn"]
if check_findings:
    assert all(r < -0.5 for r in worst_rank.values()), "a measure no longer falls with p"
    assert all(g > 0.1 for g in gap.values()), "a cell's measures no longer fall by 0.1"
    assert all(found[c]["bottleneck"]["densest"] < found["rnn"]["bottleneck"]["densest"] - 0.1
               for c in others), "the prose says only the plain RNN stays specialized dense"
    assert found["leaky"]["bottleneck"]["onset_p"] > found["rnn"]["bottleneck"]["onset_p"], (
        "the prose says the leaky cell's bottleneck measure rises at a denser p")
    assert acc_one["leaky"] < silent < min(acc_one["rnn"], acc_one["gru"], acc_one["lstm"]), (
        "the prose says only the leaky cell stays below the silent modules' accuracy")
    assert min(acc_one["gru"], acc_one["lstm"]) > acc_one["rnn"], (
        "the prose says the gated cells make more of one connection")

# %% [markdown]
# 1. **Is the pattern the same?** Yes, for every cell and every measure: specialization is
#    highest with one connection and falls as connections are added
#    ({numref}`fig-cells-specialization`), with a rank correlation with $p$ of at most
#    {glue:text}`cells_worst_rank:.2f`, and each of the three measures falls by at least
#    {glue:text}`cells_min_gap:.2f` from one connection to all-to-all.
# 2. **Do the modules stay specialized when fully connected?** Only the plain RNN's: all-to-all,
#    its bottleneck measure is still {glue:text}`cells_bottleneck_all_rnn:.2f`, against
#    {glue:text}`cells_bottleneck_all_leaky:.2f` (leaky), {glue:text}`cells_bottleneck_all_gru:.2f`
#    (GRU) and {glue:text}`cells_bottleneck_all_lstm:.2f` (LSTM). The other cells' dense modules
#    share their work completely.
# 3. **Where does specialization start?** At different places (the table of onsets): the GRU's
#    and the plain RNN's bottleneck measures have risen only at and below $p$ =
#    {glue:text}`cells_bottleneck_onset_gru:.4f` and {glue:text}`cells_bottleneck_onset_rnn:.4f`,
#    the leaky cell's already at {glue:text}`cells_bottleneck_onset_leaky:.3f`. "Only at extreme
#    sparsity" holds for the plain RNN and the GRU; the leaky cell's modules, whose state moves
#    only part of the way to its new value at each step, start to specialize at a moderate
#    sparsity.
# 4. **Do the measures agree?** On the direction, always; on the place, not closely: within a
#    cell their onsets can lie several steps of the grid apart (the table), as they do for the
#    plain RNN in {doc}`07_results`.
# 5. **What does one connection buy?** With one connection per direction the GRU and LSTM
#    networks reach {glue:text}`cells_acc_one_gru:.3f` and {glue:text}`cells_acc_one_lstm:.3f`,
#    more than the plain RNN's {glue:text}`cells_acc_one_rnn:.3f`; the leaky networks, at
#    {glue:text}`cells_acc_one_leaky:.3f`, stay below the {glue:text}`cells_silent:.3f` that two
#    modules could reach without communicating ({doc}`09_bandwidth`): their link has not learned
#    to carry the bit, so their specialization there is that of two modules that do not talk.
#
# ## Another dataset: Fashion-MNIST
# The same sweep with the plain RNN on Fashion-MNIST, set beside the paper sweep's networks
# (MNIST) at the same six values of $p$.

# %%
if results.resolve(fashion_path).exists():
    fashion = results.load(fashion_path)
    fashion_source = f"the sweep's table {fashion_path}"
else:
    fashion = stand_in("fashion")
    fashion_source = (f"a small stand-in sweep ({len(fallback_p)} networks, "
                      f"{fallback_n_train} pairs), not the committed table")
if results.resolve(paper_path).exists():
    mnist = results.load(paper_path)
    mnist = mnist[mnist["p"].isin(set(fashion["p"]))]
    mnist_source = f"{paper_path} at the same values of p"
else:
    mnist = table[table[AXIS] == "rnn"] if "rnn" in cells else stand_in("paper")
    mnist_source = "the plain RNN networks above"
datasets = {"MNIST": mnist, "Fashion-MNIST": fashion}
ds_summary = {name: results.summary(results.specialization(t,
                                                           min_accuracy=min_accuracy))
              for name, t in datasets.items()}
ds_found = {name: results.findings(s, rise=rise) for name, s in ds_summary.items()}
fig_ds = plots.specialization_compare(ds_summary, labels=results.LABELS)
print(f"Fashion-MNIST: {fashion_source}; MNIST: {mnist_source}")

# %% tags=["remove-cell"]
glue("fig-fashion-specialization", fig_ds, display=False)
glue("fashion_source", fashion_source, display=False)
glue("fashion_networks", int(fashion["network"].nunique()), display=False)
ds_acc = {name: results.accuracy_summary(t) for name, t in datasets.items()}
for name, key in (("MNIST", "mnist"), ("Fashion-MNIST", "fashion")):
    a = ds_acc[name][ds_acc[name]["architecture"] == "standard"].sort_values("p")
    glue(f"{key}_acc_one", float(a["mean"].iloc[0]), display=False)
    glue(f"{key}_acc_all", float(a["mean"].iloc[-1]), display=False)
    for metric in results.METRICS:
        glue(f"{key}_{metric}_one", float(ds_found[name][metric]["sparsest"]), display=False)
        glue(f"{key}_{metric}_all", float(ds_found[name][metric]["densest"]), display=False)
fashion_rank = max(f["monotone"] for f in ds_found["Fashion-MNIST"].values())
glue("fashion_rank", float(fashion_rank), display=False)
grid_p = sorted(fashion["p"].unique())
steps_apart = {m: abs(grid_p.index(ds_found["Fashion-MNIST"][m]["onset_p"])
                      - grid_p.index(ds_found["MNIST"][m]["onset_p"]))
               for m in ("bottleneck", "weight_mask", "correlation")
               if all(np.isfinite(ds_found[d][m]["onset_p"]) for d in ds_found)}
glue("fashion_steps_apart", int(max(steps_apart.values(), default=0)), display=False)
if check_findings:
    assert fashion_rank < -0.5, "a measure no longer falls with p on Fashion-MNIST"
    assert len(steps_apart) == 3 and max(steps_apart.values()) <= 1, (
        "the prose says the three measures rise within one step of MNIST's")

# %% [markdown]
# ```{glue:figure} fig-fashion-specialization
# :name: fig-fashion-specialization
#
# Specialization (mean over seeds ± one standard deviation) of each measure against $p$ for the
# plain RNN on MNIST (the paper sweep's networks) and on Fashion-MNIST.
# ```
#
# The Fashion-MNIST curves come from {glue:text}`fashion_source`
# ({glue:text}`fashion_networks` networks).
#
# The finding does not depend on the digits. On Fashion-MNIST, too, every measure is highest with
# one connection and falls as $p$ grows (rank correlation with $p$ at most
# {glue:text}`fashion_rank:.2f`), and each of the paper's three measures starts to rise within
# {glue:text}`fashion_steps_apart` step of this grid of where it does on MNIST. The values are
# close: with one connection the bottleneck measure is {glue:text}`fashion_bottleneck_one:.2f`
# (MNIST {glue:text}`mnist_bottleneck_one:.2f`) and the correlation measure
# {glue:text}`fashion_correlation_one:.2f` ({glue:text}`mnist_correlation_one:.2f`); all-to-all,
# {glue:text}`fashion_bottleneck_all:.2f` ({glue:text}`mnist_bottleneck_all:.2f`) and
# {glue:text}`fashion_correlation_all:.2f` ({glue:text}`mnist_correlation_all:.2f`). What changes
# is how well the networks do: clothes are harder to tell apart than digits, so the networks reach
# {glue:text}`fashion_acc_all:.3f` all-to-all (MNIST {glue:text}`mnist_acc_all:.3f`) and
# {glue:text}`fashion_acc_one:.3f` with one connection ({glue:text}`mnist_acc_one:.3f`).

# %% [markdown]
# ## Exercises
#
# **Exercise 1.** Which measure agrees least across the four cells? For each measure, compute the
# standard deviation over cells of the mean specialization at one connection (from `summary`).

# %% [markdown] tags=["solution"]
# :::{admonition} Solution to exercise 1
# :class: dropdown
# Take the rows of `summary` at the smallest $p$, and the standard deviation of `mean` over the
# cells for each measure. The code is below.
# :::

# %% tags=["solution", "hide-cell"]
at_one = summary[summary["p"] == summary["p"].min()]
spread = at_one.groupby("metric")["mean"].std().rename(index=results.LABELS)
print(spread.round(3).to_string())

# %% [markdown]
# **Exercise 2.** A GRU or an LSTM module carries its state through gates. Which cell's networks
# reach the highest accuracy with one connection, and does that cell also specialize most there?

# %% [markdown] tags=["solution"]
# :::{admonition} Solution to exercise 2
# :class: dropdown
# Compare the standard networks' accuracy at the smallest $p$ with the same cell's mean
# specialization there (over the four measures); the code is below.
# :::

# %% tags=["solution", "hide-cell"]
spec_one = at_one.groupby(AXIS)["mean"].mean()
print(pd.DataFrame({"accuracy, one connection": acc_one,
                    "mean specialization": spec_one}).round(3))
