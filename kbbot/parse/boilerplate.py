"""Recognising the text every KB article carries that is not about the problem: disclaimers, "applies to"
banners, the Keywords/Technology/Version footer, copyright lines, "Additional query words".

Banners and footers are mined for metadata (product, versions, keywords) before they are dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

APPLIES_TO_RE = re.compile(r"^\s*The information in this article applies to\s*:?\s*$", re.IGNORECASE)
ADDITIONAL_QUERY_RE = re.compile(r"^\s*Additional\s+query\s+words\s*:\s*(.*)$", re.IGNORECASE)
# the warranty disclaimer ends every article: nothing after it is content
_DISCLAIMER_RE = re.compile(r"^\s*THE INFORMATION PROVIDED IN THE MICROSOFT KNOWLEDGE BASE", re.IGNORECASE)
# copyright and review-date lines are dropped where they stand (a readme quoted in an article has its own)
_COPYRIGHT_RE = re.compile(
    r"^\s*(?:Copyright\b.*Microsoft|©\s*\d{4}.*Microsoft|\(c\)\s*(?:Microsoft|\d{4})|Last reviewed\s*:|"
    r"Terms of Use\.?\s*$)",
    re.IGNORECASE,
)
# "Keywords          : exc4", "Technology        : kb...", "Version : 4.0", "Platform : WINDOWS", ...
FOOTER_FIELD_RE = re.compile(
    r"^\s*(Keywords|Technology|Version|Platform|Issue type|Solution Type|Component|Hardware|Operating System)"
    r"\s*:\s*(.*)$",
    re.IGNORECASE,
)
_BANNER_ITEM_RE = re.compile(r"^\s*(?:[-•*·]\s*)?(.+?)\s*$")
_VERSION_TAIL_RE = re.compile(
    r"^(?P<product>.*?)(?:,|\s)\s*(?:versions?|vers?\.)\s+(?P<versions>[0-9][\w.,\s/and-]*)$", re.IGNORECASE
)
_VERSION_TOKEN_RE = re.compile(r"\d+(?:\.\d+)*[a-z]?", re.IGNORECASE)


def is_disclaimer(line: str) -> bool:
    return bool(_DISCLAIMER_RE.match(line))


def is_copyright(line: str) -> bool:
    """A standalone copyright / "Last reviewed" line of the article's own footer."""
    return bool(_COPYRIGHT_RE.match(line)) and len(line.strip()) < 100


def is_rule(line: str) -> bool:
    """A line of only '=' or '-' (the archive's horizontal rules and heading underlines)."""
    s = line.strip()
    return len(s) >= 3 and s[0] in "=-" and s.count(s[0]) == len(s)


@dataclass(frozen=True, slots=True)
class Banner:
    products: tuple[str, ...]
    versions: tuple[str, ...]


def parse_banner_items(items: list[str]) -> Banner:
    """'- Microsoft Exchange Server, versions 4.0, 5.0, 5.5' -> product and versions."""
    products: list[str] = []
    versions: list[str] = []
    for raw in items:
        m = _BANNER_ITEM_RE.match(raw)
        if not m:
            continue
        item = m.group(1).strip().rstrip(".")
        if not item:
            continue
        vm = _VERSION_TAIL_RE.match(item)
        if vm:
            product = vm.group("product").strip().rstrip(",")
            for v in _VERSION_TOKEN_RE.findall(vm.group("versions")):
                if v not in versions:
                    versions.append(v)
        else:
            product = item
        if product and product not in products:
            products.append(product)
    return Banner(products=tuple(products), versions=tuple(versions))


def parse_prodver(value: str) -> tuple[str, ...]:
    """'WINDOWS:3.1,3.1a' or 'winnt:4.0,5.0,5.5; MS-DOS:6.0' -> ('3.1', '3.1a') ... in order, no duplicates."""
    out: list[str] = []
    for group in re.split(r"[;\s]+(?=[A-Za-z][\w -]*:)|\s{2,}", value.strip()):
        _, _, vers = group.rpartition(":")
        for v in re.split(r"[,\s]+", vers):
            v = v.strip()
            if v and re.match(r"^[\w.]+$", v) and v not in out:
                out.append(v)
    return tuple(out)


def split_keywords(value: str) -> list[str]:
    return [w for w in re.split(r"[\s,]+", value.strip()) if w]
