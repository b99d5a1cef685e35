"""Tests for cxengine.stats against hand arithmetic and independent libraries.

Expected values never come from cxengine.stats itself: they are worked out by hand in the
test, or computed by scipy / statsmodels / numpy from the raw rows.
"""

from __future__ import annotations

import itertools
import json
import math
import time

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats as sps
from statsmodels.stats.proportion import proportions_ztest
from statsmodels.stats.weightstats import DescrStatsW

from cxengine.regression import (
    CrossProducts,
    importance_shares,
    lmg_importance,
    r_squared,
    regression,
    weighted_correlation,
)
from cxengine.stats import (
    DEFAULT_THRESHOLDS,
    Estimate,
    Moments,
    Thresholds,
    base_flags,
    correlation_test,
    estimate,
    independent_z_test,
    paired_z_test,
    two_proportion_z_test,
    welch_t_test,
)

Z95 = 1.959963984540054  # norm.ppf(0.975)


def nps_recode(recommend: np.ndarray) -> np.ndarray:
    """Promoter 9-10 -> +100, passive 7-8 -> 0, detractor 0-6 -> -100."""
    return np.where(recommend >= 9, 100.0, np.where(recommend >= 7, 0.0, -100.0))


# ---------------------------------------------------------------- Moments, by hand


def test_moments_hand_example_weighted_nps() -> None:
    # scores +100, 0, -100, +100, +100 with weights 1..5
    m = Moments.from_values([100, 0, -100, 100, 100], [1, 2, 3, 4, 5])
    assert m.n == 5
    assert m.sum_w == 15.0  # 1+2+3+4+5
    assert m.sum_w2 == 55.0  # 1+4+9+16+25
    assert m.n_eff == pytest.approx(225 / 55)  # 15^2 / 55 = 4.0909...
    # sum wx = 100*1 + 0*2 - 100*3 + 100*4 + 100*5 = 700 -> mean 700/15 = 140/3
    assert m.mean == pytest.approx(140 / 3)
    # E[x^2] = 10000*(1+3+4+5)/15 = 26000/3; var = 26000/3 - (140/3)^2 = 58400/9
    assert m.variance == pytest.approx(58400 / 9)
    # se = sqrt(var / n_eff) = sqrt(58400/9 * 55/225)
    assert m.se == pytest.approx(math.sqrt(58400 / 9 * 55 / 225))


def test_moments_ignore_nan_scores_and_their_weights() -> None:
    m = Moments.from_values([1.0, float("nan"), 3.0], [1.0, 100.0, 3.0])
    assert (m.n, m.sum_w, m.sum_w2) == (2, 4.0, 10.0)
    assert m.mean == pytest.approx((1 * 1 + 3 * 3) / 4)  # 10/4


def test_empty_moments() -> None:
    m = Moments.from_values([])
    assert (m.n, m.n_eff, m.mean, m.variance, m.se) == (0, 0.0, None, None, None)
    e = estimate(m)
    assert e.value is None and e.n == 0 and "empty" in e.flags and "suppressed" in e.flags


def test_equal_weights_give_effective_base_n() -> None:
    # seven weights of 2.5: (7*2.5)^2 / (7*2.5^2) = 306.25 / 43.75 = 7
    m = Moments.from_values(np.arange(7.0), np.full(7, 2.5))
    assert m.n_eff == pytest.approx(7.0)
    assert Moments.from_values(np.arange(7.0)).n_eff == 7.0


def test_scaling_weights_changes_nothing() -> None:
    rng = np.random.default_rng(1)
    x, w = rng.integers(0, 11, 200).astype(float), rng.uniform(0.2, 3.0, 200)
    a, b = Moments.from_values(x, w), Moments.from_values(x, w * 37.5)
    assert b.mean == pytest.approx(a.mean, rel=1e-12)
    assert b.se == pytest.approx(a.se, rel=1e-12)
    assert b.n_eff == pytest.approx(a.n_eff, rel=1e-12)


