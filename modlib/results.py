"""Reading a sweep's results table: specialization against p and Q, and the paper's findings.

Paper: section 4 (figs. 2-4) and appendix A.3; book: chapter 7, results. Every function takes the long
table that :func:`modlib.metrics.compute_all` returns (and the sweep concatenates) and returns a
small DataFrame or dict that the results chapter plots and quotes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from . import metrics
from .store import ROOT  # the repository
from .structure import q_closed_form

METRICS = ("bottleneck", "weight_mask", "correlation", "cka")  # the order of fig. 2's rows
LABELS = {"bottleneck": "bottleneck", "weight_mask": "weight mask", "correlation": "correlation",
          "cka": "CKA (similarity)"}
Q_MODERATE = 0.35  # the paper: "a network with Q = 0.35 shows little to no specialization"




def resolve(path: str | Path) -> Path:
    """A table's path: absolute as given, or relative to the repository root (so a notebook finds
    ``results/paper.csv`` whatever its kernel's working directory)."""
    path = Path(path).expanduser()
    return path if path.is_absolute() else ROOT / path


def load(path: str | Path) -> pd.DataFrame:
    """A results table written by the sweep (a relative path is taken from the repository root,
    :func:`resolve`); a clear error when it is missing or not one."""
    path = resolve(path)
    if not path.exists():
        raise FileNotFoundError(f"no results table at {path}; run `python -m modlib sweep` to make one")
    table = pd.read_csv(path)
    missing = {"network", "p", "Q", "seed", "accuracy", "subnetwork", "task", "metric", "value"} - set(table.columns)
    if missing:
        raise ValueError(f"{path} is not a sweep results table: columns {sorted(missing)} are missing")
    return table


def final_step(table: pd.DataFrame) -> pd.DataFrame:
    """The rows that measure the last step's states h_T (the paper's metrics): a table without a
    ``step`` column is all of them; a time-resolved one also holds earlier steps."""
    if "step" not in table.columns or table["step"].isna().all():
        return table
    last = table.groupby("network")["step"].transform("max")
    return table[table["step"] == last]


def specialization(table: pd.DataFrame, min_accuracy: float = 0.0, over_time: bool = False,
                   by: tuple[str, ...] = ()) -> pd.DataFrame:
    """Eq. (8) per network and metric, averaged over the two sub-networks (as in fig. 2).

    Returns one row per (network, metric) with p, Q, seed, accuracy and specialization, from the
    last step's states; ``over_time=True`` keeps every step measured, one row per (network, metric,
    step). ``by`` names a sweep's other axis columns to carry along (e.g. ``("task.bits",)``).
    """
    t = table if over_time else final_step(table)
    spec = metrics.specialization_table(t[t["metric"] != "weight_mask_untrained"],
                                        min_accuracy=min_accuracy, on_zero="nan")
    keys = ["network", "architecture", "metric", "p", "Q", "seed", "accuracy"]
    keys += ["step"] if over_time and "step" in spec.columns else []
    out = spec.groupby(keys, as_index=False)["specialization"].mean()
    if by:
        missing = [c for c in by if c not in table.columns]
        if missing:
            raise ValueError(f"by: the table has no column {', '.join(missing)} (a sweep's axis)")
        out = out.merge(table[["network", *by]].drop_duplicates("network"), on="network", how="left")
    return out


def over_time(spec: pd.DataFrame, by: tuple[str, ...] = ()) -> pd.DataFrame:
    """Mean and standard deviation over seeds of each metric's specialization at each p and step
    (and each value of the axis columns ``by``), from :func:`specialization` with
    ``over_time=True``."""
    keys = [*by, "metric", "p", "step"]
    return (spec.groupby(keys, as_index=False)
            .agg(mean=("specialization", "mean"), std=("specialization", "std"), n=("specialization", "size"))
            .sort_values(keys).reset_index(drop=True))


def rise_over_time(summ: pd.DataFrame, by: tuple[str, ...] = ()) -> pd.DataFrame:
    """How each measure changes over the steps, from :func:`over_time`: for each metric and p (and
    value of ``by``), the mean specialization at the first and the last step measured, the step
    where it is largest, and ``last - first``."""
    rows = []
    for key, part in summ.groupby([*by, "metric", "p"]):
        part = part.sort_values("step")
        mean = part["mean"].to_numpy()
        rows.append({**dict(zip([*by, "metric", "p"], key)), "first": float(mean[0]), "last": float(mean[-1]),
                     "peak_step": int(part["step"].to_numpy()[np.argmax(mean)]),
                     "change": float(mean[-1] - mean[0])})
    return pd.DataFrame(rows)


