"""The analysis of the chapters beyond the paper (other cells, resources and separability,
specialization over time) on hand-made tables with known answers, and the numbers the
discussion quotes from the committed tables."""

import shutil

import numpy as np
import pandas as pd
import pytest

from modlib import results

METRIC_SET = ("bottleneck", "correlation")


def two_axis_summary() -> pd.DataFrame:
    """Covariance c in {0, 1} x connections {deepr, fixed}, three values of p. At c = 0 with Deep-R
    the bottleneck measure is 0.8, 0.8, 0.1 (onset at the middle p); with fixed masks 0.8, 0.1, 0.1
    (onset at the sparsest); at c = 1 it is 0 everywhere (never rises)."""
    curves = {(0.0, "deepr"): [0.8, 0.8, 0.1], (0.0, "fixed"): [0.8, 0.1, 0.1], (1.0, "deepr"): [0.0] * 3,
              (1.0, "fixed"): [0.0] * 3}
    rows = []
    for (c, conn), curve in curves.items():
        for p, mean in zip((1e-4, 1e-2, 1.0), curve):
            rows.append({"task.covariance": c, "model.connections": conn, "metric": "bottleneck", "p": p,
                         "mean": mean, "std": 0.0})
    return pd.DataFrame(rows)


def test_findings_and_onsets_over_two_axes_at_once():
    axes = ["task.covariance", "model.connections"]
    found = results.findings_by(two_axis_summary(), axes)
    assert set(found) == {(0.0, "deepr"), (0.0, "fixed"), (1.0, "deepr"), (1.0, "fixed")}
    assert found[(0.0, "deepr")]["bottleneck"]["sparsest"] == 0.8
    assert found[(1.0, "fixed")]["bottleneck"]["sparsest"] == 0.0
    onset = results.onsets_by(two_axis_summary(), axes)
    assert list(onset.columns.names) == axes
    assert onset.loc["bottleneck", (0.0, "deepr")] == 1e-2 and onset.loc["bottleneck", (0.0, "fixed")] == 1e-4
    assert np.isnan(onset.loc["bottleneck", (1.0, "deepr")])


def time_table() -> pd.DataFrame:
    """Specialization per network and step, as results.specialization(..., over_time=True) returns
    it: two seeds at b = 1 for a sparse and a dense network. The sparse network's correlation
    measure climbs 0.1, 0.3, 0.5 over three steps (the two seeds 0.05 either side); the dense
    one's falls 0.4, 0.2, 0.0; the bottleneck measure is flat at 0.6 for both."""
    rows = []
    for seed, wobble in ((0, -0.05), (1, 0.05)):
        for p, curve in ((1e-4, [0.1, 0.3, 0.5]), (1.0, [0.4, 0.2, 0.0])):
            for step, value in enumerate(curve, start=1):
                rows.append({"network": seed * 2 + (p == 1.0), "task.bits": 1, "metric": "correlation", "p": p,
                             "step": step, "seed": seed, "specialization": value + wobble})
                rows.append({"network": seed * 2 + (p == 1.0), "task.bits": 1, "metric": "bottleneck", "p": p,
                             "step": step, "seed": seed, "specialization": 0.6})
    return pd.DataFrame(rows)


def test_specialization_over_time_per_axis_value():
    summ = results.over_time(time_table(), by=("task.bits",))
    assert len(summ) == 2 * 2 * 3 and set(summ["n"]) == {2}
    sparse = summ[(summ["metric"] == "correlation") & (summ["p"] == 1e-4)]
    assert sparse["mean"].to_list() == pytest.approx([0.1, 0.3, 0.5])
    assert sparse["std"].to_list() == pytest.approx([0.1 / np.sqrt(2)] * 3)  # 0.05 either side
    change = results.rise_over_time(summ, by=("task.bits",)).set_index(["metric", "p"])
    assert change.loc[("correlation", 1e-4), "change"] == pytest.approx(0.4)
    assert change.loc[("correlation", 1e-4), "peak_step"] == 3
    assert change.loc[("correlation", 1.0), "change"] == pytest.approx(-0.4)
    assert change.loc[("correlation", 1.0), "peak_step"] == 1
    assert change.loc[("bottleneck", 1.0), "change"] == pytest.approx(0.0)
    assert change.loc[("bottleneck", 1.0), "first"] == pytest.approx(0.6)


def test_extremes_average_the_three_measures_at_each_end():
    summ = two_axis_summary()
    corr = summ.assign(metric="correlation", mean=summ["mean"] / 2)  # half the bottleneck curve
    cka = summ.assign(metric="cka", mean=1.0)  # left out by default
    both = pd.concat([summ, corr, cka], ignore_index=True)
    ends = results.extremes(both, by=("task.covariance", "model.connections"))
    assert ends.loc[(0.0, "deepr"), "sparsest"] == pytest.approx((0.8 + 0.4) / 2)
    assert ends.loc[(0.0, "fixed"), "densest"] == pytest.approx((0.1 + 0.05) / 2)
    assert ends.loc[(1.0, "deepr"), "sparsest"] == 0.0
    one = results.extremes(both[both["model.connections"] == "deepr"], by=("task.covariance",))
    assert list(one.index) == [0.0, 1.0] and one.loc[0.0, "densest"] == pytest.approx(0.075)
    assert results.extremes(both, metrics=("cka",))["sparsest"].item() == 1.0


def test_beyond_the_paper_reads_the_tables_present_and_matches_each_chapter(tmp_path):
    """The discussion quotes the chapters through results.beyond_the_paper: from a folder with two
    committed tables it reads those two, and its numbers are the chapters' own."""
    for name in ("bandwidth", "cells", "over_time"):
        shutil.copy(results.resolve(f"results/{name}.csv"), tmp_path / f"{name}.csv")
    out = results.beyond_the_paper(tmp_path)
    assert set(out) == {"bandwidth_shift", "bandwidth_step", "cells_rank", "over_time_dense_first",
                        "over_time_dense_second", "over_time_dense_last"}
    assert out["bandwidth_step"] == pytest.approx(4 / 9)  # ten values of p from 1e-4 to 1
    # chapter 9: an onset at b = 2 or 3 moves at most one step of the grid from b = 1
    assert 0 < out["bandwidth_shift"] <= out["bandwidth_step"] * 1.01
    cells = results.load(tmp_path / "cells.csv")
    summ = results.summary(results.specialization(cells, by=("model.cell",)), by=("model.cell",))
    rnn = results.findings(summ[summ["model.cell"] == "rnn"])
    assert out["cells_rank"] >= max(f["monotone"] for f in rnn.values())
    assert -1 <= out["cells_rank"] < -0.5  # chapter 10: every measure falls with p for every cell
    # chapter 12: all-to-all at b = 1, the bottleneck measure changes sign from step 1 to 2 and back
    timed = results.load(tmp_path / "over_time.csv")
    dense = timed[(timed["task.bits"] == 1) & (timed["p"] == 1.0) & (timed["step"] == 2)
                  & (timed["architecture"] == "bottleneck")]
    spec = results.specialization(dense, over_time=True)
    assert out["over_time_dense_second"] == pytest.approx(
        spec[spec["metric"] == "bottleneck"]["specialization"].mean())
    assert out["over_time_dense_second"] < 0 < out["over_time_dense_last"] < out["over_time_dense_first"]
    assert results.beyond_the_paper(tmp_path / "none") == {}
