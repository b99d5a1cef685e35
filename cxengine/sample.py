"""Deterministic sample benchmark generator.

A plausible generative model, not hard-set cell values: channels an HCP
experienced lift the CX drivers; drivers and product perception drive
recommendation, satisfaction, intent and patient share; a respondent-level
halo and item noise keep it realistic. The planted scenario only shifts the
model's inputs (reach, driver and product levels) as `scenario.yaml` says.

Every (wave, market, TA) cell draws from its own seeded stream, so cells can
be generated one at a time straight to Parquet/CSV (bounded memory at any
--scale) and the output is byte-identical for the same seed and scale.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from cxengine.internal_estimates import internal_assessment_rows
from cxengine.sample_writer import TableWriter
from cxengine.scenario import Scenario


@dataclass(frozen=True)
class SampleReport:
    out_dir: str
    format: str
    scale: int
    seed: int
    rows: dict[str, int]


def _cell_rng(seed: int, *parts: int) -> np.random.Generator:
    return np.random.default_rng([seed, *parts])


def _clip_round(x: np.ndarray, lo: int, hi: int) -> np.ndarray:
    return np.clip(np.rint(x), lo, hi).astype(np.int32)


def dimension_tables(sc: Scenario) -> dict[str, pa.Table]:
    """The small catalogue tables, straight from the scenario file."""
    waves = sc.waves
    lifecycle = [
        (b["brand_id"], m["market_id"], str(w["wave_id"]), sc.stage(b, m["market_id"],
                                                                    str(w["wave_id"])))
        for b in sc.brands for m in sc.markets for w in waves
    ]
    return {
        "waves": pa.table({
            "wave_id": [str(w["wave_id"]) for w in waves],
            "label": [w["label"] for w in waves],
            "fieldwork_start": pa.array([w["fieldwork_start"] for w in waves], pa.date32()),
            "fieldwork_end": pa.array([w["fieldwork_end"] for w in waves], pa.date32()),
            "wave_type": [w["wave_type"] for w in waves],
            "sequence": pa.array([w["sequence"] for w in waves], pa.int32()),
        }),
        "markets": pa.table({k: [m[k] for m in sc.markets]
                             for k in ("market_id", "name", "region")}),
        "therapy_areas": pa.table({k: [t[k] for t in sc.therapy_areas]
                                   for k in ("ta_id", "name")}),
        "brands": pa.table({k: [b[k] for b in sc.brands]
                            for k in ("brand_id", "name", "company", "ta_id")}),
        "brand_lifecycle": pa.table({
            "brand_id": [r[0] for r in lifecycle], "market_id": [r[1] for r in lifecycle],
            "wave_id": [r[2] for r in lifecycle], "stage": [r[3] for r in lifecycle],
        }),
        "channels": pa.table({k: [c[k] for c in sc.channels]
                              for k in ("channel_id", "name", "channel_type", "role")}),
    }


def content_assets(sc: Scenario, seed: int) -> tuple[pa.Table, dict[str, np.ndarray]]:
    """Assets per brand and each asset's true visibility (hero assets vs the long tail)."""
    cfg = sc.raw["content"]
    rng = _cell_rng(seed, 999)
    rows: dict[str, list[str]] = {"asset_id": [], "brand_id": [], "content_type": [], "title": []}
    visibility: dict[str, np.ndarray] = {}
    n, hero = cfg["assets_per_brand"], cfg["hero_assets"]
    for b in sc.brands:
        vis = np.concatenate([rng.uniform(*cfg["hero_seen"], size=hero),
                              rng.uniform(*cfg["tail_seen"], size=n - hero)])
        visibility[b["brand_id"]] = vis
        for i in range(n):
            ctype = cfg["types"][int(rng.integers(len(cfg["types"])))]
            rows["asset_id"].append(f"{b['brand_id']}-a{i + 1:02d}")
            rows["brand_id"].append(b["brand_id"])
            rows["content_type"].append(ctype)
            rows["title"].append(f"{b['name']} {ctype.replace('_', ' ')} {i + 1}")
    return pa.table(rows), visibility


