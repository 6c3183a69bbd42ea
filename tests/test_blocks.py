"""The Slack renderer: every reply of every seed and of long, hostile, corpus-like articles becomes a message Slack
accepts (its limits, unique action_ids per block and block_ids per message) and escapes what it shows."""

from __future__ import annotations

import dataclasses
import json
import logging
import random
import re
import tarfile
from pathlib import Path

import pytest
from block_helpers import block_objects, mrkdwn_texts

from kbbot.article import Article, ErrorSignature, Procedure, Step
from kbbot.conversation import messages as msg
from kbbot.conversation.engine import answer_offers, lookup_reply, outcome_offers, step_reply
from kbbot.conversation.replies import (
    Action,
    AllStepsReply,
    AnswerReply,
    ClarifyReply,
    ClosestReply,
    EscalationOfferReply,
    EscalationSummary,
    FullArticleReply,
    Mention,
    NoMatchReply,
    Offer,
    ProductQuestionReply,
    Reply,
    ShortlistReply,
    clip,
    notice,
    say,
)
from kbbot.conversation.state import ThreadKey
from kbbot.parse import parse_bytes, parse_file
from kbbot.search.types import SearchHit
from kbbot.server.loopback import buttons
from kbbot.slack import blocks as cards
from kbbot.slack.actions import ButtonCodec
from kbbot.slack.blocks import Message

REPO = Path(__file__).resolve().parents[1]
SEEDS = sorted((REPO / "seeds").glob("*.txt"))

CODEC = ButtonCodec.from_secret("renderer-test-secret")
WHERE = ThreadKey(team="T1", channel="C1", thread_ts="1700000000.000100")


def draw(reply: Reply) -> list[Message]:
    return cards.render(reply, codec=CODEC, where=WHERE)


def drawn(reply: Reply) -> Message:
    (message,) = draw(reply)
    return message


def pressed(message: Message) -> list[tuple[str, Offer]]:
    """(action_id, the offer it decodes to) for every button on a message, in the order a person sees them."""
    found = buttons({"blocks": message.blocks})
    return [(b.action_id, CODEC.decode(b.action_id, b.value, where=WHERE)) for b in found]


HOSTILE = (
    "<!channel> <!here> <!everyone> <!subteam^S123|@oncall> <@U1> <#C1> <https://evil.example|click> "
    "R&D & co ```rm -rf``` *bold* _italic_ ~strike~ `code` > quote"
)


# --- limits -----------------------------------------------------------------------------------------------------


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
    for obj in block_objects(message.blocks):
        if obj.get("type") == "button" and obj.get("url"):  # a link: opens the page, carries no kbbot action
            assert obj["action_id"] == cards.OPEN_ARTICLE_ACTION and len(obj["url"]) <= cards.URL_CHARS
        elif obj.get("type") == "button":
            assert obj["action_id"].startswith("kb:")
            assert len(obj["text"]["text"]) <= 75
            assert len(obj["value"]) <= 2000
    assert_slack_accepts(message)


def assert_slack_accepts(message: Message) -> None:
    """What Slack checks beyond lengths (invalid_blocks): unique block_ids, unique action_ids within a block."""
    block_ids = [b["block_id"] for b in message.blocks if "block_id" in b]
    assert len(set(block_ids)) == len(block_ids), f"repeated block_id in {block_ids}"
    for block in message.blocks:
        elements = [*(block.get("elements") or []), *([block["accessory"]] if block.get("accessory") else [])]
        ids = [e["action_id"] for e in elements if isinstance(e, dict) and "action_id" in e]
        assert len(set(ids)) == len(ids), f"repeated action_id in {ids}"


def assert_no_pings(message: Message, *, allowed: tuple[str, ...] = ()) -> None:
    """Nothing from article or user text turns into a mention, a link or broken markup."""
    for text in [*mrkdwn_texts(message), message.text]:
        for tag in re.findall(r"<[^>]*>", text):
            assert tag in allowed, f"unescaped {tag!r} in {text[:200]!r}"
        assert "<!" not in text


