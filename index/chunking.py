"""Heading-aware chunking that keeps each passage's section path.

Markdown is cut at `#`, `##` and `###` headings (deeper headings stay inside the text); the
section path is the chain of enclosing headings joined with " > ". A section longer than
`chunk_size` characters is packed from whole paragraphs (then sentences, then words) into
chunks of at most `chunk_size`, each starting with up to `chunk_overlap` characters from the
end of the previous one, so a fact straddling a cut is still whole in one chunk. Chunks never
span two sections: a heading is a change of topic.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from index.config import DEFAULT_CHUNK_OVERLAP, DEFAULT_CHUNK_SIZE
from index.corpus import Document
from index.mentions import narrow_scope
from index.metadata import MetadataValue, list_metadata

SECTION_SEP = " > "
# The modules whose code decides a chunk's text and metadata: a build whose manifest records
# another fingerprint re-chunks every file (unchanged chunk texts keep their vectors).
_CHUNKER_MODULES = ("chunking.py", "corpus.py", "mentions.py", "metadata.py")


@cache
def chunker_fingerprint() -> str:
    """A hash of the chunker's own code, recorded in each index manifest."""
    digest = hashlib.sha256()
    for name in _CHUNKER_MODULES:
        digest.update((Path(__file__).parent / name).read_bytes())
    return digest.hexdigest()[:16]

_HEADING_RE = re.compile(r"^(#{1,3})\s+(.+?)\s*#*\s*$")
_FENCE_RE = re.compile(r"^\s*(```|~~~)")
_PARAGRAPH_RE = re.compile(r"\n\s*\n")
_SENTENCE_RE = re.compile(r"((?<=[.!?;:])\s+|\n)")


@dataclass(frozen=True)
class Section:
    path: tuple[str, ...]
    text: str

    @property
    def name(self) -> str:
        return SECTION_SEP.join(self.path)


@dataclass(frozen=True)
class Chunk:
    """One retrievable passage. `text` is what is shown; `embed_text` is what is embedded."""

    chunk_id: str
    source: str
    title: str
    section: str
    text: str
    embed_text: str
    ordinal: int
    doc_type: str
    wave: str | None
    markets: tuple[str, ...]
    therapy_areas: tuple[str, ...]
    brands: tuple[str, ...]
    content_hash: str
    file_hash: str

    def metadata(self) -> dict[str, MetadataValue]:
        """Scalar-only metadata for Chroma (see `index.metadata` for the list encoding)."""
        meta: dict[str, MetadataValue] = {
            "chunk_id": self.chunk_id,
            "source": self.source,
            "title": self.title,
            "section": self.section,
            "ordinal": self.ordinal,
            "doc_type": self.doc_type,
            "wave": self.wave or "",
            "content_hash": self.content_hash,
            "file_hash": self.file_hash,
        }
        meta.update(list_metadata("markets", self.markets))
        meta.update(list_metadata("therapy_areas", self.therapy_areas))
        meta.update(list_metadata("brands", self.brands))
        return meta


def split_sections(markdown: str) -> list[Section]:
    """Cut markdown at level 1-3 headings, ignoring `#` lines inside fenced code blocks."""
    sections: list[Section] = []
    stack: list[tuple[int, str]] = []
    lines: list[str] = []
    in_fence = False

    def flush() -> None:
        text = "\n".join(lines).strip()
        if text:
            sections.append(Section(tuple(title for _, title in stack), text))
        lines.clear()

    for line in markdown.split("\n"):
        if _FENCE_RE.match(line):
            in_fence = not in_fence
        match = None if in_fence else _HEADING_RE.match(line)
        if match is None:
            lines.append(line)
            continue
        flush()
        level = len(match.group(1))
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, match.group(2).strip()))
    flush()
    return sections


def _pieces(text: str, limit: int) -> list[tuple[str, str]]:
    """Units to pack, each no longer than `limit`, with the joiner that precedes each."""
    out: list[tuple[str, str]] = []
    for paragraph in _PARAGRAPH_RE.split(text):
        paragraph = paragraph.strip()
        if not paragraph:
            continue
        if len(paragraph) <= limit:
            out.append((paragraph, "\n\n"))
            continue
        # The capture group keeps the separators, so list and table lines keep their breaks.
        parts = _SENTENCE_RE.split(paragraph)
        joiner = "\n\n"
        for i in range(0, len(parts), 2):
            sentence = parts[i].strip()
            if sentence:
                runs = [sentence] if len(sentence) <= limit else _word_runs(sentence, limit)
                for run in runs:
                    out.append((run, joiner))
                    joiner = " "
            if i + 1 < len(parts) and joiner != "\n\n":
                joiner = "\n" if "\n" in parts[i + 1] else " "
    return out


