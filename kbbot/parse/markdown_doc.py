"""Modern Markdown knowledge-base pages: YAML front matter, `#` headings, lists, tables, code fences and the
DocFX extensions Microsoft Learn-style docs use (`:::image ... :::`, `> [!NOTE]`, `[!INCLUDE [..](path)]`).

Read with markdown-it-py, a CommonMark-compliant parser (kept up to date, pure Python, the token stream
keeps list nesting and numbering that hand-written line scanners kept getting wrong: `1. 1. 1.`
auto-numbering, nested lists, list items with several paragraphs). The tokens become the same `Block`s the
other formats produce, so procedures, signatures and section text come from the one shared code path in
`kbbot.parse.assemble`.

Pages written for other site generators (Hugo and GitLab shortcodes, MDX / Docusaurus components, MkDocs-Material
admonitions and tabs, HTML comments, footnotes) are first rewritten as the CommonMark this reader walks, in one
place: `kbbot.parse.flavours`.

Article text keeps only the inline subset the card renderer understands: `**bold**`, `*italic*`,
`` `code` ``, `[text](https://url)` and ``` fences; callouts become a line starting `Note:` / `Important:` /
`Warning:`.
"""

from __future__ import annotations

import html
import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import PurePosixPath
from typing import Any

import yaml
from markdown_it import MarkdownIt
from markdown_it.token import Token

from kbbot.article import normalise_qid
from kbbot.errors import ParseError
from kbbot.parse.assemble import Draft
from kbbot.parse.flavours import expand_flavours
from kbbot.parse.text import Block, strip_inline_markup

FORMAT = "markdown-doc"
# nesting depth -> Block indent: deep enough that `kbbot.parse.procedures` sees sub-steps and continuation
# paragraphs as belonging to the step above them
_INDENT = 3

_FRONT_RE = re.compile(r"\A\ufeff?\s*---[ \t]*\n(.*?)\n---[ \t]*(?:\n|\Z)", re.DOTALL)
_TOML_FRONT_RE = re.compile(r"\A\ufeff?\s*\+\+\+[ \t]*\n(.*?)\n\+\+\+[ \t]*(?:\n|\Z)", re.DOTALL)
_IMAGE_RE = re.compile(r":::image\b(.*?):::(?:\s*:::image-end:::)?", re.DOTALL | re.IGNORECASE)
_ALT_RE = re.compile(r"alt-text\s*=\s*\"([^\"]*)\"", re.IGNORECASE)
_NO_LOC_RE = re.compile(r":::no-loc\s+text\s*=\s*\"([^\"]*)\"\s*:::", re.IGNORECASE)
_DIRECTIVE_INLINE_RE = re.compile(r":::[\w-]+(?:\s[^:\n]*)?:::")
_DIRECTIVE_LINE_RE = re.compile(r"^[ \t>]*:::.*$", re.MULTILINE)
_INCLUDE_RE = re.compile(r"\[!INCLUDE\s*\[[^\]]*\]\(([^)]+)\)\]", re.IGNORECASE)
_CALLOUT_RE = re.compile(r"^\[!(NOTE|TIP|IMPORTANT|WARNING|CAUTION)\]\s*", re.IGNORECASE)
_DIV_RE = re.compile(r"^\[!div[^\]]*\]\s*", re.IGNORECASE)
_KB_NUMBER_RE = re.compile(
    r"^[_*\s]*(?:Original\s+KB\s+number|KB\s+article\s+number|Article\s+ID|KB\s+ID)[_*\s]*:[_*\s]*"
    r"(?:&nbsp;|\s)*(?:KB|Q)?(\d{4,8})\b.*$",
    re.IGNORECASE | re.MULTILINE,
)
_APPLIES_LINE_RE = re.compile(r"^[_*\s]*Applies\s+to[_*\s]*:.*$", re.IGNORECASE | re.MULTILINE)
_HTML_SUMMARY_RE = re.compile(r"<summary\b[^>]*>(.*?)</summary>", re.IGNORECASE | re.DOTALL)
_HTML_HEADING_RE = re.compile(r"^<h([1-6])\b[^>]*>(.*?)</h\1>$", re.IGNORECASE | re.DOTALL)
_TRAILING_NUMBER_RE = re.compile(r"\s+\d{1,2}$")
_HEADING_SUBTITLE_RE = re.compile(r":\s|\s[-\u2013\u2014]\s")  # "Cause 1: ...", "Solution 2 - ..."
_SPACE_RE = re.compile(r"[ \t\u00a0]+")

