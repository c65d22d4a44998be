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
# networks, one per (p, seed), trained together as one batched computation in both architectures,
# measured with every metric of section 3, and written as rows of the results table.
# *Time:* about a minute on a 2-core laptop CPU at the default parameters (two tiny networks).
#
# `python -m modlib sweep` runs this notebook with papermill once per chunk, injecting the
# parameters below, and keeps each executed copy as the record of its run.

# %% tags=["parameters"]
p_values = [1e-4, 1.0]  # one connection fraction per network (paper: 10 values, 1e-4 .. 1)
seeds = [0, 0]  # one seed per network (paper: 10 repeats per p)
network_ids = []  # global number of each network in the sweep, or [] for 0, 1, ...
n_train = 1500  # training pairs, or 0 for all (paper: all, about 48k)
n_test = 500  # test pairs, or 0 for all (paper: all, about 8k)
epochs = 1  # epochs of the standard network (paper: 5)
bottleneck_epochs = 1  # epochs of the bottleneck network (paper: 7)
max_epochs = 0  # optional longer schedule, or 0 for none (the authors' code: up to 15)
coupling = "eq3"  # "eq3" as written in the paper, or "authors" (see the discussion)
metrics = {"bottleneck_epochs": 1, "n_pairs": 500, "cka_repeats": 1}  # MetricsConfig overrides
deepr = {}  # DeepRConfig overrides, e.g. {"lr_dense": 0.003}, or {} for the defaults
device = "cpu"  # "cpu" or "cuda"
compile = False  # fuse the optimizer updates with torch.compile (worth it for many networks)
rows_path = ""  # CSV the rows are written to (atomically), or "" for none
config_hash = ""  # the sweep's configuration fingerprint, stored in every row
progress = True  # progress bars

# %%
from modlib import metrics as mx
from modlib import sweep

# %% [markdown]
# ## Train and measure (sections 2.4 and 3)
# `modlib.sweep.measure` trains the chunk's networks twice, in the standard and in the
# bottleneck architecture, each time as one batched computation; every network has its own seed,
# which fixes its initial weights, its connection pattern and the order in which it sees the pairs.
# It then computes every metric of section 3 on the trained networks.

# %%
table = sweep.measure(p_values, seeds, n_train=n_train, n_test=n_test, epochs=epochs,
                      bottleneck_epochs=bottleneck_epochs, max_epochs=max_epochs, coupling=coupling,
                      metrics=metrics, deepr=deepr, network_ids=network_ids or None, device=device, compile=compile,
                      progress=progress)
assert table["value"].notna().all()
assert set(table["metric"]) >= {"bottleneck", "weight_mask", "correlation", "cka_distance"}
table.drop_duplicates(["network", "architecture"])[["network", "architecture", "p", "seed", "accuracy",
                                                    "epochs_trained", "rewired"]]

# %% [markdown]
# The specialization of eq. (8), per sub-network and metric:

# %%
mx.specialization_table(table, on_zero="nan").pivot_table(index=["p", "seed", "subnetwork"], columns="metric",
                                                         values="specialization")

# %% [markdown]
# ## Rows of the results table
# Each row also records the configuration fingerprint, the package versions and the git commit,
# so that any figure can be traced back to its run.

# %%
table["config_hash"] = config_hash
for key, value in sweep.provenance().items():
    table[key] = value
if rows_path:
    sweep.write_atomic(table, rows_path)
print(f"{len(table)} rows" + (f" written to {rows_path}" if rows_path else ""))
