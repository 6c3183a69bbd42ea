"""HTML knowledge-base pages (saved web pages, a Confluence space export) and the HTML bodies of help-centre
exports: one article per page.

Read with selectolax (the Lexbor engine: a well-kept, fast HTML5 parser that copes with the broken markup
real exports carry). Navigation, headers, footers, scripts and forms are dropped; what is left is written as
Markdown — headings, paragraphs, nested lists, code, tables, links, emphasis — and read by the Markdown
reader, so a page's sections, procedures and error signatures follow exactly the rules of `markdown_doc`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from selectolax.lexbor import LexborHTMLParser, LexborNode

from kbbot.errors import ParseError
from kbbot.parse.assemble import Draft
from kbbot.parse.markdown_doc import parse_markdown_doc

FORMAT = "html"
# page furniture, never article content
_DROP = frozenset({"nav", "header", "footer", "script", "style", "noscript", "form", "aside", "button", "iframe",
                   "svg", "template", "select", "input", "head"})
_DROP_ROLES = frozenset({"navigation", "banner", "contentinfo", "search", "complementary"})
_BLOCKS = frozenset({"p", "div", "section", "article", "main", "body", "figure", "figcaption", "dl", "dd", "dt",
                     "center", "details", "summary", "span"})
_ESCAPE_RE = re.compile(r"([\\`*_\[\]<>])")
_SPACE_RE = re.compile(r"\s+")
_LINE_START_RE = re.compile(r"^(\s*)([#>+-]|\d+[.)])(?=\s)", re.MULTILINE)


def _escape(text: str) -> str:
    return _ESCAPE_RE.sub(r"\\\1", text)


def _dropped(node: LexborNode) -> bool:
    if node.tag in _DROP:
        return True
    attrs = node.attributes
    role = (attrs.get("role") or "").lower()
    classes = f" {(attrs.get('class') or '').lower()} "
    return role in _DROP_ROLES or any(f" {c} " in classes for c in ("breadcrumb", "breadcrumbs", "sidebar", "toc"))


@dataclass(slots=True)
class _Writer:
    """DOM -> Markdown, depth-first."""

    def inline(self, node: LexborNode) -> str:
        return "".join(self.inline_node(child) for child in node.iter(include_text=True))

    def inline_node(self, child: LexborNode) -> str:
        tag = child.tag or ""
        if tag == "-text":
            return _escape(_SPACE_RE.sub(" ", child.text(deep=False) or ""))
        if _dropped(child) or tag in ("ul", "ol", "pre", "table", "blockquote"):
            return ""
        if tag == "br":
            return " "
        if tag in ("strong", "b", "em", "i"):
            inner = self.inline(child).strip()
            mark = "**" if tag in ("strong", "b") else "*"
            return f"{mark}{inner}{mark}" if inner else ""
        if tag in ("code", "kbd", "samp", "tt"):
            code = (child.text() or "").strip().replace("`", "'")
            return f"`{code}`" if code else ""
        if tag == "a":
            inner = self.inline(child).strip()
            href = (child.attributes.get("href") or "").strip()
            return f"[{inner}]({href})" if inner and href.startswith(("http://", "https://")) else inner
        if tag == "img":
            return _escape(child.attributes.get("alt") or "")
        return self.inline(child)

    def blocks(self, node: LexborNode, indent: str = "") -> list[str]:
        """Markdown lines for a container's children; paragraphs separated by blank lines."""
        out: list[str] = []
        run: list[LexborNode] = []  # inline content waiting to become a paragraph

        def flush() -> None:
            text = _SPACE_RE.sub(" ", "".join(self.inline_node(n) for n in run)).strip()
            run.clear()
            if text:
                # a paragraph starting "1." or "-" must not turn into a list
                out.extend([indent + _LINE_START_RE.sub(r"\1\\\2", text), ""])

        for child in node.iter(include_text=True):
            tag = child.tag or ""
            if tag == "-text" or tag in ("a", "b", "strong", "em", "i", "code", "kbd", "span", "img", "br", "sup",
                                         "sub", "u", "small", "abbr", "font", "mark", "samp", "tt"):
                run.append(child)
                continue
            flush()
            if _dropped(child):
                continue
            if re.fullmatch(r"h[1-6]", tag):
                text = _SPACE_RE.sub(" ", self.inline(child)).strip()
                if text:
                    out.extend([f"{'#' * int(tag[1])} {text}", ""])
            elif tag in ("ul", "ol"):
                out.extend(self.list_(child, ordered=tag == "ol", indent=indent))
            elif tag == "pre":
                code = (child.text() or "").rstrip("\n")
                if code.strip():
                    out.extend([f"{indent}```", *(indent + ln for ln in code.split("\n")), f"{indent}```", ""])
            elif tag == "table":
                out.extend(self.table(child, indent))
            elif tag == "blockquote":
                out.extend(f"{indent}> {ln}".rstrip() for ln in self.blocks(child))
                out.append("")
            elif tag == "hr":
                continue
            else:
                out.extend(self.blocks(child, indent))
        flush()
        return out

    def list_(self, node: LexborNode, *, ordered: bool, indent: str) -> list[str]:
        out: list[str] = []
        number = 1
        for item in node.iter():
            if item.tag != "li":
                continue
            marker = f"{number}. " if ordered else "- "
            number += 1
            inner = self.blocks(item, "")
            while inner and not inner[0].strip():
                inner.pop(0)
            pad = " " * len(marker)
            first = True
            for line in inner or [""]:
                if first:
                    out.append(f"{indent}{marker}{line}")
                    first = False
                else:
                    out.append(f"{indent}{pad}{line}" if line.strip() else "")
            out.append("")
        return out

    def table(self, node: LexborNode, indent: str) -> list[str]:
        rows = []
        for tr in node.css("tr"):
            cells = [_SPACE_RE.sub(" ", self.inline(td)).strip().replace("|", "/") for td in tr.css("th, td")]
            if any(cells):
                rows.append(cells)
        if not rows:
            return []
        width = max(len(r) for r in rows)
        lines = [f"{indent}| " + " | ".join(r + [""] * (width - len(r))) + " |" for r in rows]
        lines.insert(1, f"{indent}|" + " --- |" * width)
        return [*lines, ""]