class CellModel:
    """Generates all respondent-level rows of one wave x market x TA cell."""

    def __init__(self, sc: Scenario, visibility: dict[str, np.ndarray]):
        self.sc, self.visibility, self.m = sc, visibility, sc.model
        self.channels = [c["channel_id"] for c in sc.channels]
        self.drivers = sc.drivers
        # channel x driver lift matrix
        self.lift = np.array([[c.get("drivers", {}).get(d, 0.0) for d in self.drivers]
                              for c in sc.channels])
        self.breadth_lift = np.array([sc.raw.get("breadth_lift", {}).get(d, 0.0)
                                      for d in self.drivers])

    def generate(self, wave: dict[str, Any], market: dict[str, Any], ta: dict[str, Any],
                 n: int, rng: np.random.Generator) -> dict[str, dict[str, Any]]:
        sc, m = self.sc, self.m
        wave_id, market_id, ta_id = str(wave["wave_id"]), market["market_id"], ta["ta_id"]
        full = wave["wave_type"] == "full"
        specs = sc.raw["specialties"][ta_id]
        specialty = rng.choice(list(specs), size=n, p=np.array(list(specs.values())))
        hosp = np.array([sc.raw["hospital_share"][s] for s in specialty])
        setting = np.where(rng.random(n) < hosp, "hospital", "office")
        weight = rng.lognormal(0.0, m["weight_sd"], size=n)
        weight = np.round(weight / weight.mean(), 4)
        halo = rng.normal(0.0, m["halo_sd"], size=n)
        rid = np.array([f"{wave_id}-{market_id}-{ta_id}-{i + 1:06d}" for i in range(n)])
        respondents = {"respondent_id": rid, "wave_id": np.full(n, wave_id),
                       "market_id": np.full(n, market_id), "ta_id": np.full(n, ta_id),
                       "specialty": specialty, "setting": setting, "weight": weight}

        brands = [b for b in sc.brands if b["ta_id"] == ta_id
                  and sc.is_launched(b, market_id, wave_id)]
        effects = {b["brand_id"]: sc.active_effects(b["brand_id"], market_id, wave_id)
                   for b in brands}
        aware = np.column_stack([
            rng.random(n) < b["awareness"] + sum(e.awareness * r for e, r in effects[b["brand_id"]])
            for b in brands])
        nobody = ~aware.any(axis=1)
        aware[nobody, int(np.argmax([b["awareness"] for b in brands]))] = True

        out: dict[str, list[dict[str, Any]]] = {"brand_ratings": [], "channel_interactions": [],
                                                "content_exposure": []}
        for j, b in enumerate(brands):
            idx = np.flatnonzero(aware[:, j])
            parts = self._brand_rows(b, effects[b["brand_id"]], market, idx, rid, halo, full, rng)
            for k, v in parts.items():
                out[k].append(v)
        tables = {k: _concat(v) for k, v in out.items()}
        tables["respondents"] = respondents
        return tables

    def _brand_rows(self, b, effects, market, idx, rid, halo, full, rng):
        m, k, nd = self.m, len(idx), len(self.drivers)
        h = halo[idx]
        reach_p = np.array([b["reach"].get(c, 0.0) for c in self.channels])
        shift = np.zeros(nd)
        product_shift = intent_shift = 0.0
        for e, r in effects:
            reach_p += r * np.array([e.reach.get(c, 0.0) for c in self.channels])
            shift += r * np.array([e.drivers.get(d, 0.0) for d in self.drivers])
            product_shift += r * e.product
            intent_shift += r * e.intent
        reach_p = np.clip(reach_p, 0.01, 0.95)
        # Channels are simulated in light waves too (they still shape the experience);
        # light waves just do not ask about them.
        reached = rng.random((k, len(self.channels))) < reach_p
        breadth = reached.sum(axis=1)
        quality = b["quality"] + self.sc.raw["market_offsets"].get(market["market_id"], 0.0)
        latent = (m["driver_base"] + quality + shift + reached @ self.lift
                  + np.outer(breadth, self.breadth_lift) + h[:, None]
                  + rng.normal(0.0, m["driver_noise"], size=(k, nd)))
        drivers = _clip_round(latent, 0, 10)
        product = _clip_round(b["product"] + product_shift + 0.6 * h
                              + rng.normal(0.0, m["product_noise"], size=k), 0, 10)
        rec_latent = (m["recommend_intercept"]
                      + m["recommend_driver_beta"] * (drivers - 6.0).sum(axis=1)
                      + m["recommend_product_beta"] * (product - 6.5)
                      + rng.normal(0.0, m["recommend_noise"], size=k))
        recommend = _clip_round(rec_latent, 0, 10)
        ease = drivers[:, self.drivers.index("ease")]
        respect = drivers[:, self.drivers.index("respect_time")]
        satisfaction = _clip_round(3.2 + 0.55 * (rec_latent - 7.5)
                                   + rng.normal(0.0, 0.6, size=k), 1, 5)
        effort = _clip_round(4.6 + 0.55 * (ease - 6.0) + 0.2 * (respect - 6.0)
                             + rng.normal(0.0, 0.8, size=k), 1, 7)
        intent = _clip_round(3.0 + 0.35 * (product - 6.5) + 0.25 * (rec_latent - 7.5)
                             + intent_shift + rng.normal(0.0, 0.7, size=k), 1, 5)
        pl = m["prescriber_logit"]
        prescriber = rng.random(k) < 1 / (1 + np.exp(-(pl["intercept"]
                                                        + pl["per_recommend_point"] * recommend)))
        ps = m["patient_share"]
        share = np.round(np.clip(ps["intercept"] + ps["per_product_point"] * product
                                 + ps["per_recommend_point"] * recommend
                                 + rng.normal(0.0, ps["noise"], size=k), 0, 100), 1)
        ratings: dict[str, Any] = {
            "respondent_id": rid[idx], "brand_id": np.full(k, b["brand_id"]),
            "prescriber": prescriber, "recommend": recommend, "satisfaction": satisfaction,
            "effort_ease": effort if full else None, "intent_more": intent,
            "product_rating": product,
        }
        for i, d in enumerate(self.drivers):
            ratings[d] = drivers[:, i] if full else None
        ratings["patient_share"] = share
        result = {"brand_ratings": _with_nulls(ratings, k)}
        if full:
            result["channel_interactions"] = self._channel_rows(b, idx, rid, h, reached, rng)
            result["content_exposure"] = self._content_rows(
                b, idx, rid, drivers[:, self.drivers.index("content_relevance")], rng)
        return result

    def _channel_rows(self, b, idx, rid, h, reached, rng):
        rows_i, cols_j = np.nonzero(reached)
        cfg = {c["channel_id"]: c for c in self.sc.channels}
        base = np.array([cfg[self.channels[j]]["base_rating"] for j in cols_j])
        freq = np.array([cfg[self.channels[j]]["frequency"] for j in cols_j])
        rating = _clip_round(base + 0.5 * h[rows_i] + 0.4 * b["quality"]
                             + rng.normal(0.0, self.m["channel_rating_noise"], size=len(rows_i)),
                             0, 10)
        return {"respondent_id": rid[idx][rows_i], "brand_id": np.full(len(rows_i), b["brand_id"]),
                "channel_id": np.array(self.channels)[cols_j],
                "interactions": (1 + rng.poisson(freq - 1.0)).astype(np.int32),
                "rating": rating}

    def _content_rows(self, b, idx, rid, relevance, rng):
        vis = self.visibility[b["brand_id"]]
        k, a = len(idx), len(vis)
        seen = rng.random((k, a)) < vis
        useful_raw = _clip_round(self.sc.raw["content"]["useful_base"]
                                 + 0.3 * (relevance[:, None] - 6.0)
                                 + rng.normal(0.0, 0.9, size=(k, a)), 1, 5)
        useful = pa.array(useful_raw.ravel(), mask=~seen.ravel())
        return {"respondent_id": np.repeat(rid[idx], a), "brand_id": np.full(k * a, b["brand_id"]),
                "asset_id": np.tile([f"{b['brand_id']}-a{i + 1:02d}" for i in range(a)], k),
                "seen": seen.ravel(), "useful": useful}


