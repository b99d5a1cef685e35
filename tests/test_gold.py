"""The gold set: parse accuracy and value accuracy per intent, 100% required.

Expected values are recomputed here straight from the tables with pandas (weighted
means of per-rater scores written out below), never through cxengine, and compared
with the Answer's values within 1e-6. Numbers in every answer text must be
supported by its values/evidence (after display rounding), wave ids or the question.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pytest
import yaml

from assistant.answer import Answer
from assistant.conversation import Conversation
from tests.answer_checks import assert_private

GOLD = Path(__file__).with_name("gold") / "questions.yaml"
DB = Path("data/cx.duckdb")
pytestmark = pytest.mark.skipif(not DB.exists(), reason="no database at data/cx.duckdb")

DRIVERS = ["knowledge", "ease", "responsiveness", "respect_time", "personalisation",
           "content_relevance", "seamless"]


def _t2b(col: str, cut: int):
    return lambda d: np.where(d[col].isna(), np.nan, np.where(d[col] >= cut, 100.0, 0.0))


# Per-rater scores, written independently of kpis.yaml from DOMAIN §3.
SCORES = {
    "nps": lambda d: np.select([d.recommend >= 9, d.recommend >= 7, d.recommend.notna()],
                               [100.0, 0.0, -100.0], np.nan),
    "promoters_pct": _t2b("recommend", 9),
    "detractors_pct": lambda d: np.where(d.recommend.isna(), np.nan,
                                         np.where(d.recommend <= 6, 100.0, 0.0)),
    "csat_t2b": _t2b("satisfaction", 4), "csat_mean": lambda d: d.satisfaction,
    "ces_t2b": _t2b("effort_ease", 5), "ces_mean": lambda d: d.effort_ease,
    "intent_t2b": _t2b("intent_more", 4), "product_score": lambda d: d.product_rating,
    "patient_share": lambda d: d.patient_share,
    "cx_index": lambda d: d[DRIVERS].mean(axis=1, skipna=False) * 10,
    **{f"driver:{k}": (lambda d, k=k: d[k]) for k in DRIVERS},
}
SEGMENT_LABELS = {"prescribers": ("prescriber", True), "non-prescribers": ("prescriber", False)}


class FakeRetriever:
    """Stands in for index.retrieval.Retriever: fixed passages, honours doc_type."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def search(self, query: str, k: int = 5, **filters: Any) -> list[dict[str, Any]]:
        self.calls.append({"query": query, "k": k, **filters})
        doc_type = filters.get("doc_type") or "methodology"
        return [{"source": f"{doc_type}/fake.md", "title": f"Fake {doc_type}", "section": "s",
                 "text": f"A {doc_type} passage about {query[:40]}.", "score": 1.0,
                 "doc_type": doc_type, "wave": filters.get("wave"), "markets": [],
                 "brands": [], "therapy_areas": [], "chunk_id": "c1"}][:k]


@pytest.fixture(scope="module")
def assistant():
    from assistant.service import Assistant
    from cxengine.engine import Engine

    return Assistant(Engine(DB), FakeRetriever)


@pytest.fixture(scope="module")
def ratings() -> pd.DataFrame:
    con = duckdb.connect(str(DB), read_only=True)
    df = con.execute("SELECT r.*, p.wave_id AS wave, p.market_id AS market, p.ta_id AS ta, "
                     "p.specialty, p.setting, p.weight, b.company, r.brand_id AS brand "
                     "FROM brand_ratings r JOIN respondents p USING (respondent_id) "
                     "JOIN brands b ON b.brand_id = r.brand_id").df()
    # The channels that reached each rater for the brand (a channel filter keeps those raters).
    reached = con.execute("SELECT respondent_id, brand_id, channel_id FROM channel_interactions"
                          ).df()
    con.close()
    pairs = reached.groupby(["respondent_id", "brand_id"])["channel_id"].agg(frozenset)
    df["channels"] = [pairs.get((r, b), frozenset())
                      for r, b in zip(df.respondent_id, df.brand_id, strict=True)]
    return df


