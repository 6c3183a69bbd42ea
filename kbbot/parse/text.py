"""Text-level helpers shared by every format: decoding, `[ASCII 146]` escapes, and turning hard-wrapped
lines into blocks (paragraphs, list items, literal lines) that both the section text and the procedure
extractor read.

Pure functions: bytes or strings in, values out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from kbbot.errors import ParseError

_ESCAPE_RE = re.compile(r"\[ASCII\s+(\d{1,3})\]", re.IGNORECASE)
# "user'[ASCII 146]s": the archive kept the typed apostrophe AND the escape of the curly one.
_DOUBLED_QUOTE_RE = re.compile(r"'\[ASCII\s+146\]", re.IGNORECASE)
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


def decode_bytes(data: bytes) -> str:
    """UTF-8 when the bytes are valid UTF-8, else Windows-1252 with Latin-1 for the five bytes cp1252 leaves
    undefined. Raises ParseError for empty input or binary junk."""
    if not data or not data.strip():
        raise ParseError("empty file")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    head = data[:4096]
    if head.count(b"\x00") > 0 or head.startswith((b"\x1f\x8b", b"PK\x03\x04", b"\xfd7zXZ", b"%PDF")):
        raise ParseError("binary data, not an article (NUL bytes or a compressed/PDF signature)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = "".join(_decode_cp1252_char(b) for b in data) if _has_cp1252_holes(data) else data.decode("cp1252")
    controls = len(_CONTROL_RE.findall(text[:4096]))
    if controls > max(8, len(text[:4096]) // 50):
        raise ParseError("binary data, not an article (too many control characters)")
    return text


_CP1252_HOLES = frozenset(b"\x81\x8d\x8f\x90\x9d")


def _has_cp1252_holes(data: bytes) -> bool:
    return any(b in _CP1252_HOLES for b in data)


def _decode_cp1252_char(b: int) -> str:
    return bytes([b]).decode("latin-1") if b in _CP1252_HOLES else bytes([b]).decode("cp1252")


def _escape_char(code: int) -> str:
    # The escapes come from two worlds: 128-159 are Windows-1252 typography (146 = right quote), while
    # 176-223 are the DOS code page 437 box-drawing characters used in screen captures (179 = vertical bar).
    if 128 <= code <= 159:
        try:
            return bytes([code]).decode("cp1252")
        except UnicodeDecodeError:
            return bytes([code]).decode("latin-1")
    if 176 <= code <= 223:
        return bytes([code]).decode("cp437")
    if code < 256:
        return chr(code)
    return ""


def normalise_escapes(text: str) -> str:
    """`[ASCII 146]` -> the real character; the doubled `'[ASCII 146]` becomes a single apostrophe."""
    if "[" not in text:
        return text
    text = _DOUBLED_QUOTE_RE.sub("'", text)
    return _ESCAPE_RE.sub(lambda m: _escape_char(int(m.group(1))), text)


def to_lines(text: str) -> list[str]:
    """Lines without line endings or trailing blanks; tabs inside the body expanded."""
    return [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]


def indent_of(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


# ---------------------------------------------------------------------------------------------- blocks

# "1. ", "12) ", "a. ", "iv. ", "- ", "• ", "* ", "o " (the archive's bullet when it had no bullet glyph)
_NUM_RE = re.compile(r"^(\d{1,2})[.)]\s+(?=\S)")
_STEP_WORD_RE = re.compile(r"^Step\s+(\d{1,2})[.:]?\s+(?=\S)", re.IGNORECASE)
_ROMAN_RE = re.compile(r"^(i{1,3}|iv|v|vi{1,3}|ix|x)[.)]\s+(?=\S)")
_ALPHA_RE = re.compile(r"^([a-zA-Z])[.)]\s+(?=\S)")
_BULLET_RE = re.compile(r"^([-•*·o\u2022\u00b7])\s+(?=\S)")
_OR_SEPARATOR_RE = re.compile(r"^-+\s*(?:or|and)\s*-+$", re.IGNORECASE)
_BULLET_CHARS = frozenset("-•*·o\u2022\u00b7")


@dataclass(slots=True)
class Block:
    """A run of source lines that belong together.

    kind: "para" (prose, joined), "literal" (lines kept as they are: messages, code, tables),
    "item" (a list item: marker + prose), "heading" (an underlined sub-heading such as "Method 1: ...").
    """

    kind: str
    indent: int
    text: str
    lines: list[str] = field(default_factory=list)
    marker: str = ""  # "num" | "alpha" | "roman" | "bullet"
    number: int = 0
    text_indent: int = 0  # where an item's text starts, so continuation paragraphs can be recognised
    # what a block of a structured source (Markdown, HTML) is beyond prose: "code", "table", "note" (a
    # callout), "quote", "image" (an image's alt text). Error signatures are never taken from code, notes or
    # images: they quote commands and screenshots, not the error a person sees.
    role: str = ""


@dataclass(frozen=True, slots=True)
class Marker:
    """A list item's marker: its kind ("num" | "alpha" | "roman" | "bullet"), its number (0 for bullets and
    roman numerals) and how many characters it takes, the space after it included."""

    kind: str
    number: int
    length: int


def match_marker(stripped: str) -> Marker | None:
    """The list-item marker a line (already left-stripped) starts with, else None."""
    if not stripped:
        return None
    # dispatch on the first character: this runs for every line of every article
    c = stripped[0]
    if c.isdigit():
        m = _NUM_RE.match(stripped)
        return Marker(kind="num", number=int(m.group(1)), length=m.end()) if m else None
    if c in _BULLET_CHARS:
        if _OR_SEPARATOR_RE.match(stripped):
            return None  # "- or -" between two alternatives is not a bullet
        m = _BULLET_RE.match(stripped)
        if m:
            return Marker(kind="bullet", number=0, length=m.end())
        if c != "o":
            return None
    if not c.isalpha():
        return None
    if c in "Ss" and stripped[:4].lower() == "step":
        m = _STEP_WORD_RE.match(stripped)
        if m:
            return Marker(kind="num", number=int(m.group(1)), length=m.end())
    if c in "ivx":
        m = _ROMAN_RE.match(stripped)
        if m:
            return Marker(kind="roman", number=0, length=m.end())
    if len(stripped) < 3 or stripped[1] not in ".)":
        return None
    m = _ALPHA_RE.match(stripped)
    if m:
        # a one-letter word opening a sentence ("A. Smith", "I. ...") is rare in steps; uppercase letters
        # are accepted only as markers because the archive uses "A." lists too.
        return Marker(kind="alpha", number=ord(m.group(1).lower()) - ord("a") + 1, length=m.end())
    return None


def _is_underline(line: str, ch: str) -> bool:
    s = line.strip()
    return len(s) >= 3 and s[0] == ch and s.count(ch) == len(s)


def _looks_literal(lines: list[str]) -> bool:
    """Hard-wrapped prose fills its lines; a block of short lines (a path list, a message, a table) does not."""
    if len(lines) < 2:
        return False
    body = [ln.strip() for ln in lines[:-1]]
    if any("   " in ln.strip() for ln in lines):  # aligned columns
        return True
    short = sum(1 for ln in body if len(ln) < 45)
    return short * 2 > len(body)


def _is_subheading(lines: list[str], i: int) -> bool:
    """"Method 1: Convert ..." underlined with dashes."""
    return (i + 1 < len(lines) and _is_underline(lines[i + 1], "-") and len(lines[i].strip()) <= 100
            and not _is_underline(lines[i], "-"))


def _paragraph_end(lines: list[str], i: int, *, indent: int, is_item: bool) -> int:
    """Where the hard-wrapped paragraph starting at line i ends: at a blank line, a new list item (any item
    after an item; after prose, one not indented under it), a '=' underline or a dashed sub-heading."""
    j = i + 1
    n = len(lines)
    while j < n and lines[j].strip():
        nxt = lines[j]
        if match_marker(nxt.strip()) and (is_item or indent_of(nxt) <= indent + 1):
            break
        if (nxt.lstrip()[:1] == "=" and _is_underline(nxt, "=")) or (
            j + 1 < n and lines[j + 1].lstrip()[:1] == "-" and _is_underline(lines[j + 1], "-")
        ):
            break
        j += 1
    return j


def _item_block(para: list[str], marker: Marker, *, indent: int) -> Block:
    """A list item: its marker taken off, its wrapped lines joined, unless they are literal lines (a message,
    a path list) that stay lines under the item's first line."""
    first = para[0].strip()[marker.length:]
    rest = para[1:]
    if rest and _looks_literal(rest):
        text = first
        extra = [r.strip() for r in rest]
    else:
        text = " ".join([first, *(r.strip() for r in rest)])
        extra = []
    return Block(kind="item", indent=indent, text=text, lines=[text, *extra], marker=marker.kind,
                 number=marker.number, text_indent=indent + marker.length)


