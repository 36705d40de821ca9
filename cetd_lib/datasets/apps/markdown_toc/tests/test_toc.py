import pytest

from headings import Heading, SlugRegistry, extract_headings, slugify
from toc import END_MARKER, START_MARKER, insert_toc, render_toc

DOC = """# Project Title

Intro text.

## Getting Started ##

```bash
# not a heading
```

### Install
### Install

Usage
-----

#hashtag is not a heading
####### neither is this

## See [the docs](https://example.com)!
"""


def test_slugify_basic():
    assert slugify("Hello, World!") == "hello-world"
    assert slugify("  API v2.0 (beta) ") == "api-v20-beta"
    assert slugify("snake_case and-dash") == "snake_case-and-dash"


def test_slugify_keeps_each_space():
    assert slugify("a  b") == "a--b"


def test_extract_levels_and_titles():
    heads = extract_headings(DOC)
    assert [(h.level, h.title) for h in heads] == [
        (1, "Project Title"),
        (2, "Getting Started"),
        (3, "Install"),
        (3, "Install"),
        (2, "Usage"),
        (2, "See the docs!"),
    ]


def test_extract_line_numbers():
    heads = extract_headings(DOC)
    assert [h.line for h in heads] == [1, 5, 11, 12, 14, 20]


def test_duplicate_slugs_get_suffixes():
    heads = extract_headings(DOC)
    assert [h.slug for h in heads] == [
        "project-title", "getting-started", "install", "install-1", "usage", "see-the-docs",
    ]


def test_slug_registry_avoids_collision_with_existing_suffix():
    reg = SlugRegistry()
    assert reg.unique("a") == "a"
    assert reg.unique("a-1") == "a-1"
    assert reg.unique("a") == "a-2"
    assert reg.unique("a") == "a-3"


def test_fenced_code_with_tildes_and_longer_fence():
    md = "~~~~\n# hidden\n~~~\n# still hidden\n~~~~\n# Shown\n"
    assert [h.title for h in extract_headings(md)] == ["Shown"]


def test_setext_level_one_and_indented_atx():
    md = "Big Title\n=========\n\n   ## Indented\n    # code block\n"
    heads = extract_headings(md)
    assert heads == [Heading(1, "Big Title", "big-title", 1), Heading(2, "Indented", "indented", 4)]


def test_render_toc_indentation():
    heads = extract_headings(DOC)
    assert render_toc(heads) == "\n".join([
        "- [Project Title](#project-title)",
        "  - [Getting Started](#getting-started)",
        "    - [Install](#install)",
        "    - [Install](#install-1)",
        "  - [Usage](#usage)",
        "  - [See the docs!](#see-the-docs)",
    ])


def test_render_toc_level_filter_and_ordered():
    heads = extract_headings(DOC)
    out = render_toc(heads, min_level=2, max_level=2, ordered=True)
    assert out.splitlines() == [
        "1. [Getting Started](#getting-started)",
        "1. [Usage](#usage)",
        "1. [See the docs!](#see-the-docs)",
    ]
    assert render_toc(heads, min_level=5) == ""
    with pytest.raises(ValueError):
        render_toc(heads, min_level=3, max_level=2)


def test_insert_toc_places_block_after_marker():
    md = f"# A\n{START_MARKER}\n## B\n"
    out = insert_toc(md)
    assert out == f"# A\n{START_MARKER}\n- [A](#a)\n  - [B](#b)\n{END_MARKER}\n## B\n"


def test_insert_toc_is_idempotent():
    md = f"# A\n\n{START_MARKER}\n\n## B\n### C\n"
    once = insert_toc(md, max_level=2)
    assert insert_toc(once, max_level=2) == once
    assert "[C]" not in once


def test_insert_toc_requires_marker():
    with pytest.raises(ValueError):
        insert_toc("# Nothing here\n")


def test_insert_toc_without_trailing_newline():
    out = insert_toc(f"{START_MARKER}\n# Only")
    assert out == f"{START_MARKER}\n- [Only](#only)\n{END_MARKER}\n# Only"