# put before an image's alt text so the paragraph it becomes is known as one after markdown-it (private use)
IMAGE_MARK = "\ue000"
_CALLOUT_LABEL = {"NOTE": "Note", "TIP": "Note", "IMPORTANT": "Important", "WARNING": "Warning",
                  "CAUTION": "Warning"}
_ID_KEYS = ("id", "article_id", "articleid", "kb", "kb_id", "kbid", "kb_number", "document_id")
_URL_KEYS = ("url", "permalink", "html_url", "canonical_url", "canonicalurl")
# the inline HTML front matter carries (not "<Country/Region code>" or "<server name>", which are text)
_HTML_TAG_RE = re.compile(r"</?(?:a|b|i|u|em|strong|br|span|div|p|sup|sub|code|img|font|small|nobr)\b[^<>]*>",
                          re.IGNORECASE)
_PRODUCT_KEYS = ("product", "products", "appliesto", "applies_to", "ms.service", "ms.prod", "service")


@cache
def section_names() -> dict[str, str]:
    """The heading vocabulary (kbbot/data/section_names.yaml): lower-case variant -> canonical name."""
    return {variant.lower(): canonical for canonical, variants in _vocabulary()["sections"].items()
            for variant in variants}


@cache
def heading_qualifiers() -> frozenset[str]:
    """Trailing words that leave a heading's meaning as it was ("Workaround example")."""
    return frozenset(w.lower() for w in _vocabulary()["qualifiers"])


@cache
def _vocabulary() -> dict[str, Any]:
    raw = yaml.safe_load(resources.files("kbbot").joinpath("data/section_names.yaml").read_text("utf-8"))
    return dict(raw)


_CANONICAL_NAMES = frozenset(
    ("SUMMARY", "SYMPTOMS", "CAUSE", "RESOLUTION", "WORKAROUND", "STATUS", "MORE INFORMATION", "REFERENCES",
     "APPLIES TO", "PREREQUISITES", "STEPS TO REPRODUCE")
)


def canonical_heading(heading: str) -> str:
    """'Resolution 2' -> 'RESOLUTION', 'Root cause:' -> 'CAUSE', 'Workaround example' -> 'WORKAROUND',
    'Cause 1: The config file doesn't exist' -> 'CAUSE', 'How to work around this issue' -> 'WORKAROUND'; any
    other heading keeps its own name."""
    key = _SPACE_RE.sub(" ", plain_text(heading)).strip().rstrip(":").strip()
    names = section_names()
    for form in _heading_forms(key.lower()):
        found = names.get(form)
        if found:
            return found
    return key.upper()


def _heading_forms(lower: str) -> Iterator[str]:
    """A lower-cased heading as the vocabulary may list it, the likeliest first: as written; without a trailing
    number; without a trailing qualifier ("workaround example"); its part before a colon or dash ("cause 1:
    the config file doesn't exist"); without a lead ("how to") and an object ("this issue")."""
    vocab = _vocabulary()
    qualifiers = heading_qualifiers()
    yield lower
    bare = _TRAILING_NUMBER_RE.sub("", lower)
    yield bare
    if " " in bare:
        head, _, last = bare.rpartition(" ")
        if last in qualifiers:
            yield head
    prefix = _TRAILING_NUMBER_RE.sub("", _HEADING_SUBTITLE_RE.split(lower, maxsplit=1)[0].strip())
    if prefix != lower and prefix not in vocab["case_prefixes"]:
        yield prefix
    no_object = next((bare[: -len(o) - 1] for o in vocab["objects"] if bare.endswith(" " + o)), bare)
    yield no_object
    for form in (bare, no_object):
        lead = next((lead for lead in vocab["leads"] if form.startswith(lead + " ")), None)
        if lead:
            yield form[len(lead) + 1 :]


plain_text = strip_inline_markup


# ------------------------------------------------------------------------------------------ front matter
def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """The page's front matter and the rest: YAML between `---` lines, or TOML between `+++` lines (Hugo) or
    between `---` lines (some MDX sites write `title = "..."` there)."""
    m = _FRONT_RE.match(text) or _TOML_FRONT_RE.match(text)
    if not m:
        opened = text.lstrip("\ufeff \t\n")
        for fence in ("---", "+++"):
            if opened.startswith(fence + "\n") and "\n" + fence not in opened[4:]:
                raise ParseError("Markdown front matter is not closed (truncated file?)")
        return {}, text
    block = m.group(1)
    data: Any = None
    if m.re is _FRONT_RE:
        try:
            data = yaml.safe_load(block)
        except yaml.YAMLError:
            data = None
    if not isinstance(data, dict):
        try:
            data = tomllib.loads(block)
        except tomllib.TOMLDecodeError:
            data = _loose_front_matter(block) if m.re is _FRONT_RE else {}
    return (data if isinstance(data, dict) else {}), text[m.end():]


