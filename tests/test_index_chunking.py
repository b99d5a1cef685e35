"""Corpus loading, heading-aware chunking, metadata encoding and tokenisation (no model)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from index.bm25 import tokenize
from index.chunking import chunk_document, split_sections, split_text
from index.config import IndexSettings
from index.corpus import SourceFile, find_sources, load_document
from index.errors import CorpusError
from index.metadata import Filters, flag_key, join_list, split_list

ROOT = Path(__file__).resolve().parents[1]
FIXTURE_DOCS = Path(__file__).resolve().parent / "fixtures" / "docs"


def minimal_pdf(pages: list[list[str]], title: str | None = None) -> bytes:
    """A valid PDF whose pages hold the given text lines, written without a PDF library."""

    def esc(text: str) -> bytes:
        return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)").encode("latin-1")

    objects: list[bytes] = [b"<< /Type /Catalog /Pages 2 0 R >>", b"",
                            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    kids: list[int] = []
    for lines in pages:
        stream = b"BT /F1 11 Tf 14 TL 72 760 Td\n" + b"".join(
            b"(" + esc(line) + b") Tj T*\n" for line in lines
        ) + b"ET"
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
            b"/Resources << /Font << /F1 3 0 R >> >> >>" % len(objects)
        )
        kids.append(len(objects))
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % k for k in kids), len(kids)
    )
    trailer = b"<< /Size %d /Root 1 0 R" % (len(objects) + 1 + (1 if title else 0))
    if title:
        objects.append(b"<< /Title (" + esc(title) + b") >>")
        trailer += b" /Info %d 0 R" % len(objects)
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n" + trailer + b" >>\nstartxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def _load(path: Path, root: Path | None = None) -> object:
    root = root or path.parent
    return load_document(SourceFile(path, path.relative_to(root).as_posix()))


# ---------------------------------------------------------------- sections and sizes


def test_split_sections_builds_heading_paths() -> None:
    md = """Intro before any heading.

