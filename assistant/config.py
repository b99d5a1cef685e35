"""Configuration from the environment (and CLI options, which override it)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cxengine.engine import Engine


def _env_path(name: str, default: str) -> Path:
    return Path(os.environ.get(name) or default)


@dataclass(frozen=True)
class Settings:
    db: Path = field(default_factory=lambda: _env_path("CXASSIST_DB", "data/cx.duckdb"))
    sample_dir: Path = field(
        default_factory=lambda: _env_path("CXASSIST_SAMPLE_DIR", "data/sample_files"))
    scenario: Path = field(
        default_factory=lambda: _env_path("CXASSIST_SCENARIO", "data/sample/scenario.yaml"))
    report_templates: Path = field(
        default_factory=lambda: _env_path("CXASSIST_REPORT_TEMPLATES", "data/sample/reports"))
    docs: Path = field(default_factory=lambda: _env_path("CXASSIST_DOCS", "data/sample/docs"))
    index_dir: Path = field(
        default_factory=lambda: _env_path("CXASSIST_INDEX_DIR", "data/index"))
    chroma_host: str | None = field(
        default_factory=lambda: os.environ.get("CXASSIST_CHROMA_HOST") or None)
    chroma_port: int = field(
        default_factory=lambda: int(os.environ.get("CXASSIST_CHROMA_PORT") or 8000))
    suppress_below: float = field(
        default_factory=lambda: float(os.environ.get("CXASSIST_SUPPRESS_BELOW") or 30))
    small_base_below: float = field(
        default_factory=lambda: float(os.environ.get("CXASSIST_SMALL_BASE_BELOW") or 100))
    query_timeout_s: float = field(
        default_factory=lambda: float(os.environ.get("CXASSIST_QUERY_TIMEOUT") or 20))
    llm: str | None = field(default_factory=lambda: os.environ.get("CXASSIST_LLM") or None)

    @property
    def wave_reports_dir(self) -> Path:
        return self.docs / "wave_reports"

    def open_engine(self, db: Path | str | None = None) -> Engine:
        """The engine on `db` (default: this configuration's), with its base rules and
        query time limit: the one place the CLI and the app open it."""
        from cxengine.engine import Engine
        from cxengine.stats import Thresholds

        thresholds = Thresholds(suppress_below=self.suppress_below,
                                small_below=self.small_base_below)
        return Engine(db or self.db, thresholds=thresholds, timeout_s=self.query_timeout_s)