def _loose_front_matter(block: str) -> dict[str, Any]:
    """`key: value` lines of front matter YAML cannot read (unquoted colons in a title)."""
    out: dict[str, Any] = {}
    for line in block.splitlines():
        key, sep, value = line.partition(":")
        if sep and key and not key.startswith((" ", "\t", "-")):
            out[key.strip()] = value.strip().strip("\"'")
    return out


def _strings(value: Any) -> list[str]:
    """A front matter value as plain strings: its HTML tags out and entities decoded (Microsoft's pages write
    `appliesto: - <a href=... target=_blank>Supported versions of Windows Server</a>`), spaces collapsed."""
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [s for v in value for s in _strings(v)]
    text = str(value)
    if "<" in text:
        text = _HTML_TAG_RE.sub("", text)
    text = " ".join(html.unescape(text).split())
    return [text] if text else []


# ------------------------------------------------------------------------------------------ DocFX
def expand_docfx(body: str, includes: Mapping[str, str]) -> str:
    """Images become their alt text, includes their content (front matter dropped), other `:::` lines go."""

    def image(m: re.Match[str]) -> str:
        alt = _ALT_RE.search(m.group(1))
        return f"{IMAGE_MARK}{alt.group(1).strip()}" if alt else ""

    def include(m: re.Match[str]) -> str:
        content = includes.get(m.group(1).strip())
        if content is None:
            return ""  # the fragment is not in this tree: dropped (the indexer notes which were missing)
        return split_front_matter(content)[1].strip()

    if "[!INCLUDE" in body or "[!include" in body:
        body = _INCLUDE_RE.sub(include, body)
    if ":::" in body:
        body = _IMAGE_RE.sub(image, body)
        body = _NO_LOC_RE.sub(r"\1", body)
        body = _DIRECTIVE_LINE_RE.sub("", body)
        body = _DIRECTIVE_INLINE_RE.sub("", body)
    return body


def include_targets(text: str) -> list[str]:
    """The include paths a page names, as written (`../includes/x.md`)."""
    return [m.group(1).strip() for m in _INCLUDE_RE.finditer(text)]


# ------------------------------------------------------------------------------------------ inline
def render_inline(children: list[Token] | None) -> str:
    """Inline tokens -> text in the card subset (bold, italic, code, absolute links); everything else plain."""
    inline = _Inline()
    for t in children or ():
        handler = _INLINE_HANDLERS.get(t.type)
        if handler is not None:
            handler(inline, t)
    text = _tidy("".join(inline.out))
    if text.endswith("}"):
        # a heading anchor or attribute list ("## Node-level {#node}", "Text. {: .note}"): page furniture
        text = _ATTR_LIST_RE.sub("", text)
    return _balanced(text)


# `{#id}`, `{.class}`, `{ #id .class }`, `{: .class key="value"}` closing a heading or paragraph (Hugo, MkDocs
# attr_list, Pandoc); `{key=value}` alone only in the `{:` form, which nothing else writes
_ATTR_ITEM = r"(?:[#.][\w-]+|[\w-]+=(?:\"[^\"]*\"|'[^']*'|[^\s}]+))"
_ATTR_LIST_RE = re.compile(
    r"\s*\{(?::[ \t]*" + _ATTR_ITEM + r"|[ \t]*[#.][\w-]+)(?:[ \t]+" + _ATTR_ITEM + r")*[ \t]*\}$"
)