# Guide
Top text.
## Part A
A text.
### Detail
Detail text.
#### Not a split
still detail
```python
# a comment, not a heading
```
## Part B
B text.
# Appendix
Appendix text.
"""
    sections = split_sections(md)
    assert [s.name for s in sections] == [
        "",
        "Guide",
        "Guide > Part A",
        "Guide > Part A > Detail",
        "Guide > Part B",
        "Appendix",
    ]
    detail = sections[3].text
    assert "#### Not a split" in detail and "# a comment" in detail
    assert "Part A" not in sections[2].text  # the heading is in the path, not the passage


def test_heading_levels_may_skip() -> None:
    sections = split_sections("# T\n### Deep\ntext\n## Mid\nmore\n")
    assert [s.name for s in sections] == ["T > Deep", "T > Mid"]


def test_split_text_respects_size_and_overlap() -> None:
    sentences = [f"Sentence number {i} talks about the NPS of brand {i % 7}." for i in range(60)]
    paragraphs = [" ".join(sentences[i : i + 6]) for i in range(0, 60, 6)]
    text = "\n\n".join(paragraphs)
    chunks = split_text(text, chunk_size=300, chunk_overlap=80)
    assert len(chunks) > 5
    assert all(len(c) <= 300 for c in chunks)
    for before, after in zip(chunks, chunks[1:], strict=False):
        shared = next((n for n in range(min(len(before), len(after)), 0, -1)
                       if before.endswith(after[:n])), 0)
        assert 0 < shared <= 80, (before, after)
    joined = " ".join(chunks)
    assert all(s in joined for s in sentences)  # nothing lost at the cuts


def test_split_text_without_overlap_and_invalid_settings() -> None:
    text = "\n\n".join(f"Paragraph {i} " + "word " * 30 for i in range(10))
    chunks = split_text(text, chunk_size=400, chunk_overlap=0)
    assert all(len(c) <= 400 for c in chunks)
    assert sum(c.count("Paragraph") for c in chunks) == 10  # no repetition without overlap
    assert split_text("short", 100, 10) == ["short"]
    assert split_text("   ", 100, 10) == []
    with pytest.raises(ValueError):
        split_text("x", 100, 100)
    with pytest.raises(ValueError):
        split_text("x", 0, 0)


def test_huge_word_is_hard_cut() -> None:
    chunks = split_text("a" * 1000, chunk_size=300, chunk_overlap=50)
    assert all(len(c) <= 300 for c in chunks) and "".join(chunks).count("a") >= 1000


# ---------------------------------------------------------------- documents and metadata


def test_methodology_chunks_keep_section_path_and_metadata() -> None:
    doc = _load(FIXTURE_DOCS / "methodology" / "kpi_definitions.md", FIXTURE_DOCS)
    assert doc.doc_type == "methodology" and doc.title == "KPI definitions" and doc.wave is None
    chunks = chunk_document(doc, file_hash="f1", chunk_size=500, chunk_overlap=100)
    sections = [c.section for c in chunks]
    assert "KPI definitions > Net Promoter Score (`nps`)" in sections
    assert ("KPI definitions > Net Promoter Score (`nps`) > Standard error and confidence "
            "interval") in sections
    nps = [c for c in chunks if c.section == "KPI definitions > Net Promoter Score (`nps`)"]
    assert len(nps) >= 2  # the long NPS section is split by paragraphs
    assert all(len(c.text) <= 500 for c in chunks)
    first = nps[0]
    assert not first.text.startswith("#") and "Net Promoter Score (`nps`)" not in first.text
    assert first.embed_text.startswith("KPI definitions\nNet Promoter Score (`nps`)\n\n")
    assert first.embed_text.endswith(first.text)
    assert len({c.chunk_id for c in chunks}) == len(chunks)
    meta = first.metadata()
    assert meta["source"] == "methodology/kpi_definitions.md"
    assert meta["doc_type"] == "methodology" and meta["wave"] == "" and meta["markets"] == ""
    assert all(isinstance(v, str | int | float | bool) for v in meta.values())
    again = chunk_document(doc, file_hash="f1", chunk_size=500, chunk_overlap=100)
    assert [c.chunk_id for c in again] == [c.chunk_id for c in chunks]  # stable ids


def test_editing_one_section_keeps_other_chunk_ids(tmp_path: Path) -> None:
    original = (FIXTURE_DOCS / "methodology" / "statistics.md").read_text()
    path = tmp_path / "statistics.md"
    path.write_text(original)
    before = {c.section: c for c in chunk_document(_load(path), file_hash="a")}
    path.write_text(original.replace("Welch's test.", "Welch's test, unequal variances."))
    after = {c.section: c for c in chunk_document(_load(path), file_hash="b")}
    changed = [s for s in after if after[s].content_hash != before[s].content_hash]
    assert changed == ["Significance testing and base sizes > Change between waves"]
    assert all(after[s].chunk_id == before[s].chunk_id for s in after)


def test_wave_report_metadata_and_flags() -> None:
    doc = _load(FIXTURE_DOCS / "wave_reports" / "2025-Q4_CARD_DE.md", FIXTURE_DOCS)
    assert doc.wave == "2025-Q4" and doc.markets == ("DE",) and doc.therapy_areas == ("CARD",)
    assert doc.brands == ("cardiovex", "ventrisol", "corastin", "hemavel")
    meta = chunk_document(doc, file_hash="h")[0].metadata()
    assert meta["markets"] == ",DE," and meta["therapy_areas"] == ",CARD,"
    assert meta["brands"] == ",cardiovex,ventrisol,corastin,hemavel,"
    assert meta["market_DE"] is True and meta["ta_CARD"] is True
    assert meta["brand_cardiovex"] is True and "market_FR" not in meta
    assert meta["wave"] == "2025-Q4" and meta["doc_type"] == "wave_report"
    assert split_list(meta["brands"])[0] == "cardiovex"
    assert join_list([]) == "" and split_list("") == () and flag_key("markets", "de") == "market_de"


def test_chunk_scope_is_narrowed_to_what_it_mentions(tmp_path: Path) -> None:
    path = tmp_path / "2025-Q4.md"
    path.write_text("""---