def summary(spec: pd.DataFrame, by: tuple[str, ...] = ()) -> pd.DataFrame:
    """Mean and standard deviation over seeds of each metric's specialization at each p (fig. 2),
    for each value of the axis columns ``by``."""
    keys = [*by, "metric", "p"]
    out = spec.groupby(keys, as_index=False).agg(
        mean=("specialization", "mean"), std=("specialization", "std"), n=("specialization", "size"))
    out["Q"] = q_closed_form(out["p"].to_numpy())
    return out.sort_values(keys).reset_index(drop=True)


def raw_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Mean over seeds and both sub-networks of the raw metric on the own digit (M(n, n)) and on the
    other one (M(n, 1 - n)), at each p (fig. 3)."""
    t = final_step(table)
    t = t[t["metric"] != "weight_mask_untrained"].copy()
    t["digit"] = np.where(t["task"] == t["subnetwork"], "own", "other")
    return t.groupby(["metric", "p", "digit"], as_index=False)["value"].agg(["mean", "std"]).reset_index(drop=True)


def accuracy_summary(table: pd.DataFrame, by: tuple[str, ...] = ()) -> pd.DataFrame:
    """Global accuracy of every trained network (fig. 4): mean, std, min per architecture and p
    (and per value of the axis columns ``by``)."""
    nets = table.drop_duplicates(["network", "architecture"])
    return nets.groupby([*by, "architecture", "p"], as_index=False)["accuracy"].agg(
        ["mean", "std", "min", "count"]).reset_index(drop=True)


def network_medians(table: pd.DataFrame, columns=("accuracy",), architecture: str = "standard") -> pd.DataFrame:
    """Median over seeds of per-network columns (accuracy, rewired, ...) at each connection count,
    for one architecture: one row per n_conn."""
    nets = table[table["architecture"] == architecture].drop_duplicates("network")
    return nets.groupby("n_conn")[list(columns)].median()


def findings(summ: pd.DataFrame, rise: float = 0.1) -> dict:
    """The numbers behind the paper's claims, per metric.

    - ``sparsest``/``densest``: mean specialization at the smallest and largest p;
    - ``lowest``/``lowest_p``: the smallest mean over the grid, and the p where it is;
    - ``monotone``: Spearman rank correlation between p and the mean (-1: rises steadily as p falls);
    - ``onset_p``/``onset_Q``: the largest p below which the mean exceeds ``lowest + rise`` at every
      value of p (where the measure "starts to rise"; NaN if even the sparsest does not);
    - ``at_q035``: mean specialization interpolated at Q = 0.35 (p = 0.176), on log p.
    """
    out = {}
    p_035 = (1 - 2 * Q_MODERATE) / (1 + 2 * Q_MODERATE)
    for metric, part in summ.groupby("metric"):
        part = part.sort_values("p")
        p, mean = part["p"].to_numpy(), part["mean"].to_numpy()
        above = mean > mean.min() + rise
        run = int(np.argmin(above)) if not above.all() else len(above)  # leading run of True, from the sparsest p
        onset = float(p[run - 1]) if run else float("nan")
        out[metric] = {
            "sparsest": float(mean[0]),
            "densest": float(mean[-1]),
            "lowest": float(mean.min()),
            "lowest_p": float(p[np.argmin(mean)]),
            "monotone": float(pd.Series(p).rank().corr(pd.Series(mean).rank())),  # Spearman
            "onset_p": onset,
            "onset_Q": float(q_closed_form(onset)) if np.isfinite(onset) else float("nan"),
            "at_q035": float(np.interp(np.log10(p_035), np.log10(p), mean)),
        }
    return out


def onsets(summ: pd.DataFrame, rises=(0.05, 0.1, 0.2)) -> pd.DataFrame:
    """Where each measure starts to rise (``onset_p`` of :func:`findings`) for several thresholds:
    one row per metric, one column per threshold, NaN where even the sparsest p has not risen."""
    rows = {r: {m: f["onset_p"] for m, f in findings(summ, rise=r).items()} for r in rises}
    table = pd.DataFrame(rows)
    table.columns = [f"rise > {r:g}" for r in rises]
    return table.loc[[m for m in METRICS if m in table.index]].rename(index=LABELS)


def findings_by(summ: pd.DataFrame, axis, rise: float = 0.1) -> dict:
    """:func:`findings` for each value of the axis column ``axis`` of a :func:`summary` made with
    ``by=(axis,)``: {value: {metric: findings}}. ``axis`` may be a list of columns: then each
    value is a tuple."""
    key = list(axis) if not isinstance(axis, str) else axis
    return {value: findings(part, rise=rise) for value, part in summ.groupby(key)}


def onsets_by(summ: pd.DataFrame, axis: str, rise: float = 0.1) -> pd.DataFrame:
    """Where each measure starts to rise (``onset_p`` of :func:`findings`, at ``rise`` above its
    lowest mean) for each value of ``axis``: one row per metric, one column per value (NaN where
    even the sparsest p has not risen)."""
    found = findings_by(summ, axis, rise)
    table = pd.DataFrame({value: {m: f["onset_p"] for m, f in per.items()} for value, per in found.items()})
    if isinstance(axis, str):
        table.columns.name = axis
    else:  # several axis columns: one column per combination of their values
        table.columns.names = list(axis)
    return table.loc[[m for m in METRICS if m in table.index]].rename(index=LABELS)


def shift(onset: pd.DataFrame, reference) -> pd.DataFrame:
    """How far each onset of :func:`onsets_by` moves from the ``reference`` column, in decades of p
    (log10 onset - log10 reference onset): positive = specialization starts at a denser p."""
    return np.log10(onset).sub(np.log10(onset[reference]), axis=0)


def extremes(summ: pd.DataFrame, by: tuple[str, ...] = (), metrics=("bottleneck", "weight_mask", "correlation")) -> pd.DataFrame:
    """The mean over ``metrics`` (by default the paper's three measures) of the mean specialization
    at the sparsest and at the densest p, for each value of the axis columns ``by`` of a
    :func:`summary`: one row per value, columns ``sparsest``, ``densest``."""
    part = summ[summ["metric"].isin(metrics)]
    groups = part.groupby(list(by)) if by else [((), part)]
    rows = []
    for key, one in groups:
        ends = one.sort_values("p").groupby("metric")["mean"].agg(["first", "last"])
        key = key if isinstance(key, tuple) else (key,)
        rows.append({**dict(zip(by, key)), "sparsest": float(ends["first"].mean()),
                     "densest": float(ends["last"].mean())})
    out = pd.DataFrame(rows)
    return out.set_index(list(by)) if by else out


def agreement(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """How two tables of the same grid measured with different code or settings agree: for each
    architecture, metric and p, the mean specialization over seeds in each (``mean_a``, ``mean_b``),
    their difference ``b - a`` and that difference in units of its standard error,
    ``z = (mean_b - mean_a) / sqrt(std_a^2 / n_a + std_b^2 / n_b)`` (0 where both spreads are 0);
    and the same for the global accuracy (metric ``"accuracy"``). Two tables that measure the same
    thing give |z| mostly below 2."""
    parts = []
    for name, t in (("a", a), ("b", b)):
        spec = specialization(t).rename(columns={"specialization": "value"})
        nets = t.drop_duplicates(["network", "architecture"]).assign(metric="accuracy")
        both = pd.concat([spec[["architecture", "metric", "p", "value"]],
                          nets[["architecture", "metric", "p", "accuracy"]].rename(columns={"accuracy": "value"})])
        parts.append(both.groupby(["architecture", "metric", "p"])["value"]
                     .agg(["mean", "std", "size"]).add_suffix(f"_{name}"))
    out = parts[0].join(parts[1], how="inner").reset_index()
    out["difference"] = out["mean_b"] - out["mean_a"]
    se = np.sqrt(out["std_a"] ** 2 / out["size_a"] + out["std_b"] ** 2 / out["size_b"])
    out["z"] = np.where(se > 0, out["difference"] / se.where(se > 0, 1.0), 0.0)
    return out.rename(columns={"size_a": "n_a", "size_b": "n_b"})


def same_sweep(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    """Whether two tables cover the same grid (p, seeds) at the same data sizes, so that their
    curves can be compared point by point."""
    return all(col in a and col in b and set(a[col]) == set(b[col]) for col in ("p", "seed", "n_train", "n_test"))


def reading(table: pd.DataFrame, path: str | Path, min_accuracy: float = 0.0, rise: float = 0.1) -> dict | None:
    """Another reading of the same sweep (the table at ``path``) next to ``table``: its
    :func:`summary`, :func:`findings` and median accuracy per connection count, or None when the
    table is missing or covers another grid or data size."""
    if not path or not resolve(path).exists():
        return None
    other = load(path)
    if not same_sweep(other, table):
        return None
    summ = summary(specialization(other, min_accuracy=min_accuracy))
    return {"summary": summ, "findings": findings(summ, rise=rise),
            "accuracy": network_medians(other)["accuracy"]}


PAPER = {  # what the paper reports (section 4), per metric: where specialization starts to rise
    "bottleneck": "rises only below p = 0.01 (Q > 0.49)",
    "weight_mask": "rises from the start, but stays low until about p < 0.11 (Q > 0.4)",
    "correlation": "rises only below p = 0.01 (Q > 0.49)",
    "cka": "shown as a raw distance only (appendix A.3)",
}


def comparison(found: dict) -> pd.DataFrame:
    """The paper's findings next to this run's numbers, one row per metric (see :func:`findings`)."""
    rows = []
    for metric in METRICS:
        if metric not in found:
            continue
        f = found[metric]
        onset = "nowhere in the grid" if not np.isfinite(f["onset_p"]) else \
            f"for p <= {f['onset_p']:.2g} (Q >= {f['onset_Q']:.3f})"
        rows.append({"metric": LABELS[metric], "paper: starts to rise": PAPER[metric],
                     "here: > lowest + 0.1": onset,
                     "here: at p = 1/N²": round(f["sparsest"], 2), "here: at p = 1": round(f["densest"], 2),
                     "here: at Q = 0.35": round(f["at_q035"], 2),
                     "here: rank corr. with p": round(f["monotone"], 2)})
    return pd.DataFrame(rows).set_index("metric")


BEYOND = ("bandwidth", "cells", "fashion", "resources", "separability", "over_time")  # committed tables


def beyond_the_paper(root: str | Path = "results") -> dict:
    """The headline numbers of the chapters beyond the paper, from their committed tables under
    ``root`` (those present), for the introduction and the discussion to quote: each chapter
    derives and asserts them at length; this collects one or two per chapter.

    - ``bandwidth_shift``: the largest |shift| (decades of p) of an onset at b = 2, 3 from b = 1,
      ``bandwidth_step``: one step of its grid in decades;
    - ``cells_rank``: the largest rank correlation with p of any measure of any cell (< 0 if all fall);
    - ``fashion_one``/``fashion_all``: the paper's three measures' mean specialization with one
      connection and all-to-all (:func:`extremes`), as are the values below;
    - ``resources_one_min``/``_max``: over module sizes, with one connection;
      ``resources_all_max``: over module sizes, all-to-all;
    - ``separability_one_c0``/``_c1``: Deep-R with one connection at covariance 0 and 1;
      ``separability_fixed_one_c0``: a fixed connection at covariance 0;
    - ``over_time_dense_first``/``_second``/``_last``: the bottleneck measure of the all-to-all
      networks at b = 1 on the first, second and last step (< 0: specialized the wrong way round).
    """
    root = resolve(root)
    out = {}
    present = {name: load(root / f"{name}.csv") for name in BEYOND if (root / f"{name}.csv").exists()}
    if "bandwidth" in present:
        summ = summary(specialization(present["bandwidth"], by=("task.bits",)), by=("task.bits",))
        moved = shift(onsets_by(summ, "task.bits"), 1)[[2, 3]]
        out["bandwidth_shift"] = float(np.nanmax(np.abs(moved.to_numpy())))
        out["bandwidth_step"] = float(np.diff(np.log10(np.sort(summ["p"].unique()))).mean())
    if "cells" in present:
        summ = summary(specialization(present["cells"], by=("model.cell",)), by=("model.cell",))
        out["cells_rank"] = max(f["monotone"] for per in findings_by(summ, "model.cell").values()
                                for f in per.values())
    if "fashion" in present:
        ends = extremes(summary(specialization(present["fashion"])))
        out["fashion_one"], out["fashion_all"] = float(ends["sparsest"][0]), float(ends["densest"][0])
    if "resources" in present:
        ends = extremes(summary(specialization(present["resources"], by=("model.n_hidden",)),
                                by=("model.n_hidden",)), by=("model.n_hidden",))
        out["resources_one_min"], out["resources_one_max"] = float(ends["sparsest"].min()), float(ends["sparsest"].max())
        out["resources_all_max"] = float(ends["densest"].max())
    if "separability" in present:
        by = ("task.covariance", "model.connections")
        ends = extremes(summary(specialization(present["separability"], by=by), by=by), by=by)
        out["separability_one_c0"] = float(ends.loc[(0.0, "deepr"), "sparsest"])
        out["separability_one_c1"] = float(ends.loc[(1.0, "deepr"), "sparsest"])
        out["separability_fixed_one_c0"] = float(ends.loc[(0.0, "fixed"), "sparsest"])
    if "over_time" in present:
        spec = specialization(present["over_time"], over_time=True, by=("task.bits",))
        timed = over_time(spec, by=("task.bits",))
        dense = timed[(timed["metric"] == "bottleneck") & (timed["task.bits"] == 1)
                      & (timed["p"] == timed["p"].max())].set_index("step")["mean"]
        out["over_time_dense_first"] = float(dense.iloc[0])
        out["over_time_dense_second"] = float(dense.iloc[1])
        out["over_time_dense_last"] = float(dense.iloc[-1])
    return out