@dataclass(slots=True)
class _Inline:
    out: list[str] = field(default_factory=list)
    links: list[str | None] = field(default_factory=list)
    opened: list[int] = field(default_factory=list)  # where each open bold/italic marker sits in `out`

    def text(self, t: Token) -> None:
        text = t.content
        if "**" in text or "[!" in text:
            # markers the source left unpaired, and DocFX markers in running text
            text = _DOCFX_INLINE_RE.sub(_docfx_inline, text.replace("**", ""))
        # literal brackets in a quoted error ("[EclipseLink-4002](Eclipse ...") must not read as a link
        self.out.append(text.replace("](", "] ("))

    def code(self, t: Token) -> None:
        self.out.append(f"`{t.content}`" if t.content.strip() else t.content)

    def space(self, t: Token) -> None:
        self.out.append(" ")

    def open_mark(self, t: Token) -> None:
        self.opened.append(len(self.out))
        self.out.append("**" if t.type == "strong_open" else "*")

    def close_mark(self, t: Token) -> None:
        start = self.opened.pop() if self.opened else -1
        inner = "".join(self.out[start + 1:]).strip() if start >= 0 else ""
        if start >= 0 and (not inner or (inner[0] == inner[-1] == "`" and inner.count("`") == 2)):
            # emphasis around nothing (an image or tag that was dropped) or around code only: code alone
            # reads the same and keeps the markers from running into each other
            self.out[start] = ""
        else:
            self.out.append("**" if t.type == "strong_close" else "*")

    def open_link(self, t: Token) -> None:
        href = str(t.attrs.get("href") or "")
        if href.startswith(("http://", "https://")):
            if "(" in href or ")" in href:
                href = _paren_safe(href)
            self.links.append(href)
            self.out.append("[")
        else:
            self.links.append(None)  # a link into the same docs tree has no address a Slack reader can open

    def close_link(self, t: Token) -> None:
        target = self.links.pop() if self.links else None
        if target is not None:
            self.out.append(f"]({target})")

    def image(self, t: Token) -> None:
        alt = " ".join((t.content or str(t.attrs.get("alt") or "")).split())
        if not _generic_alt(alt):
            self.out.append(alt)

    def html(self, t: Token) -> None:
        tag = _HTML_TAG_NAME_RE.match(t.content)
        if tag and tag.group(1).lower() not in _HTML_TAGS:
            # "<AccountSkuID>": a placeholder the reader fills in, not HTML; kept, as code
            self.out.append(f"`{t.content}`")
        elif t.content.lower().startswith("<br"):
            self.out.append(" ")


_INLINE_HANDLERS = {
    "text": _Inline.text,
    "code_inline": _Inline.code,
    "softbreak": _Inline.space,
    "hardbreak": _Inline.space,
    "strong_open": _Inline.open_mark,
    "em_open": _Inline.open_mark,
    "strong_close": _Inline.close_mark,
    "em_close": _Inline.close_mark,
    "link_open": _Inline.open_link,
    "link_close": _Inline.close_link,
    "image": _Inline.image,
    "html_inline": _Inline.html,
}


# a link address Markdown reads with its parentheses ("https://wiki.example.org/Manual:S_client(1)"): kept, as
# the card's link pattern reads one level of them; any other parenthesis is percent-encoded, so the address
# never ends early
_URL_PARENS_RE = re.compile(r"(?:[^()\s]|\([^()\s]*\))+")


def _paren_safe(href: str) -> str:
    return href if _URL_PARENS_RE.fullmatch(href) else href.replace("(", "%28").replace(")", "%29")


# alt text that says nothing ("image", "Screenshot 2", "img"), a file name ("mismatched-resolution",
# "error_dialog.png"), or a word of 1-3 characters: the image is dropped rather than left as a stray word
_GENERIC_ALT_RE = re.compile(
    r"(?:an?\s+)?(?:image|img|screenshot|screen\s*shot|screen\s*capture|picture|pic|photo|figure|fig|diagram|"
    r"icon|graphic|alt(?:\s*text)?)(?:[\s_-]*\d+)?",
    re.IGNORECASE,
)
_FILE_NAME_ALT_RE = re.compile(r"[\w.-]+\.(?:png|jpe?g|gif|svg|webp|bmp|tiff?)|[a-z0-9]+(?:-[a-z0-9]+)+|\S*_\S*",
                               re.IGNORECASE)


def _generic_alt(alt: str) -> bool:
    if len(alt) <= 3 or _GENERIC_ALT_RE.fullmatch(alt):
        return True
    # lower-case words joined by hyphens are a file name; "Wi-Fi" is not
    file_like = " " not in alt and bool(_FILE_NAME_ALT_RE.fullmatch(alt))
    return file_like and ("_" in alt or "." in alt or alt.islower())


def _only_images(children: list[Token] | None) -> bool:
    """A paragraph of images (linked or not) and nothing else: what it says is alt text, never the article's
    words or an error to match."""
    seen = False
    for t in children or ():
        if t.type == "image":
            seen = True
        elif not (t.type in ("softbreak", "hardbreak", "link_open", "link_close")
                  or (t.type == "text" and not t.content.strip())
                  or (t.type == "html_inline" and t.content.lower().startswith("<br"))):
            return False
    return seen


