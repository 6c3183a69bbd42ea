"""The knowledge-base article model every parser produces and everything downstream reads.

Pure data: no I/O here. Parsers build these; the index stores them; search, the conversation engine and
the card builders read them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

# Canonical section names, in the order a card or `kbbot show` presents them.
SECTION_ORDER: tuple[str, ...] = (
    "SUMMARY",
    "SYMPTOMS",
    "CAUSE",
    "RESOLUTION",
    "WORKAROUND",
    "STATUS",
    "MORE INFORMATION",
    "REFERENCES",
)
# Where an article says what goes wrong, in order of preference: an article without SYMPTOMS opens with it.
SYMPTOM_SECTIONS: tuple[str, ...] = ("SYMPTOMS", "SUMMARY")


# Sections that say what goes wrong or why, or only talk about it: never where the fix is.
NOT_A_FIX: frozenset[str] = frozenset(
    ("SUMMARY", "SYMPTOMS", "CAUSE", "STATUS", "MORE INFORMATION", "REFERENCES", "APPLIES TO", "PREREQUISITES",
     "STEPS TO REPRODUCE")
)


# First words of a heading that tells rather than instructs ("The samAccountType attribute isn't added"):
# not the fix's heading.
_TELLS: frozenset[str] = frozenset(("THE", "A", "AN", "THIS", "THESE", "WHY", "WHAT", "WHEN", "WHERE", "WHO", "IF",
                                    "IS", "ARE", "DOES", "DO", "CAN", "EXAMPLE", "SCENARIO", "DATA"))
# Formats of today's knowledge bases, whose pages put a fix under a heading of their own.
_MODERN_FORMATS: frozenset[str] = frozenset(("markdown-doc", "html", "json"))


def symptom_section(names: Iterable[str]) -> str | None:
    """The name of the section that describes the problem, among an article's section names."""
    present = set(names)
    return next((name for name in SYMPTOM_SECTIONS if name in present), None)


@dataclass(frozen=True, slots=True)
class Step:
    """One top-level step of a fix; sub-steps (a., b., ...) travel with their parent."""

    text: str
    substeps: tuple[str, ...] = ()
    # Q-numbers the step points at ("see Q135932"), offered as a button when the step is shown.
    references: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Procedure:
    """An ordered list of steps. An article offering several methods has several procedures."""

    label: str
    section: str
    steps: tuple[Step, ...]


@dataclass(frozen=True, slots=True)
class ErrorSignature:
    """A literal, searchable trace of an error: a code (`[008]`, `0x80041600`, `C2248`, `STOP 0x0000001E`,
    `event 2117`) or a message line quoted in the article."""

    kind: str  # "bracket" | "hex" | "stop" | "event" | "compiler" | "message" | ...
    value: str


