"""`kbbot report`: threads recorded through the real recorder and store, then counted, grouped and drawn.

The scenario (votes with a changed mind and two voters, a 👎 reason, a resolved walk, a walk that failed at a step
and was escalated, an abandoned short list, three unanswered questions of which two say the same thing) runs
against SQLite and a real Redis through the command line, and the JSON must show exactly those counts.
"""

from __future__ import annotations

import json
import os
import re
import struct
import subprocess
import time
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest
from test_store import redis_url  # noqa: F401 - the session's real redis-server, shared with the thread store

from kbbot.cli import main
from kbbot.conversation.state import ThreadKey
from kbbot.outcomes import (
    OutcomeEvent,
    OutcomeRecorder,
    OutcomeUpdate,
    QuestionText,
    StepRef,
    ThreadOutcome,
    apply,
    open_outcome_store,
)
from kbbot.outcomes.base import DAY_S
from kbbot.report import build_report, group_gaps, parse_since, render_html, render_markdown
from kbbot.report.gaps import GapQuestion

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "tests" / "artifacts"
# Read at import, before the per-test isolation clears every KBBOT_* variable.
_REQUIRE_CHROMIUM = bool(os.environ.get("KBBOT_REQUIRE_CHROMIUM"))
CHROMIUM = Path("/usr/bin/chromium")

COFFEE = "the coffee machine on floor 2 is broken"
COFFEE_AGAIN = "coffee machine broken on the second floor"
GITHUB = "can't push to github, permission denied (publickey)"
SHORTLISTED = "outlook hangs when I open a shared calendar"


def _key(n: int) -> ThreadKey:
    return ThreadKey(team="T1", channel="C0SUPPORT", thread_ts=f"1790000000.{n:06d}")


async def _record_scenario(recorder: OutcomeRecorder, now: float) -> None:
    """Six threads over the last four days; times relative to `now` so a real Redis keeps them."""

    async def thread(n: int, start: float, *events: tuple[OutcomeEvent, dict[str, object]]) -> None:
        for i, (event, fields) in enumerate(events):
            await recorder.record(_key(n), event, now=start + 60 * i, **fields)

    def step(article: str, s: int) -> StepRef:
        return StepRef(article=article, procedure=0, step=s)

    ask, offer, shown = OutcomeEvent.ASKED, OutcomeEvent.OFFERED, OutcomeEvent.STEP_SHOWN
    await thread(
        1, now - 4 * DAY_S,
        (ask, {"question": "exchange IMC is silently losing mail, no NDR", "asker": "U1"}),
        (offer, {"articles": ("Q102087",), "band": "answer"}),
        (shown, {"step": step("Q102087", 0)}),
        (OutcomeEvent.VOTE, {"user": "U1", "value": "up"}),
        (OutcomeEvent.VOTE, {"user": "U2", "value": "down"}),
        (OutcomeEvent.VOTE, {"user": "U2", "value": "up"}),  # U2 changed their mind
        (shown, {"step": step("Q102087", 1)}),
        (OutcomeEvent.RESOLVED, {}),
    )  # fmt: skip
    await thread(
        2, now - 3 * DAY_S,
        (ask, {"question": "[008] Failure delivering user mail due to mailbag contention", "asker": "U3"}),
        (offer, {"articles": ("Q99304",), "band": "answer"}),
        (shown, {"step": step("Q99304", 0)}),
        (shown, {"step": step("Q99304", 1)}),
        (shown, {"step": step("Q99304", 2)}),
        (OutcomeEvent.STEP_FAILED, {"step": step("Q99304", 2)}),
        (OutcomeEvent.VOTE, {"user": "U3", "value": "down"}),
        (OutcomeEvent.VOTE_REASON, {"user": "U3", "reason": "out_of_date"}),
        (OutcomeEvent.ESCALATED, {}),
    )  # fmt: skip
    await thread(
        3, now - 3 * DAY_S,
        (ask, {"question": SHORTLISTED, "asker": "U4"}),
        (offer, {"articles": ("Q237695", "Q157684"), "band": "shortlist"}),
        (shown, {"step": step("Q237695", 0)}),
    )  # quiet since: abandoned  # fmt: skip
    await thread(4, now - 2 * DAY_S, (ask, {"question": COFFEE, "asker": "U5"}), (offer, {"band": "none"}))
    await thread(5, now - DAY_S, (ask, {"question": COFFEE_AGAIN, "asker": "U6"}), (offer, {"band": "none"}))
    await thread(6, now - 3600, (ask, {"question": GITHUB, "asker": "U7"}), (offer, {"band": "none"}))


