"""Which case of a page that covers several the person asked about.

Troubleshooting pages of today's KBs often hold one section per error or problem ("Error: Permission denied
(publickey)", "ssh_exchange_identification error", "Timeout during git push"), each with its own fix. The answer
card shows one fix and "Walk me through" walks one procedure: on such a page they should be those of the case
the question is about, not of the first case on the page. Plain values in, a section name out: the renderer
shows that section as the fix, the conversation walks the procedure in it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from kbbot.article import NOT_A_FIX, SECTION_ORDER, Article
from kbbot.search.text import normalise_text

# A case is shown instead of the page's first fix only when its heading shares a telling word with the
# question (the heading names the case: matching its text alone, a short "Why did I get this bounce message?"
# beat the admin's fix on an admin's question), and the case matches the question clearly better than that
# fix: by this factor, and by about one rare word's worth of BM25 (a shared "error" or product name is chance).
CASE_MIN_HEADING_SCORE = 2.0
CASE_LEAD_RATIO = 1.5
CASE_LEAD_SCORE = 3.0
# Alternatives to one fix ("Method 2: ...", "Option 3") are not cases: the card keeps the first. Nor are
# explanations ("Causes for NDR 5.4.14 and what does this error mean?").
_NOT_A_CASE_RE = re.compile(
    r"^(?:METHOD|OPTION|SOLUTION|WORKAROUND|RESOLUTION|FIX|STEP|PART|CAUSES?|REASONS?|BACKGROUND)\b|^\d+[.)]"
)
_MODERN = frozenset(("markdown-doc", "html", "json"))

# query, {section name: heading and text} -> {section name: score} (SearchEngine.section_scores)
SectionScorer = Callable[[str, Mapping[str, str]], Mapping[str, float]]


def cases_of(article: Article) -> list[str]:
    """The sections of a page that are cases of their own (headings of the page's own naming a problem), in
    page order; fewer than two: the page is about one problem."""
    if article.format not in _MODERN:
        return []
    return [
        name for name, text in article.sections.items()
        if text.strip() and name not in SECTION_ORDER and name not in NOT_A_FIX and not _NOT_A_CASE_RE.match(name)
    ]  # fmt: skip


def _squeezed(text: str) -> str:
    return " ".join(normalise_text(text).split())


def case_section(
    article: Article, question: str, score: SectionScorer | None, matched_error: str | None = None
) -> str | None:
    """The section of the case `question` is about, when the article covers several cases and the question
    points clearly at another than the one its card would show (`Article.fix_section`); else None. Only cases
    whose heading shares a telling word with the question are candidates; among them the one that prints
    the error line the search matched wins, else the best scored against the question (heading counted
    twice: it names the case)."""
    cases = cases_of(article)
    default = article.fix_section()
    if len(cases) < 2 or not question or (default is not None and default not in cases):
        return None  # one case, or a page whose fix is its Resolution: nothing to choose
    texts = {name: f"{article.heading_of(name)}\n{article.heading_of(name)}\n{article.sections[name]}"
             for name in cases}  # fmt: skip
    if score is None:
        return None
    named = score(question, {name: article.heading_of(name) for name in cases})
    named_cases = [name for name in cases if named.get(name, 0.0) >= CASE_MIN_HEADING_SCORE]
    if not named_cases:
        return None
    if matched_error:
        error = _squeezed(matched_error)
        printing = [name for name in named_cases if error in _squeezed(texts[name])]
        if len(printing) == 1:
            return None if printing[0] == default else printing[0]
    scores = score(question, texts)
    best = max(named_cases, key=lambda name: scores.get(name, 0.0))  # the first of equals: page order
    base = scores.get(default, 0.0) if default else 0.0
    top = scores.get(best, 0.0)
    if best == default or top < base * CASE_LEAD_RATIO or top - base < CASE_LEAD_SCORE:
        return None
    return best