def _items() -> list[tuple[str, list[dict[str, Any]]]]:
    raw = yaml.safe_load(GOLD.read_text(encoding="utf-8"))
    out = []
    for i, item in enumerate(raw):
        turns = item["chain"] if "chain" in item else [item]
        out.append((f"{i:03d}-{turns[0]['q'][:40]}", turns))
    return out


ITEMS = _items()
REPORT: dict[str, dict[str, list[int]]] = defaultdict(lambda: {"parse": [0, 0],
                                                               "value": [0, 0]})


def _expected(ratings: pd.DataFrame, q: dict[str, Any], v: dict[str, Any]
              ) -> tuple[float | None, float]:
    """(value, effective base) for one answer value, from the raw tables."""
    d = ratings
    for col, qkey in (("brand", "brands"), ("market", "markets"), ("wave", "waves")):
        own = v.get(col)
        if own is not None:
            d = d[d[col] == own]
        elif q.get(qkey):
            d = d[d[col].isin(q[qkey])]
    if q.get("company"):
        d = d[d.company == q["company"]]
    if v.get("ta"):
        d = d[d.ta == v["ta"]]
    for slot in ("prescriber", "specialty", "setting"):
        if q.get(slot) is not None:
            d = d[d[slot] == q[slot]]
    if q.get("channel"):  # the raters the channel reached (rater-level KPIs)
        d = d[d.channels.map(lambda chs: q["channel"] in chs)]
    seg = v.get("segment")
    compared = (q.get("compare") or {}).get("dimension")
    if seg and ("specialty" in q.get("by", []) or compared == "specialty"):
        d = d[d.specialty == seg]
    elif seg and ("setting" in q.get("by", []) or compared == "setting"):
        d = d[d.setting == seg]
    elif seg in SEGMENT_LABELS and q.get("prescriber") is None:
        d = d[d.prescriber == SEGMENT_LABELS[seg][1]]
    x = pd.Series(SCORES[v["kpi"]](d), index=d.index, dtype=float)
    ok = x.notna()
    w = d.weight[ok]
    if w.sum() == 0:
        return None, 0.0
    n_eff = float(w.sum() ** 2 / (w ** 2).sum())
    return float((w * x[ok]).sum() / w.sum()), n_eff


def _check_values(ratings: pd.DataFrame, answer) -> bool:
    checked = True
    for v in answer.values:
        if v["kpi"] not in SCORES:
            continue
        exp, n_eff = _expected(ratings, answer.query, v)
        if n_eff < 30:
            checked &= v["value"] is None
        else:
            checked &= v["value"] is not None and abs(v["value"] - exp) < 1e-6
    return checked


def _matches(expect: dict[str, Any], answer) -> list[str]:
    q = answer.query
    errors = []
    for key, want in expect.items():
        if key == "clarify_slot":
            got = (q.get("clarify") or {}).get("slot")
        elif key == "compare" and want is not None:
            got = {k: (q.get("compare") or {}).get(k) for k in want}
        else:
            got = q.get(key)
        if key in ("brands", "markets", "waves", "by", "unknown_markets", "unknown_waves",
                   "inherited", "unknown_names", "did_you_mean", "defaults"):
            got, want = list(got or []), list(want)
        if got != want:
            errors.append(f"{key}: got {got!r}, want {want!r}")
    return errors


_NUM = re.compile(r"(?<![\w.])[+-]?\d+(?:\.\d+)?")
_WAVE = re.compile(r"\b\d{4}-Q\d\b")