_HTML_TAG_NAME_RE = re.compile(r"^</?([A-Za-z][\w.-]*)")
_HTML_TAGS = frozenset(
    [
        "a", "abbr", "b", "big", "blockquote", "br", "caption", "center", "cite", "code", "col", "dd", "del",
        "details", "dfn", "div", "dl", "dt", "em", "font", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i",
        "iframe", "img", "ins", "kbd", "li", "mark", "nav", "ol", "p", "pre", "q", "s", "samp", "section",
        "small", "span", "strike", "strong", "sub", "summary", "sup", "table", "tbody", "td", "tfoot", "th",
        "thead", "tr", "tt", "u", "ul", "var", "video", "header", "footer", "main", "article", "aside", "figure",
        "figcaption", "picture", "source", "button", "input", "label", "form", "select", "option", "textarea",
        "script", "style", "noscript", "link", "meta",
    ]
)
_CODE_SPAN_RE = re.compile(r"(`[^`]*`)")
# HTML tags only: "<Recipient address>" or "<tablename>" placeholders and "#< #5.1.1 smtp;...>" NDR text
# are content
_TAG_RE = re.compile(r"</?(?:" + "|".join(sorted(_HTML_TAGS, key=len, reverse=True)) + r")(?=[\s/>])[^<>]*>",
                     re.IGNORECASE)


def _balanced(text: str) -> str:
    """Emphasis the source left unpaired (`On the **Insert* menu`) is dropped: plain text reads right,
    a stray marker does not. Code spans keep their asterisks."""
    if "*" not in text:
        return text
    parts = _CODE_SPAN_RE.split(text)
    prose = "".join(parts[0::2])
    bold = prose.count("**")
    single = prose.count("*") - 2 * bold
    if bold % 2 == 0 and single % 2 == 0:
        return text
    return "".join(p if i % 2 else p.replace("*", "") for i, p in enumerate(parts))


_DOCFX_INLINE_RE = re.compile(r"\[!(NOTE|TIP|IMPORTANT|WARNING|CAUTION)\]|\[!(?:div|video|include)[^\]]*\]",
                              re.IGNORECASE)


def _docfx_inline(m: re.Match[str]) -> str:
    return f"{_CALLOUT_LABEL[m.group(1).upper()]}:" if m.group(1) else ""


_EMPTY_MARK_RE = re.compile(r"\*\*\s*\*\*(?!\w)|(?<![*\w])\*\s+\*(?![*\w])")
_EMPTY_LINK_RE = re.compile(r"\[\s*\]\([^)]*\)")


def _tidy(text: str) -> str:
    text = text.replace("\u00a0", " ").replace("\u200b", "")
    text = _EMPTY_LINK_RE.sub("", _EMPTY_MARK_RE.sub("", text))
    if "<" in text:
        text = _TAG_RE.sub("", text)
    return _SPACE_RE.sub(" ", text).strip()


# ------------------------------------------------------------------------------------------ blocks
@dataclass(slots=True)
class _Section:
    name: str
    heading: str
    blocks: list[Block] = field(default_factory=list)


