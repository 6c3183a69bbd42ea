"""The 1999 Markdown pages: where the article number and title come from when the page's parts disagree."""

from __future__ import annotations

import pytest

from kbbot.errors import ParseError
from kbbot.parse.markdown import parse_markdown

BODY = "\tArticle: Q99304\n\tProduct(s): Microsoft Mail\n\n\tSYMPTOMS\n\t========\n\n\tMail is lost.\n"


def test_article_field_beats_permalink_and_heading() -> None:
    page = "---\ntitle: \"Q1: Front\"\npermalink: /kb/099/Q99305/\n---\n## Q99306: Heading Title\n" + BODY
    draft = parse_markdown(page)
    assert (draft.id, draft.title, draft.product) == ("Q99304", "Heading Title", "Microsoft Mail")


def test_without_fields_the_permalink_beats_the_first_heading() -> None:
    page = "---\npermalink: /kb/099/Q99305/\n---\n{% raw %}\n## Q99306:\n## Q99307: Second Heading\n" \
           "\tSYMPTOMS\n\t========\n\n\tMail is lost.\n"
    draft = parse_markdown(page)
    # an empty heading leaves the title open for the next heading; the number stays the first one found
    assert (draft.id, draft.title) == ("Q99305", "Second Heading")


def test_first_heading_number_wins_over_later_headings() -> None:
    page = "## Q99306:\n## Q99307: Second Heading\n\tSYMPTOMS\n\t========\n\n\tMail is lost.\n"
    assert parse_markdown(page).id == "Q99306"


def test_front_matter_title_is_the_fallback_title_and_number() -> None:
    page = "---\ntitle: \"Q99308: From &amp; Front\"\n---\n\tSYMPTOMS\n\t========\n\n\tMail is lost.\n"
    draft = parse_markdown(page)
    assert (draft.id, draft.title) == ("Q99308", "From & Front")


def test_unclosed_front_matter_is_a_truncated_page() -> None:
    with pytest.raises(ParseError, match="not closed"):
        parse_markdown("---\ntitle: \"Q1: x\"\n")