def _check_scenario(report: dict[str, object]) -> None:
    counts = ("threads", "answered", "resolved", "escalated", "no_match", "abandoned", "open")
    assert [report[k] for k in counts] == [6, 3, 1, 1, 3, 1, 0]
    assert report["votes"] == {"up": 2, "down": 1, "reasons": {"out_of_date": 1}}
    assert report["answer_rate"] == 0.5 and report["resolution_rate"] == round(1 / 3, 4)
    assert report["median_time_to_resolution_s"] == 7 * 60
    gaps = report["gaps"]
    assert isinstance(gaps, list)
    assert [(g["count"], g["examples"]) for g in gaps] == [
        (2, [COFFEE, COFFEE_AGAIN]), (1, [SHORTLISTED]), (1, [GITHUB])
    ]  # fmt: skip
    articles = {a["id"]: a for a in report["articles"]}  # type: ignore[attr-defined]
    assert articles["Q102087"] == {
        "id": "Q102087", "offered": 1, "resolved": 1, "failed": 0, "escalated": 0, "up": 2, "down": 0,
        "failed_at_step": {}, "abandoned_at_step": {},
    }  # fmt: skip
    assert articles["Q99304"] == {
        "id": "Q99304", "offered": 1, "resolved": 0, "failed": 1, "escalated": 1, "up": 0, "down": 1,
        "failed_at_step": {"1.3": 1}, "abandoned_at_step": {},
    }  # fmt: skip
    assert articles["Q237695"]["abandoned_at_step"] == {"1.1": 1} and articles["Q157684"]["offered"] == 1
    weeks = report["weeks"]
    assert isinstance(weeks, list) and sum(w["threads"] for w in weeks) == 6
    assert all(re.fullmatch(r"\d{4}-W\d\d", w["week"]) for w in weeks)


@pytest.fixture(params=["sqlite", "redis"])
def durable_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.db'}"
    base: str = request.getfixturevalue("redis_url")
    url = base.rsplit("/", 1)[0] + "/7"
    import redis

    with redis.Redis.from_url(url) as client:
        client.flushdb()
    return url


