"""The bandwidth chapter's analysis on hand-made tables with known answers, and the identity of
its b = 1 networks with the paper's."""

import numpy as np
import pandas as pd
import pytest

from modlib import experiment as ex
from modlib import results, sweep
from modlib.config import ConfigError

P = (1e-4, 1e-3, 1e-2, 1e-1, 1.0)


def hand_summary() -> pd.DataFrame:
    """Two bandwidths whose curves are known: at b = 1 the bottleneck measure is 0.9 for p <= 1e-3
    and 0 above (onset 1e-3); at b = 2 it is 0.9 up to p = 1e-2 (onset a decade denser) and 0.5
    beyond it, above b = 1 everywhere. The correlation measure never rises at b = 1."""
    rows = []
    for bits, curve in ((1, [0.9, 0.9, 0.0, 0.0, 0.0]), (2, [0.9, 0.9, 0.9, 0.5, 0.5])):
        for p, mean in zip(P, curve):
            rows.append({"task.bits": bits, "metric": "bottleneck", "p": p, "mean": mean})
            rows.append({"task.bits": bits, "metric": "correlation", "p": p, "mean": 0.05 if bits == 1 else mean})
    return pd.DataFrame(rows)


def test_onsets_per_bandwidth_and_their_shift():
    onset = results.onsets_by(hand_summary(), "task.bits")
    assert onset.loc["bottleneck", 1] == 1e-3 and onset.loc["bottleneck", 2] == 1e-2
    assert np.isnan(onset.loc["correlation", 1]) and onset.loc["correlation", 2] == 1e-2
    moved = results.shift(onset, 1)
    assert moved.loc["bottleneck", 2] == pytest.approx(1.0)  # one decade denser
    assert moved.loc["bottleneck", 1] == 0 and np.isnan(moved.loc["correlation", 2])


def test_findings_per_bandwidth_order_the_curves():
    found = results.findings_by(hand_summary(), "task.bits")
    assert found[2]["bottleneck"]["densest"] > found[1]["bottleneck"]["densest"]
    assert found[1]["bottleneck"]["monotone"] < 0  # falls as p grows
    assert found[2]["bottleneck"]["lowest"] == 0.5 and found[2]["bottleneck"]["lowest_p"] == 0.1


def test_specialization_carries_the_axis_column():
    table = pd.DataFrame({"network": [0] * 4 + [1] * 4, "architecture": "standard", "p": 0.01, "n_conn": 100,
                          "Q": 0.49, "seed": 0, "coupling": "eq3", "accuracy": 0.9, "step": np.nan,
                          "subnetwork": [0, 0, 1, 1] * 2, "task": [0, 1, 0, 1] * 2, "metric": "correlation",
                          "value": [0.8, 0.2, 0.2, 0.8, 0.5, 0.5, 0.5, 0.5], "task.bits": [1] * 4 + [3] * 4})
    spec = results.specialization(table, by=("task.bits",))
    assert spec.set_index("task.bits")["specialization"].to_dict() == pytest.approx({1: 0.6, 3: 0.0})
    with pytest.raises(ValueError, match="no column cell"):
        results.specialization(table, by=("cell",))


def test_bandwidth_one_is_the_paper_experiment():
    paper = sweep.PROFILES["paper"].base
    one = ex.override(sweep.PROFILES["bandwidth"].base, {"task.bits": 1})
    assert ex.experiment_hash(one) == ex.experiment_hash(paper)
    two = ex.override(one, {"task.bits": 2})
    assert ex.experiment_hash(two) != ex.experiment_hash(paper)
    grid = sweep.grid(sweep.PROFILES["bandwidth"])
    assert len(grid) == 4 * 10 * 5
    shared = {ex.experiment_hash(e) for e in grid} & {ex.experiment_hash(e) for e in sweep.grid(sweep.PROFILES["paper"])}
    assert len(shared) == 10 * 5  # b = 1, every p, seeds 0..4
    with pytest.raises(ConfigError, match="bits"):
        ex.override(sweep.PROFILES["bandwidth"].base, {"task.bits": 4})