def test_pooling_moments_equals_moments_of_pooled_rows() -> None:
    a = Moments.from_values([1.0, 2.0, 3.0], [1.0, 2.0, 1.0])
    b = Moments.from_values([7.0, 9.0], [0.5, 1.5])
    pooled = Moments.from_values([1.0, 2.0, 3.0, 7.0, 9.0], [1.0, 2.0, 1.0, 0.5, 1.5])
    assert a + b == pooled


def test_negative_weights_rejected() -> None:
    with pytest.raises(ValueError):
        Moments.from_values([1.0, 2.0], [1.0, -1.0])


@pytest.mark.parametrize("weighted", [False, True])
def test_nps_variance_equals_share_formula(weighted: bool) -> None:
    rng = np.random.default_rng(7)
    recommend = rng.integers(0, 11, 500)
    w = rng.uniform(0.3, 2.5, 500) if weighted else np.ones(500)
    m = Moments.from_values(nps_recode(recommend), w)
    p = w[recommend >= 9].sum() / w.sum()  # weighted promoter share
    d = w[recommend <= 6].sum() / w.sum()  # weighted detractor share
    assert m.mean == pytest.approx(100 * (p - d), rel=1e-12)
    assert m.variance == pytest.approx(100**2 * (p + d - (p - d) ** 2), rel=1e-10)
    n_eff = w.sum() ** 2 / (w**2).sum()
    assert m.se == pytest.approx(math.sqrt(100**2 * (p + d - (p - d) ** 2) / n_eff), rel=1e-10)


def test_weighted_mean_and_se_against_descrstatsw() -> None:
    rng = np.random.default_rng(3)
    x, w = rng.normal(7, 1.5, 300), rng.uniform(0.5, 2.0, 300)
    m = Moments.from_values(x, w)
    ds = DescrStatsW(x, weights=w, ddof=0)
    assert m.mean == pytest.approx(ds.mean, rel=1e-12)
    assert m.variance == pytest.approx(ds.var, rel=1e-9)
    # DescrStatsW.std_mean divides by sqrt(sum_w - 1), treating the weight total as the sample
    # size; our SE uses the Kish base instead, computed here by hand with a two-pass variance.
    mean = (w * x).sum() / w.sum()
    var = (w * (x - mean) ** 2).sum() / w.sum()
    n_eff = w.sum() ** 2 / (w**2).sum()
    assert m.se == pytest.approx(math.sqrt(var / n_eff), rel=1e-9)


# ---------------------------------------------------------------- thresholds and estimates


@pytest.mark.parametrize(
    ("n_eff", "expected"),
    [(29.99, ("suppressed",)), (30.0, ("small_base",)), (99.9, ("small_base",)), (100.0, ())],
)
def test_default_base_thresholds(n_eff: float, expected: tuple[str, ...]) -> None:
    assert base_flags(150, n_eff) == expected
    assert base_flags(150, n_eff, DEFAULT_THRESHOLDS) == expected


def test_custom_thresholds() -> None:
    t = Thresholds(suppress_below=10, small_below=20)
    assert base_flags(50, 9.99, t) == ("suppressed",)
    assert base_flags(50, 10.0, t) == ("small_base",)
    assert base_flags(50, 20.0, t) == ()
    assert base_flags(0, 0.0, t) == ("suppressed", "empty")


def test_thirty_equal_small_weights_are_a_base_of_thirty() -> None:
    m = Moments.from_values(np.arange(30.0), np.full(30, 0.1))  # n_eff 30 up to float noise
    assert estimate(m).flags == ("small_base",)


def test_suppressed_estimate_keeps_base_but_no_numbers() -> None:
    m = Moments(n=40, sum_w=29.99, sum_w2=29.99, sum_wx=299.9, sum_wx2=3500.0)  # n_eff 29.99
    e = estimate(m)
    assert (e.value, e.se, e.ci_low, e.ci_high) == (None, None, None, None)
    assert e.n == 40 and e.n_eff == pytest.approx(29.99)
    assert e.flags == ("suppressed",)