def html_to_markdown(html_text: str) -> tuple[str, dict[str, str]]:
    """The page's content as Markdown, and what its <head> says (title, description, url)."""
    tree = LexborHTMLParser(html_text)
    meta: dict[str, str] = {}
    title = tree.css_first("title")
    if title is not None and (title.text() or "").strip():
        meta["title"] = _SPACE_RE.sub(" ", title.text()).strip()
    for node in tree.css("meta[name], meta[property]"):
        key = (node.attributes.get("name") or node.attributes.get("property") or "").lower()
        value = (node.attributes.get("content") or "").strip()
        if value and key in ("description", "og:description", "keywords", "og:url", "og:title"):
            meta.setdefault(key.removeprefix("og:"), value)
    canonical = tree.css_first("link[rel=canonical]")
    if canonical is not None and (canonical.attributes.get("href") or "").startswith(("http://", "https://")):
        meta["url"] = canonical.attributes.get("href") or ""
    root = tree.css_first("main") or tree.css_first("article") or tree.css_first("[role=main]") or tree.body
    if root is None:
        return "", meta
    if root.css_first("h1") is not None:
        # the page's own heading names the article; <title> usually carries the site name too
        meta.pop("title", None)
    lines = _Writer().blocks(root)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n", meta


def parse_html(
    text: str,
    *,
    source: str = "",
    path: str = "",
    url_template: str | None = None,
    front: dict[str, str] | None = None,
) -> Draft:
    """One HTML page -> a Draft. `front` supplies what an export knows about the article beyond its body
    (id, title, url), as front matter would."""
    body, meta = html_to_markdown(text)
    facts = {**meta, **(front or {})}
    if not body.strip() and not facts.get("title"):
        raise ParseError("HTML page without content")
    front_matter = "".join(f"{key}: {_yaml_scalar(value)}\n" for key, value in facts.items() if value)
    draft = parse_markdown_doc(f"---\n{front_matter}---\n{body}" if front_matter else body, source=source,
                               path=path, url_template=url_template)
    draft.format = FORMAT
    return draft


def _yaml_scalar(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'
