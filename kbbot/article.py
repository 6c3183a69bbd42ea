"""The knowledge-base article model every parser produces and everything downstream reads.

Pure data: no I/O here. Parsers build these; the index stores them; search, the conversation engine and
the card builders read them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
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
    format: str = ""  # "txt" | "markdown" | "web" | "generic"

    @property
    def error_codes(self) -> list[str]:
        return [sig.value for sig in self.error_signatures]

    def section(self, name: str) -> str:
        return self.sections.get(name, "")

    def symptom_text(self) -> str:
        """The section saying what goes wrong: SYMPTOMS, else SUMMARY (the web-copied shapes have that)."""
        return self.section("SYMPTOMS") or self.section("SUMMARY")

    def to_dict(self) -> dict[str, Any]:
        """The full record, as stored in the index (round-trips through `from_dict`)."""
        return asdict(self)

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
        }


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
