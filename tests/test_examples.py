"""The bot's own examples come from the loaded knowledge base, and read as what a person would type."""

from __future__ import annotations

from kbbot.article import Article, ErrorSignature
from kbbot.conversation.examples import KbExamples


def _article(aid: str, title: str, product: str, *messages: str) -> Article:
    return Article(
        id=aid, title=title, product=product,
        error_signatures=tuple(ErrorSignature(kind="message", value=m) for m in messages),
    )  # fmt: skip


def test_the_error_example_is_a_line_people_would_paste_not_a_quoted_phrase() -> None:
    articles = [
        _article("KB1", "Printing from the 286 lab", "Print Server", "Novell and 286 and Rights"),
        _article("KB2", "Outlook cannot connect", "Outlook", "Cannot start Microsoft Outlook. Error 0x8004010F"),
        _article("KB3", "Mapped drive disconnects", "Outlook", "The network path was not found"),
    ]
    examples = KbExamples.from_articles(articles)
    assert examples.error_line == "Cannot start Microsoft Outlook. Error 0x8004010F"
    assert examples.products[0] == "Outlook"  # the most common product first
    assert examples.article_id == "KB1" and examples.search in {a.title for a in articles}


def test_a_kb_without_error_lines_offers_none_rather_than_a_borrowed_one() -> None:
    examples = KbExamples.from_articles([_article("how-to/vpn", "Set up the VPN", "")])
    assert examples.error_line == "" and "mailbag" not in repr(examples)


def test_a_quoted_host_name_or_word_is_no_error_example() -> None:
    examples = KbExamples.from_articles([
        _article("db/connect", "Connection refused to the database", "", "db.xxxxxxxxxxxxxxxxxxxx.supabase.co"),
        _article("db/title", "A title-like phrase", "", "Settings and Preferences Pane"),
    ])  # fmt: skip
    assert examples.error_line == ""
    assert examples.search  # the help still has a search example, from a title