def every_card(article: Article, hit: SearchHit | None = None, *, version: int = 3) -> list[Message]:
    offers = answer_offers(article, version)
    out = [
        *draw(AnswerReply(article=article, hit=hit, offers=offers)),
        *draw(AnswerReply(article=article, hit=hit, intro=say(msg.NEXT_CANDIDATE), offers=offers)),
        *draw(lookup_reply(article, hit)),
        *draw(FullArticleReply(article=article, offers=offers[:-1])),
    ]
    for p, proc in enumerate(article.procedures):
        outcomes = outcome_offers(version, article.id, p, 0)
        out += draw(AllStepsReply(article=article, procedure_no=p, offers=outcomes))
        for s in range(len(proc.steps)):
            out += draw(step_reply(article, p, s, version=version))
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
    card = drawn(AnswerReply(article=article, hit=hit, offers=answer_offers(article, 7)))
    header = card.blocks[0]
    assert header["type"] == "header" and header["text"]["text"].startswith("Q237695: XFOR: Cannot Send")
    text = "\n".join(mrkdwn_texts(card))
    assert "*Symptom*" in text and "*Cause*" in text and "*Workaround*" in text
    # the six steps are for the walk-through; the card keeps to the introduction of the list
    assert "following these steps:" in text and "P1 folder" not in text
    assert msg.STEPS_TO_WALK.format(total=6) in text  # how many, and that the walk-through has them
    # the symptom already quotes the matched line: no block repeating it
    assert "Failure delivering user mail due to mailbag contention" in text and msg.LABEL_MATCHED_ERROR not in text
    pasted = dataclasses.replace(hit, matched_error="[008] Failure delivering user mail (pasted differently)")
    elsewhere = "\n".join(mrkdwn_texts(drawn(AnswerReply(article=article, hit=pasted, offers=()))))
    shown = f"*{msg.LABEL_MATCHED_ERROR}*\n```[008] Failure delivering user mail (pasted differently)```"
    assert shown in elsewhere
    assert msg.STEPS_TO_WALK.format(total=6) not in elsewhere  # no walk-through offered, none announced
    drawn_buttons = pressed(card)
    assert [a for a, _ in drawn_buttons] == ["kb:walk", "kb:full", "kb:not_mine", "kb:worked"]
    assert all(o.version == 7 and o.article_id == "Q237695" for _, o in drawn_buttons)
    labels = [e["text"]["text"] for e in card.blocks[-1]["elements"]]
    assert labels == [msg.BTN_WALK, msg.BTN_FULL, msg.BTN_NOT_MINE, msg.BTN_FIXED]
    assert card.text.startswith("Q237695")


def test_no_walk_button_without_a_procedure() -> None:
    article = parse_file(REPO / "seeds" / "004_91a302b074f954c0.txt")
    card = drawn(AnswerReply(article=article, hit=None, offers=answer_offers(article, 1)))
    ids = [a for a, _ in pressed(card)]
    assert "kb:walk" not in ids and "kb:full" in ids
    assert "*Status*" in "\n".join(mrkdwn_texts(card))  # the fix lives in STATUS for this one


