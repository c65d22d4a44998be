"""The results analysis on a hand-made table whose answers are known."""

import numpy as np
import pandas as pd
import pytest

from modlib import plots, results


def make_table(own_by_p: dict, other: float = 0.2, seeds=(0, 1)) -> pd.DataFrame:
    """Every metric has M(n, n) = own_by_p[p] and M(n, 1-n) = other, for both sub-networks."""
    rows, net = [], 0
    for p, own in own_by_p.items():
        for seed in seeds:
            for arch, names in (("standard", ("weight_mask", "correlation", "cka_distance")), ("bottleneck", ("bottleneck",))):
                for metric in names:
                    for n in (0, 1):
                        for k in (0, 1):
                            value = own if n == k else other
                            if metric == "cka_distance":
                                value = 1 - value
                            rows.append({"network": net, "architecture": arch, "p": p, "n_conn": 1, "Q": (1 - p) / (2 * (1 + p)),
                                         "seed": seed, "coupling": "eq3", "accuracy": 0.9 - 0.1 * (p == 1.0) * seed,
                                         "subnetwork": n, "task": k, "metric": metric, "value": value})
                net += 1
    return pd.DataFrame(rows)


def test_specialization_summary_and_findings():
    own = {1e-4: 0.6, 1e-2: 0.3, 1.0: 0.2}  # specialization (own - other) / (own + other): 0.5, 0.2, 0
    table = make_table(own)
    summ = results.summary(results.specialization(table))
    for metric in ("bottleneck", "weight_mask", "correlation", "cka"):
        part = summ[summ["metric"] == metric].set_index("p")["mean"]
        np.testing.assert_allclose(part.loc[[1e-4, 1e-2, 1.0]], [0.5, 0.2, 0.0], atol=1e-12)
    found = results.findings(summ, rise=0.1)
    assert found["correlation"]["onset_p"] == 1e-2  # 0.2 > 0 + 0.1 at p = 0.01, not at p = 1
    assert found["correlation"]["lowest"] == pytest.approx(0.0)
    assert found["correlation"]["lowest_p"] == 1.0
    assert np.isnan(results.findings(summ, rise=0.6)["correlation"]["onset_p"])  # never rises that far
    assert found["correlation"]["monotone"] == pytest.approx(-1.0)
    assert found["bottleneck"]["sparsest"] == pytest.approx(0.5)
    # Q = 0.35 is p = 0.176: between p = 0.01 (0.2) and p = 1 (0.0) on log p
    assert 0.0 < found["weight_mask"]["at_q035"] < 0.2
    comp = results.comparison(found)
    assert list(comp.index) == ["bottleneck", "weight mask", "correlation", "CKA (similarity)"]
    # specialization 0.5, 0.2, 0 at p = 1e-4, 1e-2, 1: risen by 0.05 and 0.1 from p = 0.01 on, by
    # 0.2 only at 1e-4 (0.2 is not > 0.2), by 0.6 nowhere
    table = results.onsets(summ, rises=(0.05, 0.1, 0.2, 0.6))
    assert table.loc["correlation"].tolist()[:3] == [1e-2, 1e-2, 1e-4]
    assert np.isnan(table.loc["correlation", "rise > 0.6"])
    assert list(table.columns) == ["rise > 0.05", "rise > 0.1", "rise > 0.2", "rise > 0.6"]


def test_accuracy_threshold_and_raw_tables():
    table = make_table({1e-4: 0.6, 1.0: 0.2})
    spec = results.specialization(table, min_accuracy=0.85)
    assert set(spec.loc[spec["p"] == 1.0, "seed"]) == {0}  # seed 1 at p = 1 is at 0.8
    raw = results.raw_summary(table)
    own = raw[(raw["metric"] == "correlation") & (raw["digit"] == "own")].set_index("p")["mean"]
    assert own.loc[1e-4] == pytest.approx(0.6)
    acc = results.accuracy_summary(table)
    assert acc.loc[(acc["architecture"] == "standard") & (acc["p"] == 1.0), "min"].item() == pytest.approx(0.8)
    for fig in (plots.specialization_against_structure(results.summary(spec)), plots.raw_metrics(raw),
                plots.accuracy_against_p(acc)):
        assert fig.axes