def _with_nulls(cols: dict[str, Any], k: int) -> dict[str, Any]:
    return {c: (pa.nulls(k, pa.int32()) if v is None else v) for c, v in cols.items()}


def _concat(parts: list[dict[str, Any]]) -> dict[str, Any]:
    if not parts:
        return {}
    return {c: pa.concat_arrays([pa.array(p[c]) for p in parts]) for c in parts[0]}


def cells(sc: Scenario) -> Iterator[tuple[int, dict, dict, dict]]:
    for w in sc.waves:
        for mi, mk in enumerate(sc.markets):
            for ti, ta in enumerate(sc.therapy_areas):
                yield w["sequence"] * 10000 + mi * 100 + ti, w, mk, ta


def generate_sample(out_dir: Path | str, *, fmt: str = "parquet", scale: int = 1,
                    seed: int | None = None, scenario: Scenario | None = None) -> SampleReport:
    """Write every table of the data model as files under out_dir (atomic per folder)."""
    if fmt not in ("parquet", "csv"):
        raise ValueError(f"format must be parquet or csv, not {fmt!r}")
    if scale < 1:
        raise ValueError(f"scale must be a whole number >= 1, not {scale}")
    sc = scenario or Scenario.load()
    seed = int(sc.raw["seed"] if seed is None else seed)
    out = Path(out_dir)
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    writer = TableWriter(tmp, fmt)
    for name, table in dimension_tables(sc).items():
        writer.write(name, table)
    assets, visibility = content_assets(sc, seed)
    writer.write("content_assets", assets)
    model = CellModel(sc, visibility)
    estimates: list[dict[str, Any]] = []
    for cell_id, w, mk, ta in cells(sc):
        n = round(sc.raw["respondents_per_cell"][w["wave_type"]] * mk.get("sample_factor", 1.0)
                  * sc.sample_boost(mk["market_id"], ta["ta_id"], str(w["wave_id"])) * scale)
        tables = model.generate(w, mk, ta, n, _cell_rng(seed, cell_id, scale))
        for name in ("respondents", "brand_ratings", "channel_interactions", "content_exposure"):
            if tables.get(name):
                writer.write(name, pa.table(tables[name]))
        estimates += internal_assessment_rows(sc, w, mk, tables, _cell_rng(seed, cell_id, 7))
    writer.write("internal_assessments", pa.Table.from_pylist(estimates))
    rows = writer.close()
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    (out / ".complete").write_text("ok\n")
    return SampleReport(str(out), fmt, scale, seed, rows)
