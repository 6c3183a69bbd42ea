"""Section headings: what counts as one in each shape, and the canonical names they map to."""

from __future__ import annotations

import re

from kbbot.parse.boilerplate import is_rule

# Close variants seen in the archive -> the canonical heading the rest of kbbot reads.
_CANONICAL: dict[str, str] = {
    "SYMPTOM": "SYMPTOMS",
    "SYMPTOMS": "SYMPTOMS",
    "PROBLEM": "SYMPTOMS",
    "PROBLEM DESCRIPTION": "SYMPTOMS",
    "CAUSE": "CAUSE",
    "CAUSES": "CAUSE",
    "RESOLUTION": "RESOLUTION",
    "RESOLUTIONS": "RESOLUTION",
    "SOLUTION": "RESOLUTION",
    "SOLUTIONS": "RESOLUTION",
    "WORKAROUND": "WORKAROUND",
    "WORKAROUNDS": "WORKAROUND",
    "WORK AROUND": "WORKAROUND",
    "STATUS": "STATUS",
    "MORE INFORMATION": "MORE INFORMATION",
    "MORE INFO": "MORE INFORMATION",
    "ADDITIONAL INFORMATION": "MORE INFORMATION",
    "SUMMARY": "SUMMARY",
    "REFERENCES": "REFERENCES",
    "REFERENCE": "REFERENCES",
    "STEPS TO REPRODUCE": "STEPS TO REPRODUCE",
    "STEPS TO REPRODUCE PROBLEM": "STEPS TO REPRODUCE",
    "STEPS TO REPRODUCE BEHAVIOR": "STEPS TO REPRODUCE",
    "STEPS TO REPRODUCE THE PROBLEM": "STEPS TO REPRODUCE",
    "STEPS TO REPRODUCE BEHAVIOUR": "STEPS TO REPRODUCE",
}

KNOWN_HEADINGS = frozenset(_CANONICAL)


def canonical_section(name: str) -> str:
    key = re.sub(r"\s+", " ", name.strip().rstrip(":").strip()).upper()
    return _CANONICAL.get(key, key)


def is_underlined_heading(lines: list[str], i: int) -> bool:
    """TXT/Markdown: a short line at the left margin underlined with '=' (SYMPTOMS / ========)."""
    if i + 1 >= len(lines):
        return False
    line = lines[i]
    if not line or line[0] == " " or len(line) > 70 or not lines[i + 1].startswith("="):
        return False
    if is_rule(line):
        return False
    under = lines[i + 1].strip()
    return (len(under) >= 3 and under[0] == "=" and under.count("=") == len(under)
            and len(under) >= min(len(line.strip()), 8) * 0.5)


_CAPS_HEADING_RE = re.compile(r"^[A-Z][A-Z0-9 &/'(),-]{2,60}:?$")


def is_caps_heading(line: str, *, known_only: bool) -> bool:
    """Web/generic shapes: a bare ALL-CAPS line. With `known_only`, only the standard KB headings count
    (a web copy has other capitalised lines such as product names in banners)."""
    s = line.strip()
    if not s or (line[:1] == " " and known_only):
        return False
    if s.rstrip(":").upper() in KNOWN_HEADINGS and s == s.upper():
        return True
    if known_only:
        return False
    if not _CAPS_HEADING_RE.match(s) or sum(c.isalpha() for c in s) < 4:
        return False
    return len(s.split()) <= 6
