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
# # One chunk of the sweep
#
# *You will see* the unit of work of the sweep (the results chapter reads what it produces): a chunk of
# networks, each one experiment of the configuration tree, trained together as one batched computation
# in both architectures, measured with every metric of section 3, and stored as one piece of the
# sweep's result store.
# *Time:* about a minute on a 2-core laptop CPU at the default parameters (two tiny networks).
#
# :::{admonition} Objectives and prerequisites
# :class: tip
# - **After this chapter you can** run one chunk of a sweep by hand, read its rows, and trace a stored result to its settings and code.
# - **You need** chapter 7 and the page on running sweeps.
# :::
#
# `python -m modlib sweep` runs this notebook with papermill once per chunk, injecting the
# parameters below (the experiments as plain dicts, one per network), and keeps each executed copy
# as the record of its run.

# %% tags=["parameters"]
# Each experiment is a dict of modlib.experiment.Experiment; missing settings take their
# defaults (the paper's). The sweep passes full dicts; by hand, two tiny networks.
# Data sizes (paper: all pairs, about 48k / 8k):
tiny = {"data": {"n_train": 1500, "n_test": 500, "val_fraction": 0.0},
        "train": {"epochs": 1, "bottleneck_epochs": 1},  # (paper: 5 and 7)
        # (paper: 5, all, 5)
        "metrics": {"bottleneck_epochs": 1, "n_pairs": 500, "cka_repeats": 1}}
# (paper: 10 p x 10 seeds)
experiments = [{**tiny, "p": 1e-4, "seed": 0}, {**tiny, "p": 1.0, "seed": 0}]
piece = ""  # name of the store's piece these networks make, or "" to store nothing
store = ""  # the store's folder (absolute), or ""
keys = []  # each network's key in the store, one per experiment
code = ""  # the code hash the sweep planned with, or "" to skip the check
device = "cpu"  # "cpu" or "cuda"
# fuse the optimizer updates with torch.compile (worth it for many networks)
compile = False
# torch threads in this kernel, or 0 for torch's default (a Dask worker's share of the
# cores)
threads = 0
progress = True  # progress bars

# %%
import torch

from modlib import experiment, sweep
from modlib import metrics as mx
from modlib import store as st

# %% tags=["remove-input"]
if threads:
    torch.set_num_threads(threads)
assert not code or code == st.code_hash(), (
    f"modlib changed since the sweep was planned (code {st.code_hash()}, planned {code}): run the sweep again")
nets = [experiment.Experiment.from_dict(e) for e in experiments]

# %% [markdown]
# ## Train and measure (sections 2.4 and 3)
# `modlib.sweep.measure` trains the chunk's networks twice, in the standard and in the
# bottleneck architecture, each time as one batched computation; every network has its own seed,
# which fixes its initial weights, its connection pattern, the order in which it sees the pairs and
# the draws of its metrics. It then computes every metric of section 3 on the trained networks.

# %%
table = sweep.measure(nets, device=device, compile=compile, progress=progress)
assert table["value"].notna().all(), "a metric value is missing"
metric_names = {"bottleneck", "weight_mask", "correlation", "cka_distance"}
assert set(table["metric"]) >= metric_names, "a metric is missing from the chunk's rows"
columns = ["network", "architecture", "p", "seed", "accuracy", "epochs_trained",
           "rewired"]
table.drop_duplicates(["network", "architecture"])[columns]

# %% [markdown]
# The specialization of eq. (8), per sub-network and metric:

# %%
mx.specialization_table(table, on_zero="nan").pivot_table(
    index=["p", "seed", "subnetwork"], columns="metric", values="specialization")

# %% [markdown]
# ## Rows of the store
# Each row also records its network's key in the store, the experiment's hash, the package
# versions, the git commit and a hash of the `modlib` sources, so that any figure can be traced
# back to the code and the settings that made it.

# %%
if keys:
    table["key"] = [keys[i] for i in table["network"]]
for name, value in st.provenance().items():
    table[name] = value
if piece:
    st.Store(store).write_piece(piece, table, keys, experiments)
print(f"{len(table)} rows" + (f" stored as piece {piece} in {store}" if piece else ""))
