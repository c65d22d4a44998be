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
device = "cpu"  # "cpu" or "cuda"
compile = False  # fuse the optimizer updates with torch.compile (worth it for many networks)
rows_path = ""  # CSV the rows are written to (atomically), or "" for none
config_hash = ""  # the sweep's configuration fingerprint, stored in every row
progress = True  # progress bars

# %%
import time

import pandas as pd

from modlib import config, data, metrics as mx, model, sweep, train

# %% [markdown]
# ## Data and networks
# The chunk's networks see the same pairs (section 2.1); each network has its own seed, which fixes
# its initial weights, its connection pattern and the order in which it sees the pairs.

# %%
assert len(p_values) == len(seeds) > 0, "p_values and seeds need one entry per network"
train_data = data.paired_mnist("train", n=n_train or None)
test_data = data.paired_mnist("test", n=n_test or None)
models = {
    "standard": model.ModularRNN(p_values, seeds, config.ModelConfig(coupling=coupling)),
    "bottleneck": model.ModularRNN(p_values, seeds, config.ModelConfig(coupling=coupling, bottleneck=5)),
}
schedules = {
    "standard": config.TrainConfig(epochs=epochs, max_epochs=max_epochs and max(max_epochs, epochs)),
    "bottleneck": config.TrainConfig(epochs=bottleneck_epochs,
                                     max_epochs=max_epochs and max(max_epochs, bottleneck_epochs)),
}

# %% [markdown]
# ## Training (section 2.4)

# %%
results = {}
for arch, net in models.items():
    results[arch] = train.train(net, train_data, test_data, schedules[arch], device=device,
                                progress=progress, compile=compile)
    print(f"{arch}: accuracy {[round(a, 3) for a in results[arch].accuracy]} "
          f"in {results[arch].seconds:.0f} s")

# %% [markdown]
# ## Every metric (section 3)

# %%
t0 = time.perf_counter()
mcfg = mx.MetricsConfig(**metrics)
table = mx.compute_all(models["standard"], models["bottleneck"], train_data, test_data, mcfg,
                       accuracy_standard=results["standard"].accuracy,
                       accuracy_bottleneck=results["bottleneck"].accuracy,
                       network_ids=network_ids or None, progress=progress)
metric_seconds = time.perf_counter() - t0
assert table["value"].notna().all()
assert set(table["metric"]) >= {"bottleneck", "weight_mask", "correlation", "cka_distance"}

# %% [markdown]
# ## Rows of the results table
# Each row also records how the network was trained, the configuration fingerprint, the package
# versions and the git commit, so that any figure can be traced back to its run.

# %%
ids = network_ids or list(range(len(p_values)))
for arch, res in results.items():
    here = table["architecture"] == arch
    position = table.loc[here, "network"].map({net_id: i for i, net_id in enumerate(ids)})
    table.loc[here, "epochs_trained"] = [res.epochs[i] for i in position]
    table.loc[here, "rewired"] = [res.rewired[i] for i in position]
    table.loc[here, "train_seconds"] = res.seconds
table["metric_seconds"] = metric_seconds
table["n_train"], table["n_test"] = len(train_data), len(test_data)
table["config_hash"] = config_hash
for key, value in sweep.provenance().items():
    table[key] = value
if rows_path:
    sweep.write_atomic(table, rows_path)
table.head()
