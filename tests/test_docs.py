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


CLAIM_CHAPTERS = sorted(p.name for p in (ROOT / "book").glob("0[1-6]_*.ipynb"))


@pytest.mark.parametrize("name", CLAIM_CHAPTERS)
def test_every_claim_chapter_opens_with_a_glued_what_we_found_box(name):
    import json
    cells = json.loads((ROOT / "book" / name).read_text())["cells"]
    box = "".join(cells[1]["source"])
    assert "99_results.md" not in box, "link the results notebook as 99_results.ipynb (MyST resolves it)"
    assert cells[1]["cell_type"] == "markdown" and box.startswith(":::{admonition} What we found"), box[:80]
    assert "{glue:md} found" in box and not re.search(r"\d", box.replace("99_results", "")), box
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    assert re.search(r"\bfound=Markdown\(", code), f"{name} never glues 'found' (nbhelpers.glue(found=...))"


def test_api_page_documents_every_module_once_the_method_first():
    import nbhelpers
    text = (ROOT / "book" / "api.md").read_text()
    method, machinery = section(text, "The method"), section(text, "The book's machinery")
    documented = re.findall(r"automodule:: nbhelpers\.(\w+)", text)
    assert sorted(documented) == sorted(nbhelpers.MODULES), set(documented) ^ set(nbhelpers.MODULES)
    assert "nbhelpers.knn" in method and "nbhelpers.knn" not in machinery
    assert "nbhelpers.cache" in machinery and "nbhelpers.cache" not in method
