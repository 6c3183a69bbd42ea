"""Numbered fix procedures: which numbered lists are steps to follow, and how they group into alternatives.

General rules, no per-article knowledge:
- only sections that hold fixes (RESOLUTION, WORKAROUND, MORE INFORMATION, SUMMARY, unnamed how-to
  headings) are read; SYMPTOMS, CAUSE, STATUS, REFERENCES and "steps to reproduce" lists are never fixes;
- a list is a run of top-level numbered items 1, 2, 3...; deeper numbers, letters, roman numerals and bullets
  under a step are its sub-steps; indented paragraphs and literal lines under a step belong to its text;
- an item that is only a Q-number and title ("5. Q135932 PC DB: LISTUSER ...", as web copies number their
  cross references) is a reference of the step before it, not a step;
- a paragraph at the list's margin between step N and step N+1 ("For more information, see:") belongs to
  step N; anything else at the margin ends the list;
- a list whose items read as things rather than actions ("A device that is pre-existing.") or whose
  introduction announces reasons, causes, articles, topics... is not a procedure; "the following settings /
  files / values" lists count only when most items are commands; lists that reproduce or demonstrate the
  problem are not fixes;
- alternatives: "Method 1 / Method 2" sub-headings, and bullets that each introduce a numbered list ("- Reduce
  the color palette. To do so, follow these steps:"), give one procedure each; "do one of the following"
  before a short list (2-4 single actions, none pointing at another step) makes each item its own option.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from kbbot.article import Procedure, Step
from kbbot.parse.text import Block

_NEVER_FIX = frozenset({"SYMPTOMS", "CAUSE", "STATUS", "REFERENCES", "STEPS TO REPRODUCE"})
_QREF_ITEM_RE = re.compile(r"^\(?Q\d{4,7}\)?(?:\s|:|$)")
_QID_RE = re.compile(r"(?<![A-Za-z0-9_])Q(\d{4,7})\b")
_METHOD_PARA_RE = re.compile(r"^(Method|Option|Solution|Workaround|Resolution|Procedure)\s+\d+\b.{0,100}$",
                             re.IGNORECASE)
# lists that show how to make the problem happen, not how to fix it
_REPRODUCE_RE = re.compile(
    r"\breproduc|\b(?:demonstrat|illustrat|show)\w*\s+(?:(?:the|this)\s+)?(?:problem|behaviou?r|bug|error|issue)",
    re.IGNORECASE,
)
# introductions announcing a list of things, not of actions
_NOT_STEPS_INTRO_RE = re.compile(
    r"\bfollowing\s+(?:\w+\s+){0,3}?(reasons?|causes?|conditions?|situations?|scenarios?|symptoms?|articles?|"
    r"titles?|features?|types?|products?|limitations?|issues?|problems?|errors?|messages?|differences|"
    r"components?|circumstances|versions?|platforms?|requirements?|criteria|factors|cases?|behaviou?rs?|"
    r"topics?|questions?|bugs?)\b"
    r"|\b(?:caused|occurs?|happens?)\b.*\b(?:if|when|because)\b.*:\s*$"
    r"|\b(?:reasons?|causes?)\b.*:\s*$",
    re.IGNORECASE,
)
# "the following settings/files/values:" introduces either data or actions; the items decide
_SOFT_INTRO_RE = re.compile(
    r"\bfollowing\s+(?:\w+\s+){0,3}?(values?|settings?|options?|files?|keys?|entries|parameters?|items?|"
    r"information|changes?|fixes|configurations?)\b",
    re.IGNORECASE,
)
def _wordset(words: str) -> frozenset[str]:
    return frozenset(words.split())


_IMPERATIVE = _wordset(
    """click double-click right-click open start type select choose press run close restart reboot install
    uninstall remove delete copy rename move add create edit change set enter verify check make ensure note quit
    exit save insert use go locate find log stop disable enable configure replace download expand extract modify
    point clear turn switch apply repeat follow try reinstall upgrade obtain place drag highlight view look wait
    let connect disconnect attach boot specify unload load register import export back restore update print
    display search scroll hold release shut reset build compile call define declare write paste cut mount format
    share map assign grant give allow deny send dial exclude include rem browse navigate collapse fill complete
    return test determine examine review record identify contact read refer see resume continue cancel accept
    confirm activate deactivate pause provide tap rebuild recreate reconnect reset retry increase decrease
    re-create re-enter re-install re-run rerun uncheck deselect keep put fix correct disable"""
)
_LEADING_CLAUSE = _wordset("on in from at under when if after before to using with for within while once")
_STEPS_INTRO_RE = re.compile(
    r"\b(steps?|procedure|follow(?:ing)? (?:these|the)|do the following|as follows|try the following|"
    r"following (?:\w+ )?(?:workarounds?|resolutions?|solutions?|methods?)|"
    r"to (?:resolve|work around|correct|fix|avoid|install|remove|configure|change|enable|disable|create|set))\b",
    re.IGNORECASE,
)
# alternatives rather than a sequence: "do one of the following", "... the following workarounds, respectively"
_ONE_OF_RE = re.compile(
    r"\b(?:do|use|try|perform|choose)\s+(?:one|any|either)\s+of\s+the\s+following\b"
    r"|\bfollowing\s+(?:\w+\s+)?(?:workarounds|solutions|resolutions|methods|fixes)\b[^.]*\brespectively\b",
    re.IGNORECASE,
)
_SEQUENCE_RE = re.compile(r"\bsteps?\s+\d|^(?:then|next|finally|repeat)\b", re.IGNORECASE)
_EXPLICIT_STEPS_RE = re.compile(r"\b(?:these|following|the)\s+steps\b", re.IGNORECASE)
# first words of an item that describes a thing rather than asks for an action
_NON_ACTION_FIRST = frozenset(
    {
        "a", "an", "the", "this", "these", "that", "those", "it", "its", "there", "they", "he", "she", "we",
        "each", "all", "some", "most", "many", "any", "both", "no", "none", "only", "microsoft", "windows",
        "when",
    }
)
_ACTION_AFTER_WHEN = re.compile(r",\s*(?:click|select|type|press|choose|run|use|open|close|restart|delete|"
                                r"copy|make|add|remove|verify|check|change|set|enter|go|note|wait|let|start)\b",
                                re.IGNORECASE)


@dataclass(slots=True)
class _Draft:
    text: list[str]
    number: int
    substeps: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _RawList:
    section: str
    heading: str
    intro: str
    steps: list[_Draft]
    lead_item: bool = False  # the intro is a list item ("- Reduce the color palette. To do so: ...")
    # the heading is a "- Method 2" bullet or paragraph, not a sub-heading: its text may give only the number
    heading_in_text: bool = False


def _qids(text: str) -> list[str]:
    return [f"Q{int(m.group(1))}" for m in _QID_RE.finditer(text)]


def _attach(last: _Draft, b: Block) -> None:
    """A paragraph under a step is its text; one that is only a Q-number and title is its reference."""
    refs = _qids(b.text)
    if refs and _QREF_ITEM_RE.match(b.text):
        last.references.extend(refs[:1])
    else:
        last.text.append(b.text)
        last.references.extend(refs)


class _ListCollector:
    """Reads a section's blocks in order and gathers its numbered lists, each with the heading and the
    introduction before it; which of them are procedures is decided afterwards."""

    def __init__(self, *, section: str, wrapped: bool) -> None:
        self.section = section
        # where the text of the open step's latest sub-step starts (-1: no sub-step yet): content indented
        # that far is the sub-step's own (its command, its explanation), kept with it in source order
        self.sub_indent = -1
        self.wrapped = wrapped
        self.lists: list[_RawList] = []
        self.heading = ""
        # the headings above the current position with their levels (0: unknown, as in line-based sources)
        self.headings: list[tuple[int, str]] = []
        self.heading_in_text = False
        self.intro = ""
        self.lead_item = False
        self.current: _RawList | None = None
        self.top = 0  # the indent of the latest list's numbers
        self.expected = 0  # the number the next step of the open list would carry
        # Blocks at the list's own margin between two steps ("For more information, see:" + a Q-number) are
        # held here: if the numbering then continues they belong to the step before, otherwise the list ended.
        self.pending: list[Block] = []

    def feed(self, b: Block) -> None:
        if b.kind == "heading" or (
            b.kind in ("para", "item") and b.marker in ("", "bullet") and _METHOD_PARA_RE.match(b.text)
            and b.indent <= self.top
        ):
            # "- Method 2" bullets name their method as a sub-heading would
            self._close()
            self.pending.clear()
            level = b.number if b.kind == "heading" else 0
            while self.headings and level and self.headings[-1][0] >= level:
                self.headings.pop()
            if not level:
                self.headings.clear()
            self.headings.append((level, b.text.rstrip(":")))
            # a generic heading ("How to fix") under a named one ("Step 2: Check the database") is no name:
            # the procedure is named by the heading above it
            self.heading = next((t for _, t in reversed(self.headings) if not _generic_heading(t)), "")
            self.heading_in_text = b.kind != "heading"
            self.intro = ""
            self.lead_item = False
            return
        if self.current is not None and self._extend(self.current, b):
            return
        self._outside_list(b)

    def finish(self) -> list[_RawList]:
        self._close()
        return self.lists

    def _close(self) -> None:
        if self.current is not None and self.current.steps:
            self.lists.append(self.current)
        self.current = None

    def _extend(self, current: _RawList, b: Block) -> bool:
        """True when b belongs to the open list (a step, a sub-step, text under a step, a held paragraph);
        otherwise the list is closed and b is read as text outside any list."""
        last = current.steps[-1]
        if b.kind == "item" and b.marker == "num" and abs(b.indent - self.top) <= 1:
            return self._next_step(current, last, b)
        if self.pending:
            if len(self.pending) < 4 and b.kind != "item":
                self.pending.append(b)
                return True
        elif b.kind == "item" and b.indent >= self.top:
            if _QREF_ITEM_RE.match(b.text):
                last.references.extend(_qids(b.text[:12]))
            elif last.substeps and b.indent >= self.sub_indent:
                # a list under a sub-step is part of that sub-step, not a sibling of it
                _add_to_substep(last, _item_line(b))
            else:
                last.substeps.append(b.text)
                self.sub_indent = b.text_indent or b.indent + 3
            return True
        elif b.kind in ("para", "literal"):
            if b.indent > self.top or (not self.wrapped and b.indent > 0):
                if last.substeps:
                    # under a sub-step (or after the sub-steps, which is where the reader meets it): with
                    # the latest sub-step, so the step reads in source order
                    _add_to_substep(last, b.text)
                    last.references.extend(_qids(b.text))
                else:
                    # an indented paragraph under a step: its explanation, or the quoted text to type
                    _attach(last, b)
            else:
                self.pending.append(b)
            return True
        self._close()
        return False

    def _next_step(self, current: _RawList, last: _Draft, b: Block) -> bool:
        """A number at the list's margin: a reference of the step before, the next step, or (numbering
        restarted or broke) the end of the list."""
        if _QREF_ITEM_RE.match(b.text):
            last.references.extend(_qids(b.text[:12]))
            self.expected = b.number + 1
            return True
        if b.number != self.expected:
            self._close()
            return False
        for held in self.pending:
            _attach(last, held)
        self.pending.clear()
        current.steps.append(_Draft(text=[b.text, *b.lines[1:]], number=b.number, references=_qids(b.text)))
        self.sub_indent = -1
        self.expected += 1
        return True

    def _outside_list(self, b: Block) -> None:
        """No list is open: b may start one, or introduce the next."""
        if self.pending:
            paras = [p for p in self.pending if p.kind == "para"]
            if paras:
                self.intro = paras[-1].text
                self.lead_item = False
            self.pending.clear()
        if b.kind == "item" and b.marker == "num" and b.number == 1:
            self.current = _RawList(section=self.section, heading=self.heading, intro=self.intro, steps=[],
                                    lead_item=self.lead_item, heading_in_text=self.heading_in_text)
            self.current.steps.append(_Draft(text=[b.text, *b.lines[1:]], number=1, references=_qids(b.text)))
            self.top = b.indent
            self.sub_indent = -1
            self.expected = 2
        elif b.kind in ("para", "item") and b.role not in _NOT_LEAD_IN:
            # a bullet that ends "To do so, follow these steps:" introduces the numbered list under it; a
            # callout between the introduction and its list ("Important: back up the registry") does not
            self.intro = b.text
            self.lead_item = b.kind == "item"


def _item_line(b: Block) -> str:
    """A list item written into a sub-step's text: numbered as it was counted (the sub-step itself is the
    lettered level), bullets as bullets."""
    return f"{b.number}. {b.text}" if b.marker != "bullet" and b.number else f"- {b.text}"


def _add_to_substep(last: _Draft, text: str) -> None:
    if text:
        last.substeps[-1] = f"{last.substeps[-1]}\n{text}" if last.substeps[-1] else text


# a callout, a quoted message or a screenshot's alt text between a lead-in and its list is not the lead-in
_NOT_LEAD_IN = frozenset({"note", "quote", "image"})


def _collect_lists(section: str, blocks: list[Block], *, wrapped: bool) -> list[_RawList]:
    collector = _ListCollector(section=section, wrapped=wrapped)
    for b in blocks:
        collector.feed(b)
    return collector.finish()


def _first_word(text: str) -> str:
    m = re.match(r"[\"'(]*([A-Za-z][\w'-]*)", text)
    return m.group(1).lower() if m else ""


def _is_action(text: str) -> bool:
    word = _first_word(text)
    if not word:
        return False
    if word == "when":
        # "When you are prompted to restart, click Yes" is an action; "When the server is busy" is not
        return bool(_ACTION_AFTER_WHEN.search(text))
    return word not in _NON_ACTION_FIRST


def _is_imperative(text: str) -> bool:
    """Clearly an instruction: starts with a command verb, or with a short clause then one
    ("On the Tools menu, click Options")."""
    word = _first_word(text)
    if word in _IMPERATIVE:
        return True
    if word in _LEADING_CLAUSE:
        m = re.search(r",\s*(?:and\s+)?(?:then\s+)?([A-Za-z][\w-]*)", text.split(". ")[0])
        return bool(m and m.group(1).lower() in _IMPERATIVE)
    return False


def _is_procedure(raw: _RawList) -> bool:
    if len(raw.steps) < 2:
        return False
    if _REPRODUCE_RE.search(raw.heading) or _REPRODUCE_RE.search(raw.intro[-200:]):
        return False
    tail = raw.intro[-220:]
    if _NOT_STEPS_INTRO_RE.search(tail) and not _STEPS_INTRO_RE.search(tail):
        return False
    if _SOFT_INTRO_RE.search(tail) and not _STEPS_INTRO_RE.search(tail):
        commands = sum(1 for s in raw.steps if _is_imperative(s.text[0]))
        if commands * 5 < len(raw.steps) * 3:
            return False
    # cross-reference lists ("1. Q123456 Title") are reading lists
    if sum(1 for s in raw.steps if _QREF_ITEM_RE.match(s.text[0])) * 2 >= len(raw.steps):
        return False
    actions = sum(1 for s in raw.steps if _is_action(s.text[0]))
    if _EXPLICIT_STEPS_RE.search(tail) and not tail.rstrip().endswith("?"):
        # "the steps ... are as follows:" -- the article says so, even when steps are narrated
        return actions >= 1 or any(_is_imperative(s.text[0]) for s in raw.steps)
    return actions * 2 >= len(raw.steps)


def _label(raw: _RawList, headings: Mapping[str, str]) -> str:
    """The procedure's name: its heading, its method's name, else its section's heading (`headings`: as the
    article writes it, where the section is named after its own heading)."""
    name = _method_name(raw.intro)
    if raw.heading:
        if raw.heading_in_text and _BARE_METHOD_RE.match(raw.heading) and name:
            return f"{raw.heading.rstrip('.:')}: {name}"  # "- Method 2" + "Change the Group Policy settings."
        return raw.heading
    if raw.lead_item:
        # the alternative's own name: the first sentence of the bullet that introduces it
        return (name or raw.intro.strip().rstrip(".:"))[:120]
    # a lead-in names its method when it is short, or when it opens with the action itself ("Disable the
    # Allow service option. To do this, ..."), not with a condition or a note
    if (
        name and len(name) <= 120 and len(name.split()) >= 3
        and (len(raw.intro) <= 120 or (_is_imperative(name) and _first_word(name) != "note"))
    ):
        return name
    return headings.get(raw.section) or raw.section.title()


# a method heading that gives only its number: "Method 2", "Option 3:"
_BARE_METHOD_RE = re.compile(r"^(?:Method|Option|Solution|Workaround|Resolution|Procedure|Step|Part)\s+\d+[.:]?$",
                             re.IGNORECASE)
_SENTENCE_END_RE = re.compile(r"(?<=[\w)*`\]\"'\u201d])[.:;]\s+")
# the part of a lead-in that only announces the list: "To do this, follow these steps", ", do the following"
_LIST_WORDS = r"(?:(?:these|the\s+following)(?:\s+(?:steps?|methods?|procedures?))?|this\s+(?:procedure|method))"
_ANNOUNCE_RE = re.compile(
    rf"^(?:to\s+do\s+(?:this|so|that)\s*,?\s*)?(?:follow|use|complete|perform|do|try)\s+{_LIST_WORDS}$"
    rf"|,?\s*(?:follow|use|complete|perform|do)\s+{_LIST_WORDS}$",
    re.IGNORECASE,
)
_PURPOSE_RE = re.compile(
    r"^to\s+(?:resolve|fix|correct|solve|work\s+around|avoid)\s+(?:this|the|these)\s+(?:problem|issue|error|"
    r"behaviou?r)s?\s*,\s*(?:you\s+(?:can|must|should)\s+)?"
    r"(?:(?:follow|use)\s+(?:these|the\s+following)\s+steps\s+to\s+)?",
    re.IGNORECASE,
)
_TO_VERB_RE = re.compile(r"^to\s+([a-z][\w-]*)\b", re.IGNORECASE)
# what every fix says of itself: no name
_GENERIC_NAME_RE = re.compile(
    r"^(?:resolve|fix|correct|solve|address|avoid|work\s+around|troubleshoot)\s+(?:this|the|these)\s+"
    r"(?:problem|issue|error|behaviou?r)s?$",
    re.IGNORECASE,
)


def _method_name(intro: str) -> str:
    """The short name a lead-in gives its method: 'Change the Group Policy settings. To do this, follow these
    steps:' -> 'Change the Group Policy settings'; 'To increase the time-out, follow these steps:' ->
    'Increase the time-out'; a lead-in that only announces steps or only says it fixes the problem -> ''."""
    for sentence in _SENTENCE_END_RE.split(intro.strip()):
        sentence = sentence.strip().rstrip(".:;")
        announce = _ANNOUNCE_RE.search(sentence)
        if announce:
            sentence = sentence[:announce.start()].rstrip(" ,")
        if not sentence:
            continue
        purpose = _PURPOSE_RE.match(sentence)
        if purpose and sentence[purpose.end():].strip():
            # "To resolve this issue, disable X" -> "Disable X"
            rest = sentence[purpose.end():].strip()
            sentence = rest[0].upper() + rest[1:]
        to_verb = _TO_VERB_RE.match(sentence)
        if to_verb and announce:
            sentence = to_verb.group(1).capitalize() + sentence[to_verb.end():]
        return "" if _GENERIC_NAME_RE.match(sentence) else sentence
    return ""


def _generic_heading(heading: str) -> bool:
    """'How to fix', 'Resolution', 'Workaround': a heading that says a fix follows, not which one."""
    from kbbot.parse.markdown_doc import canonical_heading  # the heading vocabulary; imported late (cycle)

    if re.search(r"\d", heading):
        return False
    return canonical_heading(heading) in _GENERIC_SECTIONS


_GENERIC_SECTIONS = frozenset({"RESOLUTION", "WORKAROUND", "MORE INFORMATION", "SUMMARY"})


# a heading that is a step of its own: "Step 1: Find the error", "Step 2 - Restart", "3. Reset the password"
_STEP_HEADING_RE = re.compile(
    r"^(?:step\s+(\d{1,2})(?:\s*[.:)\-\u2013\u2014]\s*|\s+|$)|(\d{1,2})[.)](?:\s+|$))(.*)$",
    re.IGNORECASE | re.DOTALL,
)


def _step_heading(b: Block) -> tuple[int, str] | None:
    """(number, the step's own words) of a heading block that numbers a step, else None."""
    m = _STEP_HEADING_RE.match(b.text.strip()) if b.kind == "heading" else None
    return (int(m.group(1) or m.group(2)), m.group(3).strip()) if m else None


def _heading_steps(sections: list[tuple[str, list[Block]]], own_id: str, *, title: str) -> dict[str, Procedure]:
    """Steps a page writes as headings ("## Step 1: Find the error", "### 2. Restart the service"), each with
    its prose and code under it: a run of two or more, numbered in order at one heading level, is one
    procedure, keyed by the section its first step is in (the run may go on over the following sections when
    the steps are the page's own sections). A run whose steps hold numbered lists of their own is left to
    those lists: they are the steps, and their headings name them. The run is named by the heading above it,
    else by the page's `title` (steps that are the page's own sections are what the page is about)."""
    found: dict[str, Procedure] = {}
    run: list[_Draft] = []
    start, level, label = "", 0, ""
    holds_list = False
    parents: list[tuple[int, str]] = []  # the headings above, that are not steps: the nearest names the run

    def close() -> None:
        nonlocal run, holds_list
        if len(run) >= 2 and not holds_list and start not in found:
            steps = tuple(_to_step(d, own_id) for d in run)
            found[start] = Procedure(label=label or title or "Steps", section=start, steps=steps)
        run, holds_list = [], False

    for name, blocks in sections:
        if run and not (blocks and _step_heading(blocks[0])):
            close()  # a section that does not open with the next step ends the run
        for b in blocks:
            step = _step_heading(b) if b.kind == "heading" else None
            if b.kind == "heading" and run and b.number > level:
                run[-1].text.append(b.text)  # a heading inside a step is part of its text
                continue
            if step is not None and run and b.number == level and step[0] >= run[-1].number:
                run.append(_Draft(text=[step[1]], number=step[0]))
                continue
            if b.kind == "heading":
                close()
                while parents and parents[-1][0] >= b.number:
                    parents.pop()
                if step is None:
                    parents.append((b.number, b.text.rstrip(":")))
                else:
                    start, level = name, b.number
                    label = parents[-1][1] if parents else ""
                    run = [_Draft(text=[step[1]], number=step[0])]
                continue
            if not run:
                continue
            holds_list = holds_list or (b.kind == "item" and b.marker == "num")
            if b.kind == "item":
                run[-1].substeps.append(b.text)
            elif b.role != "image":
                run[-1].text.append(b.text)
    close()
    return found


def _to_step(d: _Draft, own_id: str) -> Step:
    refs: list[str] = []
    for r in d.references:
        if r not in refs and r != own_id:
            refs.append(r)
    return Step(text="\n".join(t for t in d.text if t), substeps=tuple(d.substeps), references=tuple(refs))


# sections that hold the fix, and those that hold background (where a list is as often the steps that
# reproduce the problem, or a how-to aside, as a fix)
_FIX_SECTIONS = frozenset({"RESOLUTION", "WORKAROUND"})
_ASIDE_SECTIONS = frozenset({"MORE INFORMATION", "SUMMARY"})
_METHOD_SECTION_RE = re.compile(r"^(?:METHOD|OPTION|SOLUTION|FIX|STEP)\b")
# a lead-in or heading that offers its list as a fix wherever it stands
_OFFERS_FIX_RE = re.compile(
    r"\b(?:to\s+(?:resolve|fix|correct|work\s+around)|workarounds?|resolutions?|solutions?)\b", re.IGNORECASE
)


# a fix that sends the reader on: 'See the "More information" section'
_POINTS_TO_ASIDE_RE = re.compile(r"\b(?:more\s+information|details|summary)\W{0,3}\s+section\b", re.IGNORECASE)


def _asides_are_fixes(sections: list[tuple[str, list[Block]]]) -> bool:
    """No Resolution, Workaround or method section, or one that points to the background section."""
    fixes = [blocks for name, blocks in sections
             if blocks and (name in _FIX_SECTIONS or _METHOD_SECTION_RE.match(name))]
    return not fixes or any(_POINTS_TO_ASIDE_RE.search(b.text) for blocks in fixes for b in blocks)


def extract_procedures(
    sections: list[tuple[str, list[Block]]],
    *,
    wrapped: bool = True,
    own_id: str = "",
    modern: bool = False,
    title: str = "",
    headings: Mapping[str, str] | None = None,
) -> tuple[Procedure, ...]:
    """Procedures, in article order, from the sections' blocks.

    In a modern article (`modern`) that has a Resolution, Workaround or method section, a list under More
    information or the summary is not offered as the fix unless it says it is one: there it reproduces the
    problem or shows something aside. The 1999 archive keeps its lists there: its More information sections
    often carry the steps the Resolution points to."""
    out: list[Procedure] = []
    asides_are_fixes = not modern or _asides_are_fixes(sections)
    by_headings = _heading_steps(sections, own_id, title=title) if modern else {}
    for name, blocks in sections:
        if name in by_headings and name not in _NEVER_FIX and (name not in _ASIDE_SECTIONS or asides_are_fixes):
            out.append(by_headings[name])
        if name in _NEVER_FIX:
            continue
        for raw in _collect_lists(name, blocks, wrapped=wrapped):
            if not _is_procedure(raw):
                continue
            if (
                name in _ASIDE_SECTIONS
                and not asides_are_fixes
                and not _OFFERS_FIX_RE.search(f"{raw.heading} {raw.intro[-200:]}")
                and not _METHOD_PARA_RE.match(raw.heading)
            ):
                continue
            steps = [_to_step(d, own_id) for d in raw.steps]
            if (
                not raw.heading
                and _ONE_OF_RE.search(raw.intro[-200:])
                and all(not s.substeps for s in steps)
                # five or more items, or items that point at each other, are one method's sequence
                and len(steps) <= 4
                and not any(_SEQUENCE_RE.search(s.text) for s in steps)
            ):
                for k, step in enumerate(steps, start=1):
                    out.append(Procedure(label=f"Option {k}", section=name, steps=(step,)))
                continue
            out.append(Procedure(label=_label(raw, headings or {}), section=name, steps=tuple(steps)))
    return tuple(out)
