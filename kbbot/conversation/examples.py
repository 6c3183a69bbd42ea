"""Examples drawn from the loaded knowledge base, for the bot's own words (help, the no-match hint, `/kb` usage).

A team's KB must never hear about mailbag contention: every example a person is shown comes from the articles
kbbot actually serves. Computed once, from a spread sample of the articles (decoding all 57k would cost seconds
at start-up for a sentence of help text).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from kbbot.article import Article

# How many articles are read to pick the examples: enough to find an error line and the common products.
SAMPLE_ARTICLES = 120
# An error line people would paste: long enough to be specific, short enough for one line of help.
ERROR_LINE_CHARS = (15, 80)
# A title short enough to read as something a person would type into `/kb`.
SEARCH_TITLE_CHARS = 60
MAX_PRODUCTS = 3


_ERROR_WORDS = re.compile(
    r"\b(?:error|errors|fail(?:ed|s|ure)?|cannot|can't|unable|denied|invalid|not (?:found|responding|available)"
    r"|refused|timed? ?out|unexpected|corrupt(?:ed)?|missing|exception|stop)\b",
    re.IGNORECASE,
)
_CODE = re.compile(r"\[\w+\]|\b0x[0-9a-f]{4,}\b|\b\d{3,}\b|\b[A-Z]{2,}\d{2,}\b", re.IGNORECASE)


def _pasteable(line: str) -> int:
    """How much `line` reads like an error message someone would paste: an error word counts most, a code next."""
    return 2 * bool(_ERROR_WORDS.search(line)) + bool(_CODE.search(line))


@dataclass(frozen=True, slots=True)
class KbExamples:
    """What the help text, the no-match hint and `/kb` usage show. Empty strings: the KB had none to offer."""

    article_id: str = ""  # an id `/kb` finds
    error_line: str = ""  # a real error message from an article
    search: str = ""  # a few words that find an article (from a title)
    products: tuple[str, ...] = ()  # the KB's most common products, most common first

    @classmethod
    def from_articles(cls, articles: Sequence[Article]) -> KbExamples:
        errors: list[str] = []
        titles: list[str] = []
        products: Counter[str] = Counter()
        for article in articles:
            if article.product:
                products[article.product] += 1
            if article.title and len(article.title) <= SEARCH_TITLE_CHARS:
                titles.append(article.title)
            low, high = ERROR_LINE_CHARS
            errors += [
                s.value.rstrip(".")
                for s in article.error_signatures
                if s.kind == "message" and low <= len(s.value) <= high and "\n" not in s.value
            ]
        # what people paste reads as an error ("... failed", "cannot ...") and often carries a code ("[008] ...",
        # "0x8004010F ..."); a quoted line that is neither (a title-like phrase, a host name in quotes) is no
        # example at all: better none than one nobody would paste
        errors = [e for e in errors if _pasteable(e) and len(e.split()) >= 2]
        errors.sort(key=lambda e: (-_pasteable(e), len(e)))
        titles.sort(key=len)
        return cls(
            article_id=articles[0].id if articles else "",
            error_line=errors[0] if errors else "",
            search=titles[len(titles) // 2] if titles else "",
            products=tuple(p for p, _ in products.most_common(MAX_PRODUCTS)),
        )

    @classmethod
    def sample(cls, ids: Sequence[str], get: Callable[[str], Article | None]) -> KbExamples:
        """From up to SAMPLE_ARTICLES articles spread evenly over `ids` (the KB's own order)."""
        if not ids:
            return cls()
        stride = max(1, len(ids) // SAMPLE_ARTICLES)
        picked = [get(i) for i in ids[::stride][:SAMPLE_ARTICLES]]
        return cls.from_articles([a for a in picked if a is not None])
