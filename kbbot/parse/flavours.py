"""The Markdown flavours teams write their docs in, rewritten as the CommonMark the Markdown reader walks.

A page written for a site generator carries that generator's syntax, which CommonMark reads as text (or as an
indented code block) and a Slack card would show raw:

- Hugo / GitLab shortcodes: `{{< name args >}} ... {{< /name >}}`, `{{% name args %}} ... {{% /name %}}`.
  Callout-like ones (note, warning, alert type="...", details ...) become a callout; other paired ones keep
  their body; a standalone one is dropped unless it carries text for the reader (`text="kubectl"`), and
  `## {{% heading "prerequisites" %}}` is the heading "Prerequisites".
- MDX / Docusaurus: top-level `import` / `export` lines and `{/* ... */}` comments go; JSX components (a
  capitalised tag name) are unwrapped: their tags go, their content stays (dedented: MDX has no indented
  code), a `question=` / `header=` / `title=` / `label=` argument becoming a bold lead line; an
  `<Admonition type="...">` becomes a callout; a self-closing one becomes its text-like argument.
- MkDocs-Material: `!!! type "Title"` / `??? type` / `???+ type` admonitions become a callout, `=== "Tab"`
  content tabs a bold lead line; their indented bodies are dedented and read as Markdown, not as code.
- HTML comments go, and footnotes: a reference `[^1]` is dropped, its definition `[^1]: text` becomes a note
  where it stands.

Every callout becomes a `> [!NOTE]` / `> [!WARNING]` / `> [!IMPORTANT]` blockquote, which the reader already
makes one labelled note of. Code is never touched: fenced code blocks (however indented, or inside a callout
written here) and inline code spans pass through as they are.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

# --- what a callout of any flavour is labelled ---------------------------------------------------------------
# a kind (MkDocs admonition type, shortcode name or type=, JSX component name or type=) -> the DocFX callout
# marker the reader turns into "Note:" / "Warning:" / "Important:"; a kind not listed is a note
_WARNING_KINDS = frozenset({"warning", "caution", "attention", "danger", "error", "failure", "fail", "missing",
                            "bug"})
_IMPORTANT_KINDS = frozenset({"important"})
# shortcode names and JSX component names (lower-cased) that are callouts themselves ...
_CALLOUT_NAMES = frozenset({"note", "info", "tip", "hint", "details", "warning", "caution", "danger",
                            "important", "attention"})
# ... and the ones whose kind is their `type=` (or first) argument
_TYPED_CALLOUT_NAMES = frozenset({"alert", "admonition", "callout", "notice", "aside"})
_MARKER_LABEL = {"NOTE": "Note", "WARNING": "Warning", "IMPORTANT": "Important"}

# arguments that name a wrapped block (shown as its bold lead line) or carry the text a self-closing
# component shows, in order of preference
_LEAD_KEYS = ("question", "header", "title", "label", "summary")
_TEXT_KEYS = ("text", "label", "title", "path")

# Hugo's `heading` shortcode: the page's standard section headings, by key
_HEADINGS = {"prerequisites": "Prerequisites", "whatsnext": "What's next", "objectives": "Objectives",
             "cleanup": "Clean up", "synopsis": "Synopsis", "options": "Options", "seealso": "See also"}


def _marker(kind: str) -> str:
    kind = kind.lower()
    if kind in _WARNING_KINDS:
        return "WARNING"
    return "IMPORTANT" if kind in _IMPORTANT_KINDS else "NOTE"


# --- lines, indentation and code -----------------------------------------------------------------------------
# a fence opener, also inside a blockquote this module wrote (`> ```bash`)
_FENCE_RE = re.compile(r"^[ \t>]*(`{3,}|~{3,})")


def _width(line: str) -> int:
    """Columns of leading white space (a tab to the next multiple of 4)."""
    col = 0
    for ch in line:
        if ch == " ":
            col += 1
        elif ch == "\t":
            col += 4 - col % 4
        else:
            break
    return col


def _dedent(line: str, cols: int) -> str:
    """`line` with up to `cols` columns of leading white space removed (tabs expanded first)."""
    lead = len(line) - len(line.lstrip(" \t"))
    spaces = " " * _width(line[:lead] + "x")
    return spaces[min(cols, len(spaces)):] + line[lead:]


def _closes(line: str, fence: str) -> bool:
    bare = line.strip().lstrip("> \t")
    return bare.startswith(fence) and not bare.strip(fence[0]).strip()


def _fence_end(lines: list[str], i: int) -> int:
    """The index after the fenced block opening at line `i` (its closing line, or the end)."""
    m = _FENCE_RE.match(lines[i])
    assert m is not None
    fence = m.group(1)
    j = i + 1
    while j < len(lines) and not _closes(lines[j], fence):
        j += 1
    return min(j + 1, len(lines))


def _runs(text: str) -> Iterator[tuple[bool, str]]:
    """`text` as (is_code, piece) runs: fenced code blocks and the prose between them, each piece whole lines
    (pieces joined give `text` back)."""
    lines = text.split("\n")
    i = start = 0
    while i < len(lines):
        if _FENCE_RE.match(lines[i]):
            if i > start:
                yield False, "\n".join(lines[start:i]) + "\n"
            end = _fence_end(lines, i)
            yield True, "\n".join(lines[i:end]) + ("\n" if end < len(lines) else "")
            i = start = end
        else:
            i += 1
    if start < len(lines):
        yield False, "\n".join(lines[start:])


_CODE_SPAN_RE = re.compile(r"(`+)(?:[^`\n]|(?!\1)`)+?\1(?!`)")


def _outside_code(text: str, edit: Callable[[str], str]) -> str:
    """`edit` applied to the prose of `text`: fenced code blocks and inline code spans stay as they are."""
    return "".join(piece if code else _spans_hidden(piece, edit) for code, piece in _runs(text))


_PLACEHOLDER_RE = re.compile("\ue001(\\d+)\ue002")


def _spans_hidden(prose: str, edit: Callable[[str], str]) -> str:
    """`edit` applied to `prose` while each inline code span in it stands as a private-use placeholder."""
    spans = [m.group(0) for m in _CODE_SPAN_RE.finditer(prose)]
    if not spans:
        return edit(prose)
    numbers = iter(range(len(spans)))
    hidden = _CODE_SPAN_RE.sub(lambda _: f"\ue001{next(numbers)}\ue002", prose)
    return _PLACEHOLDER_RE.sub(lambda m: spans[int(m.group(1))], edit(hidden))


# --- arguments -----------------------------------------------------------------------------------------------
_ARG_RE = re.compile(r"""([\w:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|\{\s*["'`]([^"'`]*)["'`]\s*\}|([^\s"'{}>]+))"""
                     r"""|"([^"]*)"|'([^']*)'|([^\s"'=]+)""")


def _args(text: str) -> tuple[dict[str, str], list[str]]:
    """`key="value"` arguments (also `key={"value"}`) and the positional ones, of a shortcode or a tag."""
    named: dict[str, str] = {}
    positional: list[str] = []
    for m in _ARG_RE.finditer(text):
        if m.group(1):
            value = next((g for g in m.group(2, 3, 4, 5) if g is not None), "")
            named[m.group(1).lower()] = value
        else:
            positional.append(next(g for g in m.group(6, 7, 8) if g is not None))
    return named, positional


def _lead(named: dict[str, str]) -> str:
    return next((named[k].strip() for k in _LEAD_KEYS if named.get(k, "").strip()), "")


def _md_text(text: str) -> str:
    """An argument's words as Markdown text: characters Markdown would read as markup are escaped."""
    return re.sub(r"([\\`*_\[\]<>])", r"\\\1", " ".join(text.split()))


def _bold(text: str) -> str:
    return f"**{_md_text(text)}**"


def _callout(indent: str, marker: str, title: str, body: list[str], *, kind: str = "") -> list[str]:
    """A `> [!MARKER]` blockquote at `indent`: the title as its bold first line (unless it only repeats the
    label or the callout's `kind`, as `!!! tip "Tip"` does), then the body."""
    while body and not body[0].strip():
        body = body[1:]
    while body and not body[-1].strip():
        body = body[:-1]
    label = _MARKER_LABEL[marker]
    title = title.strip()
    if title.lower().rstrip(":") in (label.lower(), marker.lower(), kind.lower()):
        title = ""
    elif title.lower().startswith(label.lower() + ":"):
        title = title[len(label) + 1:].strip()  # "Warning: Open relay risk" under a warning
    if not body and not title:
        return [""]
    head = [f"{indent}> [!{marker}]"] + ([f"{indent}> {_bold(title)}"] if title else [])
    if title and body:
        head.append(f"{indent}>")
    return ["", *head, *(f"{indent}> {ln}".rstrip() if ln.strip() else f"{indent}>" for ln in body), ""]


def _placed(indent: str, lead: str, body: list[str]) -> list[str]:
    """An unwrapped block: its bold lead line (if any) and its body, set off by blank lines."""
    out = [""]
    if lead:
        out += [f"{indent}{_bold(lead)}", ""]
    return out + [f"{indent}{ln}" if ln.strip() else "" for ln in body] + [""]


# --- MkDocs-Material -----------------------------------------------------------------------------------------
_ADMONITION_RE = re.compile(
    r"^([ \t]*)(?:!!!|\?\?\?\+?)[ \t]*([\w-]+)(?:[ \t]+[\w-]+)*(?:[ \t]+\"([^\"]*)\")?[ \t]*$"
)
_TAB_RE = re.compile(r"^([ \t]*)===[+!]?[ \t]+\"([^\"]*)\"[ \t]*$")


def _indented_body(lines: list[str], i: int, cols: int) -> int:
    """The end of the block indented by at least `cols` columns that starts at line `i` (trailing blank lines
    are not part of it)."""
    j = end = i
    while j < len(lines) and (not lines[j].strip() or _width(lines[j]) >= cols):
        j += 1
        if lines[j - 1].strip():
            end = j
    return end


# --- Hugo / GitLab shortcodes --------------------------------------------------------------------------------
# possessive: a long run of spaces inside `{{< ... >}}` is read once, not tried every way
_SHORTCODE_ARGS = r"(?:\"[^\"]*+\"|'[^']*+'|[^\"'{}<>%/]|/(?!\s*+-?[>%]\}\}))*+"
_SHORTCODE = (r"\{\{(?:<|%)-?\s*+(?:(?P<close>/)\s*+)?(?P<name>[A-Za-z][\w./-]*+)"
              r"(?P<args>" + _SHORTCODE_ARGS + r")(?P<self>/)?\s*+-?(?:>|%)\}\}")
_SHORTCODE_LINE_RE = re.compile(r"^([ \t]*)" + _SHORTCODE + r"[ \t]*$")


def _shortcode_callout(name: str, named: dict[str, str], positional: list[str]) -> str | None:
    """The callout marker of a callout-like shortcode or component, None for any other."""
    lower = name.lower()
    if lower in _CALLOUT_NAMES:
        return _marker(lower)
    if lower in _TYPED_CALLOUT_NAMES:
        return _marker(named.get("type") or named.get("variant") or (positional[0] if positional else "note"))
    return None


def _shortcode_close(lines: list[str], i: int, name: str) -> int | None:
    """The line of the `{{< /name >}}` that closes the one opened at line `i` (same-name pairs nest)."""
    depth = 0
    j = i + 1
    while j < len(lines):
        if _FENCE_RE.match(lines[j]):
            j = _fence_end(lines, j)
            continue
        m = _SHORTCODE_LINE_RE.match(lines[j])
        if m and m.group("name") == name and not m.group("self"):
            if m.group("close"):
                if depth == 0:
                    return j
                depth -= 1
            else:
                depth += 1
        j += 1
    return None


def _shortcode_text(m: re.Match[str]) -> str:
    """What a standalone shortcode leaves in the text: the heading it names, the text it carries, or nothing
    (`include` and `codenew` pull in files from the site's tree, which is not here)."""
    name = m.group("name").lower()
    named, positional = _args(m.group("args"))
    if name == "heading" and positional:
        key = positional[0].lower()
        return _HEADINGS.get(key, key.capitalize())
    if named.get("text", "").strip():
        return _md_text(named["text"])
    if name == "glossary_tooltip" and named.get("term_id"):
        return _md_text(named["term_id"].replace("-", " ").replace("_", " "))
    return ""


# --- MDX / JSX -----------------------------------------------------------------------------------------------
_JSX_START_RE = re.compile(r"^([ \t]*)<(/?)([A-Z][\w.]*)(?=[\s/>]|$)")
_JSX_NAME_RE = re.compile(r"(?<!\\)<(/?)([A-Z][\w.]*)(?=[\s/>]|$)")  # `\<Type>` is the text "<Type>"
_IMPORT_RE = re.compile(r"^import\s+(?:[\w$]+\s*,?\s*)?(?:\*\s+as\s+[\w$]+|\{[^}]*\})?\s*(?:from\s+)?"
                        r"[\"'][^\"']+[\"'];?[ \t]*$")
_EXPORT_RE = re.compile(r"^export\s+(?:const|let|var|function|class|default|async|\{|\*)")


@dataclass(frozen=True, slots=True)
class _Tag:
    name: str
    closing: bool
    self_closing: bool
    args: str
    end: int  # offset just past the tag's `>`


def _jsx_tag(text: str, pos: int) -> _Tag | None:
    """The JSX tag starting at `text[pos]` (a `<`): its attributes may span lines and hold `>` inside quotes
    or `{...}`; None if it is no tag."""
    m = _JSX_NAME_RE.match(text, pos)
    if m is None:
        return None
    i, n = m.end(), len(text)
    while i < n:
        ch = text[i]
        if ch in "\"'":
            close = text.find(ch, i + 1)
            if close < 0:
                return None
            i = close + 1
        elif ch == "{":
            depth = 0
            while i < n:
                depth += {"{": 1, "}": -1}.get(text[i], 0)
                i += 1
                if depth == 0:
                    break
            if depth:
                return None
        elif ch == ">" or text.startswith("/>", i):
            self_closing = ch == "/"
            end = i + (2 if self_closing else 1)
            args = text[m.end(): i]
            return _Tag(name=m.group(2), closing=bool(m.group(1)), self_closing=self_closing, args=args, end=end)
        elif ch == "<":
            return None
        else:
            i += 1
    return None


def _component_names(text: str) -> frozenset[str]:
    """The JSX components an MDX page uses: capitalised names that are closed (`</Tabs>`) or self-closing
    (`<NavPath ... />`). A capitalised name in angle brackets that is neither is a placeholder (`<ServerName>`),
    not JSX."""
    names = set()
    for code, piece in _runs(text):
        if code:
            continue
        for m in _JSX_NAME_RE.finditer(piece):
            if m.group(1):
                names.add(m.group(2))
            else:
                tag = _jsx_tag(piece, m.start())
                if tag is not None and tag.self_closing:
                    names.add(tag.name)
    return frozenset(names)


def _self_closing_text(tag: _Tag) -> str:
    named, _ = _args(tag.args)
    return next((_md_text(named[k]) for k in _TEXT_KEYS if named.get(k, "").strip()), "")


def _jsx_close(lines: list[str], i: int, name: str) -> int | None:
    """The line, from line `i` on, starting with the `</Name>` that closes a component opened before it; None
    if the closing tag is not at the start of a line."""
    depth = 0
    j = i
    while j < len(lines):
        if _FENCE_RE.match(lines[j]):
            j = _fence_end(lines, j)
            continue
        for m in _JSX_NAME_RE.finditer(lines[j]):
            if m.group(2) != name:
                continue
            if m.group(1):
                if depth == 0:
                    return j if not lines[j][: m.start()].strip() else None
                depth -= 1
            else:
                tag = _jsx_tag(lines[j], m.start())
                if tag is None or not tag.self_closing:
                    depth += 1
        j += 1
    return None


def _body_indent(lines: list[str]) -> int:
    """The indentation a JSX component's body shares; fenced code inside it is not counted (MDX writers start
    a fence, or its content, at the margin while the prose around it is indented), unless it is all there is."""
    prose, fences = [], []
    i = 0
    while i < len(lines):
        if _FENCE_RE.match(lines[i]):
            fences.append(_width(lines[i]))
            i = _fence_end(lines, i)
            continue
        if lines[i].strip():
            prose.append(_width(lines[i]))
        i += 1
    return min(prose or fences or [0])


def _dedent_body(lines: list[str], cols: int) -> list[str]:
    """`lines` dedented by `cols` columns; a fenced block's content by its fence's dedent, at most."""
    out: list[str] = []
    i = 0
    while i < len(lines):
        if _FENCE_RE.match(lines[i]):
            end = _fence_end(lines, i)
            cut = min(cols, _width(lines[i]))
            out += [_dedent(ln, cut) for ln in lines[i:end]]
            i = end
        else:
            out.append(_dedent(lines[i], cols))
            i += 1
    return out


# --- the block pass ------------------------------------------------------------------------------------------
_FOOTNOTE_DEF_RE = re.compile(r"^ {0,3}\[\^([^\]\s]+)\]:[ \t]?(.*)$")


@dataclass(slots=True)
class _Page:
    components: frozenset[str]
    footnotes: set[str]
    depth: int = 0  # how many constructs the block pass is inside


# constructs nested deeper than this are left as they are written (no page nests callouts this deep; the limit
# keeps a hostile page from exhausting the stack)
_MAX_NESTING = 12


def _blocks(lines: list[str], page: _Page, *, top: bool, jsx_indent: int | None = None) -> list[str]:
    """Block constructs rewritten, outermost first, their bodies recursively. `top`: at the page's own
    level (where MDX `import` / `export` lines live); `jsx_indent`: inside a JSX component, the column its
    content goes to (the nesting of JSX tags is not Markdown indentation)."""
    if page.depth >= _MAX_NESTING:
        return lines
    page.depth += 1
    try:
        return _rewrite(lines, page, top=top, jsx_indent=jsx_indent)
    finally:
        page.depth -= 1


def _rewrite(lines: list[str], page: _Page, *, top: bool, jsx_indent: int | None) -> list[str]:
    out: list[str] = []
    i = 0
    previous_blank = True
    while i < len(lines):
        line = lines[i]
        if _FENCE_RE.match(line):
            end = _fence_end(lines, i)
            out += lines[i:end]
            i, previous_blank = end, False
            continue
        step = _block(lines, i, page, top=top and previous_blank, jsx_indent=jsx_indent)
        if step is None and jsx_indent is not None and _HTML_TAG_LINE_RE.match(line):
            # an HTML element wrapping a component's content (`<div className="...">`): MDX reads it as JSX,
            # so its indentation is the JSX nesting, not Markdown's
            step = [" " * jsx_indent + line.strip()], i + 1
        if step is None:
            out.append(line)
            previous_blank = not line.strip()
            i += 1
        else:
            replacement, i = step
            out += replacement
            previous_blank = True
    return out


def _block(
    lines: list[str], i: int, page: _Page, *, top: bool, jsx_indent: int | None
) -> tuple[list[str], int] | None:
    """The construct starting at line `i`, rewritten, and the line after it; None if none starts there."""
    line = lines[i]
    m = _ADMONITION_RE.match(line) or _TAB_RE.match(line)
    if m:
        indent = m.group(1)
        cols = _width(indent) + 4
        end = _indented_body(lines, i + 1, cols)
        if end == i + 1:
            return None  # no indented body: a line of the page's own ("!!! Warning"), not an admonition
        body = _blocks([_dedent(ln, cols) for ln in lines[i + 1: end]], page, top=False)
        if m.re is _TAB_RE:
            return _placed(indent, m.group(2), body), end
        return _callout(indent, _marker(m.group(2)), m.group(3) or "", body, kind=m.group(2)), end
    m = _FOOTNOTE_DEF_RE.match(line)
    if m and m.group(1) in page.footnotes:
        end = i + 1
        while end < len(lines) and lines[end].strip() and (
            _width(lines[end]) >= 4 or not _starts_block(lines[end])
        ):
            end += 1
        more = _indented_body(lines, end, 4)
        body = [m.group(2), *(ln.strip() for ln in lines[i + 1: end]), *(_dedent(ln, 4) for ln in lines[end:more])]
        return _callout("", "NOTE", "", _blocks(body, page, top=False)), more
    m = _SHORTCODE_LINE_RE.match(line)
    if m and not m.group("close") and not m.group("self"):
        close = _shortcode_close(lines, i, m.group("name"))
        if close is not None:
            indent = m.group(1)
            cols = _width(indent)
            body = _blocks([_dedent(ln, cols) for ln in lines[i + 1: close]], page, top=False)
            named, positional = _args(m.group("args"))
            marker = _shortcode_callout(m.group("name"), named, positional)
            lead = _lead(named) or (named.get("name", "") if m.group("name").lower() == "tab" else "")
            if marker:
                return _callout(indent, marker, lead, body), close + 1
            return _placed(indent, lead, body), close + 1
    m = _JSX_START_RE.match(line)
    if m and m.group(3) in page.components:
        return _jsx_block(lines, i, page, jsx_indent=jsx_indent)
    if top and line.startswith(("import ", "export ")):
        statement_end = _module_statement(lines, i)
        if statement_end is not None:
            return [""], statement_end
    return None


_HTML_TAG_LINE_RE = re.compile(r"^[ \t]*</?[a-z][\w-]*(?:\s[^<>]*)?/?>[ \t]*$")
_BLOCK_START_RE = re.compile(r"^ {0,3}(?:[-+*]\s|\d{1,9}[.)]\s|#{1,6}\s|>|```|~~~|\[\^[^\]\s]+\]:)")


def _starts_block(line: str) -> bool:
    return bool(_BLOCK_START_RE.match(line))


def _module_statement(lines: list[str], i: int) -> int | None:
    """The line after the MDX `import` / `export` statement at line `i` (it may span lines); None if the line
    is prose ("import the certificate")."""
    if lines[i].startswith("import "):
        for end in range(i + 1, min(len(lines), i + 30) + 1):
            if _IMPORT_RE.match(" ".join(ln.strip() for ln in lines[i:end])):
                return end
        return None
    if not _EXPORT_RE.match(lines[i]):
        return None
    depth = 0
    for end in range(i, len(lines)):
        for ch in lines[end]:
            depth += {"{": 1, "(": 1, "[": 1, "}": -1, ")": -1, "]": -1}.get(ch, 0)
        if depth <= 0:
            return end + 1
    return None


def _jsx_block(lines: list[str], i: int, page: _Page, *, jsx_indent: int | None) -> tuple[list[str], int] | None:
    """A JSX tag at the start of line `i`: a component's opening tag with its content up to its closing tag,
    a self-closing component, or a closing tag whose opening one was inline."""
    m = _JSX_START_RE.match(lines[i])
    assert m is not None
    window = "\n".join(lines[i: i + 40])
    tag = _jsx_tag(window, len(m.group(1)))
    if tag is None:
        return None
    tag_end = i + window.count("\n", 0, tag.end)  # the line the tag ends on
    rest = lines[tag_end][len(window[: tag.end].rsplit("\n", 1)[-1]):]
    indent_cols = _width(m.group(1)) if jsx_indent is None else jsx_indent
    indent = " " * indent_cols
    if tag.closing or tag.self_closing:
        text = "" if tag.closing else _self_closing_text(tag)
        kept = (text + rest).strip()
        return ([f"{indent}{kept}"] if kept else [""]), tag_end + 1
    close = _jsx_close(lines, tag_end + 1, tag.name) if not rest.strip() else None
    if close is None:
        # content on the tag's own line, or no closing tag at the start of a line: the tag goes, the lines stay
        named, _ = _args(tag.args)
        lead = _lead(named)
        kept = (f"{_bold(lead)} " if lead else "") + rest.strip()
        return ([f"{indent}{kept}"] if kept.strip() else [""]), tag_end + 1
    body = lines[tag_end + 1: close]
    after = _JSX_START_RE.match(lines[close])
    assert after is not None
    closing = _jsx_tag(lines[close], len(after.group(1)))
    tail = lines[close][closing.end:].strip() if closing is not None else ""
    body = _dedent_body(body, _body_indent(body))
    body = _blocks(body, page, top=False, jsx_indent=0)
    named, positional = _args(tag.args)
    marker = _shortcode_callout(tag.name, named, positional)
    lead = _lead(named)
    out = _callout(indent, marker, lead, body) if marker else _placed(indent, lead, body)
    return out + ([f"{indent}{tail}"] if tail else []), close + 1


# --- the inline pass -----------------------------------------------------------------------------------------
_HTML_COMMENT_RE = re.compile(r"<!--.*?-->", re.DOTALL)
_MDX_COMMENT_RE = re.compile(r"\{/\*.*?\*/\}", re.DOTALL)
_PAIRED_SHORTCODE_RE = re.compile(
    r"\{\{(?:<|%)-?\s*+(?P<name>[A-Za-z][\w./-]*+)(?P<args>" + _SHORTCODE_ARGS + r")-?(?:>|%)\}\}"
    r"(?P<body>.{0,4000}?)\{\{(?:<|%)-?\s*+/\s*+(?P=name)\s*+-?(?:>|%)\}\}",  # a body of a few paragraphs at most
    re.DOTALL,
)
_CLOSER_RE = re.compile(r"\{\{(?:<|%)-?\s*+/")
_WRAPPED_SHORTCODE_RE = re.compile(r"(?P<lp>\(\s*)?" + _SHORTCODE + r"(?P<rp>\s*\))?")
_FOOTNOTE_REF_RE = re.compile(r"\[\^([^\]\s]+)\](?!:)")


def _comments(text: str) -> str:
    return _MDX_COMMENT_RE.sub("", _HTML_COMMENT_RE.sub("", text))


def _inline(text: str, page: _Page) -> str:
    if "{{" in text:
        if _CLOSER_RE.search(text):
            text = _PAIRED_SHORTCODE_RE.sub(_paired_shortcode, text)

        def standalone(m: re.Match[str]) -> str:
            repl = "" if m.group("close") else _shortcode_text(m)
            if not repl and m.group("lp") and m.group("rp"):
                return ""  # "Select **Update now** ({{< icon name="retry" >}})."
            return (m.group("lp") or "") + repl + (m.group("rp") or "")

        text = _WRAPPED_SHORTCODE_RE.sub(standalone, text)
    if page.components and "<" in text:
        text = _inline_jsx(text, page.components)
    if page.footnotes and "[^" in text:
        text = _FOOTNOTE_REF_RE.sub(lambda m: "" if m.group(1) in page.footnotes else m.group(0), text)
    return text


def _paired_shortcode(m: re.Match[str]) -> str:
    named, positional = _args(m.group("args"))
    marker = _shortcode_callout(m.group("name"), named, positional)
    body = m.group("body").strip()
    return f"{_MARKER_LABEL[marker]}: {body}" if marker and body else body


def _inline_jsx(text: str, components: frozenset[str]) -> str:
    out = []
    at = 0
    for m in _JSX_NAME_RE.finditer(text):
        if m.start() < at or m.group(2) not in components:
            continue
        tag = _jsx_tag(text, m.start())
        if tag is None:
            continue
        out.append(text[at: m.start()])
        if tag.self_closing:
            out.append(_self_closing_text(tag))
        elif not tag.closing:
            lead = _lead(_args(tag.args)[0])
            out.append(f"{_bold(lead)} " if lead else "")
        at = tag.end
    out.append(text[at:])
    return "".join(out)


# --- entry point ---------------------------------------------------------------------------------------------
_MODULE_LINE_RE = re.compile(r"^(?:import|export) ", re.MULTILINE)


def _has_module_statement(body: str) -> bool:
    """Does an MDX `import` / `export` statement start a line outside code?"""
    for code, piece in _runs(body):
        if code or not _MODULE_LINE_RE.search(piece):
            continue
        lines = piece.split("\n")
        if any(ln.startswith(("import ", "export ")) and _module_statement(lines, i) is not None
               for i, ln in enumerate(lines)):
            return True
    return False


_TRIGGERS = ("<!--", "{/*", "{{<", "{{%", "!!!", "???", "===", "[^", "import ", "export ")
_JSX_ANYWHERE_RE = re.compile(r"<[A-Z]")


def expand_flavours(body: str, *, mdx: bool = False) -> str:
    """A page's Hugo, GitLab, MDX / Docusaurus and MkDocs-Material syntax rewritten as CommonMark (see the
    module's docstring); a page in plain CommonMark comes back as it was.

    JSX is read in MDX pages only: `mdx` (an `.mdx` file), or a page with a top-level `import` / `export`
    statement or an MDX comment. Elsewhere `<Type>IMAP</Type>` in running text is XML the article quotes."""
    if not any(t in body for t in _TRIGGERS) and not (mdx and _JSX_ANYWHERE_RE.search(body)):
        return body
    mdx = mdx or "{/*" in body or _has_module_statement(body)
    if "<!--" in body or "{/*" in body:
        body = _outside_code(body, _comments)
    components = _component_names(body) if mdx and _JSX_ANYWHERE_RE.search(body) else frozenset()
    footnotes = set()
    if "[^" in body:
        footnotes = {m.group(1) for ln in body.split("\n") if (m := _FOOTNOTE_DEF_RE.match(ln))}
    page = _Page(components=components, footnotes=footnotes)
    lines = _blocks(body.split("\n"), page, top=True)
    return _outside_code("\n".join(lines), lambda prose: _inline(prose, page))
