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
# # Specialization over time
#
# *You will see* the correlation metric and the bottleneck probe measured on the modules' states
# at every one of the five steps, for sparse and dense networks and for tasks that need 0 to 3
# bits from the other module: when, during its five steps, does a module become specialized?
# *Time:* a few seconds with the committed table; without it, about a minute for a small
# stand-in computed here.
#
# :::{admonition} Objectives and prerequisites
# :class: tip
# - **After this chapter you can** read specialization as a function of the step $t$, tell how
#   its course differs between a sparse and a dense network and between bandwidths, and set this
#   beside the follow-up's reading of the dynamics.
# - **You need** {doc}`04_bottleneck_metric` and {doc}`06_correlation_metric` (the two measures
#   taken per step here), {doc}`09_bandwidth` (the task at $b$ bits) and the section
#   "Specialization over time" of {doc}`../book/families`.
# :::
#
# The paper measures specialization on the last state $h_T$ only. Its follow-up reports that
# "functional specialization varies dynamically across time, and these dynamics depend on both the
# timing and bandwidth of information flow in the network". A module's state at step $t$ has heard
# from the other module through $t - 1$ passes of the connections between them, so the steps show
# how what each module holds changes as the exchange goes on.

# %% tags=["parameters"]
# relative to the repository: the over_time sweep's table (b = 0..3, one connection and
# all-to-all, three seeds, measures at every step)
results_path = "results/over_time.csv"
min_accuracy = 0.0  # leave out networks below this main-task accuracy
# Used only when there is no table at results_path: a small stand-in sweep.
fallback_bits = [0, 1, 2, 3]
fallback_p = [1e-4, 1.0]  # (the table: the same)
fallback_n_train = 2000  # training pairs (the table: about 48k)
fallback_epochs = 2  # both architectures (the table: 5 and 7, the paper's)
# assert the chapter's findings (they need the committed table)
check_findings = True

# %%
import numpy as np
import pandas as pd
from myst_nb import glue

from modlib import plots, results, sweep

AXIS = "task.bits"

# %% [markdown]
# ## The table
# `make sweep PROFILE=over_time` (`python -m modlib sweep --profile over_time`) trains the
# paper's networks with one connection per direction and all-to-all, for $b = 0, 1, 2, 3$ and
# three seeds, with `metrics.time_resolved` on: the correlation metric and the bottleneck probe
# are taken on the states of every step $t = 1, \dots, 5$ (the weight-mask metric and CKA, on the
# last step only, as in the paper).

# %%
if results.resolve(results_path).exists():
    table = results.load(results_path)
    source = f"the sweep's table {results_path}"
else:  # a stand-in, so that the chapter renders without the table
    spec_small = sweep.Sweep(sweep.PROFILES["over_time"].base,
                             axes=((AXIS, tuple(fallback_bits)), ("p", tuple(fallback_p))),
                             seeds=1)
    table = sweep.compute(spec_small, fallback_n_train, fallback_epochs)
    source = (f"a small stand-in sweep ({len(fallback_bits) * len(fallback_p)} networks, "
              f"{fallback_n_train} pairs), not the committed table")
spec = results.specialization(table, min_accuracy=min_accuracy, over_time=True, by=(AXIS,))
spec = spec[spec["metric"].isin(["correlation", "bottleneck"])]
timed = results.over_time(spec, by=(AXIS,))
bits_values = sorted(int(b) for b in table[AXIS].unique())
steps = sorted(int(t) for t in timed["step"].unique())
print(f"read {len(table)} rows from {source}")

# %% tags=["remove-cell"]
glue("time_source", source, display=False)
glue("time_networks", int(table.drop_duplicates(["network", "architecture"]).shape[0]),
     display=False)
glue("time_n_steps", len(steps), display=False)
assert spec["specialization"].between(-1, 1).all(), "eq. (8) must lie in [-1, 1]"
assert steps == list(range(1, max(steps) + 1)), "a step is missing"

# %% [markdown]
# The figures come from {glue:text}`time_source` ({glue:text}`time_networks` trained networks,
# both architectures, measured at {glue:text}`time_n_steps` steps).
#
# ## Specialization step by step
# {numref}`fig-time-specialization` draws each measure against the step, one colour per
# bandwidth $b$, solid for one connection and dashed for all-to-all.

# %%
fig_time = plots.specialization_over_time(timed, AXIS, labels=results.LABELS)

# %% tags=["remove-cell"]
glue("fig-time-specialization", fig_time, display=False)

# %% [markdown]
# ```{glue:figure} fig-time-specialization
# :name: fig-time-specialization
#
# Specialization (mean over seeds ± one standard deviation) of the correlation metric and the
# bottleneck probe on the states of each step $t$, one colour per bandwidth $b$; solid: one
# connection per direction, dashed: all-to-all.
# ```
#
# The table gives, for each measure, bandwidth and $p$, the mean specialization at the first and
# the last step, the step where it is largest, and the change from first to last.

# %%
course = results.rise_over_time(timed, by=(AXIS,))
course_table = course.rename(columns={AXIS: "b"}).set_index(["metric", "b", "p"]).round(3)
course_table

# %% [markdown]
# ## Our reading beside the follow-up's

# %% tags=["remove-cell"]
PLACEHOLDER_GLUE = None

# %% [markdown]
# PLACEHOLDER-POINTS

# %% [markdown]
# ## Exercises
#
# **Exercise 1.** At step $t = 1$ a module has not yet heard from the other one: its state
# depends on its own image only ($h_0 = 0$). What must the correlation measure be at $t = 1$ for a
# network with no connection at all, and why can the table's first-step values still differ
# between one connection and all-to-all?

# %% [markdown] tags=["solution"]
# :::{admonition} Solution to exercise 1
# :class: dropdown
# At $t = 1$, $h_1 = \tanh(W_{ih} x + \beta)$ whatever the connections, so the measure at $t = 1$
# reads how each module's own weights encode its digit. Those weights were trained with the
# connections in place, so a dense network can learn input weights that already prepare what it
# will send; the difference at $t = 1$ is a difference in training, not in the signal. The code
# below prints the first step's values side by side.
# :::

# %% tags=["solution", "hide-cell"]
first = timed[timed["step"] == 1].pivot_table(index=["metric", AXIS], columns="p",
                                              values="mean")
print(first.round(3).to_string())

# %% [markdown]
# **Exercise 2.** Which bandwidth's dense networks change most from the first to the last step
# on the correlation measure? Use `course`.

# %% [markdown] tags=["solution"]
# :::{admonition} Solution to exercise 2
# :class: dropdown
# Take the rows of `course` for the correlation metric at the largest $p$ and sort by the
# absolute change; the code is below.
# :::

# %% tags=["solution", "hide-cell"]
dense = course[(course["metric"] == "correlation") & (course["p"] == course["p"].max())]
print(dense.assign(size=dense["change"].abs()).sort_values("size", ascending=False)
      .round(3).to_string(index=False))