def test_step_card_shape() -> None:
    article = parse_file(REPO / "seeds" / "003_808a534ad571b896.txt")
    card = drawn(step_reply(article, 0, 3, version=9))
    text = "\n".join(mrkdwn_texts(card))
    assert "*Step 4 of 6*" in text and "Access\\*.glb" not in text
    by_id = dict(pressed(card))
    assert {"kb:back", "kb:next", "kb:worked", "kb:failed", "kb:escalate", "kb:ref:0"} <= set(by_id)
    assert by_id["kb:next"] == Offer(Action.NEXT, 9, article_id="Q237695", procedure_no=0, step_no=3)
    assert by_id["kb:ref:0"] == Offer(Action.REF, 9, article_id="Q135932")
    last = drawn(step_reply(article, 0, 5, version=9))
    ids = [a for a, _ in pressed(last)]
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
    caplog.set_level(logging.WARNING, logger="kbbot.slack.blocks")
    article = long_article(seed)
    hit = SearchHit(id=article.id, title=article.title, score=0.5, matched_error=article.error_codes[0])
    messages = every_card(article, hit)
    assert len(draw(FullArticleReply(article=article))) <= cards.MAX_FULL_ARTICLE_MESSAGES
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
    hit = SearchHit(id="Q1", title=HOSTILE, score=1.0, product=HOSTILE, matched_error=HOSTILE + " (as pasted)")
    choices = (HOSTILE, "Microsoft Exchange Server")
    messages = [
        *every_card(article, hit),
        drawn(ShortlistReply(hits=(hit, hit), offers=(Offer(Action.PICK, 1, article_id="Q1"),) * 2)),
        drawn(ShortlistReply(hits=(hit,), offers=(Offer(Action.LOOKUP, article_id="Q1"),), lookup=True)),
        drawn(ProductQuestionReply(choices=choices, offers=tuple(Offer(Action.PRODUCT, 1, choice=c) for c in choices))),  # noqa: E501
        drawn(ClosestReply(qid="Q2", closest=(("Q1", HOSTILE),), offers=(Offer(Action.LOOKUP, article_id="Q1"),))),
        drawn(NoMatchReply(question=HOSTILE)),
        drawn(notice(msg.NOT_IN_KB, qid=HOSTILE)),
        drawn(notice(msg.SHARED_BY, user=Mention("U1"), qid=HOSTILE)),
        drawn(EscalationOfferReply(wording=say(msg.OFFER_ESCALATION, target=HOSTILE))),
    ]
    for message in messages:
        assert_within_limits(message)
        assert_no_pings(message, allowed=("<@U1>",))
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
    details = EscalationSummary(
        question=HOSTILE, asker="U123", article_id="Q237695", article_title=HOSTILE,
        steps_tried=(HOSTILE, "Q237695 method 1, step 1: verify"), outcome="the suggested fixes did not work",
    )  # fmt: skip
    link = "https://acme.slack.com/archives/C1/p1700000000000100"
    summary = cards.render_summary(details, thread_link=link)
    assert_within_limits(summary)
    assert_no_pings(summary, allowed=("<@U123>", f"<{link}>"))
    text = "\n".join(mrkdwn_texts(summary))
    assert "Q237695" in text and "did not work" in text and "method 1, step 1" in text
    sneaky = cards.render_summary(details, thread_link="https://x.example/a|<!channel>")
    assert_no_pings(sneaky, allowed=("<@U123>", "<https://x.example/a!channel>"))
    no_link = cards.render_summary(details)
    assert "(link not available)" in "\n".join(mrkdwn_texts(no_link))
    pinged = cards.render_summary(details, thread_link=link, usergroup="S0HUMANS|<!everyone>")
    ping, *rest = pinged.blocks
    assert ping["text"]["text"] == msg.ESCALATION_PING.format(group="<!subteam^S0HUMANSeveryone>")
    assert pinged.text.startswith("<!subteam^S0HUMANSeveryone>")  # the notification itself pings the group
    assert_no_pings(Message(text="-", blocks=rest), allowed=("<@U123>", f"<{link}>"))


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
    assert clip("short", 10) == "short"
    text = "First sentence here. Second sentence is much longer than the limit allows."
    assert clip(text, 36) == "First sentence here."
    clipped = clip("word " * 100, 52)
    assert len(clipped) <= 52 and clipped.endswith("…") and " wo…" not in clipped
    escaped = cards.clip_mrkdwn("&" * 100, 50)
    assert len(escaped) <= 50 and not escaped.rstrip("…").endswith("&amp")


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


# --- messages Slack accepts: unique action_ids per block, one reply kind at a time ----------------------------


def _several_references() -> Article:
    refs = ("Q135932", "Q102087", "Q99698", "Q99304")
    return Article(
        id="Q1", title="A step that sends you elsewhere", sections={"RESOLUTION": "Do this."},
        procedures=(Procedure(label="Fix", section="RESOLUTION", steps=(
            Step(text="Read the others first.", references=refs), Step(text="Then this."))),),
    )  # fmt: skip