def test_estimate_ci_by_hand() -> None:
    # 120 rows: 60 at 4, 60 at 6 -> mean 5, population variance 1, se = 1/sqrt(120)
    m = Moments.from_values([4.0] * 60 + [6.0] * 60)
    e = estimate(m)
    se = 1 / math.sqrt(120)
    assert (e.value, e.n, e.n_eff, e.flags) == (5.0, 120, 120.0, ())
    assert e.se == pytest.approx(se)
    assert e.ci_low == pytest.approx(5 - Z95 * se)
    assert e.ci_high == pytest.approx(5 + Z95 * se)
    e90 = estimate(m, Thresholds(confidence=0.90))
    assert e90.ci_high == pytest.approx(5 + 1.6448536269514722 * se)


def test_estimate_ci_clipped_to_bounds() -> None:
    # 40 promoters, 1 passive: NPS 97.56, CI would pass +100
    m = Moments.from_values([100.0] * 40 + [0.0])
    e = estimate(m, Thresholds(suppress_below=5, small_below=10), bounds=(-100, 100))
    assert e.value == pytest.approx(4000 / 41)
    assert e.ci_high == 100.0
    assert e.ci_low == pytest.approx(4000 / 41 - Z95 * e.se)


def test_estimate_serialises_to_json() -> None:
    e = estimate(Moments.from_values(np.arange(50.0)))
    d = json.loads(json.dumps(e.to_dict()))
    assert d["flags"] == ["small_base"] and d["n"] == 50 and d["value"] == pytest.approx(24.5)


# ---------------------------------------------------------------- significance tests


def test_independent_z_test_by_hand() -> None:
    a = Estimate(20.0, 3.0, None, None, 200, 180.0, ())
    b = Estimate(30.0, 4.0, None, None, 220, 200.0, ())
    r = independent_z_test(a, b)
    assert r.statistic == pytest.approx(2.0)  # (30 - 20) / sqrt(9 + 16)
    assert r.p_value == pytest.approx(0.04550026389635842)  # 2 * (1 - Phi(2))
    assert r.significant and r.difference == 10.0
    assert not independent_z_test(a, b, confidence=0.99).significant
    json.dumps(r.to_dict())


def test_independent_z_test_refuses_suppressed_side() -> None:
    a = Estimate(20.0, 3.0, None, None, 200, 180.0, ())
    low = Estimate(None, None, None, None, 20, 19.5, ("suppressed",))
    r = independent_z_test(a, low)
    assert (r.statistic, r.p_value, r.significant) == (None, None, None)  # untested, not "no"
    assert r.detail["reason"] == "b: base too low"


def test_two_proportion_matches_statsmodels_unweighted() -> None:
    a = Moments.from_values([100.0] * 45 + [0.0] * 75)  # 45 of 120
    b = Moments.from_values([100.0] * 70 + [0.0] * 80)  # 70 of 150
    r = two_proportion_z_test(a, b)
    z, p = proportions_ztest([70, 45], [150, 120])  # first minus second = b - a
    assert r.statistic == pytest.approx(z, rel=1e-12)
    assert r.p_value == pytest.approx(p, rel=1e-12)
    assert r.difference == pytest.approx(100 * (70 / 150 - 45 / 120))
    assert "two-proportion" in r.test


def test_two_proportion_degenerate_shares() -> None:
    r = two_proportion_z_test(Moments.from_values([0.0] * 50), Moments.from_values([0.0] * 60))
    assert r.statistic is None and r.detail["reason"] == "zero standard error"


def test_welch_matches_scipy_unweighted() -> None:
    rng = np.random.default_rng(11)
    xa, xb = rng.normal(6.5, 1.2, 40), rng.normal(7.1, 2.0, 55)
    r = welch_t_test(Moments.from_values(xa), Moments.from_values(xb))
    # Our variance is the population one, corrected by n/(n-1): scipy's unbiased variance.
    ref = sps.ttest_ind(xb, xa, equal_var=False)
    assert r.statistic == pytest.approx(ref.statistic, rel=0, abs=1e-9)
    assert r.p_value == pytest.approx(ref.pvalue, rel=0, abs=1e-9)
    assert r.detail["df"] == pytest.approx(ref.df, rel=1e-9)
    assert r.difference == pytest.approx(xb.mean() - xa.mean())


