"""Error signatures: the literal codes and message lines a person may paste into Slack."""

from __future__ import annotations

import re

from kbbot.article import ErrorSignature, symptom_section
from kbbot.parse.text import Block

# Every pattern starts with a literal, and word boundaries before it are checked by hand: a leading \b or a
# character class makes the regex engine try every position, which was most of the parser's time.
_BRACKET_RE = re.compile(r"\[(\d{3,5})\]")
_STOP_RE = re.compile(r"stop\s*:?\s*(0x[0-9a-f]{1,8}|[0-9a-f]{8})\b")  # on lowercased text
_HEX_RE = re.compile(r"0x([0-9A-Fa-f]{4,16})\b")
# HRESULT and NTSTATUS codes written without their 0x, as Windows dialogs and logs print them ("Error Code:
# 800706D3", "failed: 80070005", "C0000005"): eight hex digits starting 80 or C0, nothing else glued on. The
# pattern is the code's tail from its first 0 (a literal start); the 8 or C before it is checked by hand
_BARE_HRESULT_TAIL_RE = re.compile(r"0[0-9A-Fa-f]{6}(?![\w-]|\.\d)")
_EVENT_RE = re.compile(r"event\s+(?:id\s*)?(?:number\s*)?[:#]?\s*(\d{2,5})\b")  # on lowercased text
# C/LNK/CVT/RC/BSC: Visual C++ tools; CS/BC/MSB/PRJ: .NET and build tools; R6xxx: C run time;
# L/U/F + 1xxx-4xxx: the old linker, NMAKE and FORTRAN
_CODE_RE = re.compile(r"(LNK|CVT|BSC|MSB|PRJ|RC|CS|BC|C|R|L|U|F)(\d{4})(?![\w])")
_ERROR_NUM_RE = re.compile(r"error\s+(?:code\s+|number\s+|no\.\s*)?#?\s*(\d{2,5})\b(?!\.\d)")  # lowercased
# the sentence that announces a literal message on the following lines
_QUOTED_MSG_RE = re.compile(
    r"(?:message|error|stating|states|says|reads)[^\"\u201c]{0,40}[\"\u201c]([^\"\u201d]{12,200})[\"\u201d]",
    re.IGNORECASE,
)
_QID_RE = re.compile(r"Q(\d{4,7})\b")
# today's errors, read in modern sources only: SMTP replies with their enhanced status ("550 5.7.1"), or the
# enhanced status alone; Microsoft Entra sign-in codes; Hybrid Configuration Wizard codes; HTTP status lines
_SMTP_RE = re.compile(r"(?<![\w.])(?:([245]\d\d)[ -])?([245])\.(\d{1,3})\.(\d{1,3})(?![\w.]|\.\d)")
_AADSTS_RE = re.compile(r"AADSTS(\d{4,6})\b")
_HCW_RE = re.compile(r"HCW(\d{4})\b")
_HTTP_RE = re.compile(
    r"\bHTTP(?:/\d(?:\.\d)?)?\s*(?:error\s*|status\s*(?:code\s*)?)?:?\s*([1-5]\d\d)\b", re.IGNORECASE
)


def _starts_word(text: str, pos: int, extra: str = "") -> bool:
    """No letter, digit or underscore (or one of `extra`) right before `pos`."""
    if pos == 0:
        return True
    c = text[pos - 1]
    return not (c.isalnum() or c == "_" or c in extra)


def _add(out: list[ErrorSignature], seen: set[tuple[str, str]], kind: str, value: str) -> None:
    key = (kind, value.lower())
    if key not in seen:
        seen.add(key)
        out.append(ErrorSignature(kind=kind, value=value))


def code_signatures(text: str, out: list[ErrorSignature], seen: set[tuple[str, str]]) -> None:
    if "[" in text:
        for m in _BRACKET_RE.finditer(text):
            _add(out, seen, "bracket", f"[{m.group(1)}]")
    lower = text.lower()
    stop_codes: set[str] = set()
    for m in _STOP_RE.finditer(lower):
        code = m.group(1)
        if not _starts_word(lower, m.start()) or not any(ch.isdigit() for ch in code):
            continue
        code = "0x" + code[2:].upper() if code.startswith("0x") else code.upper()
        _add(out, seen, "stop", f"STOP {code}")
        stop_codes.add(code)
    for m in _HEX_RE.finditer(text):
        value = "0x" + m.group(1).upper()
        if _starts_word(text, m.start(), "-") and value not in stop_codes:
            _add(out, seen, "hex", value)
    for m in _BARE_HRESULT_TAIL_RE.finditer(text):
        start = m.start() - 1
        if start < 0 or text[start] not in "8Cc" or not _starts_word(text, start, ".-"):
            continue
        value = "0x" + text[start : m.end()].upper()
        if value not in stop_codes:
            _add(out, seen, "hex", value)
    for m in _EVENT_RE.finditer(lower):
        if _starts_word(lower, m.start()):
            _add(out, seen, "event", f"event {int(m.group(1))}")
    for m in _CODE_RE.finditer(text):
        prefix, digits = m.group(1), m.group(2)
        if not _starts_word(text, m.start()):
            continue
        if (
            prefix in ("C", "LNK", "CVT", "RC", "BSC", "CS", "BC", "MSB", "PRJ")
            or (prefix == "R" and digits[0] == "6")
            or (prefix in ("L", "U", "F") and digits[0] in "1234")
        ):
            _add(out, seen, "compiler", prefix + digits)
    for m in _ERROR_NUM_RE.finditer(lower):
        if _starts_word(lower, m.start()):
            _add(out, seen, "error", f"error {int(m.group(1))}")


