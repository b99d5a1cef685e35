"""Property tests: invariants of weighted NPS estimates that must hold for any valid sample."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cxengine.stats import Moments, Thresholds, estimate

# Small thresholds so that most generated samples produce a shown (not suppressed) estimate.
LOW_BASES = Thresholds(suppress_below=2, small_below=5)
NPS_BOUNDS = (-100.0, 100.0)
PROPERTY_SETTINGS = settings(max_examples=100, deadline=None)


@st.composite
def rated_samples(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    """Recommend answers 0..10 with strictly positive survey weights."""
    n = draw(st.integers(min_value=1, max_value=60))
    recommend = draw(st.lists(st.integers(0, 10), min_size=n, max_size=n))
    weight = st.floats(0.05, 20.0, allow_nan=False, allow_infinity=False)
    weights = draw(st.lists(weight, min_size=n, max_size=n))
    return np.array(recommend), np.array(weights)


def nps_recode(recommend: np.ndarray) -> np.ndarray:
    return np.where(recommend >= 9, 100.0, np.where(recommend >= 7, 0.0, -100.0))


@PROPERTY_SETTINGS
@given(rated_samples())
def test_nps_within_bounds(sample: tuple[np.ndarray, np.ndarray]) -> None:
    recommend, weights = sample
    nps = Moments.from_values(nps_recode(recommend), weights).mean
    assert nps is not None
    assert -100.0 - 1e-9 <= nps <= 100.0 + 1e-9


@PROPERTY_SETTINGS
@given(rated_samples())
def test_ci_contains_estimate_when_shown(sample: tuple[np.ndarray, np.ndarray]) -> None:
    recommend, weights = sample
    e = estimate(Moments.from_values(nps_recode(recommend), weights), LOW_BASES, NPS_BOUNDS)
    if "suppressed" in e.flags:
        assert e.value is None and e.ci_low is None and e.ci_high is None
        return
    assert e.value is not None and e.ci_low is not None and e.ci_high is not None
    assert -100.0 <= e.ci_low <= e.value <= e.ci_high <= 100.0


@PROPERTY_SETTINGS
@given(rated_samples(), st.floats(0.01, 1000.0, allow_nan=False, allow_infinity=False))
def test_invariant_to_weight_scale(sample: tuple[np.ndarray, np.ndarray], factor: float) -> None:
    recommend, weights = sample
    scores = nps_recode(recommend)
    a = estimate(Moments.from_values(scores, weights), LOW_BASES, NPS_BOUNDS)
    b = estimate(Moments.from_values(scores, weights * factor), LOW_BASES, NPS_BOUNDS)
    assert b.n == a.n
    assert b.n_eff == pytest.approx(a.n_eff, rel=1e-9)
    if a.value is None or b.value is None:
        # only a base sitting exactly on a threshold could flip; both sides must agree otherwise
        assert a.n_eff == pytest.approx(LOW_BASES.suppress_below) or a.flags == b.flags
        return
    assert b.value == pytest.approx(a.value, rel=1e-9, abs=1e-9)
    assert b.se == pytest.approx(a.se, rel=1e-6, abs=1e-6)
    assert b.ci_low == pytest.approx(a.ci_low, rel=1e-6, abs=1e-6)
    assert b.ci_high == pytest.approx(a.ci_high, rel=1e-6, abs=1e-6)


@PROPERTY_SETTINGS
@given(rated_samples())
def test_effective_base_at_most_n(sample: tuple[np.ndarray, np.ndarray]) -> None:
    recommend, weights = sample
    m = Moments.from_values(nps_recode(recommend), weights)
    assert 0.0 < m.n_eff <= m.n * (1 + 1e-12)


@PROPERTY_SETTINGS
@given(
    st.lists(st.integers(0, 10), min_size=1, max_size=80),
    st.floats(0.01, 100.0, allow_nan=False, allow_infinity=False),
)
def test_equal_weights_effective_base_is_n(recommend: list[int], weight: float) -> None:
    m = Moments.from_values(nps_recode(np.array(recommend)), np.full(len(recommend), weight))
    assert m.n_eff == pytest.approx(len(recommend), rel=1e-12)
