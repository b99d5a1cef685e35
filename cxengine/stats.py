"""Survey statistics from sufficient statistics (weighted sums computed in DuckDB SQL), never
rows, so every number is reproducible from a short query. Tests and intervals use the Kish
effective base n_eff; variances are weighted population variances (SE = sqrt(var / n_eff));
"difference" is always b - a in the units of the score."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from functools import lru_cache
from statistics import NormalDist
from typing import Any

import numpy as np

__all__ = [
    "DEFAULT_THRESHOLDS", "Estimate", "Moments", "TestResult", "Thresholds", "base_flags",
    "correlation_test", "estimate", "independent_z_test", "paired_z_test",
    "two_proportion_z_test", "weights_for", "welch_t_test"]  # fmt: skip

_BASE_TOLERANCE = 1e-9  # n_eff is a float ratio: 30 weights of 0.1 are a base of 30, not 29.99..


def weights_for(x: np.ndarray, w: Any) -> np.ndarray:  # equal weights when none are given
    if w is None:
        return np.ones(x.shape[0])
    weights = np.asarray(w, dtype=float)
    if weights.shape != x.shape[:1]:
        raise ValueError(f"weights shape {weights.shape} does not match rows {x.shape[:1]}")
    if not np.all(np.isfinite(weights)) or np.any(weights < 0):
        raise ValueError("weights must be finite and non-negative")
    return weights


@lru_cache(maxsize=64)  # the same few confidence levels, asked for every cell
def _z_critical(confidence: float) -> float:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    return NormalDist().inv_cdf(0.5 + confidence / 2.0)


def _t_two_sided_p(t: float, df: float) -> float:
    # scipy.stats takes seconds to import; the t distribution alone, imported on the first
    # t-test, keeps a fresh `cxassist ask` of a value or a z-test quick.
    from scipy.special import stdtr

    return float(2.0 * stdtr(df, -abs(t)))


@dataclass(frozen=True)
class Moments:
    """Weighted sums of one row score x (NPS recoded +100/0/-100, a 0/100 share indicator,
    a rating). Sums of independent samples add, so pooling segments or waves is ``a + b``."""

    n: int  # unweighted count of rows
    sum_w: float
    sum_w2: float
    sum_wx: float
    sum_wx2: float

    def __post_init__(self) -> None:
        if self.n < 0 or self.sum_w < 0 or self.sum_w2 < 0:
            raise ValueError(f"invalid moments: {self}")

    @classmethod
    def from_values(cls, x: Any, w: Any = None) -> Moments:
        """Moments of raw values (tests, paired differences); NaN scores are not answers."""
        values = np.asarray(x, dtype=float).ravel()
        keep = ~np.isnan(values)
        values, weights = values[keep], weights_for(values, w)[keep]
        sums = (weights.sum(), weights @ weights, weights @ values, weights @ values**2)
        return cls(int(values.size), *(float(total) for total in sums))

    @property
    def n_eff(self) -> float:
        """Kish effective base (sum w)^2 / sum w^2: the base every test and interval uses."""
        return self.sum_w**2 / self.sum_w2 if self.n > 0 and self.sum_w2 > 0 else 0.0

    @property
    def mean(self) -> float | None:
        return self.sum_wx / self.sum_w if self.sum_w > 0 else None

    @property
    def variance(self) -> float | None:
        """Weighted population variance E[x^2] - E[x]^2. Below 1e-10 E[x^2] the difference is
        cancellation noise (a constant score must have SE 0, not 1e-6), so it is snapped to 0."""
        if (mean := self.mean) is None:
            return None
        mean_sq = self.sum_wx2 / self.sum_w
        variance = mean_sq - mean * mean
        return variance if variance > 1e-10 * mean_sq else 0.0

    @property
    def se(self) -> float | None:
        variance, n_eff = self.variance, self.n_eff
        return None if variance is None or n_eff <= 0 else math.sqrt(variance / n_eff)

    def __add__(self, other: Moments) -> Moments:
        if not isinstance(other, Moments):
            return NotImplemented
        pairs = zip(dataclasses.astuple(self), dataclasses.astuple(other), strict=True)
        return Moments(*(mine + theirs for mine, theirs in pairs))


@dataclass(frozen=True)
class Thresholds:
    """Base rules clients check us against (defaults of standard tabulation software)."""

    suppress_below: float = 30.0  # effective base below this: value suppressed (never shown)
    small_below: float = 100.0  # effective base below this: shown with "small_base" flag
    confidence: float = 0.95


DEFAULT_THRESHOLDS = Thresholds()


@dataclass(frozen=True)
class Estimate:
    """A KPI value with everything needed to judge it: base, SE, interval and flags."""

    value: float | None  # None when suppressed or empty
    se: float | None
    ci_low: float | None
    ci_high: float | None
    n: int
    n_eff: float
    flags: tuple[str, ...]  # subset of ("suppressed", "small_base", "empty")

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "flags": list(self.flags)}


def base_flags(
    n: int, n_eff: float, thresholds: Thresholds = DEFAULT_THRESHOLDS
) -> tuple[str, ...]:
    """Flags for a base. An empty base is also suppressed so nothing downstream shows it."""
    n_eff *= 1.0 + _BASE_TOLERANCE
    if n == 0:
        return ("suppressed", "empty")
    if n_eff < thresholds.suppress_below:
        return ("suppressed",)
    return ("small_base",) if n_eff < thresholds.small_below else ()


def estimate(
    m: Moments,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    bounds: tuple[float, float] | None = None,
) -> Estimate:
    """Weighted mean with a normal CI value +/- z * se, clipped to ``bounds`` (NPS (-100, 100),
    shares (0, 100)) so it never claims impossible values. Suppressed estimates keep n and n_eff
    (the base is evidence) but no value, SE or CI: a too-small base can never leak a number."""
    n_eff = float(m.n_eff)
    flags = base_flags(m.n, n_eff, thresholds)
    value, se = m.mean, m.se
    if "suppressed" in flags or value is None or se is None:  # no weight: nothing to show either
        flags = flags if "suppressed" in flags else ("suppressed", *flags)
        return Estimate(None, None, None, None, int(m.n), n_eff, flags)
    lo, hi = bounds if bounds is not None else (-math.inf, math.inf)
    value = min(max(value, lo), hi)  # only float noise can push a mean outside its bounds
    half = _z_critical(thresholds.confidence) * se
    low, high = max(value - half, lo), min(value + half, hi)
    return Estimate(float(value), float(se), float(low), float(high), int(m.n), n_eff, flags)


@dataclass(frozen=True)
class TestResult:
    """Outcome of a significance test, naming the test so the answer can say which was used."""

    __test__ = False  # not a pytest test class despite the name

    test: str
    statistic: float | None
    p_value: float | None
    significant: bool | None  # None: no test was possible (detail["reason"] says why)
    difference: float | None  # b - a
    confidence: float
    detail: dict[str, Any]  # plain floats/ints/str only, so results serialise to JSON

    def __post_init__(self) -> None:
        _z_critical(self.confidence)  # validates it: "significant" means p < 1 - confidence

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _untestable(
    test: str, confidence: float, reason: str, difference: float | None = None, /, **detail: Any
) -> TestResult:
    """A test that cannot be run says why instead of pretending to a p-value: significant is
    None, never False, so nobody can read "not significant" into a test that did not run."""
    return TestResult(test, None, None, None, difference, confidence, {"reason": reason, **detail})


def _normal_result(
    test: str, difference: float, se: float, confidence: float, /, **detail: Any
) -> TestResult:  # positional-only, so "se" or "difference" may also be detail keys
    if not se > 0:
        return _untestable(test, confidence, "zero standard error", difference, **detail)
    z = difference / se
    p = math.erfc(abs(z) / math.sqrt(2.0))  # = 2 * (1 - Phi(|z|)), exact in the far tail
    return TestResult(test, z, p, p < 1.0 - confidence, difference, confidence, detail)


def independent_z_test(a: Estimate, b: Estimate, confidence: float = 0.95) -> TestResult:
    """z = (b - a) / sqrt(se_a^2 + se_b^2) for independent samples (waves, markets)."""
    name = "two-sample z-test (independent samples, effective bases)"
    bases = {"n_eff_a": a.n_eff, "n_eff_b": b.n_eff}
    if a.value is None or a.se is None or b.value is None or b.se is None:
        side, est = ("a", a) if a.value is None or a.se is None else ("b", b)
        why = "no estimate" if "empty" in est.flags else "base too low"
        return _untestable(name, confidence, f"{side}: {why}", **bases)
    se = math.sqrt(a.se**2 + b.se**2)
    return _normal_result(name, b.value - a.value, se, confidence, se_a=a.se, se_b=b.se, **bases)


def welch_t_test(a: Moments, b: Moments, confidence: float = 0.95) -> TestResult:
    """Welch's t-test on effective bases, variance corrected to var * n_eff / (n_eff - 1):
    with equal weights this is exactly scipy.stats.ttest_ind(equal_var=False)."""
    name = "Welch t-test (effective bases)"
    na, nb = a.n_eff, b.n_eff
    if na <= 1 or nb <= 1 or a.variance is None or b.variance is None:
        return _untestable(name, confidence, "effective base must exceed 1", n_eff_a=na, n_eff_b=nb)
    difference = b.sum_wx / b.sum_w - a.sum_wx / a.sum_w
    qa, qb = a.variance / (na - 1), b.variance / (nb - 1)  # unbiased variance / n_eff
    detail = {"se_a": math.sqrt(qa), "se_b": math.sqrt(qb), "n_eff_a": na, "n_eff_b": nb}
    if not qa + qb > 0:
        return _untestable(name, confidence, "zero standard error", difference, **detail)
    df = (qa + qb) ** 2 / (qa**2 / (na - 1) + qb**2 / (nb - 1))  # Welch-Satterthwaite
    t = difference / math.sqrt(qa + qb)
    p = _t_two_sided_p(t, df)
    detail["df"] = df
    return TestResult(name, t, p, p < 1.0 - confidence, difference, confidence, detail)


def two_proportion_z_test(a: Moments, b: Moments, confidence: float = 0.95) -> TestResult:
    """Pooled z-test on a 0/100 indicator with counts p * n_eff (unweighted: statsmodels'
    proportions_ztest); the difference is in percentage points."""
    name = "pooled two-proportion z-test (effective bases)"
    na, nb = a.n_eff, b.n_eff
    if na <= 0 or nb <= 0 or a.mean is None or b.mean is None:
        return _untestable(name, confidence, "empty base", n_eff_a=na, n_eff_b=nb)
    pa, pb = a.mean / 100.0, b.mean / 100.0
    pooled = (pa * na + pb * nb) / (na + nb)
    se = math.sqrt(max(pooled * (1.0 - pooled), 0.0) * (1.0 / na + 1.0 / nb))
    detail = {"p_a": pa, "p_b": pb, "p_pooled": pooled, "n_eff_a": na, "n_eff_b": nb}
    result = _normal_result(name, pb - pa, se, confidence, **detail)
    return dataclasses.replace(result, difference=100.0 * (pb - pa))


def paired_z_test(d: Moments, confidence: float = 0.95, min_base: float = 0.0) -> TestResult:
    """z = mean(d) / se(d) on per-respondent differences d (brand b - brand a). Brands in one
    wave share raters; differencing within respondent removes what they have in common.
    Below `min_base` common raters (effective) no test is run, as no value would be shown."""
    name = "paired z-test on common raters"
    detail = {"n_common": int(d.n), "n_eff": d.n_eff}
    if d.mean is None or d.se is None:
        return _untestable(name, confidence, "no common raters", **detail)
    if d.n_eff * (1.0 + _BASE_TOLERANCE) < min_base:
        return _untestable(name, confidence, f"too few common raters (effective base "
                           f"{format_below(d.n_eff, min_base)} < {min_base:g})", d.mean,
                           **detail)
    return _normal_result(name, d.mean, d.se, confidence, se=d.se, **detail)


def correlation_test(r: float, n: float, confidence: float = 0.95) -> TestResult:
    """t = r sqrt((n - 2) / (1 - r^2)) with n - 2 df; pass n_eff as n for a weighted r."""
    name = "t-test of Pearson correlation"
    if r is None or math.isnan(r):
        return _untestable(name, confidence, "correlation undefined", n=float(n))
    detail = {"r": float(r), "n": float(n), "df": float(n) - 2.0}
    if n <= 2:
        return _untestable(name, confidence, "need more than 2 observations", **detail)
    if abs(r) >= 1.0:  # t is infinite; report the certainty without a non-JSON inf
        return TestResult(name, None, 0.0, True, None, confidence, detail)
    t = float(r * math.sqrt((n - 2) / (1.0 - r * r)))
    p = _t_two_sided_p(t, n - 2)
    return TestResult(name, t, p, p < 1.0 - confidence, None, confidence, detail)


def format_below(n_eff: float | None, threshold: float, decimals: int = 1) -> str:
    """An effective base written so that it reads below the threshold it is below: with
    `decimals` decimals, more (up to 4) when rounding would reach the threshold (29.995 is
    "29.99" or "29.995", never "30.0"), and "just under <threshold>" when even 4 decimals
    would (the number is then already rounded beyond telling). Rounded, not floored, so
    the figure is the evidence's number at some display precision."""
    if n_eff is None:
        return "n/a"
    for d in range(decimals, 5):
        text = f"{n_eff:.{d}f}"
        if float(text) < threshold:
            return text
    return f"just under {threshold:g}"
