"""Every file the README and the documents under docs/ point at exists in the repository:
relative Markdown links (and the heading a ``#fragment`` names in a Markdown target), and
paths in code spans that start at a top-level directory (``athena_core/...``,
``contrib/...``)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
DOCUMENTS = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])
#: Top-level directories a path in a code span may start at.
TOP_LEVEL = ("athena_core", "athena_plugins", "contrib", "tests", "benchmarks", "docs",
             "procedures", ".ci")
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_CODE_SPAN = re.compile(r"`([^`\n]+)`")
_PATH = re.compile(rf"(?:{'|'.join(re.escape(top) for top in TOP_LEVEL)})/[\w./-]*")
_FENCE = re.compile(r"^(```|~~~).*?^\1", re.M | re.S)


def references(document: Path) -> list[tuple[str, Path]]:
    """``(as written, resolved path)`` for every file ``document`` refers to."""
    text = _FENCE.sub("", document.read_text(encoding="utf-8"))  # code blocks are examples
    found = []
    for target in _LINK.findall(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue  # a URL (https:, mailto:) or an anchor in the same document
        path = target.split("#", 1)[0]
        found.append((target, (document.parent / path).resolve()))
    for span in _CODE_SPAN.findall(text):
        if _PATH.fullmatch(span.split("::", 1)[0].strip()):
            found.append((span, ROOT / span.split("::", 1)[0].strip()))
    return found


def anchors(document: Path) -> set[str]:
    """The fragments GitHub gives ``document``'s headings (``## The bridge`` -> ``the-bridge``)."""
    seen: dict[str, int] = {}
    for heading in re.findall(r"^#{1,6} (.+)$", _FENCE.sub("", document.read_text()), re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        seen[slug] = seen.get(slug, -1) + 1
        if seen[slug]:
            seen[f"{slug}-{seen[slug]}"] = 0
    return set(seen)


@pytest.mark.parametrize("document", DOCUMENTS, ids=[str(d.relative_to(ROOT)) for d in DOCUMENTS])
def test_every_referenced_file_exists(document: Path) -> None:
    missing = [written for written, path in references(document) if not path.exists()]
    assert not missing, f"{document.relative_to(ROOT)} refers to files that do not exist: " \
                        f"{missing}"


@pytest.mark.parametrize("document", DOCUMENTS, ids=[str(d.relative_to(ROOT)) for d in DOCUMENTS])
def test_every_linked_heading_exists(document: Path) -> None:
    text = _FENCE.sub("", document.read_text(encoding="utf-8"))
    missing = []
    for target in _LINK.findall(text):
        path, _, fragment = target.partition("#")
        if not fragment or re.match(r"^[a-z][a-z0-9+.-]*:", target):
            continue
        linked = (document.parent / path).resolve() if path else document
        if linked.suffix == ".md" and linked.exists() and fragment not in anchors(linked):
            missing.append(target)
    assert not missing, f"{document.relative_to(ROOT)} links to headings that do not exist: " \
                        f"{missing}"


def test_references_are_found() -> None:
    """The extraction itself works: a link, a code-span path and a URL."""
    readme = references(ROOT / "README.md")
    assert ("docs/hooks.md", ROOT / "docs" / "hooks.md") in readme
    assert not any(written.startswith("http") for written, _ in readme)
    assert any(written.startswith("contrib/") for written, _ in readme)
