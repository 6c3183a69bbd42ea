"""Card builders: every card of every seed and of long, hostile, corpus-like articles stays inside Slack's limits
and escapes what it shows."""

from __future__ import annotations

import json
import logging
import random
import re
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kbbot import cards
from kbbot.article import Article, ErrorSignature, Procedure, Step
from kbbot.cards import EscalationDetails, Message
from kbbot.parse import parse_bytes, parse_file
from kbbot.search.types import SearchHit

REPO = Path(__file__).resolve().parents[1]
SEEDS = sorted((REPO / "seeds").glob("*.txt"))

HOSTILE = (
    "<!channel> <!here> <!everyone> <!subteam^S123|@oncall> <@U1> <#C1> <https://evil.example|click> "
    "R&D & co ```rm -rf``` *bold* _italic_ ~strike~ `code` > quote"
)


# --- limits -----------------------------------------------------------------------------------------------------


def _walk(obj: Any) -> Iterator[dict[str, Any]]:
    if isinstance(obj, dict):
        yield obj
        for v in obj.values():
            yield from _walk(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _walk(v)


def mrkdwn_texts(message: Message) -> list[str]:
    return [o["text"] for o in _walk(message.blocks) if o.get("type") == "mrkdwn"]


def assert_within_limits(message: Message) -> None:
    assert isinstance(message.text, str) and message.text.strip()
    assert len(message.text) <= 3000
    assert 0 < len(message.blocks) <= cards.MAX_BLOCKS
    assert cards.blocks_size(message.blocks) <= cards.MAX_BLOCK_CHARS
    for block in message.blocks:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= 3000
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= 150
        if block["type"] == "actions":
            assert len(block["elements"]) <= 25
    for obj in _walk(message.blocks):
        if obj.get("type") == "button":
            assert obj["action_id"].startswith("kb:")
            assert len(obj["text"]["text"]) <= 75
            assert len(obj["value"]) <= 2000


def assert_no_pings(message: Message, *, allowed: tuple[str, ...] = ()) -> None:
    """Nothing from article or user text turns into a mention, a link or broken markup."""
    for text in [*mrkdwn_texts(message), message.text]:
        for tag in re.findall(r"<[^>]*>", text):
            assert tag in allowed, f"unescaped {tag!r} in {text[:200]!r}"
        assert "<!" not in text


def every_card(article: Article, hit: SearchHit | None = None, *, version: int = 3) -> list[Message]:
    out = [
        cards.answer_card(article, hit, version=version),
        cards.answer_card(article, hit, version=version, intro="Let's try another article."),
        cards.lookup_card(article, hit),
        *cards.full_article_card(article, version=version),
    ]
    for p, proc in enumerate(article.procedures):
        out.append(cards.all_steps_card(article, p, version=version))
        for s in range(len(proc.steps)):
            out.append(cards.step_card(article, p, s, version=version))
    return out


# --- seeds ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", SEEDS, ids=lambda p: p.name)
def test_every_card_of_every_seed(path: Path) -> None:
    article = parse_file(path)
    hit = SearchHit(
        id=article.id, title=article.title, score=1.0, matched_error=next(iter(article.error_codes), None)
    )
    for message in every_card(article, hit):
        assert_within_limits(message)
        assert_no_pings(message)
        json.dumps(message.blocks)  # plain data, ready for chat.postMessage


def test_answer_card_shape() -> None:
    article = parse_file(REPO / "seeds" / "003_808a534ad571b896.txt")
    hit = SearchHit(
        id=article.id, title=article.title, score=1.0,
        matched_error="[008] Failure delivering user mail due to mailbag contention.",
    )  # fmt: skip
    card = cards.answer_card(article, hit, version=7)
    header = card.blocks[0]
    assert header["type"] == "header" and header["text"]["text"].startswith("Q237695: XFOR: Cannot Send")
    text = "\n".join(mrkdwn_texts(card))
    assert "*Symptom*" in text and "*Cause*" in text and "*Workaround*" in text
    # the six steps are for the walk-through; the card keeps to the introduction of the list
    assert "following these steps:" in text and "P1 folder" not in text
    assert "```[008] Failure delivering user mail due to mailbag contention.```" in text
    actions = [e for b in card.blocks if b["type"] == "actions" for e in b["elements"]]
    assert [a["action_id"] for a in actions] == ["kb:walk", "kb:full", "kb:not_mine", "kb:fixed"]
    assert all(json.loads(a["value"]) == {"v": 7, "a": "Q237695"} for a in actions)
    assert card.text.startswith("Q237695")


def test_no_walk_button_without_a_procedure() -> None:
    article = parse_file(REPO / "seeds" / "004_91a302b074f954c0.txt")
    card = cards.answer_card(article, None, version=1)
    ids = [e["action_id"] for b in card.blocks if b["type"] == "actions" for e in b["elements"]]
    assert "kb:walk" not in ids and "kb:full" in ids
    assert "*Status*" in "\n".join(mrkdwn_texts(card))  # the fix lives in STATUS for this one


def test_step_card_shape() -> None:
    article = parse_file(REPO / "seeds" / "003_808a534ad571b896.txt")
    card = cards.step_card(article, 0, 3, version=9)
    text = "\n".join(mrkdwn_texts(card))
    assert "*Step 4 of 6*" in text and "Access\\*.glb" not in text
    buttons = {e["action_id"]: e["value"] for b in card.blocks if b["type"] == "actions" for e in b["elements"]}
    assert {"kb:back", "kb:next", "kb:worked", "kb:failed", "kb:escalate", "kb:ref"} <= set(buttons)
    assert json.loads(buttons["kb:next"]) == {"v": 9, "a": "Q237695", "m": 0, "s": 3}
    assert json.loads(buttons["kb:ref"]) == {"v": 9, "a": "Q135932"}
    last = cards.step_card(article, 0, 5, version=9)
    ids = [e["action_id"] for b in last.blocks if b["type"] == "actions" for e in b["elements"]]
    assert "kb:next" not in ids and "kb:back" in ids


# --- long and hostile articles ----------------------------------------------------------------------------------


def _words(rng: random.Random, n: int) -> str:
    vocab = [
        *re.split(r"\s+", "the mail server connector postoffice registry key click OK select verify restart"),
        *re.split(r"\s+", "service exchange message NDR queue backup R&D 0x80040119 [008] *.glb _tmp ~1 `x`"),
        "HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft",
        "<drive>:\\winnt\\system32",
        "C:\\EXCHSRVR\\MDBDATA",
    ]
    sentences: list[str] = []
    while sum(len(s) for s in sentences) < n:
        sentences.append(" ".join(rng.choice(vocab) for _ in range(rng.randint(5, 25))).capitalize() + ".")
    return " ".join(sentences)[:n]


def long_article(seed: int) -> Article:
    rng = random.Random(seed)
    section_len = rng.choice([200, 3000, 9000, 30000])
    procedures = tuple(
        Procedure(
            label=f"Method {m + 1}: " + _words(rng, rng.choice([20, 300])),
            section="RESOLUTION",
            steps=tuple(
                Step(
                    text=_words(rng, rng.choice([30, 400, 2900, 6000])),
                    substeps=tuple(
                        _words(rng, rng.choice([20, 200, 1500])) for _ in range(rng.choice([0, 2, 30]))
                    ),
                    references=tuple(f"Q{rng.randint(10000, 999999)}" for _ in range(rng.choice([0, 1, 9]))),
                )
                for _ in range(rng.choice([1, 9, 60]))
            ),
        )
        for m in range(rng.choice([1, 3]))
    )
    return Article(
        id=f"Q{100000 + seed}",
        title=_words(rng, rng.choice([40, 400])) + " " + HOSTILE,
        product="Microsoft Exchange Server <!here>",
        versions=tuple(f"{v}.0" for v in range(rng.choice([1, 40]))),
        sections={
            "SYMPTOMS": HOSTILE + "\n\n" + _words(rng, section_len),
            "CAUSE": _words(rng, section_len) + "\n\n" + HOSTILE,
            "RESOLUTION": "\n\n".join(_words(rng, section_len // 4) for _ in range(4)),
            "MORE INFORMATION": _words(rng, section_len * 2),
            "WEIRD HEADING <!channel>": _words(rng, 500),
        },
        procedures=procedures,
        error_signatures=(ErrorSignature(kind="message", value=HOSTILE * 10),),
    )


@pytest.mark.parametrize("seed", range(12))
def test_long_hostile_articles_stay_within_limits_and_escaped(seed: int, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="kbbot.cards")
    article = long_article(seed)
    hit = SearchHit(id=article.id, title=article.title, score=0.5, matched_error=article.error_codes[0])
    messages = every_card(article, hit)
    assert len(cards.full_article_card(article, version=1)) <= cards.MAX_FULL_ARTICLE_MESSAGES
    for message in messages:
        assert_within_limits(message)
        assert_no_pings(message)
    assert not caplog.records, "a builder's budget let a card grow past Slack's limits"


def test_an_over_budget_card_is_trimmed_not_sent_over(caplog: pytest.LogCaptureFixture) -> None:
    from slack_sdk.models.blocks import ActionsBlock, ButtonElement, HeaderBlock, SectionBlock

    blocks = [HeaderBlock(text="Q1: big"), *(SectionBlock(text="x" * 2900) for _ in range(60))]
    blocks.append(ActionsBlock(elements=[ButtonElement(text="Next", action_id="kb:next", value="{}")]))
    message = cards._finish("big", blocks)
    assert_within_limits(message)
    assert message.blocks[0]["type"] == "header" and message.blocks[-1]["type"] == "actions"
    assert "over Slack's limits" in caplog.text


def test_hostile_text_is_escaped_everywhere() -> None:
    article = Article(
        id="Q1", title=HOSTILE, product=HOSTILE,
        sections={"SYMPTOMS": HOSTILE, "CAUSE": HOSTILE, "RESOLUTION": HOSTILE},
        procedures=(
            Procedure(label=HOSTILE, section="RESOLUTION", steps=(Step(text=HOSTILE, substeps=(HOSTILE,)),)),
            Procedure(label=HOSTILE, section="RESOLUTION", steps=(Step(text=HOSTILE),)),
        ),
    )  # fmt: skip
    hit = SearchHit(id="Q1", title=HOSTILE, score=1.0, product=HOSTILE, matched_error=HOSTILE)
    messages = [
        *every_card(article, hit),
        cards.shortlist_card([hit, hit], version=1),
        cards.shortlist_card([hit], version=0, lookup=True),
        cards.product_question_card([HOSTILE, "Microsoft Exchange Server"], version=1),
        cards.closest_card("Q2", [("Q1", HOSTILE)]),
        cards.no_match_card(HOSTILE),
    ]
    for message in messages:
        assert_within_limits(message)
        assert_no_pings(message)
        for text in mrkdwn_texts(message):
            if "rm -rf" in text and not text.startswith("*Matched error*"):
                # no stray fence from the article survives to open a code block
                assert "```" not in text
            assert "R&amp;D" in text or "R&D" not in text
            if not text.startswith("*Matched error*"):  # inside a code block formatting is inert anyway
                assert " *bold*" not in text and " _italic_" not in text  # formatting neutralised
    matched = [t for m in messages for t in mrkdwn_texts(m) if t.startswith("*Matched error*")]
    assert matched and all(t.count("```") == 2 for t in matched)  # only our own fence pair


def test_escalation_summary_escapes_the_question_and_links_the_thread() -> None:
    details = EscalationDetails(
        question=HOSTILE, asker="U123", article_id="Q237695", article_title=HOSTILE,
        steps_tried=(HOSTILE, "Q237695 method 1, step 1: verify"), outcome="the suggested fixes did not work",
    )  # fmt: skip
    link = "https://acme.slack.com/archives/C1/p1700000000000100"
    summary = cards.escalation_summary(details, thread_link=link)
    assert_within_limits(summary)
    assert_no_pings(summary, allowed=("<@U123>", f"<{link}>"))
    text = "\n".join(mrkdwn_texts(summary))
    assert "Q237695" in text and "did not work" in text and "method 1, step 1" in text
    sneaky = cards.escalation_summary(details, thread_link="https://x.example/a|<!channel>")
    assert_no_pings(sneaky, allowed=("<@U123>", "<https://x.example/a!channel>"))
    no_link = cards.escalation_summary(details)
    assert "(link not available)" in "\n".join(mrkdwn_texts(no_link))


def test_text_message_splits_long_text() -> None:
    message = cards.text_message("word " * 5000)
    assert_within_limits(message)
    assert len(message.blocks) >= 3


# --- helpers ----------------------------------------------------------------------------------------------------


def test_escape_mrkdwn() -> None:
    assert cards.escape_mrkdwn("<!channel> & <@U1>") == "&lt;!channel&gt; &amp; &lt;@U1&gt;"
    assert "```" not in cards.escape_mrkdwn("a ``` b")
    assert cards.escape_mrkdwn("Access*.glb files") == "Access*.glb files"  # mid-word: left alone
    assert cards.escape_mrkdwn("see *this*") == "see \u200b*this*"


def test_clip() -> None:
    assert cards.clip("short", 10) == "short"
    text = "First sentence here. Second sentence is much longer than the limit allows."
    assert cards.clip(text, 36) == "First sentence here."
    clipped = cards.clip("word " * 100, 52)
    assert len(clipped) <= 52 and clipped.endswith("…") and " wo…" not in clipped
    escaped = cards.clip_mrkdwn("&" * 100, 50)
    assert len(escaped) <= 50 and not escaped.rstrip("…").endswith("&amp")


def test_action_values_round_trip() -> None:
    value = cards.action_value(4, a="Q1", m=0, s=2, c=None)
    assert cards.parse_action_value(value) == {"v": 4, "a": "Q1", "m": 0, "s": 2}
    assert cards.parse_action_value("garbage") == {}
    assert cards.parse_action_value("[1,2]") == {}
    assert cards.parse_action_value(None) == {}


# --- the corpus -------------------------------------------------------------------------------------------------


def _corpus_sample(shared: Path, *, every: int = 12, limit: int = 300) -> list[tuple[str, bytes]]:
    """Every n-th article of the real corpus archive, read as a stream: only the archive's head is unpacked."""
    archive = shared / "kb" / "corpus-txt.tar.xz"
    if not archive.is_file():
        pytest.skip(f"the corpus archive ({archive}) is not here")
    sample: list[tuple[str, bytes]] = []
    with tarfile.open(archive, "r|xz") as tar:
        for n, member in enumerate(tar):
            if member.isfile() and n % every == 0:
                handle = tar.extractfile(member)
                if handle is not None:
                    sample.append((member.name, handle.read()))
            if len(sample) >= limit:
                break
    return sample


@pytest.mark.corpus
def test_cards_for_a_few_hundred_corpus_articles(shared_dir: Path) -> None:
    sample = _corpus_sample(shared_dir)
    with_steps = 0
    for name, data in sample:
        article = parse_bytes(data, source=name)
        hit = SearchHit(
            id=article.id, title=article.title, score=1.0, matched_error=next(iter(article.error_codes), None)
        )
        with_steps += bool(article.procedures)
        for message in every_card(article, hit):
            assert_within_limits(message)
            assert_no_pings(message)
    assert len(sample) == 300
    assert with_steps > 20  # the sample really exercises step cards


def test_chunks_split_on_breaks_and_never_inside_an_entity() -> None:
    text = cards.escape_mrkdwn("a " * 10 + "&" * 5000)
    pieces = cards._chunks(text, 1000)
    assert all(len(p) <= 1000 for p in pieces)
    assert "".join(pieces).replace(" ", "") == text.replace(" ", "")
    assert all(p.endswith(";") or not p.endswith(("&", "&a", "&am", "&amp")) for p in pieces)
    assert len(pieces) <= 5000 * 5 // 1000 + 2  # no confetti of tiny pieces
    paragraphs = cards._chunks("para one.\n\n" + "word " * 300, 1000)
    assert paragraphs[0] == "para one." or len(paragraphs[0]) > 333
