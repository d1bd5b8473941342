"""The README and docs/ link only to what the repository holds, and the README stays short."""

import re
import unicodedata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
README_LINE_LIMIT = 250

FENCE = re.compile(r"^(```|~~~)")
INLINE_CODE = re.compile(r"`[^`]*`")
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$")
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)


def prose_lines(path: Path) -> list[str]:
    """The file's lines outside fenced code blocks, with inline code removed."""
    lines, fenced = [], False
    for line in path.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line.strip()):
            fenced = not fenced
            continue
        if not fenced:
            lines.append(INLINE_CODE.sub("", line))
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = INLINE_CODE.sub(lambda match: match.group(0).strip("`"), heading).lower()
    kept = "".join(
        char for char in text if char in " -_" or unicodedata.category(char)[0] in ("L", "N")
    )
    return kept.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every heading anchor of a markdown file, numbered as GitHub numbers repeats."""
    seen: dict[str, int] = {}
    found = set()
    fenced = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line.strip()):
            fenced = not fenced
            continue
        match = None if fenced else HEADING.match(line)
        if match is None:
            continue
        base = slug(match.group(1))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def relative_links(path: Path) -> list[str]:
    """Every link target in the file that is not a URL with a scheme."""
    return [
        target
        for line in prose_lines(path)
        for target in LINK.findall(line)
        if not EXTERNAL.match(target)
    ]


def broken_links(path: Path, root: Path = ROOT) -> list[str]:
    """Relative links of `path` whose file, or heading anchor, does not exist inside `root`."""
    broken = []
    for target in relative_links(path):
        file_part, _, anchor = target.partition("#")
        resolved = (path.parent / file_part).resolve() if file_part else path
        if not resolves(resolved, anchor, root):
            broken.append(target)
    return broken


def resolves(resolved: Path, anchor: str, root: Path) -> bool:
    """The file is inside `root` and exists, and a markdown file has the anchor, if one is named."""
    if not resolved.is_relative_to(root) or not resolved.exists():
        return False
    return not anchor or resolved.suffix != ".md" or anchor in anchors(resolved)


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda path: path.name)
def test_every_relative_link_resolves_inside_the_repository(path: Path) -> None:
    assert broken_links(path) == []


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda path: path.name)
def test_no_document_refers_to_the_design_folder_outside_the_repository(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert "../shared" not in text
    assert "/work/shared" not in text


def test_the_readme_is_read_in_five_minutes() -> None:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) < README_LINE_LIMIT


def test_the_readme_names_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make run" in text
    assert "make test" in text


def test_a_broken_link_and_a_missing_anchor_are_found(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text("# Title\n\n## 3.1 The § 48a key figures\n")
    page = tmp_path / "page.md"
    page.write_text(
        "[ok](other.md#31-the--48a-key-figures) [gone](missing.md) "
        "[no anchor](other.md#nowhere) [web](https://example.org/x.md)\n"
        "```\n[in code](missing-too.md)\n```\n"
    )
    outside = tmp_path / "outside.md"
    outside.write_text("# Out\n")
    (tmp_path / "repo").mkdir()
    inner = tmp_path / "repo" / "inner.md"
    inner.write_text("[up](../outside.md)\n")
    assert broken_links(page, root=tmp_path) == ["missing.md", "other.md#nowhere"]
    assert broken_links(inner, root=tmp_path / "repo") == ["../outside.md"]