def _prose_block(para: list[str], *, indent: int, list_text_indent: int, wrapped: bool) -> Block:
    """A paragraph, or literal lines: short lines, or (in hard-wrapped sources) text indented for its own
    sake rather than as a continuation of the list item above it (`list_text_indent`, -1 outside a list)."""
    stripped_lines = [p.strip() for p in para]
    in_list_para = list_text_indent >= 0 and list_text_indent + 1 >= indent > 0
    # in web copies (not wrapped) every line is a paragraph: an indented one after a list item belongs to it
    if wrapped and (_looks_literal(para) or (indent > 0 and not in_list_para)):
        return Block(kind="literal", indent=indent, text="\n".join(stripped_lines), lines=stripped_lines)
    text = " ".join(stripped_lines)
    return Block(kind="para", indent=indent, text=text, lines=[text])


def to_blocks(lines: list[str], *, wrapped: bool = True) -> list[Block]:
    """Group a section's lines into blocks.

    `wrapped`: the source hard-wraps paragraphs at ~80 columns (TXT, Markdown) and they must be joined;
    web copies have one paragraph per line, so every line is its own block.
    """
    blocks: list[Block] = []
    i = 0
    n = len(lines)
    list_text_indent = -1  # text indent of the most recent list item, -1 outside a list
    while i < n:
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        ind = indent_of(line)
        if _is_subheading(lines, i):
            stripped = line.strip()
            blocks.append(Block(kind="heading", indent=ind, text=stripped, lines=[stripped]))
            list_text_indent = -1
            i += 2
            continue
        marker = match_marker(line.strip())
        j = _paragraph_end(lines, i, indent=ind, is_item=marker is not None) if wrapped else i + 1
        if marker is not None:
            blocks.append(_item_block(lines[i:j], marker, indent=ind))
            list_text_indent = ind + marker.length
        else:
            blocks.append(_prose_block(lines[i:j], indent=ind, list_text_indent=list_text_indent, wrapped=wrapped))
            if ind == 0:
                list_text_indent = -1  # text at the margin ends the list
        i = j
    return blocks


