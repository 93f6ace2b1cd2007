"""The front door: a short README whose links resolve and whose findings quote no number.

A number typed into the README would go stale when the results change; the README's
findings are said in words, and the numbers live on the book's pages, computed in the run.
"""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def section(text: str, title: str) -> str:
    start = text.index(f"## {title}")
    end = text.find("\n## ", start + 3)
    return text[start:end if end > 0 else None]


def test_readme_is_a_front_door_of_at_most_600_words():
    words = len((ROOT / "README.md").read_text().split())
    assert words <= 600, f"README.md has {words} words; move detail to CONTRIBUTING.md or benchmarks/README.md"


@pytest.mark.parametrize("name", ["README.md", "CONTRIBUTING.md", "benchmarks/README.md"])
def test_relative_links_resolve(name):
    page = ROOT / name
    targets = [t for t in LINK.findall(page.read_text()) if not re.match(r"[a-z]+:", t)]
    missing = [t for t in targets if not (page.parent / t).exists()]
    assert not missing, f"{name} links to missing files: {missing}"


def test_readme_findings_quote_no_number():
    findings = section((ROOT / "README.md").read_text(), "What we found")
    assert re.findall(r"\d", findings) == [], findings


def test_readme_names_licence_site_and_citation():
    text = (ROOT / "README.md").read_text()
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    assert "https://knn-representations.github.io/knn-representations-book" in text
    assert "@inproceedings{rajani2020explaining" in text
