"""Structural modularity: the directed Q of eq. (4) and its closed form, eq. (5).

Paper: section 2.3 and appendix A.1; book: chapter 2, structural modularity.
"""

from __future__ import annotations

import numpy as np
import torch


def q_closed_form(p):
    """Q = (1 - p) / (2 (1 + p)) for two dense modules with a fraction p of inter-module edges
    per direction. Paper: eq. (5). Exact for any placement of the p N^2 edges of each direction.

    p: a number, array or tensor in [0, 1] (0 gives 0.5, 1 gives 0).
    """
    p_arr = p if isinstance(p, torch.Tensor) else np.asarray(p, dtype=float)
    if (p_arr < 0).any() or (p_arr > 1).any():
        raise ValueError(f"p must be in [0, 1], got {p!r}")
    q = (1 - p_arr) / (2 * (1 + p_arr))
    return float(q) if np.ndim(q) == 0 and not isinstance(p, torch.Tensor) else q


def q_modularity(adjacency: torch.Tensor, groups: torch.Tensor) -> torch.Tensor:
    """Directed modularity Q = (1/M) sum_ij (A_ij - k_i^out k_j^in / M) delta(g_i, g_j). Paper: eq. (4), (9).

    adjacency: (..., V, V) 0/1, A[i, j] = 1 for an edge i -> j (any leading batch axes).
    groups: (V,) integer group label of each node. Returns Q with the leading axes: (...,).
    """
    A = adjacency.double()
    if A.shape[-1] != A.shape[-2] or groups.shape != A.shape[-1:]:
        raise ValueError(f"adjacency must be (..., V, V) and groups (V,), got {tuple(A.shape)} and {tuple(groups.shape)}")
    M = A.sum(dim=(-1, -2))  # (...,)
    if (M == 0).any():
        raise ValueError("adjacency has no edges: Q is undefined")
    same = (groups[:, None] == groups[None, :]).double()  # (V, V)
    k_out, k_in = A.sum(-1), A.sum(-2)  # (..., V)
    within = (A * same).sum(dim=(-1, -2))
    # sum_ij k_out_i k_in_j delta(g_i, g_j) = sum_g (sum_{i in g} k_out_i)(sum_{j in g} k_in_j)
    onehot = torch.nn.functional.one_hot(groups.long()).double()  # (V, G)
    expected = ((k_out @ onehot) * (k_in @ onehot)).sum(-1)
    return within / M - expected / M**2


def effective_fraction(active: torch.Tensor, coupling: str = "eq3") -> torch.Tensor:
    """The fraction of the N^2 possible unit-to-unit paths between the modules that a connection
    pattern opens in one step, per direction: (..., N, N) bool as (post, pre) -> (...,).

    Under eq. (3) a connection joins one unit to one unit, so this is p. Under the authors'
    coupling the other module's signal is added to h^n before W_hh, so a connection from unit j
    reaches every unit of the receiving module through the dense W_hh: it acts as a full column of
    N edges, and the fraction is the share of presynaptic units with at least one connection.
    """
    if coupling == "eq3":
        return active.float().mean(dim=(-1, -2))
    if coupling == "authors":
        return active.any(dim=-2).float().mean(-1)
    raise ValueError(f"coupling must be 'eq3' or 'authors', got {coupling!r}")


def expected_effective_fraction(n_conn: int, n_hidden: int, coupling: str = "eq3") -> float:
    """The mean of :func:`effective_fraction` over patterns of ``n_conn`` connections drawn uniformly
    without replacement (Deep-R's initial draw): for the authors' coupling
    1 - prod_{i < n_conn} (N^2 - N - i) / (N^2 - i), the chance that a presynaptic unit has any."""
    total = n_hidden**2
    if coupling == "eq3":
        return n_conn / total
    if coupling != "authors":
        raise ValueError(f"coupling must be 'eq3' or 'authors', got {coupling!r}")
    i = np.arange(n_conn)
    empty = np.exp(np.sum(np.log(np.maximum(total - n_hidden - i, 0) + 1e-300) - np.log(total - i)))
    return float(1 - empty)