def blocks_to_text(blocks: list[Block]) -> str:
    """Section text: paragraphs separated by a blank line, list items keep their marker, literal lines kept."""
    out: list[str] = []
    counters: dict[int, int] = {}
    for b in blocks:
        if b.kind == "item":
            if b.marker == "num":
                prefix = f"{b.number}. "
            elif b.marker == "bullet":
                prefix = "- "
            elif b.marker == "alpha":
                prefix = f"{chr(ord('a') + max(0, b.number - 1))}. "
            else:
                counters[b.indent] = counters.get(b.indent, 0) + 1
                prefix = "- "
            pad = "   " if b.indent > 0 and b.marker != "num" else ""
            out.append(pad + prefix + "\n".join(b.lines))
        else:
            out.append(b.text)
    return "\n\n".join(s for s in out if s.strip())


_QREF_TEXT_RE = re.compile(r"^\(?Q\d{4,7}\)?(?:\s|:|$)")


def demote_reference_items(blocks: list[Block]) -> list[Block]:
    """Web copies number the cross-references under a step as if they were steps ("5. Q135932 PC DB: ...").
    Inside a numbered run that also has real steps, such an item becomes an indented line of the step
    before, and the items after it are renumbered, so the text reads as the TXT original does."""
    out: list[Block] = []
    shift = 0
    run_indent = -1
    has_steps = False
    for b in blocks:
        if b.kind == "item" and b.marker == "num":
            if b.number == 1 or abs(b.indent - run_indent) > 1:
                shift, run_indent, has_steps = 0, b.indent, False
            if _QREF_TEXT_RE.match(b.text) and has_steps:
                out.append(Block(kind="para", indent=b.indent + 3, text=b.text, lines=[b.text]))
                shift += 1
                continue
            has_steps = has_steps or not _QREF_TEXT_RE.match(b.text)
            if shift:
                b = Block(kind=b.kind, indent=b.indent, text=b.text, lines=b.lines, marker=b.marker,
                          number=b.number - shift, text_indent=b.text_indent)
        out.append(b)
    return out


_MD_LINK_RE = re.compile(r"\[([^\]]*)\](?:\((?:[^()\s]|\([^()\s]*\))*\)?|\([^)]*$)")


def strip_inline_markup(text: str) -> str:
    """The card subset's markup removed (`**`, `*`, `` ` ``, `[text](url)` -> text), a partial link too."""
    text = _MD_LINK_RE.sub(r"\1", text)
    return " ".join(text.replace("**", "").replace("`", "").replace("*", "").split())