def test_every_reply_kind_renders_to_a_message_slack_accepts() -> None:
    article = parse_file(REPO / "seeds" / "003_808a534ad571b896.txt")
    hits = tuple(SearchHit(id=f"Q{n}", title=f"Article {n}", score=1.0 - n / 10, product="P") for n in (1, 2, 3))
    products = ("Microsoft Exchange Server", "Microsoft Mail For Appletalk Networks", "Microsoft Mail for PC")
    closest = (("Q102087", "Mac Bkup"), ("Q10288", "Near one"), ("Q10289", "Near two"))
    replies: list[Reply] = [
        AnswerReply(article=article, hit=None, offers=answer_offers(article, 2)),
        lookup_reply(article, None),
        step_reply(_several_references(), 0, 0, version=4),
        AllStepsReply(article=article, procedure_no=0, offers=outcome_offers(4, article.id, 0, 0)),
        FullArticleReply(article=article, offers=answer_offers(article, 2)[:-1]),
        ShortlistReply(hits=hits, offers=tuple(Offer(Action.PICK, 3, article_id=h.id) for h in hits)),
        ShortlistReply(hits=hits, offers=tuple(Offer(Action.LOOKUP, article_id=h.id) for h in hits), lookup=True),
        ProductQuestionReply(choices=products, offers=tuple(Offer(Action.PRODUCT, 3, choice=p) for p in products)),
        ClosestReply(qid="Q10287", closest=closest, offers=tuple(Offer(Action.LOOKUP, article_id=c) for c, _ in closest)),  # noqa: E501
        NoMatchReply(question="bread"),
        notice(msg.STALE_ACTION),
        EscalationOfferReply(
            wording=say(msg.OUT_OF_CANDIDATES), offers=(Offer(Action.ESCALATE, 5, suggested=True),)
        ),
        EscalationSummary(question="q", asker="U1", steps_tried=("a", "b")),
    ]
    for reply in replies:
        for message in draw(reply):
            assert_within_limits(message)  # includes assert_slack_accepts
    # the three kinds that repeated one action_id before: every button distinct, and each decodes to its offer
    for reply in replies[2], replies[7], replies[8]:
        (message,) = draw(reply)
        drawn_buttons = pressed(message)
        assert len({a for a, _ in drawn_buttons}) == len(drawn_buttons)
        listed = [o for _, o in drawn_buttons if o.action in (Action.REF, Action.PRODUCT, Action.LOOKUP)]
        assert len(listed) >= 3
        assert [o for o in reply.offers if o in listed] == listed  # type: ignore[union-attr]


def test_a_step_shows_its_references_above_its_other_buttons() -> None:
    message = drawn(step_reply(_several_references(), 0, 0, version=4))
    rows = [[e["action_id"] for e in b["elements"]] for b in message.blocks if b["type"] == "actions"]
    assert rows == [["kb:ref:0", "kb:ref:1", "kb:ref:2", "kb:ref:3"], ["kb:next", "kb:worked", "kb:failed", "kb:escalate"]]  # noqa: E501


# --- article marks as mrkdwn (issue 11: cards speak Slack) -------------------------------------------------------

MARKED = (
    "Run **Repair** from *Settings*, then `outlook.exe /safe`; see [the guide](https://kb.example.com/repair?a=1&b=2)."
    "\n\nNote: keep <your data> & a backup.\n\n```\nGet-Mailbox | Set-Mailbox -Quota 5GB\n```"
)


def test_article_marks_become_mrkdwn_and_the_rest_is_escaped() -> None:
    text = cards.article_mrkdwn(MARKED)
    assert "Run *Repair* from _Settings_, then `outlook.exe /safe`" in text
    assert "<https://kb.example.com/repair?a=1&b=2|the guide>" in text
    assert "*Note:* keep &lt;your data&gt; &amp; a backup." in text
    assert "```Get-Mailbox | Set-Mailbox -Quota 5GB```" in text
    assert "**" not in text and "](" not in text
    # what is not a mark stays inert: no mention, no link of the article's own making, no stray emphasis
    inert = cards.article_mrkdwn("<!channel> [x](javascript:alert) 2 * 3 * 4 and snake_case_name")
    assert "<!channel>" not in inert and "<javascript" not in inert and "&lt;!channel&gt;" in inert