@dataclass(slots=True)
class _Walk:
    """Turns markdown-it's flat token stream into sections of Blocks."""

    tokens: list[Token]
    section_level: int
    title: str = ""
    sections: list[_Section] = field(default_factory=list)
    pos: int = 0
    ordered: list[bool] = field(default_factory=list)  # the enclosing lists, outermost first: numbered?

    def emit(self, block: Block) -> None:
        if not self.sections:
            self.sections.append(_Section(name="SUMMARY", heading=""))
        self.sections[-1].blocks.append(block)

    def run(self) -> None:
        while self.pos < len(self.tokens):
            self.block(depth=0, quote="")

    def block(self, *, depth: int, quote: str) -> None:
        """Consume one block-level construct at `pos`."""
        t = self.tokens[self.pos]
        kind = t.type
        indent = depth * _INDENT
        html_heading = _HTML_HEADING_RE.match(t.content.strip()) if kind == "html_block" else None
        if kind == "heading_open" or html_heading:
            if html_heading:
                text, level = _tidy(html.unescape(html_heading.group(2))), int(html_heading.group(1))
                self.pos += 1
            else:
                text, level = render_inline(self.tokens[self.pos + 1].children), int(t.tag[1])
                self.pos += 3
            text = plain_text(text)
            if level == 1 and not self.title:
                self.title = text
            elif level <= self.section_level and depth == 0 and not quote:
                name = canonical_heading(text)
                self.sections.append(_Section(name=name, heading=text))
                if name not in _CANONICAL_NAMES or _TRAILING_NUMBER_RE.search(text) or (
                    _HEADING_SUBTITLE_RE.search(text)
                ):
                    # "Resolution 1", "Method 2: ...", "Cause 1: The config file doesn't exist" as a section:
                    # the heading still names its procedure or its case
                    self.emit(Block(kind="heading", indent=0, text=text, lines=[text], number=level))
            elif text:
                # a heading's number is its level, so procedures can tell a sub-heading from a sibling
                self.emit(Block(kind="heading", indent=indent, text=text, lines=[text], number=level))
        elif kind == "paragraph_open":
            children = self.tokens[self.pos + 1].children
            text = render_inline(children)
            if text and _only_images(children):
                text = IMAGE_MARK + text  # read as an image's alt text (role "image"), never a signature
            self.pos += 3
            self.paragraph(text, indent=indent, quote=quote)
        elif kind in ("bullet_list_open", "ordered_list_open"):
            self.list_(t, depth=depth, quote=quote)
        elif kind == "blockquote_open":
            self.blockquote(depth=depth)
        elif kind in ("fence", "code_block"):
            self.pos += 1
            code = t.content.rstrip("\n")
            if code.strip():
                lines = ["```", *code.split("\n"), "```"]
                self.emit(Block(kind="literal", indent=indent, text="\n".join(lines), lines=lines, role="code"))
        elif kind == "table_open":
            self.table(indent=indent)
        elif kind == "html_block":
            self.pos += 1
            summary = _HTML_SUMMARY_RE.search(t.content)
            if summary:
                # a collapsible <details> part: its summary names the steps inside it
                text = _tidy(html.unescape(_TAG_RE.sub("", summary.group(1))))
                if text:
                    self.emit(Block(kind="heading", indent=indent, text=text, lines=[text]))
                return
            text = _tidy(html.unescape(_TAG_RE.sub(" ", t.content)))
            if text:
                self.paragraph(text, indent=indent, quote=quote)
        else:
            self.pos += 1  # hr, closing tokens of constructs handled elsewhere

    def paragraph(self, text: str, *, indent: int, quote: str) -> None:
        if IMAGE_MARK in text:
            alt = text.replace(IMAGE_MARK, "").strip()
            if alt:
                self.emit(Block(kind="para", indent=indent, text=alt, lines=[alt], role="image"))
            return
        if not text:
            return
        if quote and quote != "quote":
            self.emit(Block(kind="para", indent=indent, text=f"{quote}: {text}", lines=[f"{quote}: {text}"],
                            role="note"))
        elif quote:
            # a quoted line is usually the literal message the article is about
            self.emit(Block(kind="para", indent=indent + 2, text=text, lines=[text], role="quote"))
        else:
            self.emit(Block(kind="para", indent=indent, text=text, lines=[text]))

    def blockquote(self, *, depth: int) -> None:
        self.pos += 1
        label = "quote"
        if self.tokens[self.pos].type == "paragraph_open":
            children = self.tokens[self.pos + 1].children or []
            first = children[0].content if children and children[0].type == "text" else ""
            m = _CALLOUT_RE.match(first)
            if m:
                label = _CALLOUT_LABEL[m.group(1).upper()]
                children[0].content = first[m.end():]
            elif _DIV_RE.match(first):
                label = ""  # a "next step" button box: its link is plain content
                children[0].content = _DIV_RE.sub("", first)
        if label in _CALLOUT_LABEL.values() and (depth or not self._holds_numbered_list()):
            # a callout at the margin that numbers steps ("To fix it, follow these steps: 1. 2.") holds a
            # procedure of its own and is read as blocks
            self.callout(label, depth=depth)
            return
        while self.tokens[self.pos].type != "blockquote_close":
            self.block(depth=depth, quote=label)
        self.pos += 1

    def _holds_numbered_list(self) -> bool:
        """Whether the blockquote open at `pos` holds a numbered list."""
        nesting = 1
        for t in self.tokens[self.pos:]:
            if t.type == "ordered_list_open":
                return True
            nesting += {"blockquote_open": 1, "blockquote_close": -1}.get(t.type, 0)
            if nesting == 0:
                break
        return False

    def callout(self, label: str, *, depth: int) -> None:
        """A `> [!NOTE]` callout is one note, whatever it holds: its paragraphs, its bullets (nested as they
        were) and its code stay inside it, in order, so a step that carries the note reads as the source does
        and the note's bullets never pass for the step's sub-steps."""
        sections, ordered = self.sections, self.ordered
        self.sections, self.ordered = [_Section(name="NOTE", heading="")], []
        while self.tokens[self.pos].type != "blockquote_close":
            self.block(depth=depth, quote="")
        self.pos += 1
        inner = self.sections[0].blocks
        self.sections, self.ordered = sections, ordered
        base = depth * _INDENT
        lines = []
        for b in inner:
            pad = "  " * max(0, (b.indent - base) // _INDENT)
            if b.kind == "item":
                mark = f"{b.number}. " if b.marker != "bullet" else "- "
                lines.append(f"{pad}{mark}{b.text}" if b.text else "")
            elif b.kind == "literal":
                lines.extend(b.lines)
            else:
                lines.append(f"{pad}{b.text}" if b.role != "quote" else b.text)
        lines = [ln for ln in lines if ln.strip()]
        if not lines:
            return
        # "Note: text" when the note opens with prose; a note that opens with a list or code starts below
        first = next(b for b in inner if b.text.strip())
        if first.kind == "para" and first.role != "quote":
            text = "\n".join([f"{label}: {lines[0]}", *lines[1:]])
        else:
            text = "\n".join([f"{label}:", *lines])
        self.emit(Block(kind="para", indent=base, text=text, lines=text.split("\n"), role="note"))

    def list_(self, opener: Token, *, depth: int, quote: str) -> None:
        ordered = opener.type == "ordered_list_open"
        # numbered by position: "1. 1. 1." auto-numbering and "1. 2. 3." read the same
        number = int(opener.attrs.get("start") or 1) if ordered else 0
        # a numbered list inside a numbered step is its sub-steps, lettered a., b. as the 1999 articles letter
        # them; under a bullet it is a procedure of its own ("- If setup fails, follow these steps: 1. 2.")
        marker = ("alpha" if self.ordered[-1:] == [True] else "num") if ordered else "bullet"
        self.ordered.append(ordered)
        close = "ordered_list_close" if ordered else "bullet_list_close"
        self.pos += 1
        indent = depth * _INDENT
        while self.tokens[self.pos].type != close:
            if self.tokens[self.pos].type != "list_item_open":
                self.pos += 1
                continue
            self.pos += 1
            first = True
            while self.tokens[self.pos].type != "list_item_close":
                t = self.tokens[self.pos]
                if first and t.type == "paragraph_open":
                    text = render_inline(self.tokens[self.pos + 1].children)
                    self.pos += 3
                    self.emit(Block(kind="item", indent=indent, text=text, lines=[text], marker=marker,
                                    number=number, text_indent=indent + _INDENT))
                else:
                    if first:
                        # an item that opens with a list or code has no text of its own
                        self.emit(Block(kind="item", indent=indent, text="", lines=[""], marker=marker,
                                        number=number, text_indent=indent + _INDENT))
                    self.block(depth=depth + 1, quote=quote)
                first = False
            self.pos += 1
            number += 1
        self.pos += 1
        self.ordered.pop()

    def table(self, *, indent: int) -> None:
        rows: list[list[str]] = []
        row: list[str] = []
        while self.tokens[self.pos].type != "table_close":
            t = self.tokens[self.pos]
            if t.type == "tr_open":
                row = []
            elif t.type == "inline":
                row.append(render_inline(t.children))
            elif t.type == "tr_close":
                rows.append(row)
            self.pos += 1
        self.pos += 1
        lines = [" | ".join(r) for r in rows if any(c for c in r)]
        if lines:
            self.emit(Block(kind="literal", indent=indent, text="\n".join(lines), lines=lines, role="table"))


@cache
def _markdown() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": True}).enable("table")


# ------------------------------------------------------------------------------------------ entry point
def slug_of(path: str) -> str:
    """'Teams/Clear-Teams-Cache.md' -> 'teams/clear-teams-cache': a stable id from the path in the tree."""
    p = PurePosixPath(path.replace("\\", "/"))
    stem = p.with_suffix("") if p.suffix.lower() in (".md", ".mdx", ".markdown", ".html", ".htm") else p
    parts = [part for part in stem.parts if part not in ("", ".", "/")]
    slug = "/".join(parts).lower()
    return re.sub(r"[^a-z0-9/._-]+", "-", slug).strip("-/")


_PATH_QID_RE = re.compile(r"^(?:Q|KB)\d{1,7}$", re.IGNORECASE)


def _title_from_first_paragraph(sections: list[_Section]) -> str:
    """A page with neither front matter title nor `#` heading: its first short line is the title, unless it
    only leads into what follows ("Here we list common problems and possible solutions:") or is a sentence of
    the body ("A quick guide to deeply analyze a malfunctioning Rspamd.")."""
    if not sections or sections[0].heading or not sections[0].blocks:
        return ""
    first = sections[0].blocks[0]
    if first.kind != "para" or first.role or len(first.text) > 150 or first.text.rstrip().endswith((":", ".")):
        return ""
    del sections[0].blocks[0]
    return plain_text(first.text)


def _own_headings(sections: list[_Section]) -> dict[str, str]:
    """Section name -> heading as written, for the sections named after their own heading (the first such
    heading, where two share a name)."""
    out: dict[str, str] = {}
    for s in sections:
        if s.heading and s.name not in _CANONICAL_NAMES and s.blocks:
            out.setdefault(s.name, strip_inline_markup(s.heading))
    return out


def _title_from_headings(sections: list[_Section]) -> str:
    """A page with no title of its own and one heading: that heading says what the page is about."""
    headed = [s for s in sections if s.heading]
    return headed[0].heading if len(headed) == 1 and headed[0].name not in _CANONICAL_NAMES else ""


_PAGE_SUFFIX_RE = re.compile(r"(?:\.(?:md|mdx|markdown|html?|txt))+$", re.IGNORECASE)
_LOCALE_SUFFIX_RE = re.compile(r"\.[a-z]{2}(?:[-_][a-z]{2})?$", re.IGNORECASE)  # "debug-reset_pw.en"


def _title_from_path(path: str) -> str:
    """The file's name as words: 'troubleshooting/debug-reset_pw.en.md' -> 'Debug reset pw'."""
    name = PurePosixPath(path.replace("\\", "/").rsplit("!", 1)[-1]).name
    name = _LOCALE_SUFFIX_RE.sub("", _PAGE_SUFFIX_RE.sub("", name))
    words = " ".join(re.split(r"[-_\s]+", name)).strip()
    return words[:1].upper() + words[1:]


def _walk(body: str) -> _Walk:
    tokens = _markdown().parse(body)
    # sections are the shallowest headings below the title: "##" usually, "###" in pages that skip a level
    levels = {int(t.tag[1]) for t in tokens if t.type == "heading_open"}
    levels |= {int(m.group(1)) for t in tokens if t.type == "html_block"
               for m in [_HTML_HEADING_RE.match(t.content.strip())] if m}
    below_title = sorted(levels - {1})
    walk = _Walk(tokens=tokens, section_level=below_title[0] if below_title else 2)
    walk.run()
    return walk


def _article_id(front: dict[str, Any], *, stated: str, source: str, slug: str) -> str:
    """In order: an explicit id in front matter, a KB number the page states, a Q-number folder or file name
    (kb/001/Q1234/README.md, as the 1999 archive lays pages out), the path slug."""
    explicit = next((s for k in _ID_KEYS for s in _strings(front.get(k))), "")
    in_path = next((q for part in reversed(PurePosixPath(source.rsplit("!", 1)[-1]).parts)
                    if _PATH_QID_RE.match(part) and (q := normalise_qid(part))), "")
    return explicit or stated or in_path or slug


def parse_markdown_doc(
    text: str,
    *,
    source: str = "",
    path: str = "",
    includes: Mapping[str, str] | None = None,
    url_template: str | None = None,
) -> Draft:
    """One modern Markdown page -> a Draft with prebuilt blocks.

    `path` is the file's path inside the tree being indexed (the slug id and `{path}` of `url_template` come
    from it); `includes` maps include targets as written in the page to their text."""
    front, body = split_front_matter(text.replace("\r\n", "\n"))
    kb_number = _KB_NUMBER_RE.search(body)
    docfx = expand_docfx(_APPLIES_LINE_RE.sub("", _KB_NUMBER_RE.sub("", body)), includes or {})
    walk = _walk(expand_flavours(docfx, mdx=(path or source).lower().endswith(".mdx")))
    fm = {str(k).lower(): v for k, v in front.items()}
    title = _tidy(html.unescape(" ".join(_strings(fm.get("title"))))) or walk.title
    if not title:
        title = _title_from_first_paragraph(walk.sections) or _title_from_headings(walk.sections)
    slug = slug_of(path or source.rsplit("!", 1)[-1])
    stated = f"KB{int(kb_number.group(1))}" if kb_number else ""
    article_id = _article_id(fm, stated=stated, source=source, slug=slug)
    aliases = [slug, slug.rsplit("/", 1)[-1], stated]
    url = next((s for k in _URL_KEYS for s in _strings(fm.get(k))), None)
    if url is None and url_template:
        rel = str(PurePosixPath(path or slug).with_suffix(""))
        url = url_template.format(path=rel, slug=slug, id=article_id)
    products = [s for k in _PRODUCT_KEYS for s in _strings(fm.get(k))]
    keywords = [*_strings(fm.get("keywords")), *_strings(fm.get("tags"))]
    description = " ".join(_strings(fm.get("description") or fm.get("summary")))
    if description:
        keywords.append(_tidy(description))
    return Draft(
        id=article_id,
        title=title or _title_from_path(path or source) or slug,
        format=FORMAT,
        source=source,
        product=products[0] if products else "",
        versions=tuple(products[1:]),
        keywords=keywords,
        blocks=[(s.name, s.blocks) for s in walk.sections if s.blocks],
        wrapped=False,
        modern=True,
        url=url,
        aliases=tuple(a for a in dict.fromkeys(aliases) if a and a != article_id),
        headings=_own_headings(walk.sections),
    )
