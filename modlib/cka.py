"""Similarity of representations: Pearson correlation of state vectors and linear CKA.

Paper: section 3.3, eq. (7) (mean Pearson correlation), and appendix A.3 (linear CKA of
Kornblith et al. 2019, reported as the distance 1 - CKA). Pure tensor functions with any leading
batch axes; :mod:`modlib.metrics` applies them to the hidden states of the networks.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def standardize(h: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Each vector along the last axis centred and scaled to unit norm: (..., N) -> (..., N).

    Then the Pearson correlation of two vectors is the dot product of their standardized forms.
    A constant vector (no variance, correlation undefined) maps to 0, so it counts as uncorrelated.
    """
    centred = h - h.mean(dim=-1, keepdim=True)
    return centred / centred.norm(dim=-1, keepdim=True).clamp_min(eps)


def pearson(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Pearson correlation of matching vectors along the last axis: (..., N), (..., N) -> (...)."""
    return (standardize(x) * standardize(y)).sum(dim=-1)


def mean_within_group_correlation(h: torch.Tensor, groups: torch.Tensor) -> torch.Tensor:
    """Mean Pearson correlation over all pairs of different examples that share a group. Paper: eq. (7).

    h: (..., B, N) one state vector per example; groups: (B,) integer group of each example (here the
    value of digit k). Returns (...,), the mean of corr(h_i, h_j) over all ordered pairs i != j with
    groups[i] == groups[j], every pair weighted equally. With z the standardized vectors,
    sum_{i != j in g} z_i . z_j = ||sum_{i in g} z_i||^2 - sum_{i in g} ||z_i||^2, so no pair is
    formed explicitly: O(B N) work for all B (B - 1) pairs.
    """
    if groups.dim() != 1 or groups.shape[0] != h.shape[-2]:
        raise ValueError(f"groups must be (B,) with B = {h.shape[-2]}, got {tuple(groups.shape)}")
    z = standardize(h.double())  # (..., B, N)
    onehot = F.one_hot(groups.long()).to(z.dtype)  # (B, G)
    sums = torch.einsum("bg,...bn->...gn", onehot, z)  # (..., G, N)
    pair_sum = sums.pow(2).sum(dim=(-1, -2)) - z.pow(2).sum(dim=(-1, -2))  # (...,)
    counts = onehot.sum(dim=0)  # (G,)
    n_pairs = float((counts * (counts - 1)).sum())
    if n_pairs == 0:
        raise ValueError("no two examples share a group: the mean correlation is undefined")
    return pair_sum / n_pairs


def linear_cka(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Linear centred kernel alignment of two representations of the same B examples (Kornblith et al. 2019).

    x: (..., B, N1), y: (..., B, N2), row i of each describing example i. With the columns centred
    over the examples, CKA = ||y^T x||_F^2 / (||x^T x||_F ||y^T y||_F), in [0, 1]; it is 1 for
    y = x, and invariant to orthogonal transforms and isotropic scaling of either side.
    Returns (...,) in float64.
    """
    if x.shape[-2] != y.shape[-2]:
        raise ValueError(f"x and y must describe the same examples, got {x.shape[-2]} and {y.shape[-2]} rows")
    xc = x.double() - x.double().mean(dim=-2, keepdim=True)
    yc = y.double() - y.double().mean(dim=-2, keepdim=True)
    cross = (yc.transpose(-1, -2) @ xc).pow(2).sum(dim=(-1, -2))
    norm_x = (xc.transpose(-1, -2) @ xc).pow(2).sum(dim=(-1, -2)).sqrt()
    norm_y = (yc.transpose(-1, -2) @ yc).pow(2).sum(dim=(-1, -2)).sqrt()
    return cross / (norm_x * norm_y).clamp_min(1e-300)


def linear_cka_repaired(x: torch.Tensor, partner: torch.Tensor) -> torch.Tensor:
    """Linear CKA between x and the same rows re-paired, y = x[..., partner, :]: (..., B, N) -> (...,).

    ``partner`` (B,) must be a permutation of 0..B-1 (as :func:`partners_within_groups` gives when
    no group is a singleton). Then y has the same centred Gram matrix as x, so
    CKA = ||x_c[partner]^T x_c||_F^2 / ||x_c^T x_c||_F^2: one product instead of three.
    """
    xc = x.double() - x.double().mean(dim=-2, keepdim=True)
    cross = (xc[..., partner, :].transpose(-1, -2) @ xc).pow(2).sum(dim=(-1, -2))
    norm = (xc.transpose(-1, -2) @ xc).pow(2).sum(dim=(-1, -2))
    return cross / norm.clamp_min(1e-300)


def partners_within_groups(groups: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """For every example, another example of the same group, drawn at random: (B,) int64.

    The examples of each group are put in a random order and each is paired with the next one,
    cyclically, so every example is used once on each side and never paired with itself.
    An example alone in its group gets -1. The draw depends only on ``groups`` and the generator.
    """
    groups = groups.long()
    B = groups.shape[0]
    keys = torch.rand(B, generator=generator, dtype=torch.float64)  # random order within groups
    order = torch.argsort(groups.double() * 2.0 + keys)  # sorted by group, then by key
    counts = torch.bincount(groups)  # (G,)
    starts = torch.cumsum(counts, 0) - counts  # (G,) first sorted position of each group
    g_sorted = groups[order]
    rank = torch.arange(B) - starts[g_sorted]  # position within the group
    nxt = starts[g_sorted] + (rank + 1) % counts[g_sorted]
    partner = torch.empty(B, dtype=torch.long)
    partner[order] = order[nxt]
    partner[counts[groups] < 2] = -1
    return partner
