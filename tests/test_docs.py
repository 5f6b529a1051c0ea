"""README.md fits a page and points into docs/; its examples are the guides' own (mkdocs checks the site's links)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
LINK = re.compile(r"\]\(([^)\s]+)\)")
CODE = re.compile(r"```python\n(.*?)```", re.S)


def _links(text: str) -> list[str]:
    return [t for t in LINK.findall(text) if not re.match(r"[a-z]+:", t) and not t.startswith("#")]


def test_readme_fits_a_page() -> None:
    assert len(README.splitlines()) <= 300
    for needed in ("make demo", "make test", "CascadeAgent", "ChatCascade", "CascadeLLM"):
        assert needed in README, needed


def test_readme_links_resolve() -> None:
    links = _links(README)
    assert any(t.startswith("docs/") for t in links)
    missing = [t for t in links if not (ROOT / t.split("#", 1)[0]).exists()]
    assert not missing, f"README.md links to files that do not exist: {missing}"


def test_every_docs_page_is_linked_from_the_readme_map() -> None:
    pages = {p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").glob("*/*.md")} | {
        p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").glob("*.md")}
    linked = {t.split("#", 1)[0] for t in _links(README)}
    # reference pages are reached from docs/reference/index.md
    unlinked = sorted(p for p in pages if p not in linked and not p.startswith("docs/reference/"))
    assert not unlinked, f"docs pages missing from the README's map: {unlinked}"


@pytest.mark.parametrize("page", ["docs/quickstart.md", "docs/integrations/langchain.md",
                                  "docs/integrations/llama-index.md"])
def test_readme_examples_are_the_guides_examples(page: str) -> None:
    # each face's example in the README is the first example of its guide, so the two never drift
    guide = CODE.findall((ROOT / page).read_text(encoding="utf-8"))[0]
    assert guide in CODE.findall(README), f"the README's example differs from the first one in {page}"
