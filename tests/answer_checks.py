"""Checks every answer of the gold and hostile sets must pass (issue 7 §5).

Well-formed: an `Answer` with a known route, a text, valid JSON and no internal error.
Private: aggregates only. No respondent identifier in anything the answer shows (text,
values, evidence, warnings, suggestions, options); the echoed question and the parsed
query are left out of that scan, since they hold whatever the user typed. No value, in
`values` or in an evidence table, whose effective base is below the suppression
threshold; where a table only carries the unweighted base n, n below the threshold
already breaks the rule (the effective base is never above n).
"""

from __future__ import annotations

import json
import re

from assistant.answer import ROUTES, Answer

# The sample's respondent ids: wave-market-TA-serial, e.g. 2025-Q4-DE-CARD-000001.
RESPONDENT_ID = re.compile(r"\b20\d\d-Q[1-4]-[A-Z]{2}-[A-Z]+-\d+\b", re.IGNORECASE)
RESPONDENT_KEYS = ("respondent_id", "respondent", "hcp_id")
# Evidence-table measures and the base each one is computed on.
MEASURE_BASES = (("value", "effective_base"), ("hcp_value", "effective_base"),
                 ("reach", "base"), ("impact", "impact_base"))
# Model outputs (driver importance, correlations) are statistics of a pooled model, not a
# measure of one group: the suppression rule is not about them.
MODEL_KPIS = ("importance:", "correlation:")
SHOWN_FIELDS = ("text", "values", "evidence", "warnings", "suggestions", "options")


def assert_well_formed(answer: Answer, threshold: float) -> None:
    assert isinstance(answer, Answer) and answer.route in ROUTES
    assert isinstance(answer.text, str) and answer.text.strip()
    assert not [w for w in answer.warnings if w.startswith("internal error")], answer.warnings
    json.loads(answer.to_json())
    assert_private(answer, threshold)


def assert_private(answer: Answer, threshold: float) -> None:
    """Aggregates only, and nothing whose effective base is below the suppression rule."""
    for v in answer.values:
        if v.get("value") is not None and v.get("effective_base") is not None \
                and not v["kpi"].startswith(MODEL_KPIS):
            assert v["effective_base"] >= threshold, v
    for e in answer.evidence_of("table"):
        for row in e["rows"]:
            assert not set(RESPONDENT_KEYS) & set(row), (e["title"], row)
            for measure, base in MEASURE_BASES:
                if row.get(measure) is not None and row.get(base) is not None:
                    assert row[base] >= threshold, (e["title"], measure, row)
    shown = json.dumps({f: getattr(answer, f) for f in SHOWN_FIELDS}, default=str)
    leaked = RESPONDENT_ID.search(shown)
    assert leaked is None, f"respondent id {leaked.group(0)!r} in {answer.question!r}"