def _weighted_sample(seed: int, n: int, p: float) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return (rng.random(n) < p) * 100.0, rng.uniform(0.2, 3.0, n)


def test_two_proportion_weighted_by_hand_and_statsmodels_on_effective_counts() -> None:
    (ya, wa), (yb, wb) = _weighted_sample(3, 140, 0.35), _weighted_sample(4, 170, 0.5)
    r = two_proportion_z_test(Moments.from_values(ya, wa), Moments.from_values(yb, wb))
    # by hand: weighted shares, Kish bases, pooled share on those bases
    pa, pb = np.average(ya / 100, weights=wa), np.average(yb / 100, weights=wb)
    na, nb = wa.sum() ** 2 / (wa ** 2).sum(), wb.sum() ** 2 / (wb ** 2).sum()
    pooled = (pa * na + pb * nb) / (na + nb)
    z = (pb - pa) / math.sqrt(pooled * (1 - pooled) * (1 / na + 1 / nb))
    assert r.statistic == pytest.approx(z, rel=1e-12)
    assert r.p_value == pytest.approx(2 * sps.norm.sf(abs(z)), rel=1e-9)
    assert r.difference == pytest.approx(100 * (pb - pa), rel=1e-12)
    # statsmodels with effective counts (share x effective base) gives the same test
    z_sm, p_sm = proportions_ztest([pb * nb, pa * na], [nb, na])
    assert (r.statistic, r.p_value) == (pytest.approx(z_sm, rel=1e-9),
                                        pytest.approx(p_sm, rel=1e-9))


def test_welch_weighted_by_hand() -> None:
    rng = np.random.default_rng(21)
    xa, xb = rng.normal(6.0, 1.5, 60), rng.normal(6.6, 2.2, 45)
    wa, wb = rng.uniform(0.3, 2.5, 60), rng.uniform(0.3, 2.5, 45)
    r = welch_t_test(Moments.from_values(xa, wa), Moments.from_values(xb, wb))

    def side(x: np.ndarray, w: np.ndarray) -> tuple[float, float, float]:
        mean = np.average(x, weights=w)
        n_eff = w.sum() ** 2 / (w ** 2).sum()
        var = np.average((x - mean) ** 2, weights=w) * n_eff / (n_eff - 1)  # unbiased on n_eff
        return mean, var / n_eff, n_eff

    (ma, qa, na), (mb, qb, nb) = side(xa, wa), side(xb, wb)
    t = (mb - ma) / math.sqrt(qa + qb)
    df = (qa + qb) ** 2 / (qa ** 2 / (na - 1) + qb ** 2 / (nb - 1))
    assert r.statistic == pytest.approx(t, rel=1e-10)
    assert r.detail["df"] == pytest.approx(df, rel=1e-10)
    assert r.p_value == pytest.approx(2 * sps.t.sf(abs(t), df), rel=1e-8)
    assert r.difference == pytest.approx(mb - ma, rel=1e-12)


def test_paired_test_below_the_minimum_base_is_no_test() -> None:
    d = Moments.from_values([2.0, -1.0, 3.0, 0.0, 1.0])
    r = paired_z_test(d, min_base=5.0)
    assert r.significant is not None  # exactly at the minimum: tested
    r = paired_z_test(d, min_base=5.01)
    assert (r.statistic, r.significant) == (None, None)
    assert r.detail["reason"].startswith("too few common raters (effective base 5.0")
    assert paired_z_test(Moments.from_values([])).significant is None


def test_welch_needs_effective_base_above_one() -> None:
    r = welch_t_test(Moments.from_values([5.0]), Moments.from_values([1.0, 2.0, 3.0]))
    assert r.statistic is None and r.significant is None