doc_type: wave_report
title: Wave report 2025-Q4
wave: 2025-Q4
markets: [DE, FR, UK]
therapy_areas: [ONC, CARD]
brands: [oncelis, cardiovex, corastin]
---
# Wave report 2025-Q4
## Cardiology (heart failure)
### Germany: Cardiovex after the field-force cut
Face-to-face reach fell; in France, for reference, reach is 64%. Oncologists were not asked.
### United Kingdom
Corastin's supply is back.
## Methodological notes
Fieldwork ran from October to November.
""")
    scope = {c.section.split(" > ")[-1]: (c.markets, c.therapy_areas, c.brands)
             for c in chunk_document(_load(path), file_hash="m")}
    # Markets and brands from heading and text; therapy areas from the heading path only.
    assert scope["Germany: Cardiovex after the field-force cut"] == (
        ("DE", "FR"), ("CARD",), ("cardiovex",))
    assert scope["United Kingdom"] == (("UK",), ("CARD",), ("corastin",))
    # Mentions nothing: the passage applies to the whole report.
    assert scope["Methodological notes"] == (
        ("DE", "FR", "UK"), ("ONC", "CARD"), ("oncelis", "cardiovex", "corastin"))


def test_plain_text_title_from_first_line() -> None:
    doc = _load(FIXTURE_DOCS / "user" / "field_notes.txt")
    assert doc.doc_type == "user_document"
    assert doc.title == "Field notes from the Munich advisory board"
    chunks = chunk_document(doc, file_hash="t")
    assert chunks and chunks[0].section == "" and "samples logistics" in chunks[0].text


def test_pdf_loading_pages_and_title(tmp_path: Path) -> None:
    pdf = tmp_path / "board_minutes.pdf"
    pdf.write_bytes(minimal_pdf([["Minutes of the board", "Webinars were rated highly."],
                                 ["Second page about MSL video calls."]], title="Board minutes"))
    doc = _load(pdf)
    assert doc.kind == "pdf" and doc.title == "Board minutes" and doc.doc_type == "user_document"
    chunks = chunk_document(doc, file_hash="p")
    assert [c.section for c in chunks] == ["page 1", "page 2"]
    assert "Webinars were rated highly." in chunks[0].text
    untitled = tmp_path / "msl_feedback-2025.pdf"
    untitled.write_bytes(minimal_pdf([["Only text."]]))
    assert _load(untitled).title == "msl feedback 2025"


def test_committed_pdf_fixture_is_readable() -> None:
    doc = _load(FIXTURE_DOCS / "user" / "advisory_board_summary.pdf")
    assert doc.title == "Advisory board summary" and "kidney function" in doc.pages[0]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("---\ntitle: [unclosed\n---\ntext", "invalid YAML front matter"),
        ("---\ndoc_type: newsletter\ntitle: X\n---\ntext", "doc_type"),
        ("---\ndoc_type: wave_report\ntitle: X\nwave: Q4-2025\n---\ntext", "wave"),
        ("---\ndoc_type: wave_report\ntitle: X\nmarkets: {DE: 1}\n---\n", "markets"),
        ("---\ndoc_type: wave_report\ntitle: X\nbrands: [Cardio Vex]\n---\n", "brands"),
        ("---\ndoc_type: methodology\ntitle: X\n", "never closed"),
        ("---\n- just\n- a list\n---\n", "mapping"),
        ("---\ntitle: X\nmarkets: [NO]\n---\n", "quote"),
    ],
)
def test_invalid_front_matter_names_file_and_problem(
    tmp_path: Path, content: str, problem: str
) -> None:
    path = tmp_path / "broken_report.md"
    path.write_text(content)
    with pytest.raises(CorpusError) as err:
        _load(path)
    assert "broken_report.md" in str(err.value) and problem in str(err.value)


def test_front_matter_is_normalised(tmp_path: Path) -> None:
    path = tmp_path / "r.md"
    path.write_text("---\ndoc_type: Wave_Report\ntitle: R\nwave: 2025-q2\nmarkets: de, uk\n"
                    "therapy_areas: [card]\nbrands: [CardioVex]\n---\n# R\ntext\n")
    doc = _load(path)
    assert (doc.doc_type, doc.wave, doc.markets) == ("wave_report", "2025-Q2", ("DE", "UK"))
    assert doc.therapy_areas == ("CARD",) and doc.brands == ("cardiovex",)


def test_markdown_without_front_matter_is_user_document(tmp_path: Path) -> None:
    path = tmp_path / "my_notes.md"
    path.write_text("# Notes on Dermavance\n\nLaunch went well.\n")
    doc = _load(path)
    assert doc.doc_type == "user_document" and doc.title == "Notes on Dermavance"


def test_corrupt_pdf_names_file(tmp_path: Path) -> None:
    path = tmp_path / "scan.pdf"
    path.write_bytes(b"%PDF-1.4\nthis is not really a pdf")
    with pytest.raises(CorpusError) as err:
        _load(path)
    assert "scan.pdf" in str(err.value) and "cannot read PDF" in str(err.value)


def test_find_sources_recursive_hidden_and_multi_root(tmp_path: Path) -> None:
    a, b = tmp_path / "docs", tmp_path / "mine"
    (a / "methodology").mkdir(parents=True)
    (a / ".git").mkdir()
    b.mkdir()
    (a / "methodology" / "nps.md").write_text("# NPS\ntext")
    (a / ".git" / "x.md").write_text("no")
    (a / ".hidden.md").write_text("no")
    (a / "image.png").write_bytes(b"\x89PNG")
    (b / "notes.txt").write_text("Notes\nbody")
    assert [s.source for s in find_sources([a])] == ["methodology/nps.md"]
    assert [s.source for s in find_sources([a, b])] == ["docs/methodology/nps.md", "mine/notes.txt"]
    assert [s.source for s in find_sources([a, a / "methodology"])] == ["docs/methodology/nps.md"]
    with pytest.raises(CorpusError, match="does not exist"):
        find_sources([tmp_path / "missing"])


# ---------------------------------------------------------------- tokens, filters, settings


def test_tokenize_keeps_domain_codes() -> None:
    tokens = tokenize("In 2025-Q4, f2f_rep reach fell; driver:ease dropped (Cardiovex's NPS).")
    for expected in ("2025-q4", "f2f_rep", "driver:ease", "ease", "driver", "cardiovex", "nps"):
        assert expected in tokens
    assert "in" not in tokens and "," not in "".join(tokens)
    assert tokenize("promoters") == tokenize("promoter")


def test_filters_to_where_and_match() -> None:
    assert Filters.build().to_where() is None and Filters.build().is_empty()
    f = Filters.build(doc_type="wave_report", market=["de", "FR"], brand="Cardiovex",
                      wave="2025-q4")
    assert f.to_where() == {"$and": [
        {"doc_type": "wave_report"},
        {"wave": "2025-Q4"},
        {"$or": [{"market_DE": True}, {"market_FR": True}]},
        {"brand_cardiovex": True},
    ]}
    meta = {"doc_type": "wave_report", "wave": "2025-Q4", "market_FR": True,
            "brand_cardiovex": True}
    assert f.matches(meta)
    assert not f.matches({**meta, "wave": "2025-Q2"})
    assert not f.matches({k: v for k, v in meta.items() if k != "market_FR"})
    assert Filters.build(therapy_area="onc").to_where() == {"ta_ONC": True}


def test_settings_from_env() -> None:
    default = IndexSettings.from_env({})
    assert default.index_dir == Path("data/index") and default.docs == (Path("data/sample/docs"),)
    assert default.chroma_host is None and default.chroma_port == 8000 and not default.server_mode
    env = {"CXASSIST_INDEX_DIR": "/x/idx", "CXASSIST_DOCS": f"/a{os.pathsep}/b",
           "CXASSIST_CHROMA_HOST": "chroma.local", "CXASSIST_CHROMA_PORT": "9000"}
    s = IndexSettings.from_env(env)
    assert s.index_dir == Path("/x/idx") and s.docs == (Path("/a"), Path("/b"))
    assert s.chroma_host == "chroma.local" and s.chroma_port == 9000 and s.server_mode
    with pytest.raises(ValueError, match="CXASSIST_CHROMA_PORT"):
        IndexSettings.from_env({"CXASSIST_CHROMA_PORT": "eighty"})


def test_import_index_is_cheap_and_independent() -> None:
    code = (
        "import sys, index, index.config, index.corpus, index.chunking, index.errors\n"
        "heavy = [m for m in ('torch', 'sentence_transformers', 'chromadb', 'cxengine',"
        " 'assistant', 'streamlit') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.strip() == ""
    for module in (ROOT / "index").glob("*.py"):
        source = module.read_text()
        for forbidden in ("cxengine", "assistant", "streamlit"):
            assert f"import {forbidden}" not in source and f"from {forbidden}" not in source
