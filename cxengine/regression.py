"""Weighted linear models from cross-products: OLS slopes and R², Shapley (LMG) importance
of each predictor, weighted correlation. The sums are computed in SQL once (drivers.py)
and every model here is solved from their covariance matrix, never from rows."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from cxengine.stats import weights_for

__all__ = ["CrossProducts", "Regression", "importance_shares", "lmg_importance", "r_squared",
           "regression", "weighted_correlation"]


@dataclass(frozen=True, eq=False)  # eq=False: numpy arrays have no scalar equality
class CrossProducts:
    """Weighted sums and cross-products of k variables over complete rows, computed in SQL once
    and reused: target and predictors are picked by name for regression, LMG, correlation."""

    names: tuple[str, ...]
    n: int
    sum_w: float
    sum_w2: float
    sums: np.ndarray  # shape (k,): sum w * x_i
    products: np.ndarray  # shape (k, k): sum w * x_i * x_j

    def __post_init__(self) -> None:  # accept SQL lists; copy so the frozen object stays frozen
        k = len(self.names)
        object.__setattr__(self, "sums", np.array(self.sums, dtype=float).reshape(k))
        object.__setattr__(self, "products", np.array(self.products, dtype=float).reshape(k, k))

    @classmethod
    def from_values(cls, names: Sequence[str], x: Any, w: Any = None) -> CrossProducts:
        """Cross-products of an (n, k) matrix; rows with any NaN are dropped (listwise)."""
        data = np.asarray(x, dtype=float)
        if data.ndim != 2 or data.shape[1] != len(names):
            raise ValueError(f"x must have shape (n, {len(names)}), got {data.shape}")
        keep = ~np.isnan(data).any(axis=1)
        data, weights = data[keep], weights_for(data, w)[keep]
        products = (data * weights[:, None]).T @ data
        n, sum_w, sum_w2 = int(data.shape[0]), float(weights.sum()), float(weights @ weights)
        return cls(tuple(names), n, sum_w, sum_w2, weights @ data, products)

    @property
    def n_eff(self) -> float:
        return self.sum_w**2 / self.sum_w2 if self.n > 0 and self.sum_w2 > 0 else 0.0

    def index(self, name: str) -> int:
        if name not in self.names:
            raise KeyError(f"unknown variable {name!r}; have {list(self.names)}")
        return self.names.index(name)

    def means(self) -> np.ndarray:
        if self.sum_w <= 0:
            raise ValueError("no weight: means undefined")
        return self.sums / self.sum_w

    def covariance(self) -> np.ndarray:
        """Weighted population covariance, symmetrised against rounding in the SQL sums."""
        mu = self.means()
        cov = self.products / self.sum_w - np.outer(mu, mu)
        return (cov + cov.T) / 2.0


@dataclass(frozen=True)
class Regression:
    """Weighted OLS of target on predictors, as used for driver contributions to a change."""

    target: str
    predictors: tuple[str, ...]
    coefficients: dict[str, float]  # unstandardised OLS slopes (weighted)
    intercept: float
    r_squared: float
    n: int
    n_eff: float


def _slopes(cov: np.ndarray, target_idx: int, predictor_idx: Sequence[int]) -> np.ndarray:
    """Solve Sxx b = Sxy; lstsq gives the minimum-norm answer when predictors are collinear."""
    idx = list(predictor_idx)
    beta, *_ = np.linalg.lstsq(cov[np.ix_(idx, idx)], cov[idx, target_idx], rcond=None)
    return beta


def r_squared(cov: np.ndarray, target_idx: int, predictor_idx: Sequence[int]) -> float:
    """R^2 of the linear fit of one variable on others, from their covariance matrix alone."""
    var_y = float(cov[target_idx, target_idx])
    if len(predictor_idx) == 0 or var_y <= 0:
        return 0.0
    beta = _slopes(cov, target_idx, predictor_idx)
    explained = float(beta @ cov[list(predictor_idx), target_idx])
    return min(max(explained / var_y, 0.0), 1.0)


def _resolve(cp: CrossProducts, target: str, predictors: Sequence[str]) -> tuple[int, list[int]]:
    if len(set(predictors)) != len(predictors) or target in predictors:
        raise ValueError("predictors must be distinct and must not include the target")
    return cp.index(target), [cp.index(p) for p in predictors]


def regression(cp: CrossProducts, target: str, predictors: Sequence[str]) -> Regression:
    """Weighted OLS from the covariance matrix: slopes, intercept at the means, R^2."""
    t_idx, p_idx = _resolve(cp, target, predictors)
    cov, mu = cp.covariance(), cp.means()
    beta = _slopes(cov, t_idx, p_idx) if p_idx else np.zeros(0)
    coefficients = {name: float(b) for name, b in zip(predictors, beta, strict=True)}
    intercept = float(mu[t_idx] - beta @ mu[p_idx])
    r2 = r_squared(cov, t_idx, p_idx)
    return Regression(target, tuple(predictors), coefficients, intercept, r2, cp.n, cp.n_eff)


def lmg_importance(cp: CrossProducts, target: str, predictors: Sequence[str]) -> dict[str, float]:
    """Shapley (LMG) decomposition of R^2: each predictor's average R^2 gain over orderings.

    Averaging over p! orderings equals a weighted sum over the subsets S without j of
    R^2(S + j) - R^2(S), weight |S|! (p - |S| - 1)! / p!. R^2 is cached per subset bitmask,
    so 8 drivers cost 256 small solves. Contributions sum to the full-model R^2.
    """
    t_idx, p_idx = _resolve(cp, target, predictors)
    p = len(p_idx)
    if p > 16:  # 2^p subset fits stop being interactive
        raise ValueError(f"LMG over {p} predictors is too expensive (max 16)")
    cov = cp.covariance()
    subsets = ([p_idx[j] for j in range(p) if mask >> j & 1] for mask in range(1 << p))
    r2 = [r_squared(cov, t_idx, members) for members in subsets]  # indexed by bitmask
    weight = [math.factorial(s) * math.factorial(p - s - 1) / math.factorial(p) for s in range(p)]
    gains = [0.0] * p
    for mask in range(1 << p):
        for j in range(p):
            if not mask >> j & 1:
                gains[j] += weight[mask.bit_count()] * (r2[mask | 1 << j] - r2[mask])
    return {name: float(gain) for name, gain in zip(predictors, gains, strict=True)}


def importance_shares(contrib: dict[str, float]) -> dict[str, float]:
    """Contributions as percentages of their total (sum 100); all zero if nothing explained."""
    total = sum(contrib.values())
    return {name: 100.0 * value / total if total > 0 else 0.0 for name, value in contrib.items()}


def weighted_correlation(x: Any, y: Any, w: Any = None) -> float:
    """Weighted Pearson r over pairs where both are present; NaN when a variable is constant."""
    cp = CrossProducts.from_values(("x", "y"), np.column_stack([x, y]), w)
    cov = cp.covariance() if cp.n >= 2 and cp.sum_w > 0 else np.zeros((2, 2))
    denominator = math.sqrt(max(cov[0, 0], 0.0) * max(cov[1, 1], 0.0))
    return float(np.clip(cov[0, 1] / denominator, -1.0, 1.0)) if denominator > 0 else math.nan