def test_paired_z_test_by_hand() -> None:
    # d = 2, -1, 3, 0, 1: mean 1; deviations 1, -2, 2, -1, 0 -> population variance 10/5 = 2
    # se = sqrt(2 / 5); z = 1 / sqrt(0.4) = sqrt(2.5)
    r = paired_z_test(Moments.from_values([2.0, -1.0, 3.0, 0.0, 1.0]))
    assert r.statistic == pytest.approx(math.sqrt(2.5))
    assert r.p_value == pytest.approx(2 * sps.norm.sf(math.sqrt(2.5)))
    assert r.difference == 1.0
    assert r.detail["n_common"] == 5 and r.detail["n_eff"] == 5.0
    assert "paired" in r.test


def test_paired_z_close_to_one_sample_t_for_large_n() -> None:
    rng = np.random.default_rng(5)
    d = rng.normal(3.0, 40.0, 5000)
    r = paired_z_test(Moments.from_values(d))
    ref = sps.ttest_1samp(d, 0.0)
    assert r.statistic == pytest.approx(ref.statistic, rel=1e-3)
    assert r.p_value == pytest.approx(ref.pvalue, abs=1e-3)


def test_paired_without_common_raters() -> None:
    r = paired_z_test(Moments.from_values([]))
    assert r.statistic is None and r.detail["n_common"] == 0


# ---------------------------------------------------------------- regression and LMG