def _numbers(obj: Any, out: set[str]) -> None:
    """Every number of the evidence, written with 0..4 decimals (the display rounding)."""
    if isinstance(obj, bool) or obj is None:
        return
    if isinstance(obj, (int, float)):
        for dec in range(5):
            out.add(f"{abs(obj):.{dec}f}")
    elif isinstance(obj, str):
        for n in _NUM.findall(obj):
            _numbers(float(n), out)
    elif isinstance(obj, dict):
        for x in obj.values():
            _numbers(x, out)
    elif isinstance(obj, list):
        for x in obj:
            _numbers(x, out)


def _unsupported(answer) -> list[str]:
    known: set[str] = set()
    _numbers([answer.values, answer.evidence, answer.question], known)
    text = _WAVE.sub(" ", answer.text)
    return [n for n in _NUM.findall(text) if n.lstrip("+-") not in known]


@pytest.fixture(scope="module")
def gold_answers(assistant) -> Callable[[str, list[dict[str, Any]]], list[Answer]]:
    """The answers to one gold item, asked once per module: each chain in one conversation,
    as a user would. The accuracy test and the privacy scan read the same answers."""
    asked: dict[str, list[Answer]] = {}

    def answers(name: str, turns: list[dict[str, Any]]) -> list[Answer]:
        if name not in asked:
            conv = Conversation()
            asked[name] = [assistant.ask(turn["q"], conv) for turn in turns]
        return asked[name]

    return answers


@pytest.mark.parametrize("name,turns", ITEMS, ids=[i[0] for i in ITEMS])
def test_gold(gold_answers, ratings, name, turns) -> None:
    failures = []
    for turn, answer in zip(turns, gold_answers(name, turns), strict=True):
        assert answer.route != "none" or answer.intent != "none", answer.warnings
        intent = turn["expect"].get("intent", turn["route"])
        errors = _matches(turn["expect"], answer)
        if answer.route != turn["route"]:
            errors.append(f"route: got {answer.route}, want {turn['route']}")
        REPORT[intent]["parse"][1] += 1
        REPORT[intent]["parse"][0] += not errors
        if answer.values and any(v["kpi"] in SCORES for v in answer.values):
            REPORT[intent]["value"][1] += 1
            ok = _check_values(ratings, answer)
            REPORT[intent]["value"][0] += ok
            if not ok:
                errors.append("values differ from the independent recomputation")
        bad = _unsupported(answer)
        if bad:
            errors.append(f"numbers not in the evidence: {bad} in {answer.text!r}")
        if errors:
            failures.append(f"{turn['q']!r}: " + "; ".join(errors))
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("name,turns", ITEMS, ids=[i[0] for i in ITEMS])
def test_gold_answers_are_private(assistant, gold_answers, name, turns) -> None:
    """Issue 7 §5: no answer of the gold set shows respondent-level data or a value whose
    effective base is below the suppression threshold (tests/answer_checks.py)."""
    for answer in gold_answers(name, turns):
        assert_private(answer, assistant.engine.thresholds.suppress_below)


def test_gold_report(capsys) -> None:
    """Printed after the gold items (pytest runs tests in file order)."""
    if not REPORT:
        pytest.skip("gold items did not run")
    lines = [f"{'intent':<16}{'parse':>12}{'values':>12}"]
    total = [0, 0, 0, 0]
    for intent, r in sorted(REPORT.items()):
        p, v = r["parse"], r["value"]
        lines.append(f"{intent:<16}{p[0]:>5}/{p[1]:<4} {100 * p[0] / p[1]:>3.0f}%"
                     + (f"{v[0]:>5}/{v[1]:<4} {100 * v[0] / v[1]:>3.0f}%" if v[1] else "   -"))
        total = [total[0] + p[0], total[1] + p[1], total[2] + v[0], total[3] + v[1]]
    lines.append(f"{'TOTAL':<16}{total[0]:>5}/{total[1]:<4}{'':>5}{total[2]:>5}/{total[3]:<4}")
    with capsys.disabled():
        print("\n\nGold-set accuracy\n" + "\n".join(lines))
    assert total[0] == total[1] and total[2] == total[3]
