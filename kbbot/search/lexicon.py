"""Product names, abbreviations and synonyms, kept as data in `kbbot/data/*.yaml` rather than in code."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from kbbot.search.text import _TOKEN, STOPWORDS, normalise_text, words

log = logging.getLogger(__name__)

MAX_PHRASE = 3


def _raw_tokens(text: str) -> list[str]:
    return _TOKEN.findall(normalise_text(text))


@dataclass(frozen=True, slots=True)
class Expansion:
    terms: tuple[str, ...]  # index terms (already stemmed) to add
    source: str  # the word or phrase of the query that triggered it
    # multi-word members of a synonym group ("access violation"), each as its index terms: searched as word
    # pairs, never as loose words
    phrases: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True, slots=True)
class Lexicon:
    # phrase of raw tokens ("ms", "mail") -> index terms of its expansion
    abbreviations: dict[tuple[str, ...], tuple[str, ...]] = field(default_factory=dict)
    # phrase of raw tokens -> index terms of the other members of its synonym group
    synonyms: dict[tuple[str, ...], tuple[str, ...]] = field(default_factory=dict)
    # phrase of raw tokens -> multi-word members of its synonym groups (index terms of each)
    synonym_phrases: dict[tuple[str, ...], tuple[tuple[str, ...], ...]] = field(default_factory=dict)
    # phrase of raw tokens -> product tags it names
    product_aliases: dict[tuple[str, ...], frozenset[str]] = field(default_factory=dict)
    product_names: dict[str, str] = field(default_factory=dict)  # tag -> display name
    # operating systems (`platform: true`): what people run, not what their problem is filed under
    platforms: frozenset[str] = frozenset()
    # first tokens of the phrases of two or more tokens: only there can a longer phrase start
    multi_first: frozenset[str] = field(init=False, default=frozenset())

    def __post_init__(self) -> None:
        keys = [*self.abbreviations, *self.synonyms, *self.product_aliases]
        object.__setattr__(self, "multi_first", frozenset(k[0] for k in keys if len(k) > 1))

    @classmethod
    def load(cls, directory: Path | None = None) -> Lexicon:
        """Read products.yaml, abbreviations.yaml and synonyms.yaml (missing files are simply empty)."""

        def read(name: str) -> Any:
            if directory is not None:
                path = Path(directory) / name
                return yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else None
            res = resources.files("kbbot") / "data" / name
            return yaml.safe_load(res.read_text(encoding="utf-8")) if res.is_file() else None

        abbreviations: dict[tuple[str, ...], tuple[str, ...]] = {}
        for key, expansion in (read("abbreviations.yaml") or {}).items():
            phrase = tuple(_raw_tokens(str(key)))
            if phrase and len(phrase) <= MAX_PHRASE:
                abbreviations[phrase] = tuple(words(normalise_text(str(expansion))))
        synonyms: dict[tuple[str, ...], tuple[str, ...]] = {}
        phrases: dict[tuple[str, ...], tuple[tuple[str, ...], ...]] = {}
        for group in (read("synonyms.yaml") or {}).get("groups", []):
            members = [(tuple(_raw_tokens(str(m))), tuple(words(normalise_text(str(m))))) for m in group]
            # a multi-word member triggers the group but is not added word by word: "general protection
            # fault" as three loose words would match any article about pages, faults or generals
            single = {terms[0] for _, terms in members if len(terms) == 1}
            multi = {terms for _, terms in members if len(terms) > 1}
            for phrase, own in members:
                if not phrase or len(phrase) > MAX_PHRASE:
                    continue
                others = single - set(own)
                synonyms[phrase] = tuple(sorted(others | set(synonyms.get(phrase, ()))))
                phrases[phrase] = tuple(sorted((multi - {own}) | set(phrases.get(phrase, ()))))
        aliases: dict[tuple[str, ...], frozenset[str]] = {}
        names: dict[str, str] = {}
        platforms: set[str] = set()
        for tag, spec in (read("products.yaml") or {}).items():
            spec = spec or {}
            names[str(tag)] = str(spec.get("name", tag))
            if spec.get("platform"):
                platforms.add(str(tag))
            for alias in [tag, *spec.get("aliases", [])]:
                phrase = tuple(_raw_tokens(str(alias)))
                if phrase and len(phrase) <= MAX_PHRASE:
                    aliases[phrase] = aliases.get(phrase, frozenset()) | {str(tag)}
        return cls(
            abbreviations=abbreviations,
            synonyms=synonyms,
            synonym_phrases=phrases,
            product_aliases=aliases,
            product_names=names,
            platforms=frozenset(platforms),
        )

    def _phrases(self, raw: list[str]) -> list[tuple[str, ...]]:
        """The query's phrases that could be keys: every token, and longer runs where some key starts."""
        out: list[tuple[str, ...]] = [(t,) for t in raw]
        first = self.multi_first
        for i, t in enumerate(raw):
            if t in first:
                out.extend(tuple(raw[i : i + n]) for n in range(2, MAX_PHRASE + 1) if i + n <= len(raw))
        return out

    def expand(self, raw: list[str]) -> tuple[list[Expansion], list[Expansion]]:
        """(abbreviation expansions, synonym expansions) triggered by a query's raw tokens."""
        abbr: list[Expansion] = []
        syn: list[Expansion] = []
        for phrase in self._phrases(raw):
            if len(phrase) == 1 and phrase[0] in STOPWORDS:
                continue  # "is" (information store) and friends: in prose they are just words
            if phrase in self.abbreviations:
                abbr.append(Expansion(self.abbreviations[phrase], " ".join(phrase)))
            if phrase in self.synonyms:
                multi = self.synonym_phrases.get(phrase, ())
                syn.append(Expansion(self.synonyms[phrase], " ".join(phrase), multi))
        return abbr, syn

    def products_in(self, raw: list[str]) -> frozenset[str]:
        """Product tags a query names ("exch 5.5 imc" -> {"exchange"})."""
        found: frozenset[str] = frozenset()
        for phrase in self._phrases(raw):
            tags = self.product_aliases.get(phrase)
            if tags:
                found |= tags
        return found

    def product_tag(self, name: str) -> str | None:
        """A thread's product, given as a tag, display name or alias -> tag."""
        key = name.strip().lower()
        if key in self.product_names:
            return key
        for tag, display in self.product_names.items():
            if display.lower() == key:
                return tag
        tags = self.product_aliases.get(tuple(_raw_tokens(key)))
        if tags and len(tags) == 1:
            return next(iter(tags))
        return None


@lru_cache(maxsize=1)
def packaged_vocabulary() -> tuple[str, ...]:
    """The packaged WordPiece vocabulary (kbbot/data/wordpiece.txt), read once: the token table's rows
    (kbbot/search/semantic.py) and the intent reader's common words. Kept here, beside the other packaged word
    lists, so that reading it needs no numpy. Raises OSError for a broken install."""
    text = (resources.files("kbbot") / "data" / "wordpiece.txt").read_text(encoding="utf-8")
    return tuple(text.rstrip("\n").split("\n"))
