"""Find and load source documents: markdown with YAML front matter, plain text and PDF.

Loading is pure (no index access) so a build can parse every changed file, and fail on a bad
one, before it writes anything.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from index.errors import CorpusError

DOC_TYPES = ("wave_report", "methodology", "user_document")
MARKDOWN_SUFFIXES = frozenset({".md", ".markdown"})
TEXT_SUFFIXES = frozenset({".txt"})
PDF_SUFFIXES = frozenset({".pdf"})
SUPPORTED_SUFFIXES = MARKDOWN_SUFFIXES | TEXT_SUFFIXES | PDF_SUFFIXES

_WAVE_RE = re.compile(r"^\d{4}-Q[1-4]$")
_MARKET_RE = re.compile(r"^[A-Z]{2,3}$")
_TA_RE = re.compile(r"^[A-Z][A-Z0-9]{1,9}$")
_BRAND_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_FRONT_MATTER_RE = re.compile(
    r"\A---[ \t]*\r?\n(.*?)^(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.S | re.M
)
_H1_RE = re.compile(r"^#\s+(.+?)\s*#*\s*$", re.M)
# Longer first lines are prose, not a title.
_MAX_TITLE_CHARS = 120


@dataclass(frozen=True)
class SourceFile:
    """A document file found under a docs root; `source` is the stable key used everywhere."""

    path: Path
    source: str

    def file_hash(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()[:32]


@dataclass(frozen=True)
class Document:
    """A loaded document. `body` is markdown or plain text; PDFs carry `pages` instead."""

    source: str
    path: Path
    kind: str  # "markdown" | "text" | "pdf"
    doc_type: str
    title: str
    # Users' own plain-text and PDF documents carry no benchmark metadata.
    wave: str | None = None
    markets: tuple[str, ...] = ()
    therapy_areas: tuple[str, ...] = ()
    brands: tuple[str, ...] = ()
    body: str = ""
    pages: tuple[str, ...] = ()


def find_sources(doc_dirs: Sequence[Path | str]) -> list[SourceFile]:
    """All supported files under the docs folders, recursively, in a stable order.

    With one folder `source` is the path relative to it; with several it is prefixed by the
    folder's name so two folders may both hold e.g. `notes.md`.
    """
    roots = [Path(d) for d in doc_dirs]
    if not roots:
        raise CorpusError("<docs>", "no docs folder given")
    prefix_roots = len(roots) > 1
    found: dict[str, SourceFile] = {}
    seen_paths: set[Path] = set()
    for root in roots:
        if not root.is_dir():
            raise CorpusError(root, "docs folder does not exist or is not a directory")
        for path in sorted(root.rglob("*")):
            rel = path.relative_to(root)
            # Hidden files and folders are editor or VCS state, never documents.
            if any(part.startswith(".") for part in rel.parts):
                continue
            if not path.is_file() or path.suffix.lower() not in SUPPORTED_SUFFIXES:
                continue
            resolved = path.resolve()
            if resolved in seen_paths:  # nested or repeated docs folders
                continue
            seen_paths.add(resolved)
            source = f"{root.name}/{rel.as_posix()}" if prefix_roots else rel.as_posix()
            if source in found:
                raise CorpusError(
                    path, f"same document key {source!r} as {found[source].path}; rename one"
                )
            found[source] = SourceFile(path=path, source=source)
    return [found[k] for k in sorted(found)]


def load_document(src: SourceFile) -> Document:
    """Load one file; raises `CorpusError` naming the file and the problem."""
    suffix = src.path.suffix.lower()
    if suffix in MARKDOWN_SUFFIXES:
        return _load_markdown(src)
    if suffix in TEXT_SUFFIXES:
        return _load_text(src)
    if suffix in PDF_SUFFIXES:
        return _load_pdf(src)
    raise CorpusError(src.path, f"unsupported file type {suffix!r}")


def _read_text(path: Path) -> str:
    data = path.read_bytes()
    if b"\x00" in data[:4096]:
        raise CorpusError(path, "looks like a binary file, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Users' own notes are often saved from Windows tools; cp1252 is the usual culprit.
        return data.decode("cp1252", errors="replace")


def _humanise_stem(path: Path) -> str:
    return re.sub(r"[_-]+", " ", path.stem).strip() or path.name


def _load_markdown(src: SourceFile) -> Document:
    text = _read_text(src.path).replace("\r\n", "\n")
    meta: dict[str, Any] = {}
    body = text
    if text.startswith("---"):
        match = _FRONT_MATTER_RE.match(text)
        if match is None:
            raise CorpusError(src.path, "front matter starts with '---' but is never closed")
        try:
            loaded = yaml.safe_load(match.group(1))
        except yaml.YAMLError as exc:
            raise CorpusError(src.path, f"invalid YAML front matter: {exc}") from None
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise CorpusError(src.path, "front matter must be a YAML mapping (key: value lines)")
        meta = loaded
        body = text[match.end() :]
    h1 = _H1_RE.search(body)
    fallback_title = h1.group(1).strip() if h1 else _humanise_stem(src.path)
    return Document(
        source=src.source,
        path=src.path,
        kind="markdown",
        body=body,
        **_validated_meta(src.path, meta, fallback_title),
    )


def _load_text(src: SourceFile) -> Document:
    text = _read_text(src.path).replace("\r\n", "\n")
    lines = text.split("\n")
    first_idx = next((i for i, line in enumerate(lines) if line.strip()), None)
    title = _humanise_stem(src.path)
    body = text
    if first_idx is not None and len(lines[first_idx].strip()) <= _MAX_TITLE_CHARS:
        title = lines[first_idx].strip()
        body = "\n".join(lines[first_idx + 1 :])
    return Document(
        source=src.source,
        path=src.path,
        kind="text",
        doc_type="user_document",
        title=title,
        body=body,
    )


def _load_pdf(src: SourceFile) -> Document:
    from pypdf import PdfReader  # pypdf import is cheap, but only PDFs need it

    try:
        reader = PdfReader(src.path)
        if reader.is_encrypted and not reader.decrypt(""):
            raise CorpusError(src.path, "PDF is password-protected")
        pages = tuple(_clean_pdf_text(page.extract_text() or "") for page in reader.pages)
        pdf_title = (reader.metadata.title if reader.metadata else None) or ""
    except CorpusError:
        raise
    except Exception as exc:  # pypdf raises many types for damaged files
        raise CorpusError(src.path, f"cannot read PDF ({type(exc).__name__}: {exc})") from None
    title = str(pdf_title).strip() or _humanise_stem(src.path)
    return Document(
        source=src.source,
        path=src.path,
        kind="pdf",
        doc_type="user_document",
        title=title,
        pages=pages,
    )


def _clean_pdf_text(text: str) -> str:
    # PDF extraction yields ragged whitespace; collapse runs but keep paragraph breaks.
    text = re.sub(r"[ \t\u00a0]+", " ", text)
    text = re.sub(r"\n[ \t]+", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _validated_meta(path: Path, meta: dict[str, Any], fallback_title: str) -> dict[str, Any]:
    doc_type = meta.get("doc_type", "user_document")
    if not isinstance(doc_type, str) or doc_type.strip().lower() not in DOC_TYPES:
        raise CorpusError(
            path, f"front matter `doc_type` is {doc_type!r}; expected one of {', '.join(DOC_TYPES)}"
        )
    title = meta.get("title", fallback_title)
    if not isinstance(title, str | int | float) or not str(title).strip():
        raise CorpusError(path, "front matter `title` must be a non-empty string")
    wave = meta.get("wave")
    if wave is not None:
        wave = str(wave).strip().upper()
        if not _WAVE_RE.match(wave):
            raise CorpusError(
                path, f"front matter `wave` is {meta['wave']!r}; expected e.g. 2025-Q4"
            )
    return {
        "doc_type": doc_type.strip().lower(),
        "title": str(title).strip(),
        "wave": wave or None,
        "markets": _code_list(path, meta, "markets", _MARKET_RE, str.upper, "DE"),
        "therapy_areas": _code_list(path, meta, "therapy_areas", _TA_RE, str.upper, "CARD"),
        "brands": _code_list(path, meta, "brands", _BRAND_RE, str.lower, "cardiovex"),
    }


def _code_list(
    path: Path, meta: dict[str, Any], key: str, pattern: re.Pattern[str], norm: Any, example: str
) -> tuple[str, ...]:
    raw = meta.get(key)
    if raw is None:
        return ()
    # A comma-separated string ("DE, UK") is an easy slip in hand-written front matter.
    items: Iterable[Any] = raw.split(",") if isinstance(raw, str) else raw
    if not isinstance(items, list | tuple):
        raise CorpusError(path, f"front matter `{key}` must be a list like [{example}]")
    out: list[str] = []
    for item in items:
        if isinstance(item, bool):
            raise CorpusError(
                path, f"front matter `{key}` has a yes/no value; quote codes such as 'NO' or 'ON'"
            )
        value = norm(str(item).strip()) if isinstance(item, str | int) else None
        if value is None or not pattern.match(value):
            raise CorpusError(
                path,
                f"front matter `{key}` has invalid entry {item!r}; expected codes like {example}",
            )
        if value not in out:
            out.append(value)
    return tuple(out)