_ANNOUNCE_WORDS_RE = re.compile(
    r"\b(?:messages?|errors?|warnings?|text|prompt|dialog|displayed|displays|appears?|receive|see|states?|"
    r"reads|reports?|logged|following)\b",
    re.IGNORECASE,
)
_FOLLOWING_MSG_RE = re.compile(
    r"\bfollowing\s+(?:\w+\s+){0,2}?(?:error|message|warning|text|dialog)s?\b[^.:]*[.:]?\s*$", re.IGNORECASE
)
_PROSE_START = (
    "when ", "if ", "this ", "the ", "you ", "in ", "after ", "for ", "to ", "note", "where ", "however",
)
_NOT_A_MESSAGE_RE = re.compile(r"^[-\s(]*(?:or|and|-+)[-\s)]*$", re.IGNORECASE)
# a callout written inside a modern page's quoted message ("> Access is denied.\n> [!NOTE]\n> ...") is not
# part of the message
_CALLOUT_IN_MESSAGE_RE = re.compile(r"\s(?:\*\*)?(?:Note|Important|Warning|Tip|Caution)(?:\*\*)?:\s")


def _announces_message(text: str) -> bool:
    """Does this paragraph introduce a quoted message on the lines that follow it?"""
    tail = text[-250:].rstrip()
    if tail.endswith(":") and _ANNOUNCE_WORDS_RE.search(tail):
        return True
    return bool(_FOLLOWING_MSG_RE.search(tail))


def _clean_message(text: str, *, modern: bool = False) -> str:
    msg = " ".join(text.split())
    callout = _CALLOUT_IN_MESSAGE_RE.search(msg) if modern else None  # old logs print "Warning:" themselves
    if callout and callout.start() >= 4:
        msg = msg[: callout.start()]
    if len(msg) >= 2 and msg[0] in "\"\u201c'" and msg[-1] in "\"\u201d'":
        msg = msg[1:-1].strip()
    return msg[:300]


def modern_signatures(text: str, out: list[ErrorSignature], seen: set[tuple[str, str]]) -> None:
    for m in _SMTP_RE.finditer(text):
        status = f"{m.group(2)}.{m.group(3)}.{m.group(4)}"
        if m.group(1):
            _add(out, seen, "smtp", f"{m.group(1)} {status}")
        _add(out, seen, "smtp", status)
    for m in _AADSTS_RE.finditer(text):
        if _starts_word(text, m.start()):
            _add(out, seen, "aadsts", f"AADSTS{m.group(1)}")
    for m in _HCW_RE.finditer(text):
        if _starts_word(text, m.start()):
            _add(out, seen, "hcw", f"HCW{m.group(1)}")
    for m in _HTTP_RE.finditer(text):
        _add(out, seen, "http", f"HTTP {m.group(1)}")


_QUIET_ROLES = frozenset({"code", "note", "image"})


def extract_signatures(
    sections: list[tuple[str, list[Block]]], full_text: str, *, wrapped: bool = True, modern: bool = False
) -> tuple[ErrorSignature, ...]:
    """Codes from the whole article; literal message lines from SYMPTOMS (from SUMMARY when the article
    has no SYMPTOMS): the indented block(s) right after a sentence like "...the following error message:",
    and quoted strings after "message"/"error"/"stating"."""
    out: list[ErrorSignature] = []
    seen: set[tuple[str, str]] = set()
    code_signatures(full_text, out, seen)
    if modern:
        modern_signatures(full_text, out, seen)
    wanted = symptom_section(name for name, _ in sections) or "SUMMARY"
    for name, blocks in sections:
        if name != wanted:
            continue
        announced = False
        quoted = False  # a quoted (indented) message was taken since the announcing sentence
        for b in blocks:
            if b.role in _QUIET_ROLES:
                announced = False
                continue
            if announced and b.kind in ("literal", "para") and (b.indent > 0 or b.kind == "literal"):
                # the quoted message; a second indented block right after is the same message continued
                msg = _clean_message(" ".join(b.lines), modern=modern)
                if len(msg) >= 4 and not _NOT_A_MESSAGE_RE.match(msg):
                    _add(out, seen, "message", msg)
                    quoted = True
                continue
            if announced and b.kind in ("literal", "para") and _NOT_A_MESSAGE_RE.match(b.text.strip()):
                continue  # "Or" between two quoted messages: the next one is announced as well
            if announced and not wrapped and not quoted and b.kind in ("literal", "para") and len(b.text) <= 200:
                # web copies lose the indent: the line right after "...the following text:" is the message
                # (once the message came quoted, the prose after it is the article talking again)
                first = b.lines[0].strip()
                if first and not first.lower().startswith(_PROSE_START):
                    _add(out, seen, "message", _clean_message(first))
            if '"' in b.text or "\u201c" in b.text:
                for m in _QUOTED_MSG_RE.finditer(b.text):
                    _add(out, seen, "message", _clean_message(m.group(1)))
            announced = b.kind in ("para", "item") and _announces_message(b.text)
            quoted = False
    return tuple(out)


def extract_references(text: str, own_id: str) -> tuple[str, ...]:
    refs: list[str] = []
    for m in _QID_RE.finditer(text):
        if not _starts_word(text, m.start()):
            continue
        q = f"Q{int(m.group(1))}"
        if q != own_id and q not in refs:
            refs.append(q)
    return tuple(refs)