def _word_runs(sentence: str, limit: int) -> list[str]:
    runs: list[str] = []
    current = ""
    for word in sentence.split():
        while len(word) > limit:  # a single huge token (URL, base64): hard cut
            if current:
                runs.append(current)
                current = ""
            runs.append(word[:limit])
            word = word[limit:]
        if current and len(current) + 1 + len(word) > limit:
            runs.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    if current:
        runs.append(current)
    return runs


def _tail(text: str, size: int) -> str:
    """The last <= `size` characters of `text`, starting at a word boundary."""
    if size <= 0 or not text:
        return ""
    if len(text) <= size:
        return text
    cut = len(text) - size
    space = re.search(r"\s", text[cut:])
    return text[cut + space.end() :].strip() if space else ""


def split_text(
    text: str, chunk_size: int = DEFAULT_CHUNK_SIZE, chunk_overlap: int = DEFAULT_CHUNK_OVERLAP
) -> list[str]:
    """Pack `text` into chunks of at most `chunk_size` chars with about `chunk_overlap` overlap."""
    if chunk_size <= 0:
        raise ValueError(f"chunk_size must be positive, got {chunk_size}")
    if not 0 <= chunk_overlap < chunk_size:
        raise ValueError(f"chunk_overlap must be in [0, chunk_size), got {chunk_overlap}")
    text = text.strip()
    if len(text) <= chunk_size:
        return [text] if text else []
    # Pieces are capped below chunk_size so that overlap + one piece still fits.
    pieces = _pieces(text, max(chunk_size - chunk_overlap, 1))
    chunks: list[str] = []
    current = ""
    fresh = False  # does `current` hold anything beyond the carried-over overlap?
    for piece, joiner in pieces:
        candidate = f"{current}{joiner}{piece}" if current else piece
        if len(candidate) <= chunk_size:
            current, fresh = candidate, True
            continue
        if fresh:
            chunks.append(current)
        overlap = _tail(current, chunk_overlap)
        current = f"{overlap} {piece}" if overlap else piece
        if len(current) > chunk_size:
            current = piece
        fresh = True
    if current and fresh:
        chunks.append(current)
    return chunks


def _hash(*parts: str, length: int = 24) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:length]


def document_sections(doc: Document) -> list[Section]:
    if doc.kind == "pdf":
        return [
            Section((f"page {i}",), page) for i, page in enumerate(doc.pages, start=1)
            if page.strip()
        ]
    if doc.kind == "markdown":
        return split_sections(doc.body)
    return [Section((), doc.body.strip())] if doc.body.strip() else []


def embed_text_for(title: str, section: str, text: str) -> str:
    """Title and section path in front of the passage: short passages such as a table row
    mean little to the embedding model without knowing which document and KPI they are about."""
    path = section.split(SECTION_SEP)
    if path and path[0] == title:  # the H1 usually repeats the title
        path = path[1:]
    header = "\n".join([title, SECTION_SEP.join(path)]) if any(path) else title
    return f"{header}\n\n{text}"


def chunk_document(
    doc: Document,
    *,
    file_hash: str,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    chunk_overlap: int = DEFAULT_CHUNK_OVERLAP,
) -> list[Chunk]:
    """Chunks of one document, with ids stable across builds.

    `chunk_id` hashes source, section path and the chunk's ordinal within that section path, so
    editing one section leaves the ids of the others unchanged. Markets, therapy areas and
    brands are narrowed to those the chunk mentions (see `index.mentions`).
    """
    chunks: list[Chunk] = []
    per_section: Counter[str] = Counter()
    for section in document_sections(doc):
        name = section.name
        for text in split_text(section.text, chunk_size, chunk_overlap):
            ordinal_in_section = per_section[name]
            per_section[name] += 1
            embed = embed_text_for(doc.title, name, text)
            markets, therapy_areas, brands = narrow_scope(
                name, text, doc.markets, doc.therapy_areas, doc.brands
            )
            chunks.append(
                Chunk(
                    chunk_id=_hash(doc.source, name, str(ordinal_in_section)),
                    source=doc.source,
                    title=doc.title,
                    section=name,
                    text=text,
                    embed_text=embed,
                    ordinal=len(chunks),
                    doc_type=doc.doc_type,
                    wave=doc.wave,
                    markets=markets,
                    therapy_areas=therapy_areas,
                    brands=brands,
                    content_hash=_hash(embed),
                    file_hash=file_hash,
                )
            )
    return chunks
