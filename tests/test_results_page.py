"""docs/RESULTS.md stays one short page of current results, and every row file and link the docs cite exists."""

from __future__ import annotations

import glob
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "docs" / "RESULTS.md"
HISTORY = ROOT / "docs" / "history" / "results-log.md"
LINKED_DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
ROW_FILE = re.compile(r"docs/[A-Za-z0-9_./\[\]*{},-]*\.json")
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _slug(heading: str) -> str:
    """GitHub's anchor of a markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    return {_slug(m.group(1)) for m in re.finditer(r"^#+\s+(.*)$", path.read_text(), re.M)}


def _expand_braces(pattern: str) -> list[str]:
    m = re.search(r"\{([^{}]*)\}", pattern)
    if m is None:
        return [pattern]
    return [x for alt in m.group(1).split(",") for x in _expand_braces(pattern[: m.start()] + alt + pattern[m.end() :])]


def test_slug_follows_github():
    assert _slug("E3 on the 8 synthetic examples") == "e3-on-the-8-synthetic-examples"
    assert _slug("Results log (history)") == "results-log-history"


def test_results_is_one_short_page_that_links_to_its_history():
    text = RESULTS.read_text()
    assert len(text.encode()) <= 20 * 1024
    assert "](history/results-log.md)" in text
    assert HISTORY.is_file() and len(HISTORY.read_text()) > 5 * len(text)


def test_results_keeps_a_place_for_each_benchmark_still_to_come():
    headings = re.findall(r"^## (.*)$", RESULTS.read_text(), re.M)
    assert headings[0] == "At a glance"
    for name in ("Material loss and recovery", "Selection", "Robustness and speed on a busy machine"):
        assert name in headings


@pytest.mark.parametrize("bench", ["optimize -o out/leather", "bench graph", "bench generators", "bench proxies",
                                   "bench e2", "bench examples", "bench/e3_real.py", "bench e4"])
def test_results_quotes_the_command_of_each_benchmark(bench):
    quoted = re.findall(r"`([^`]+)`", RESULTS.read_text())
    assert any(bench in q and (q.startswith("proxymat ") or q.startswith(".venv/bin/python ")) for q in quoted)


def test_no_dated_row_file_is_left_outside_the_history_folder():
    assert not list((ROOT / "docs").glob("*_session*.json"))
    assert len(list((ROOT / "docs" / "history").glob("*_session*.json"))) >= 50


def test_every_row_file_cited_in_docs_bench_and_tests_exists():
    sources = [*LINKED_DOCS, *(ROOT / "bench").glob("*.py"), *(ROOT / "bench").glob("*.sh"), *(ROOT / "tests").glob("*.py")]
    missing, cited = [], 0
    for path in sources:
        for m in ROW_FILE.finditer(path.read_text()):
            if re.search(r"[A-Z]{2,}", m.group(0)):
                continue  # a placeholder such as GENERATOR
            for pattern in _expand_braces(m.group(0)):
                cited += 1
                if not glob.glob(str(ROOT / pattern)):
                    missing.append(f"{path.relative_to(ROOT)}: {pattern}")
    assert cited >= 50 and missing == []


def test_every_local_link_and_anchor_in_the_docs_resolves():
    broken, checked = [], 0
    for doc in LINKED_DOCS:
        for target in LINK.findall(doc.read_text()):
            if re.match(r"[a-z]+:", target):
                continue  # http(s), mailto
            file_part, _, anchor = target.partition("#")
            dest = (doc.parent / file_part).resolve() if file_part else doc
            checked += 1
            if not dest.exists():
                broken.append(f"{doc.relative_to(ROOT)}: {target}")
            elif anchor and anchor not in _anchors(dest):
                broken.append(f"{doc.relative_to(ROOT)}: {target} (no such heading)")
    assert checked >= 30 and broken == []