async def test_the_scenario_reported_as_json_over_a_durable_store(
    durable_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_outcome_store(durable_url)
    await _record_scenario(OutcomeRecorder(store=store, strict=True), time.time())
    await store.close()  # the report reads what a restarted process finds

    monkeypatch.setenv("KBBOT_STORE", durable_url)  # the store comes from settings, as in production
    assert await _in_thread(main, ["report", "--format", "json"]) == 0
    _check_scenario(json.loads(capsys.readouterr().out))

    # a day back: only the question asked an hour ago
    assert await _in_thread(main, ["report", "--since", "1d", "--format", "json", "--store", durable_url]) == 0
    recent = json.loads(capsys.readouterr().out)
    assert recent["threads"] == 1 and recent["no_match"] == 1 and recent["gaps"][0]["examples"] == [GITHUB]


async def _in_thread(fn: object, argv: list[str]) -> int:
    # `kbbot report` runs its own event loop, which cannot start inside this test's
    import asyncio

    assert callable(fn)
    return int(await asyncio.to_thread(fn, argv))


async def test_the_same_scenario_in_memory_gives_the_same_report() -> None:
    store = open_outcome_store("memory://")
    now = time.time()
    await _record_scenario(OutcomeRecorder(store=store, strict=True), now)
    report = build_report(await store.list(since=now - 30 * DAY_S), now=now, since=now - 30 * DAY_S)
    _check_scenario(report.to_json())


def test_hashed_questions_group_by_hash_without_showing_words() -> None:
    now = time.time()
    outcomes: list[ThreadOutcome] = []
    for n, text in enumerate([COFFEE, COFFEE.upper(), GITHUB]):
        o = apply(None, OutcomeUpdate(event=OutcomeEvent.ASKED, question=text), key=_key(n), now=now - 60,
                  question_text=QuestionText.HASH)  # fmt: skip
        outcomes.append(apply(o, OutcomeUpdate(event=OutcomeEvent.OFFERED, band="none"), key=_key(n), now=now))
    report = build_report(outcomes, now=now, since=now - DAY_S).to_json()
    assert [(g["count"], g["examples"]) for g in report["gaps"]] == [(2, []), (1, [])]
    assert "coffee" not in json.dumps(report).lower()


def test_gaps_are_the_same_whatever_order_the_questions_come_in() -> None:
    texts = [
        COFFEE, GITHUB, COFFEE_AGAIN, "github push fails: permission denied publickey", "webex crashes on my mac",
        "webex keeps crashing on my m1 mac", "how do i book a meeting room", "zscaler blocking access to pypi",
    ]  # fmt: skip
    questions = [GapQuestion(text=t, question_hash=None, band="none", at=1000.0 + i) for i, t in enumerate(texts)]
    gaps = group_gaps(questions)
    assert [g.count for g in gaps] == [2, 2, 2, 1, 1]
    assert {frozenset(g.examples) for g in gaps} == {
        frozenset({COFFEE, COFFEE_AGAIN}), frozenset({GITHUB, "github push fails: permission denied publickey"}),
        frozenset({"webex crashes on my mac", "webex keeps crashing on my m1 mac"}),
        frozenset({"how do i book a meeting room"}), frozenset({"zscaler blocking access to pypi"}),
    }  # fmt: skip
    assert group_gaps(list(reversed(questions))) == gaps


def test_a_gap_shows_at_most_three_examples_but_counts_every_question() -> None:
    texts = [f"outlook crashes when printing page {n}" for n in range(5)]
    gaps = group_gaps([GapQuestion(text=t, question_hash=None, band="shortlist", at=float(i))
                       for i, t in enumerate(texts)])  # fmt: skip
    assert len(gaps) == 1 and gaps[0].count == 5 and gaps[0].shortlist == 5 and len(gaps[0].examples) == 3


def test_answer_and_resolution_rates_per_iso_week() -> None:
    monday = 1_795_478_400.0  # 2026-11-23 00:00 UTC, a Monday (ISO week 48)
    outcomes = []
    for n, (day, band, resolved) in enumerate([(0, "answer", True), (1, "none", False), (8, "answer", False)]):
        o = apply(None, OutcomeUpdate(event=OutcomeEvent.OFFERED, articles=("Q1",) if band == "answer" else (),
                  band=band), key=_key(n), now=monday + day * DAY_S)  # type: ignore[arg-type]  # fmt: skip
        if resolved:
            o = apply(o, OutcomeUpdate(event=OutcomeEvent.RESOLVED), key=_key(n), now=monday + day * DAY_S + 60)
        outcomes.append(o)
    weeks = build_report(outcomes, now=monday + 9 * DAY_S, since=monday).to_json()["weeks"]
    assert weeks == [
        {"week": "2026-W48", "threads": 2, "answered": 1, "resolved": 1, "answer_rate": 0.5,
         "resolution_rate": 1.0},
        {"week": "2026-W49", "threads": 1, "answered": 1, "resolved": 0, "answer_rate": 1.0,
         "resolution_rate": 0.0},
    ]  # fmt: skip


def test_since_periods() -> None:
    assert parse_since("30d") == 30 * DAY_S and parse_since("12h") == 12 * 3600 and parse_since("2w") == 14 * DAY_S
    assert parse_since("7") == 7 * DAY_S
    for bad in ("", "0d", "3x", "-1d"):
        with pytest.raises(ValueError, match="30d"):
            parse_since(bad)


async def _scenario_report_with_a_hostile_question() -> tuple[object, float]:
    store = open_outcome_store("memory://")
    now = time.time()
    recorder = OutcomeRecorder(store=store, strict=True)
    await _record_scenario(recorder, now)
    await recorder.record(_key(9), OutcomeEvent.ASKED, question="<!channel> <script>alert(1)</script> & more",
                          now=now - 60)  # fmt: skip
    await recorder.record(_key(9), OutcomeEvent.OFFERED, band="none", now=now - 30)
    return build_report(await store.list(since=0), now=now, since=now - 30 * DAY_S), now


async def test_markdown_for_a_channel_post_escapes_what_people_typed() -> None:
    report, _ = await _scenario_report_with_a_hostile_question()
    text = render_markdown(report)  # type: ignore[arg-type]
    assert "**7** threads" in text and "no match 4" in text
    assert "**2×** “the coffee machine on floor 2 is broken”; “coffee machine broken on the second floor”" in text
    assert "**Q99304**: offered 1, resolved 0, didn't work 1 (step 1.3 ×1), 👎 1, escalated 1" in text
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text and "<script>" not in text


class _Charts(HTMLParser):
    """The SVG charts in a page: id -> number of bars; and whether any <script> is there."""

    def __init__(self) -> None:
        super().__init__()
        self.bars: dict[str, int] = {}
        self.scripts = 0
        self._chart: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        if tag == "svg" and "chart" in (attr.get("class") or ""):
            self._chart = attr.get("id") or "?"
            self.bars[self._chart] = 0
        elif tag == "rect" and attr.get("class") == "bar" and self._chart is not None:
            self.bars[self._chart] += 1
        elif tag == "script":
            self.scripts += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self._chart = None


def _charts(html: str) -> _Charts:
    parser = _Charts()
    parser.feed(html)
    return parser


async def test_html_is_self_contained_with_a_bar_per_count_and_escaped_questions() -> None:
    report, _ = await _scenario_report_with_a_hostile_question()
    html = render_html(report)  # type: ignore[arg-type]
    charts = _charts(html)
    # outcomes: resolved, escalated, abandoned, no match (open is 0, so no bar); one article let people down
    assert charts.bars["outcomes"] == 4 and charts.bars["failing-articles"] == 3
    assert charts.bars["vote-reasons"] == 1 and charts.bars["weekly-rates"] >= 2
    assert charts.scripts == 0, "the HTML injected a script: a question was not escaped"
    assert "&lt;script&gt;" in html and not re.search(r"(src|href)=\"https?:", html)


def _png_pixels(data: bytes) -> tuple[int, int, set[tuple[int, int, int]]]:
    """Width, height and the set of colours of an 8-bit RGB(A) PNG, as Chromium writes them."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        (length,), kind = struct.unpack(">I", data[pos : pos + 4]), data[pos + 4 : pos + 8]
        chunk = data[pos + 8 : pos + 8 + length]
        header = chunk if kind == b"IHDR" else header
        idat += chunk if kind == b"IDAT" else b""
        pos += 12 + length
    width, height, depth, colour_type = struct.unpack(">IIBB", header[:10])
    assert depth == 8 and colour_type in (2, 6)
    bpp = 3 if colour_type == 2 else 4
    raw, stride = zlib.decompress(idat), width * bpp
    previous, colours = bytearray(stride), set()
    for y in range(height):
        kind, row = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            left = row[i - bpp] if i >= bpp else 0
            up, corner = previous[i], previous[i - bpp] if i >= bpp else 0
            if kind == 1:
                row[i] = (row[i] + left) & 0xFF
            elif kind == 2:
                row[i] = (row[i] + up) & 0xFF
            elif kind == 3:
                row[i] = (row[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                row[i] = (row[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 0xFF
        colours.update(tuple(row[i : i + 3]) for i in range(0, stride, bpp * 4))  # every 4th pixel is plenty
        previous = row
    return width, height, colours  # type: ignore[return-value]


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    return int(hex_colour[1:3], 16), int(hex_colour[3:5], 16), int(hex_colour[5:7], 16)


async def test_the_html_report_renders_its_charts_in_headless_chromium() -> None:
    if not CHROMIUM.exists():
        message = "chromium is not installed (apt-get install chromium); the HTML report cannot be rendered"
        if _REQUIRE_CHROMIUM:
            pytest.fail(message)
        pytest.skip(message)
    from kbbot.report.html import COLOURS

    report, _ = await _scenario_report_with_a_hostile_question()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page, shot = ARTIFACTS / "report.html", ARTIFACTS / "report.png"
    page.write_text(render_html(report), encoding="utf-8")  # type: ignore[arg-type]
    shot.unlink(missing_ok=True)
    browser = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
               "--no-first-run", f"--user-data-dir={ARTIFACTS / 'chromium-profile'}"]  # fmt: skip
    dom = subprocess.run(
        [*browser, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    rendered = _charts(dom)
    assert {"outcomes", "weekly-rates", "failing-articles", "vote-reasons"} <= set(rendered.bars)
    assert rendered.bars["outcomes"] == 4 and rendered.scripts == 0
    subprocess.run([*browser, "--window-size=1000,1800", f"--screenshot={shot}", page.as_uri()],
                   capture_output=True, timeout=120, check=True)  # fmt: skip
    width, height, colours = _png_pixels(shot.read_bytes())
    assert (width, height) == (1000, 1800) and len(colours) > 20
    # the bars were painted: each outcome's colour is on screen
    for name in ("resolved", "escalated", "abandoned", "no match", "didn't work"):
        assert _rgb(COLOURS[name]) in colours, f"no {name} bar in the screenshot ({shot})"