def test_missing_or_foreign_table_is_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="modlib sweep"):
        results.load(tmp_path / "none.csv")
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="not a sweep results table"):
        results.load(tmp_path / "other.csv")


def test_network_medians_count_each_network_once():
    rows = []
    for network, (arch, n_conn, acc) in enumerate([("standard", 1, 0.8), ("standard", 1, 0.9), ("standard", 1, 0.6),
                                                   ("standard", 10, 0.95), ("bottleneck", 1, 0.1)]):
        rows += [{"network": network, "architecture": arch, "n_conn": n_conn, "accuracy": acc, "rewired": network}] * (
            8 if network == 0 else 2)  # one row per sub-network, task and metric: network 0 has more
    med = results.network_medians(pd.DataFrame(rows), ["accuracy", "rewired"])
    assert med.loc[1, "accuracy"] == 0.8 and med.loc[10, "accuracy"] == 0.95  # not weighted by row count
    assert med.loc[1, "rewired"] == 1
    assert results.network_medians(pd.DataFrame(rows), architecture="bottleneck")["accuracy"].tolist() == [0.1]


def test_relative_table_paths_resolve_from_the_repository(tmp_path, monkeypatch):
    """A notebook's results/... path works whatever the kernel's working directory."""
    monkeypatch.chdir(tmp_path)
    assert results.resolve("results/paper.csv") == results.ROOT / "results" / "paper.csv"
    assert results.resolve(tmp_path / "x.csv") == tmp_path / "x.csv"
    table = results.load("results/paper.csv")
    assert table["network"].nunique() == 100
    with pytest.raises(FileNotFoundError, match="no results table"):
        results.load("results/none_such.csv")


def test_another_reading_is_compared_only_on_the_same_grid(tmp_path):
    own = {1e-4: 0.6, 1e-2: 0.3, 1.0: 0.2}
    table = make_table(own).assign(n_train=100, n_test=50)
    (tmp_path / "same.csv").write_text(table.to_csv(index=False))
    other = results.reading(table, tmp_path / "same.csv")
    assert other["findings"]["correlation"]["onset_p"] == 1e-2
    assert other["accuracy"].index.tolist() == [1]
    fewer = make_table({1e-4: 0.6, 1.0: 0.2}).assign(n_train=100, n_test=50)
    (tmp_path / "fewer.csv").write_text(fewer.to_csv(index=False))
    assert results.reading(table, tmp_path / "fewer.csv") is None
    (tmp_path / "bigger.csv").write_text(table.assign(n_train=200).to_csv(index=False))
    assert results.reading(table, tmp_path / "bigger.csv") is None
    assert results.reading(table, tmp_path / "missing.csv") is None


def test_agreement_of_two_tables_known_answers():
    """A table agrees with itself exactly (difference 0, z 0 everywhere); raising every accuracy by
    0.01 moves exactly the accuracy rows, by 0.01, and z is 0.01 over the standard error of two
    equal spreads."""
    table = results.load("results/paper.csv")
    same = results.agreement(table, table)
    # ten p of: the bottleneck network's metric and accuracy, the standard one's three metrics and accuracy
    assert len(same) == 10 * (2 + 4)
    assert (same["difference"] == 0).all() and (same["z"] == 0).all()
    assert (same["n_a"] == 10).all() and (same["n_b"] == 10).all()
    shifted = results.agreement(table, table.assign(accuracy=table["accuracy"] + 0.01))
    acc = shifted["metric"] == "accuracy"
    assert np.allclose(shifted.loc[acc, "difference"], 0.01)
    spread = np.sqrt(2 * shifted.loc[acc, "std_a"] ** 2 / 10)
    assert np.allclose(shifted.loc[acc, "z"], np.where(spread > 0, 0.01 / spread, 0.0))
    assert (shifted.loc[~acc, "difference"] == 0).all()