@dataclass(frozen=True, slots=True)
class Article:
    id: str  # "Q102087"
    title: str
    product: str = ""  # display name, "Microsoft Mail For Appletalk Networks"
    product_tag: str = ""  # short corpus tag where known, "macmail"
    versions: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    # canonical heading -> text; paragraphs separated by a blank line, hard wraps already undone
    sections: dict[str, str] = field(default_factory=dict)
    procedures: tuple[Procedure, ...] = ()
    error_signatures: tuple[ErrorSignature, ...] = ()
    references: tuple[str, ...] = ()
    source: str = ""  # file path (or archive!member) it was parsed from
    format: str = ""  # "txt" | "markdown" | "web" | "generic" | "markdown-doc" | "html" | "json"
    # the article's own web page, when the source names one (front matter url, an export's html_url, or the
    # indexer's --url-template)
    url: str | None = None
    # other forms people use for this article: the path slug, the file name, a stated KB number
    aliases: tuple[str, ...] = ()
    # section name -> its heading as the article writes it, for the sections named after their own heading
    # (their names are the heading upper-cased, which loses "GitHub" and "RST_STREAM")
    headings: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """What a reader calls the article: its id where that is a number people quote ("Q102087",
        "KB2659085"), its title where the id is the page's path (`exchange/exchangeonline/calendars/...`), which
        only says the title again, longer."""
        return self.title if is_path_id(self.id) else self.id

    def heading_of(self, name: str) -> str:
        """How to show the section `name` to a reader: as its heading was written, else the name in title case."""
        return self.headings.get(name) or name.title()

    @property
    def error_codes(self) -> list[str]:
        return [sig.value for sig in self.error_signatures]

    def section(self, name: str) -> str:
        return self.sections.get(name, "")

    def symptoms(self, *, any_section: bool = False) -> str:
        """What goes wrong (SYMPTOMS, else SUMMARY); with `any_section`, else the first section with text."""
        for name in SYMPTOM_SECTIONS:
            if self.sections.get(name):
                return self.sections[name]
        if any_section:
            return next((text for text in self.sections.values() if text), "")
        return ""

    def fix_section(self) -> str | None:
        """The name of the section that holds the fix: RESOLUTION, else WORKAROUND, else one under a heading of
        the article's own ("Remove the TLS 1.3 registry keys", "Method 1: ..."): the one holding its first
        procedure, or the first after the symptoms or the cause (on a modern page: the 1999 archive's other
        headings are readme chapters)."""
        for name in ("RESOLUTION", "WORKAROUND"):
            if self.sections.get(name):
                return name
        if self.format not in _MODERN_FORMATS:
            return None  # the 1999 archive names its fix sections; its other headings are readme chapters
        for p in self.procedures:
            if p.section not in NOT_A_FIX and self.sections.get(p.section):
                return p.section
        # after the problem is described: SYMPTOMS or CAUSE, or the SUMMARY of a page that has neither
        opening = {"SYMPTOMS", "CAUSE"} if {"SYMPTOMS", "CAUSE"} & set(self.sections) else {"SUMMARY"}
        after_problem = False
        for name, text in self.sections.items():
            if name in opening:
                after_problem = True
            elif after_problem and text and name not in NOT_A_FIX and name.split(" ", 1)[0] not in _TELLS:
                return name
        return None

    def to_dict(self) -> dict[str, Any]:
        """The full record, as stored in the index (round-trips through `from_dict`). Built by hand rather
        than with dataclasses.asdict, which deep-copies every field and was a fifth of the indexing time."""
        return {
            "id": self.id,
            "title": self.title,
            "product": self.product,
            "product_tag": self.product_tag,
            "versions": list(self.versions),
            "keywords": list(self.keywords),
            "sections": dict(self.sections),
            "procedures": self.procedures_json(),
            "error_signatures": [{"kind": e.kind, "value": e.value} for e in self.error_signatures],
            "references": list(self.references),
            "source": self.source,
            "format": self.format,
            "url": self.url,
            "aliases": list(self.aliases),
            # only where there are any: the 1999 archive's records stay as they were
            **({"headings": dict(self.headings)} if self.headings else {}),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Article:
        procedures = tuple(
            Procedure(
                label=p["label"],
                section=p["section"],
                steps=tuple(
                    Step(
                        text=s["text"],
                        substeps=tuple(s.get("substeps", ())),
                        references=tuple(s.get("references", ())),
                    )
                    for s in p["steps"]
                ),
            )
            for p in data.get("procedures", ())
        )
        return cls(
            id=data["id"],
            title=data["title"],
            product=data.get("product", ""),
            product_tag=data.get("product_tag", ""),
            versions=tuple(data.get("versions", ())),
            keywords=tuple(data.get("keywords", ())),
            sections=dict(data.get("sections", {})),
            procedures=procedures,
            error_signatures=tuple(
                ErrorSignature(kind=e["kind"], value=e["value"]) for e in data.get("error_signatures", ())
            ),
            references=tuple(data.get("references", ())),
            source=data.get("source", ""),
            format=data.get("format", ""),
            # records from before articles had links or aliases load with none
            url=data.get("url"),
            aliases=tuple(data.get("aliases", ())),
            headings=dict(data.get("headings", {})),
        )

    def procedures_json(self) -> list[dict[str, Any]]:
        """Procedures as plain JSON data, the same shape in `show --json` and in the index records."""
        return [
            {
                "label": p.label,
                "section": p.section,
                "steps": [
                    {"text": s.text, "substeps": list(s.substeps), "references": list(s.references)}
                    for s in p.steps
                ],
            }
            for p in self.procedures
        ]

    def to_show_json(self) -> dict[str, Any]:
        """The `kbbot show --json` contract of docs/design.md."""
        return {
            "id": self.id,
            "title": self.title,
            "product": self.product,
            "versions": list(self.versions),
            "sections": dict(self.sections),
            "procedures": self.procedures_json(),
            "error_codes": self.error_codes,
            "references": list(self.references),
            "source": self.source,
            "url": self.url,
        }


def is_path_id(article_id: str | None) -> bool:
    """Whether an article id is the page's path in its tree (a slug with folders), not a number or a name."""
    return bool(article_id) and "/" in str(article_id)


def normalise_qid(text: str) -> str | None:
    """'Q102087', 'q102087', '102087', 'KB102087' -> 'Q102087'; anything else -> None."""
    t = text.strip().upper()
    for prefix in ("KB", "Q"):
        if t.startswith(prefix):
            t = t[len(prefix):]
            break
    if t.isdigit() and 1 <= len(t) <= 7:
        return f"Q{int(t)}"
    return None
