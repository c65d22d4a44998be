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
# # Other cells
#
# *You will see* the sweep of {doc}`07_results` repeated with modules built from three other cells
# (a leaky integrator, a GRU and an LSTM) beside the paper's plain RNN, and whether the three
# measures still agree that modules specialize only at extreme sparsity.
# *Time:* a few seconds with the committed table; without it, about a minute for a small stand-in.
#
# :::{admonition} Objectives and prerequisites
# :class: tip
# - **After this chapter you can** tell whether the paper's finding depends on its choice of cell,
#   read where each measure starts to rise for each cell, and check whether the measures agree.
# - **You need** {doc}`07_results` and the cells of {doc}`../book/families` (their equations).
# :::
#
# The paper notes that its formulation "could be easily adapted for other types of sub-networks like
# LSTMs or leaky RNN cells", and its follow-up reports that specialization holds across architecture
# variants. Each module here is one of the cells of {doc}`../book/families`; the other module's
# signal enters each the same way, through the same Deep-R connections.

# %% tags=["parameters"]
# relative to the repository: the cells sweep's table (four cells, six values of p, three
# seeds)
results_path = "results/cells.csv"
min_accuracy = 0.0  # leave out networks below this main-task accuracy
rise = 0.1  # how far above its lowest value a measure must be to count as "risen"
# Used only when there is no table at results_path: a small stand-in sweep.
fallback_cells = ["rnn", "leaky", "gru", "lstm"]
fallback_p = [1e-4, 1.0]  # (the table: six values from 1e-4 to 1)
fallback_n_train = 2000  # training pairs (the table: about 48k)
fallback_epochs = 2  # both architectures (the table: 5 and 7, the paper's)
# assert the chapter's findings (they need the committed table)
check_findings = True

# %%
import pandas as pd
from myst_nb import glue

from modlib import plots, results, sweep

AXIS = "model.cell"

# %% [markdown]
# ## The table
# `make sweep PROFILE=cells` (`python -m modlib sweep --profile cells`) trains, for each cell, the
# paper's networks at six of its ten values of $p$ with three seeds, in both architectures, and
# measures them as in the paper. Run with `--reuse runs/paper` from the same code as the paper
# sweep, it takes the plain RNN's networks (seeds 0-2) from that store instead of training them.

# %%
if results.resolve(results_path).exists():
    table = results.load(results_path)
    source = f"the sweep's table {results_path}"
else:  # a stand-in, so that the chapter renders without the table
    small = {"data.n_train": fallback_n_train, "data.n_test": 1000,
             "train.epochs": fallback_epochs, "train.bottleneck_epochs": fallback_epochs,
             "metrics.bottleneck_epochs": 2, "metrics.n_pairs": 1000,
             "metrics.cka_repeats": 1}
    base = sweep.PROFILES["cells"].base
    parts = []
    for cell in fallback_cells:  # one cell per batched computation
        exps = sweep.experiments(base, p=fallback_p, **small, **{AXIS: cell})
        part = sweep.measure(exps)
        part["network"] += len(parts) * len(exps)
        parts.append(part.assign(**{AXIS: cell}))
    table = pd.concat(parts, ignore_index=True)
    source = (f"a small stand-in sweep ({len(fallback_cells) * len(fallback_p)} networks, "
              f"{fallback_n_train} pairs), not the committed table")
spec = results.specialization(table, min_accuracy=min_accuracy, by=(AXIS,))
summary = results.summary(spec, by=(AXIS,))
cells = [c for c in ("rnn", "leaky", "gru", "lstm") if c in set(table[AXIS])]
n_networks = table.drop_duplicates(["network", "architecture"]).shape[0]
print(f"read {len(table)} rows from {source}")

# %% tags=["remove-cell"]
glue("cells_source", source, display=False)
glue("cells_networks", int(n_networks), display=False)
glue("cells_n_p", int(table["p"].nunique()), display=False)
glue("cells_n_seeds", int(table.groupby([AXIS, "p"])["seed"].nunique().min()), display=False)
assert spec["specialization"].between(-1, 1).all(), "eq. (8) must lie in [-1, 1]"

# %% [markdown]
# The figures come from {glue:text}`cells_source`: {glue:text}`cells_networks` trained networks
# (both architectures), {glue:text}`cells_n_p` values of $p$ and at least {glue:text}`cells_n_seeds`
# seeds for every cell.
#
# ## Specialization against $p$ for each cell
# {numref}`fig-cells-specialization` is the paper's figure 2 once per cell: one panel per measure,
# one line per cell.

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
# The table below gives, for each cell, the largest $p$ at and below which each measure's
# mean is more than {glue:text}`cells_rise` above its lowest value (as in {doc}`07_results`), the
# mean specialization with one connection and all-to-all, and the rank correlation of the mean
# with $p$ ($-1$: it rises steadily as $p$ falls).

# %%
found = results.findings_by(summary, AXIS, rise=rise)
rows = []
for cell in cells:
    for metric in results.METRICS:
        if metric in found[cell]:
            f = found[cell][metric]
            rows.append({"cell": cell, "measure": results.LABELS[metric], "onset p": f["onset_p"],
                         "one connection": round(f["sparsest"], 2), "all-to-all": round(f["densest"], 2),
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
fig_acc = plots.accuracy_by(acc[acc["architecture"] == "standard"], AXIS, name="cell")

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
# ## What this says
# PLACEHOLDER

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
# Compare the rows of `acc` (standard architecture) at the smallest $p$ with the specialization of
# the same cell in `summary`; the code is below.
# :::

# %% tags=["solution", "hide-cell"]
std_acc = acc[(acc["architecture"] == "standard") & (acc["p"] == acc["p"].min())].set_index(AXIS)["mean"]
spec_one = at_one.groupby(AXIS)["mean"].mean()
print(pd.DataFrame({"accuracy at one connection": std_acc, "mean specialization": spec_one}).round(3))
