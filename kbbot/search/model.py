"""The ranking and confidence models: small linear models over hand-designed features.

Weights live in `kbbot/data/search_model.yaml`, fitted by `kbbot/search/fit.py` (`python -m kbbot.search.fit`)
on labelled question files with grouped cross-validation (the figures are written at the top of the file).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import numpy.typing as npt
import yaml

from kbbot.errors import KbBotError

log = logging.getLogger(__name__)


class ModelError(KbBotError):
    """The packaged search model is missing or unreadable (a broken install, or a hand-edited file)."""


# Per-candidate features. The first group is computed for every article touched by the query (vectorised);
# the second only for the short list (rapidfuzz).
VECTOR_FEATURES: tuple[str, ...] = (
    "full",  # BM25F over all fields / query idf mass
    "head",  # BM25 over title + symptoms / query idf mass
    "title",  # BM25 over the title / query idf mass
    "bigram",  # matched word pairs of title + symptoms / query idf mass
    "cover",  # share of the query's idf mass present anywhere in the article
    "cover_head",  # share present in title + symptoms
    "sig",  # share of the query's error signatures the article contains
    "product",  # the article's product is one the query names
    "other_product",  # the query names products and this article is of another (not of an unrecorded one)
    "has_symptoms",  # a troubleshooting article (has a SYMPTOMS section)
    "problem_title",  # no SYMPTOMS section, but the title names a problem (a modern KB's troubleshooting page)
    # the same two for a long message, added to them: a long message names its setup in passing ("Win95, a
    # Pentium, the DOS driver in config.sys"), which says less about the article's product than a short question
    "product_long",
    "other_product_long",
    # error signatures in a long message, added to "sig": a pasted code is telling in a one-line question, but
    # a long message quotes event ids and STOP codes that hundreds of articles print
    "sig_long",
)
SHORTLIST_FEATURES: tuple[str, ...] = (
    "fuzz_head",  # rapidfuzz token_set_ratio(query, title + symptom opening)
    "semantic",  # cosine of the query's and the title + symptom opening's token-vector means (semantic.py)
    # the same for a query that carries an error signature: there the literal text should count for more
    "semantic_paste",
    # the same for a long message (chatter around the problem waters the whole message's vector down)
    "semantic_long",
    # a long message's best sentence: the highest cosine of any one of its sentences with the article
    "semantic_part",
    # a long message's best problem sentence by rapidfuzz (the message as a whole is cut at `fuzz_query_chars`)
    "fuzz_part",
)
FEATURES: tuple[str, ...] = VECTOR_FEATURES + SHORTLIST_FEATURES

# Per-query confidence features, computed on the ranked short list (only the first `matched_error_hits` hits
# carry their VECTOR_FEATURES at search time, so nothing here reads further down for those). None of them grows
# without bound with the length of the message: a long, chatty question matches more words of every article,
# and a feature that grows with that says "sure" to a long message that matches nothing.
CONFIDENCE_FEATURES: tuple[str, ...] = (
    "p_top",  # softmax probability of the top hit among the short list
    "margin",  # score of #1 minus #2
    "cover",  # top hit's share of query idf mass: how much of the message the best article explains
    "cover_head",
    "known",  # share of the query's words the KB has ever seen
    "sig",  # top hit matched a pasted error signature
    "fuzz_best",  # the rapidfuzz agreement of the top hit's title + symptoms with the query
    "missing",  # idf of the rarest typed word the top hit lacks (unknown words rarest of all), / unknown_miss_idf
    "unknown",  # the query has a word the KB has never seen (modern product names, mostly)
    # log(1 + known typed words), capped at `length_cap_words`: a description of a few words is matched more
    # reliably than two words, but past a sentence more words are more chatter, not more evidence
    "length",
    "gap3",  # score of #1 minus #3: one clear winner, or a cluster of near-equals (the same error text)
    "fuzz_margin",  # the top hit's rapidfuzz agreement minus the best of the rest of the short list
    # the top hit's semantic cosine: an off-topic question is far from every article, in meaning as in words
    "semantic",
    # the message is longer than `length_cap_words`: long messages get their own offset, not a bigger length
    "long",
    # evidence concentration: the top hit's cover minus the best of the next two. A long message that matches
    # nothing matches a little of many articles alike; the right article explains clearly more than its rivals
    "cover_lead",
    # idf-weighted share of the message's `rare_terms` rarest known words the top hit contains: the telling
    # words of a long message (a driver file, a product) are in the right article, not in a near miss
    "rare_cover",
    # share of the rest of the short list that shares the top hit's product: the right article's neighbours
    # are about the same thing; for a message the KB cannot answer they scatter over products
    "product_agree",
    # #1 minus #2 over #1 minus the short list's median: the gap to the runner-up against how spread out the
    # short list is, which for long messages is wider for every query alike
    "margin_norm",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class RankModel:
    """The fitted weights and thresholds; `kbbot/data/search_model.yaml` is their only source (`load`), written by
    `kbbot/search/fit.py`. A feature the file does not name weighs zero."""

    rank_weights: dict[str, float]
    conf_weights: dict[str, float]
    conf_bias: float
    # a second logistic model over the same features: is the right article among the first three? It tells
    # "several articles fit equally" (offer the short list) apart from "nothing fits" (say so)
    top3_weights: dict[str, float]
    top3_bias: float
    # answer when P(top hit right) >= answer_threshold,
    # else shortlist when P(right in top 3) >= shortlist_threshold
    answer_threshold: float
    shortlist_threshold: float
    # articles of the KB the model was fitted on: the engine scales what a word the KB has never seen is worth
    # by this KB's idf range against that one's, so a 5-article KB's unknown words do not outweigh its known ones
    fitted_articles: int
    # a KB of small_kb_min_articles up to small_kb_articles answers from its own threshold, fitted on KBs of those
    # sizes drawn from the fit's KBs: there the best match of a question the KB cannot answer stands far above
    # the few others, and the confidence model (fitted where thousands compete) rates it high. Below the drawn
    # sizes (a handful of pages) the idf scaling of unknown words keeps it honest already. 0: none
    small_kb_articles: int = 0
    small_kb_min_articles: int = 0
    small_kb_answer_threshold: float = 1.0

    def rank_vector(self, names: tuple[str, ...]) -> npt.NDArray[np.float64]:
        return np.array([self.rank_weights.get(n, 0.0) for n in names], dtype=np.float64)

    def conf_vector(self) -> npt.NDArray[np.float64]:
        return np.array([self.conf_weights.get(n, 0.0) for n in CONFIDENCE_FEATURES], dtype=np.float64)

    def confidence(self, x: npt.NDArray[np.float64]) -> float:
        """P(the top hit is the right article) from CONFIDENCE_FEATURES."""
        z = float(np.dot(self.conf_vector(), x) + self.conf_bias)
        return float(1.0 / (1.0 + np.exp(-np.clip(z, -30, 30))))

    def in_top3(self, x: npt.NDArray[np.float64]) -> float:
        """P(the right article is among the first three hits) from CONFIDENCE_FEATURES."""
        w = np.array([self.top3_weights.get(n, 0.0) for n in CONFIDENCE_FEATURES], dtype=np.float64)
        z = float(np.dot(w, x) + self.top3_bias)
        return float(1.0 / (1.0 + np.exp(-np.clip(z, -30, 30))))

    @classmethod
    def load(cls, path: Path | None = None) -> RankModel:
        """The packaged model (or the one at `path`)."""
        if path is None:
            res = resources.files("kbbot") / "data" / "search_model.yaml"
            if not res.is_file():
                raise ModelError("kbbot/data/search_model.yaml is missing from this install")
            text = res.read_text(encoding="utf-8")
        else:
            text = Path(path).read_text(encoding="utf-8")
        data = yaml.safe_load(text)
        try:
            return cls(
                rank_weights={k: float(v) for k, v in data["rank"].items()},
                conf_weights={k: float(v) for k, v in data["confidence"].items()},
                conf_bias=float(data["confidence_bias"]),
                top3_weights={k: float(v) for k, v in data["top3"].items()},
                top3_bias=float(data["top3_bias"]),
                answer_threshold=float(data["answer_threshold"]),
                shortlist_threshold=float(data["shortlist_threshold"]),
                fitted_articles=int(data["fitted_articles"]),
                small_kb_articles=int(data.get("small_kb_articles", 0)),
                small_kb_min_articles=int(data.get("small_kb_min_articles", 0)),
                small_kb_answer_threshold=float(data.get("small_kb_answer_threshold", 1.0)),
            )
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            where = path or "search_model.yaml"
            raise ModelError(f"search model {where} is incomplete or damaged: {exc!r}") from exc

    def to_yaml(self, header: str = "") -> str:
        body = yaml.safe_dump(
            {
                "rank": {k: round(v, 4) for k, v in self.rank_weights.items()},
                "confidence": {k: round(v, 4) for k, v in self.conf_weights.items()},
                "confidence_bias": round(self.conf_bias, 4),
                "top3": {k: round(v, 4) for k, v in self.top3_weights.items()},
                "top3_bias": round(self.top3_bias, 4),
                "answer_threshold": round(self.answer_threshold, 4),
                "shortlist_threshold": round(self.shortlist_threshold, 4),
                "fitted_articles": self.fitted_articles,
                "small_kb_articles": self.small_kb_articles,
                "small_kb_min_articles": self.small_kb_min_articles,
                "small_kb_answer_threshold": round(self.small_kb_answer_threshold, 4),
            },
            sort_keys=False,
        )
        return header + body