@dataclasses.dataclass(frozen=True, slots=True)
class LinkedArticle(Article):
    """An article with its web page, as the parsers give it once `Article.url` lands (the PARSE branch)."""

    url: str | None = None


def test_cards_draw_marked_articles_without_raw_markup() -> None:
    article = LinkedArticle(
        id="outlook/repair", title="Outlook **won't** start", url="https://kb.example.com/outlook/repair",
        sections={"SYMPTOMS": MARKED, "CAUSE": "A *damaged* profile.", "RESOLUTION": MARKED},
        procedures=(Procedure(label="Repair", section="RESOLUTION",
                              steps=(Step(text=MARKED, substeps=("Click **OK**.",)), Step(text="Restart."))),),
    )  # fmt: skip
    replies: list[Reply] = [
        AnswerReply(article=article, hit=None, offers=answer_offers(article, 3)),
        step_reply(article, 0, 0, version=3),
        AllStepsReply(article=article, procedure_no=0),
        FullArticleReply(article=article),
    ]
    for reply in replies:
        for message in draw(reply):
            assert_within_limits(message)
            for text in mrkdwn_texts(message):
                assert "**" not in text and "](" not in text, text
            header = [b for b in message.blocks if b["type"] == "header"]
            assert all("**" not in b["text"]["text"] for b in header)
            assert "**" not in message.text
    card = drawn(replies[0])
    (link,) = [e for b in card.blocks if b["type"] == "actions" for e in b["elements"] if e.get("url")]
    assert link["url"] == article.url and link["text"]["text"] == msg.BTN_ARTICLE
    assert not link["action_id"].startswith("kb:")  # Slack still reports the click; the adapter only acks it
    unlinked = dataclasses.replace(article, url=None)
    plain_card = drawn(AnswerReply(article=unlinked, hit=None, offers=answer_offers(unlinked, 3)))
    assert not [e for b in plain_card.blocks if b["type"] == "actions" for e in b["elements"] if e.get("url")]


def test_a_clipped_link_is_dropped_not_shown_half() -> None:
    text = "Open the admin centre and read " + "[the long guide](https://kb.example.com/" + "x" * 80 + ")"
    clipped = cards.clip_mrkdwn(text, 60, convert=True)
    assert "[" not in clipped and "](" not in clipped and clipped.endswith("…")


def test_a_retired_step_keeps_its_text_and_loses_its_buttons() -> None:
    article = parse_file(REPO / "seeds" / "003_808a534ad571b896.txt")
    reply = step_reply(article, 0, 1, version=4)
    assert buttons({"blocks": drawn(reply).blocks})
    retired = cards.retired_step(reply, codec=CODEC)
    assert not buttons({"blocks": retired.blocks}) and "Step 2 of 6" in json.dumps(retired.blocks)
    assert msg.STEP_MOVED_ON in json.dumps(retired.blocks, ensure_ascii=False)


def test_a_question_back_labels_its_way_out_as_a_different_problem() -> None:
    article = parse_file(REPO / "seeds" / "003_808a534ad571b896.txt")
    here = Offer(Action.NEXT, 5, article_id=article.id, procedure_no=0, step_no=1, suggested=True)
    reply = ClarifyReply(wording=say(msg.CLARIFY_WALKING),
                         offers=(here, dataclasses.replace(here, action=Action.NOT_MINE, suggested=False)))
    message = drawn(reply)
    assert [b.label for b in buttons({"blocks": message.blocks})] == [msg.BTN_NEXT, msg.BTN_DIFFERENT]
    assert [o.action for _, o in pressed(message)] == [Action.NEXT, Action.NOT_MINE]


