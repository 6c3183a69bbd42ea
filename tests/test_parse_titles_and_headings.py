"""Titles, section names and card headings on pages of other doc sites (faults a held-out check on public pages
of Hugo, MkDocs, MDX and GitLab sites found): TOML front matter, pages without a title of their own, headings
that name one error of several, headings shown as they are written, cards for pages that open with a heading of
their own, and path ids kept out of card headers. The pages here are written for these tests."""

from __future__ import annotations

import json

from block_helpers import shown_texts

from kbbot.article import Article
from kbbot.conversation.engine import answer_offers
from kbbot.conversation.replies import AnswerReply, FullArticleReply
from kbbot.conversation.state import ThreadKey
from kbbot.parse import detect_format, parse_text
from kbbot.parse.markdown_doc import canonical_heading
from kbbot.slack import blocks as cards
from kbbot.slack.actions import ButtonCodec
from kbbot.slack.blocks import Message

WHERE = ThreadKey(team="T1", channel="C1", thread_ts="1700000000.000100")
CODEC = ButtonCodec.from_secret("test")


def page(text: str, path: str = "docs/troubleshooting/page.md") -> Article:
    return parse_text(text, source=path, path=path)


def drawn(reply: AnswerReply | FullArticleReply) -> list[Message]:
    return cards.render(reply, codec=CODEC, where=WHERE)


def answer_card(article: Article) -> Message:
    (message,) = drawn(AnswerReply(article=article, hit=None, offers=answer_offers(article, 3)))
    return message


def test_toml_front_matter_between_plus_lines_gives_the_title() -> None:
    text = '+++\ntitle = "Protocol detection errors"\ndescription = "Why a proxy times out."\n+++\n\nBody text.\n'
    assert detect_format(text) == "markdown-doc"
    a = page(text, "content/common-errors/protocol-detection")
    assert a.title == "Protocol detection errors"
    assert "Why a proxy times out." in a.keywords
    assert "+++" not in json.dumps(a.to_dict())


def test_toml_between_dash_lines_is_read_too() -> None:
    a = page('---\ntitle = "High CPU usage"\nsummary = "The database stays busy."\ntopics = [ "platform" ]\n---\n'
             "\n## Symptoms\n\nQueries slow down.\n", "docs/troubleshooting/high-cpu-usage.mdx")
    assert a.title == "High CPU usage"
    assert "The database stays busy." in a.keywords
    assert a.id == "docs/troubleshooting/high-cpu-usage"  # an .mdx page's slug drops its suffix like .md
    assert a.section("SYMPTOMS") == "Queries slow down."


def test_a_lead_in_or_a_body_sentence_is_not_a_title() -> None:
    lead_in = page("Here we list common problems and possible solutions:\n\n## Mail loops back\n\nCheck MX.\n\n"
                   "## Login fails\n\nReset it.\n", "docs/troubleshooting/debug-common_problems.en.md")
    assert lead_in.title == "Debug common problems"  # the file name, without its language suffix
    sentence = page("You may want to remove a set of persistent data to resolve a conflict.\n\n"
                    "## Remove volumes\n\n1. Stop the stack.\n2. Remove the volume.\n",
                    "docs/troubleshooting/debug-rm_volumes.en.md")
    assert sentence.title == "Remove volumes"  # the page's one heading says what it is about
    short = page("Reset the admin password\n\nRun the script.\n", "docs/reset.md")
    assert short.title == "Reset the admin password"  # a short first line is still a title


def test_one_canonical_heading_is_not_a_title() -> None:
    a = page("## Symptoms\n\nThe camera is not detected.\n", "docs/troubleshooting/edgetpu.md")
    assert a.title == "Edgetpu"
    assert a.section("SYMPTOMS") == "The camera is not detected."


def test_headings_that_name_one_error_each_keep_their_own_names() -> None:
    a = page("# Troubleshooting SSH\n\n## Error: Permission denied (publickey)\n\n1. Add the key to the agent.\n"
             "2. Try again.\n\n## Error: Connection closed by remote host\n\n1. Raise the timeout.\n"
             "2. Reconnect.\n")
    assert "SYMPTOMS" not in a.sections
    assert list(a.sections) == ["ERROR: PERMISSION DENIED (PUBLICKEY)", "ERROR: CONNECTION CLOSED BY REMOTE HOST"]
    assert [p.section for p in a.procedures] == list(a.sections)
    # a bare "Errors" heading is still where the page says what goes wrong
    assert canonical_heading("Errors") == "SYMPTOMS" and canonical_heading("Cause 1: A stale key") == "CAUSE"
    assert canonical_heading("Solving the error") == "RESOLUTION"
    assert canonical_heading("What's next") == "REFERENCES"


def test_headings_are_shown_as_written() -> None:
    a = page("# Proxy errors\n\n## Received RST_STREAM from GitHub\n\nThe stream was reset.\n\n"
             "1. Restart the proxy.\n2. Retry the request.\n")
    (proc,) = a.procedures
    assert proc.label == "Received RST_STREAM from GitHub"  # not "Received Rst_Stream From Github"
    assert a.heading_of("RECEIVED RST_STREAM FROM GITHUB") == "Received RST_STREAM from GitHub"
    full = json.dumps([m.blocks for m in drawn(FullArticleReply(article=a))])
    assert "*Received RST_STREAM from GitHub*" in full and "Rst_Stream" not in full
    again = Article.from_dict(json.loads(json.dumps(a.to_dict())))
    assert again.headings == a.headings and again == a