def make_drivers(n: int, k: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    common = rng.normal(size=(n, 1))
    x = 5 + 1.5 * rng.normal(size=(n, k)) + common  # correlated predictors
    y = 2 + x @ rng.uniform(0.2, 2.0, k) + rng.normal(0, 3, n)
    return x, y, rng.uniform(0.3, 2.5, n)


def ols_r2(y: np.ndarray, x: np.ndarray, w: np.ndarray) -> float:
    """Independent weighted R^2 via an explicit design matrix with intercept."""
    if x.shape[1] == 0:
        return 0.0
    design = np.column_stack([np.ones(len(y)), x]) * np.sqrt(w)[:, None]
    beta, *_ = np.linalg.lstsq(design, y * np.sqrt(w), rcond=None)
    resid = y - np.column_stack([np.ones(len(y)), x]) @ beta
    ybar = (w * y).sum() / w.sum()
    return 1 - (w * resid**2).sum() / (w * (y - ybar) ** 2).sum()


def test_regression_matches_weighted_least_squares() -> None:
    x, y, w = make_drivers(400, 3, seed=2)
    names = ("nps", "ease", "knowledge", "product")
    cp = CrossProducts.from_values(names, np.column_stack([y, x]), w)
    reg = regression(cp, "nps", names[1:])
    # numpy: centre with weighted means, scale rows by sqrt(w), solve without intercept
    xc = x - (w[:, None] * x).sum(0) / w.sum()
    yc = y - (w * y).sum() / w.sum()
    beta, *_ = np.linalg.lstsq(xc * np.sqrt(w)[:, None], yc * np.sqrt(w), rcond=None)
    assert [reg.coefficients[n] for n in names[1:]] == pytest.approx(beta, rel=1e-8)
    wls = sm.WLS(y, sm.add_constant(x), weights=w).fit()
    assert reg.intercept == pytest.approx(wls.params[0], rel=1e-8)
    assert [reg.coefficients[n] for n in names[1:]] == pytest.approx(wls.params[1:], rel=1e-8)
    assert reg.r_squared == pytest.approx(wls.rsquared, rel=1e-8)
    assert reg.n == 400 and reg.n_eff == pytest.approx(w.sum() ** 2 / (w**2).sum())


def test_regression_survives_collinear_predictors() -> None:
    x, y, w = make_drivers(200, 2, seed=4)
    data = np.column_stack([y, x, x[:, 0]])  # third predictor duplicates the first
    cp = CrossProducts.from_values(("y", "a", "b", "a_copy"), data, w)
    reg = regression(cp, "y", ("a", "b", "a_copy"))
    assert reg.r_squared == pytest.approx(ols_r2(y, x, w), rel=1e-8)
    contrib = lmg_importance(cp, "y", ("a", "b", "a_copy"))
    assert contrib["a"] == pytest.approx(contrib["a_copy"], rel=1e-8)


def test_r_squared_from_covariance_by_hand() -> None:
    # y = x1 + x2 with x1, x2 independent unit variance: var y = 2, R^2(x1) = 1/2
    cov = np.array([[2.0, 1.0, 1.0], [1.0, 1.0, 0.0], [1.0, 0.0, 1.0]])
    assert r_squared(cov, 0, [1]) == pytest.approx(0.5)
    assert r_squared(cov, 0, [1, 2]) == pytest.approx(1.0)
    assert r_squared(cov, 0, []) == 0.0


def test_lmg_two_predictors_closed_form() -> None:
    x, y, w = make_drivers(300, 2, seed=8)
    cp = CrossProducts.from_values(("y", "a", "b"), np.column_stack([y, x]), w)
    r2_a, r2_b, r2_ab = ols_r2(y, x[:, :1], w), ols_r2(y, x[:, 1:], w), ols_r2(y, x, w)
    contrib = lmg_importance(cp, "y", ("a", "b"))
    # average of the two orderings: a first, then a after b
    assert contrib["a"] == pytest.approx((r2_a + (r2_ab - r2_b)) / 2, rel=1e-8)
    assert contrib["b"] == pytest.approx((r2_b + (r2_ab - r2_a)) / 2, rel=1e-8)


def test_lmg_uncorrelated_predictors_get_squared_correlations() -> None:
    rng = np.random.default_rng(9)
    # QR of [1, noise]: the later columns are orthogonal to the constant (mean zero) and to
    # each other, so the three predictors have exactly zero sample covariance
    x = np.linalg.qr(np.column_stack([np.ones(200), rng.normal(size=(200, 3))]))[0][:, 1:]
    y = x @ np.array([3.0, 2.0, 1.0]) + rng.normal(0, 0.05, 200)
    cp = CrossProducts.from_values(("y", "a", "b", "c"), np.column_stack([y, x]))
    contrib = lmg_importance(cp, "y", ("a", "b", "c"))
    r2 = {n: np.corrcoef(y, x[:, i])[0, 1] ** 2 for i, n in enumerate("abc")}
    for name in "abc":
        assert contrib[name] == pytest.approx(r2[name], rel=1e-8)
    shares = importance_shares(contrib)
    total = sum(r2.values())
    assert shares == pytest.approx({n: 100 * r2[n] / total for n in "abc"}, rel=1e-8)


def test_lmg_four_predictors_against_permutation_average() -> None:
    x, y, w = make_drivers(250, 4, seed=12)
    names = ("a", "b", "c", "d")
    cp = CrossProducts.from_values(("y", *names), np.column_stack([y, x]), w)
    contrib = lmg_importance(cp, "y", names)
    brute = dict.fromkeys(names, 0.0)
    orders = list(itertools.permutations(range(4)))
    for order in orders:
        for pos, j in enumerate(order):
            before, after = list(order[:pos]), list(order[: pos + 1])
            brute[names[j]] += (ols_r2(y, x[:, after], w) - ols_r2(y, x[:, before], w)) / len(
                orders
            )
    assert contrib == pytest.approx(brute, rel=1e-7)
    assert sum(contrib.values()) == pytest.approx(ols_r2(y, x, w), rel=1e-9)
    assert sum(importance_shares(contrib).values()) == pytest.approx(100.0)


def test_lmg_eight_predictors_is_fast() -> None:
    x, y, w = make_drivers(2000, 8, seed=13)
    names = tuple(f"driver_{i}" for i in range(8))
    cp = CrossProducts.from_values(("nps", *names), np.column_stack([y, x]), w)
    timings = []
    for _ in range(5):
        start = time.perf_counter()
        contrib = lmg_importance(cp, "nps", names)
        timings.append(time.perf_counter() - start)
    assert min(timings) < 0.05
    assert sum(contrib.values()) == pytest.approx(regression(cp, "nps", names).r_squared)


def test_lmg_rejects_target_among_predictors() -> None:
    cp = CrossProducts.from_values(("y", "a"), np.ones((3, 2)))
    with pytest.raises(ValueError):
        lmg_importance(cp, "y", ("y", "a"))


def test_importance_shares_without_explained_variance() -> None:
    assert importance_shares({"a": 0.0, "b": 0.0}) == {"a": 0.0, "b": 0.0}
    assert importance_shares({"a": 0.3, "b": 0.1}) == pytest.approx({"a": 75.0, "b": 25.0})


def test_cross_products_drop_incomplete_rows() -> None:
    data = np.array([[1.0, 2.0], [np.nan, 1.0], [3.0, 5.0]])
    cp = CrossProducts.from_values(("a", "b"), data)
    assert cp.n == 2
    # means (2, 3.5); population covariance of the two complete rows by hand
    assert cp.covariance() == pytest.approx(np.array([[1.0, 1.5], [1.5, 2.25]]))


# ---------------------------------------------------------------- correlation


def test_weighted_correlation_unweighted_matches_numpy() -> None:
    rng = np.random.default_rng(21)
    x = rng.normal(size=60)
    y = 0.8 * x + rng.normal(scale=0.6, size=60)
    assert weighted_correlation(x, y) == pytest.approx(np.corrcoef(x, y)[0, 1], rel=1e-12)


def test_weighted_correlation_weighted_matches_numpy_aweights() -> None:
    rng = np.random.default_rng(22)
    x, w = rng.normal(size=80), rng.uniform(0.2, 3.0, 80)
    y = -0.5 * x + rng.normal(size=80)
    c = np.cov(x, y, aweights=w)
    assert weighted_correlation(x, y, w) == pytest.approx(
        c[0, 1] / math.sqrt(c[0, 0] * c[1, 1]), rel=1e-12
    )


def test_weighted_correlation_undefined_for_constant() -> None:
    assert math.isnan(weighted_correlation([1.0, 1.0, 1.0], [1.0, 2.0, 3.0]))
    assert correlation_test(float("nan"), 10).p_value is None


def test_correlation_test_by_hand_and_against_pearsonr() -> None:
    # r = 0.5, n = 27: t = 0.5 * sqrt(25 / 0.75) = 2.8867513...
    r = correlation_test(0.5, 27)
    assert r.statistic == pytest.approx(0.5 * math.sqrt(25 / 0.75))
    assert r.p_value == pytest.approx(2 * sps.t.sf(0.5 * math.sqrt(25 / 0.75), 25))
    rng = np.random.default_rng(23)
    x = rng.normal(size=30)
    y = 0.4 * x + rng.normal(size=30)
    ref = sps.pearsonr(x, y)
    result = correlation_test(weighted_correlation(x, y), 30)
    assert result.p_value == pytest.approx(ref.pvalue, rel=1e-9)
    assert result.significant == (ref.pvalue < 0.05)


def test_correlation_test_edge_cases() -> None:
    assert correlation_test(0.9, 2).statistic is None
    perfect = correlation_test(1.0, 10)
    assert perfect.p_value == 0.0 and perfect.significant and perfect.statistic is None
    json.dumps(perfect.to_dict())


def test_invalid_confidence_rejected() -> None:
    with pytest.raises(ValueError):
        paired_z_test(Moments.from_values([1.0, 2.0]), confidence=1.5)


def test_constant_scores_have_exactly_zero_se() -> None:
    # 41 detractors at weight 0.05: E[x^2] - E[x]^2 cancels to float noise, which must not
    # surface as a non-zero SE or an interval that excludes the value
    e = estimate(Moments.from_values([-100.0] * 41, [0.05] * 41), Thresholds(5, 10), (-100, 100))
    assert (e.value, e.se, e.ci_low, e.ci_high) == (-100.0, 0.0, -100.0, -100.0)