def test_the_no_match_hint_uses_the_kb_example() -> None:
    hinted = drawn(NoMatchReply(question="x", example="Camera not detected"))
    assert "`Camera not detected`" in json.dumps(hinted.blocks)
    assert "mailbag" not in json.dumps(drawn(NoMatchReply(question="x")).blocks)


def test_marks_as_the_office_kb_writes_them() -> None:
    # shapes seen across the 2,448 Office articles (parsed by the PARSE branch) that a simple reading got wrong
    assert cards.article_mrkdwn("type ***Gpresult /h result.htm***.") == "type *_Gpresult /h result.htm_*."
    assert cards.article_mrkdwn("*Written by [Gaurav Singh](https://example.com/g)*") == (
        "_Written by <https://example.com/g|Gaurav Singh>_"
    )
    assert cards.article_mrkdwn("[**Cumulative Update 1**](https://example.com/cu1)") == (
        "<https://example.com/cu1|Cumulative Update 1>"
    )
    assert cards.article_mrkdwn("[Download the [MS-OXPROPS] package.](https://example.com/d)") == (
        "<https://example.com/d|Download the [MS-OXPROPS] package.>"
    )
    assert cards.article_mrkdwn("**Warning:** you are in a split domain") == "*Warning:* you are in a split domain"
    assert "**" not in cards.article_mrkdwn("and then click ****OK.")  # a source's stray marks are dropped


def test_a_code_block_split_over_sections_is_closed_and_reopened() -> None:
    code = "\n".join(f"Set-Mailbox -Identity user{n} -ProhibitSendQuota 5GB" for n in range(200))
    article = Article(id="Q1", title="Quotas", sections={"RESOLUTION": f"Run:\n\n```\n{code}\n```"})
    for message in draw(FullArticleReply(article=article)):
        for text in mrkdwn_texts(message):
            assert text.count("```") % 2 == 0


def test_a_pressed_message_loses_its_buttons_but_keeps_its_link() -> None:
    article = LinkedArticle(id="teams/camera", title="Teams can't find my camera", url="https://kb.example.com/c",
                            sections={"SYMPTOMS": "No camera."})
    card = drawn(AnswerReply(article=article, hit=None, offers=answer_offers(article, 2)))
    shortlist = drawn(ShortlistReply(hits=(SearchHit(id="Q1", title="One", score=1.0),),
                                     offers=(Offer(Action.PICK, 2, article_id="Q1"),)))
    for message in (card, shortlist):
        left = cards.without_buttons(message.text, message.blocks)
        assert not [b for b in buttons({"blocks": left.blocks}) if b.action_id.startswith("kb:")]
        assert mrkdwn_texts(left) == mrkdwn_texts(message) and left.text == message.text
    links = [e for b in cards.without_buttons(card.text, card.blocks).blocks for e in b.get("elements") or []
             if isinstance(e, dict) and e.get("url")]
    assert [e["url"] for e in links] == ["https://kb.example.com/c"]


def test_a_button_face_is_checked_by_slack_sdk_once_and_each_message_gets_its_own_copy() -> None:
    from slack_sdk.errors import SlackObjectFormationError
    from slack_sdk.models.blocks import ButtonElement

    first = cards.button_element(text="Walk me through it", action_id="kb:walk", value="v1", style="primary")
    second = cards.button_element(text="Walk me through it", action_id="kb:walk", value="v2", style="primary")
    expected = ButtonElement(text="Walk me through it", action_id="kb:walk", value="v1", style="primary").to_dict()
    assert first == expected and second == {**expected, "value": "v2"}
    first["text"]["text"] = "changed"  # one message's blocks are its own
    assert second["text"]["text"] == "Walk me through it"
    assert cards.button_element(text="x" * 200, action_id="kb:full")["text"]["text"].endswith("…")
    with pytest.raises(SlackObjectFormationError):  # slack_sdk still checks every new face
        cards.button_element(text="Open", action_id="a" * 300)
    assert cards.actions_block([first])["elements"] == [first]
    for elements in ([], [first] * (cards.ACTIONS_PER_BLOCK + 1)):
        with pytest.raises(ValueError, match="1 to 25"):
            cards.actions_block(elements)