def test_a_page_that_opens_with_a_heading_of_its_own_still_has_a_card_to_read() -> None:
    a = page("# GPU errors\n\n## Intel-based CPUs\n\nThe iGPU needs the i915 driver loaded before the container "
             "starts.\n\n## AMD GPUs\n\nUse the radeonsi driver.\n", "docs/troubleshooting/gpu.md")
    assert not a.symptoms() and a.fix_section() is None
    card = json.dumps(answer_card(a).blocks)
    assert "*Intel-based CPUs*" in card and "i915 driver" in card


def test_card_headers_name_kb_numbers_but_not_path_ids() -> None:
    by_path = page("# Troubleshooting SSH\n\n## Symptoms\n\nThe key is refused.\n",
                   "doc/user/ssh_troubleshooting.md")
    assert by_path.id == "doc/user/ssh_troubleshooting"
    card = answer_card(by_path)
    (header,) = [b for b in card.blocks if b["type"] == "header"]
    assert header["text"]["text"] == "Troubleshooting SSH" and by_path.id not in card.text
    numbered = page("---\ntitle: Outlook keeps asking for a password\nid: KB2659085\n---\n\n"
                    "## Symptoms\n\nIt asks.\n")
    (header,) = [b for b in answer_card(numbered).blocks if b["type"] == "header"]
    assert header["text"]["text"] == "KB2659085: Outlook keeps asking for a password"


def test_steps_written_as_headings_are_one_walk_through() -> None:
    a = page("# Edge function returns 546\n\n## Symptoms\n\nThe function stops with 546.\n\n"
             "## Step 1: Find the failing request\n\nOpen the function's logs.\n\n```bash\nfunctions logs\n```\n\n"
             "## Step 2: Check how often it fails\n\nCount the 546 lines per hour.\n\n"
             "## Step 3: Stream the response\n\nDo not hold the whole body in memory.\n\n"
             "## More information\n\nLimits are per invocation.\n", "docs/edge-function-546.md")
    (proc,) = a.procedures
    assert proc.section == "STEP 1: FIND THE FAILING REQUEST" and proc.label == "Edge function returns 546"
    assert [s.text.split("\n")[0] for s in proc.steps] == [
        "Find the failing request", "Check how often it fails", "Stream the response"]
    assert "functions logs" in proc.steps[0].text and "More information" not in proc.steps[2].text
    assert a.fix_section() == proc.section
    # deeper numbered headings under a heading of their own are named by it
    b = page("# Reset a password\n\n## Symptoms\n\nYou are locked out.\n\n## Reset the admin password\n\n"
             "### 1. Find the database name\n\nRun `docker compose ps`.\n\n### 2. Reset it\n\nRun the script.\n")
    (proc,) = b.procedures
    assert proc.label == "Reset the admin password" and len(proc.steps) == 2
    assert proc.steps[1].text == "Reset it\nRun the script."


def test_step_headings_with_numbered_lists_of_their_own_keep_those_lists() -> None:
    a = page("# Teams calendar\n\n## Resolution\n\n### Step 1: Check Autodiscover\n\n1. Open the tester.\n"
             "2. Run the test.\n\n### Step 2: Check OAuth\n\n1. Run the cmdlet.\n2. Read the result.\n")
    assert [(p.label, len(p.steps)) for p in a.procedures] == [
        ("Step 1: Check Autodiscover", 2), ("Step 2: Check OAuth", 2)]
    # numbered headings that tell what goes wrong are no procedure there
    b = page("# Sync fails\n\n## Symptoms\n\n### 1. The icon is red\n\nIt stays red.\n\n"
             "### 2. Files stay pending\n\nThey never upload.\n\n## Resolution\n\nSign in again.\n")
    assert b.procedures == ()


def test_path_ids_are_named_by_title_in_short_lists_and_steps() -> None:
    from kbbot.conversation.engine import step_reply
    from kbbot.conversation.replies import Action, Offer, ShortlistReply
    from kbbot.search.types import SearchHit

    hits = tuple(SearchHit(id=f"kubernetes/docs/tasks/debug/{n}", title=t, score=1.0)
                 for n, t in (("debug-pods", "Debug Pods"), ("debug-init", "Debug Init Containers")))
    hits += (SearchHit(id="Q102087", title="IMC loses mail", score=0.5),)
    for lookup, action in ((False, Action.PICK), (True, Action.LOOKUP)):
        offers = tuple(Offer(action, 1, article_id=h.id) for h in hits)
        reply = ShortlistReply(hits=hits, offers=offers, lookup=lookup)
        (message,) = cards.render(reply, codec=CODEC, where=WHERE)
        entries = [b for b in message.blocks if b["type"] == "section" and "accessory" in b]
        assert [b["text"]["text"] for b in entries] == [
            "*Debug Pods*", "*Debug Init Containers*", "*Q102087*: IMC loses mail"]
        faces = [b["accessory"]["text"]["text"] for b in entries]
        assert faces == ["Open this one", "Open this one", "Open Q102087"]
        shown = shown_texts(message)
        assert not [t for t in shown if "kubernetes/" in t]
    a = page("# Reset a password\n\n## Resolution\n\n1. Stop the stack.\n2. Run the script.\n",
             "docs/troubleshooting/reset-password.md")
    assert a.name == "Reset a password"
    (message,) = cards.render(step_reply(a, 0, 0, version=2), codec=CODEC, where=WHERE)
    assert not [t for t in shown_texts(message) if "docs/troubleshooting" in t]
    assert page("---\nid: KB2659085\ntitle: Outlook asks again\n---\n\nText.\n").name == "KB2659085"
