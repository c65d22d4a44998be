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
                             axes=((AXIS, tuple(fallback_bits)),
                                   ("p", tuple(fallback_p))),
                             seeds=1)
    table = sweep.compute(spec_small, fallback_n_train, fallback_epochs)
    n_small = len(fallback_bits) * len(fallback_p)
    source = (f"a small stand-in sweep ({n_small} networks, "
              f"{fallback_n_train} pairs), not the committed table")
spec = results.specialization(table, min_accuracy=min_accuracy, over_time=True,
                              by=(AXIS,))
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
course_table = course.rename(columns={AXIS: "b"}).set_index(["metric", "b", "p"])
course_table.round(3)

# %% [markdown]
# ## Our reading beside the follow-up's

# %% tags=["remove-cell"]
means = timed.pivot_table(index=["metric", AXIS, "p"], columns="step", values="mean")
ends = {"one": timed["p"].min(), "all": timed["p"].max()}
for (metric, b, p), row in means.iterrows():
    end = "one" if p == ends["one"] else "all"
    for t, value in row.items():
        glue(f"time_{metric}_{b}_{end}_{t}", float(value), display=False)
# the courses at b = 1, 2, 3: how far apart at any step, against the dense swings
some = means[means.index.get_level_values(AXIS) >= 1]
apart = float(some.groupby(["metric", "p"]).agg(lambda v: v.max() - v.min()).max().max())
glue("time_apart", apart, display=False)
if check_findings:
    for b in bits_values:
        one = {m: means.loc[(m, b, ends["one"])] for m in ("bottleneck", "correlation")}
        all_ = {m: means.loc[(m, b, ends["all"])] for m in ("bottleneck", "correlation")}
        assert one["bottleneck"][1] - one["bottleneck"][5] > 0.15, (
            f"b = {b}: the prose says the sparse bottleneck measure falls over the steps")
        assert one["correlation"][5] - one["correlation"][1] > 0.05, (
            f"b = {b}: the prose says the sparse correlation measure rises over the steps")
        if b >= 1:
            signs = [np.sign(all_[m][t]) for m in all_ for t in steps]
            assert signs == [1, -1, 1, -1, 1] * 2, (
                f"b = {b}: the prose says the dense measures change sign at every step")
    for m in ("bottleneck", "correlation"):
        swing_0 = abs(means.loc[(m, 0, ends["all"])][2])
        swing = min(abs(means.loc[(m, b, ends["all"])][2]) for b in bits_values if b >= 1)
        assert swing_0 < swing - 0.1, f"the prose says b = 0's dense {m} swings less"
    assert apart < 0.2, "the prose says the courses at b = 1, 2, 3 are close"
    assert bits_values == [0, 1, 2, 3] and steps == [1, 2, 3, 4, 5], "the prose names them"

# %% [markdown]
# The follow-up reads its own networks as "functional specialization varies dynamically across
# time, and these dynamics depend on both the timing and bandwidth of information flow in the
# network". Here, point by point:
#
# 1. **Does specialization vary across time?** Yes, and differently in sparse and dense
#    networks. With one connection per direction it changes slowly and steadily: at $b = 1$ the
#    bottleneck measure falls from {glue:text}`time_bottleneck_1_one_1:.2f` at the first step to
#    {glue:text}`time_bottleneck_1_one_5:.2f` at the last, while the correlation measure rises
#    from {glue:text}`time_correlation_1_one_1:.2f` to {glue:text}`time_correlation_1_one_5:.2f`,
#    and so at every $b$. The two measures move apart: a narrow readout finds less of a module's
#    own digit as the steps go on, while its states come to vary with that digit more.
# 2. **Does it depend on the timing of the flow?** Strongly. All-to-all, each step passes what a
#    module holds to the other one, and the measures change sign at every step: at $b = 1$ the
#    bottleneck measure is {glue:text}`time_bottleneck_1_all_1:.2f`,
#    {glue:text}`time_bottleneck_1_all_2:.2f`, {glue:text}`time_bottleneck_1_all_3:.2f`,
#    {glue:text}`time_bottleneck_1_all_4:.2f` and {glue:text}`time_bottleneck_1_all_5:.2f` at
#    steps 1 to 5, the correlation measure {glue:text}`time_correlation_1_all_1:.2f`,
#    {glue:text}`time_correlation_1_all_2:.2f`, {glue:text}`time_correlation_1_all_3:.2f`,
#    {glue:text}`time_correlation_1_all_4:.2f` and {glue:text}`time_correlation_1_all_5:.2f`. At
#    the even steps each module holds the *other* digit better than its own. The swing shrinks as
#    the steps go on, and the paper's reading on the last state, $t = 5$, catches the dense
#    networks in a positive phase: one step earlier they would count as specialized the wrong way
#    round. With one connection the exchange is too narrow to swap what the modules hold, and
#    there is no swing.
# 3. **Does it depend on the bandwidth?** On whether anything must pass, not on how much. At
#    $b = 0$, where module 0 needs nothing from module 1, the dense networks swing much less (at
#    $t = 2$ the bottleneck measure is {glue:text}`time_bottleneck_0_all_2:.2f` and the
#    correlation measure {glue:text}`time_correlation_0_all_2:.2f`); at $b$ = 1, 2 and 3 the
#    courses of every measure lie within {glue:text}`time_apart:.2f` of each other at every step,
#    for sparse and dense networks alike.
#
# What this leaves open: five steps show one and a half periods of the dense swing, and every
# network here is trained on its last state only; networks trained to answer at every step, or
# run for more steps, would show whether the swing is a property of the connections or of the
# training target.

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
