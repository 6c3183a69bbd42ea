"""The search engine: a person's words or a pasted error -> ranked articles with a calibrated confidence.

Three stages, each bounded so a 40,000-character paste costs about what a one-liner does:

1. query analysis: Slack markup and junk removed, words stemmed, error signatures normalised, abbreviations,
   synonyms and version numbers added at low weight (data from kbbot/data/*.yaml; multi-word synonyms such as
   "access violation" as word pairs, never as loose words), words the KB has never
   seen mapped to a frequent vocabulary word one typo away (rapidfuzz OSA distance), at most `max_query_terms`
   distinct terms kept, rarest first;
2. candidate scoring over the whole KB with sparse postings: BM25F, title+symptom BM25, title BM25, word
   pairs, idf-weighted coverage, error-signature coverage, a troubleshooting-article prior and product
   agreement, combined linearly; the first five are folded into one value per posting at load, so this is a
   single numpy bincount, the cost of plain BM25;
3. the best `rerank_pool` articles re-ranked with rapidfuzz agreement of the query with the title + symptom
   opening and the cosine of their semantic vectors (kbbot/search/semantic.py); over the first `shortlist` of
   them, a softmax over the final scores and a logistic model over a handful of per-query features
   (kbbot/search/model.py) give the confidence and the band. A pasted message that several of the first
   three print word for word, at about the same score, is a tie: the band is "shortlist" (offer them, or ask
   for the product), never a confident pick.
"""

from __future__ import annotations

import itertools
import logging
import math
import re
import statistics
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA, LCSseq

from kbbot.article import normalise_qid
from kbbot.search.index import SearchIndex
from kbbot.search.lexicon import Expansion, Lexicon
from kbbot.search.model import CONFIDENCE_FEATURES, SHORTLIST_FEATURES, VECTOR_FEATURES, RankModel
from kbbot.search.params import PARAMS, SearchParams
from kbbot.search.semantic import TokenVectors, packaged_vectors
from kbbot.search.text import (
    _TOKEN,
    clean_query,
    names_problem,
    normalise_text,
    signatures,
    token_words,
    version_terms,
    words,
)
from kbbot.search.types import Band, SearchContext, SearchHit, SearchResult

if TYPE_CHECKING:
    from kbbot.kb import KnowledgeBase

log = logging.getLogger(__name__)

_V = {name: i for i, name in enumerate(VECTOR_FEATURES)}
_S = {name: i for i, name in enumerate(SHORTLIST_FEATURES)}
# where one sentence of a message ends: a full stop, question or exclamation mark before a space, or a line break
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
# A clause that says something works ("word/excel print fine to that laserjet", "the discs read fine on a win95
# pc") names the setup around the problem, not the product at fault. "ok" is left out: it is a button ("click
# OK") as often as a verdict.
_TROUBLE = r"(?:problems?|issues?|trouble)"
_WORKS_FINE = re.compile(rf"\b(?:fine|normally|perfectly|flawlessly|no {_TROUBLE}|without (?:any )?{_TROUBLE})\b")
_CLAUSE = re.compile(r"[.!?;:]+(?:\s+|$)|\n+|\b(?:but|while|whereas|except|though|although|however)\b")
_GLUED_VERSION = re.compile(r"^([a-z]{2,8}?)(\d{1,2}[a-z]?)$")


@dataclass(slots=True)
class QueryPlan:
    """What the engine makes of one query."""

    text: str  # cleaned, lower-cased, for rapidfuzz
    cols: list[int] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)
    idf_mass: list[float] = field(default_factory=list)  # idf x weight of typed terms, 0 for expansions (qmass)
    sig_cols: list[int] = field(default_factory=list)
    bigram_cols: list[int] = field(default_factory=list)
    bigram_weights: list[float] = field(default_factory=list)
    products: frozenset[str] = frozenset()
    qmass: float = 0.0  # sum of idf x weight over what the person typed (unknown words included)
    known: float = 0.0  # share of typed words the KB knows
    signatures: list[str] = field(default_factory=list)
    typed_cols: list[int] = field(default_factory=list)  # columns of the words the person typed
    semantic_text: str = ""  # what the token vectors embed: the cleaned query's opening
    unknown: int = 0  # typed words the KB has never seen (after typo correction)
    long: bool = False  # more distinct typed words than `length_cap_words`: a long, chatty message
    sentences: list[str] = field(default_factory=list)  # a long message's sentences, each matched on its own

    @property
    def empty(self) -> bool:
        return not self.cols and not self.bigram_cols


@dataclass(slots=True)
class Ranked:
    """The short list with everything the confidence model and evaluation need."""

    rows: npt.NDArray[np.int64]
    scores: npt.NDArray[np.float64]
    features: npt.NDArray[np.float64]  # rows x FEATURES (see `SearchEngine.rank` on all_features)
    plan: QueryPlan


@dataclass(slots=True)
class _Matched:
    """The postings a query matched, kept from stage 1 so the short list's features need no second lookup."""

    rows: npt.NDArray[np.int32]  # the query terms' postings, concatenated
    bigram_rows: npt.NDArray[np.int32]
    bigram_vals: npt.NDArray[np.float32]


# Widening windows below the best score: a strong match can stand 30 logits above the next twenty articles, and
# a window that takes in most of the KB costs the full partial sort the windows are there to avoid.
_TOP_K_MARGINS = (3.0, 6.0, 10.0, 15.0, 20.0, 25.0, 30.0, 35.0, 40.0, 50.0, 60.0)
# They are the fallback: first a threshold read off every 32nd article's score (about 4k articles above it),
# which nearly always leaves k reached articles above it in one pass over the KB
_TOP_K_STRIDE = 32


def _max_idf(articles: int) -> float:
    """The idf of a word in no article of a KB this size (the index's idf formula at df = 0)."""
    return math.log1p((max(articles, 1) + 0.5) / 0.5)


def _names_problem(sentence: str, raw: list[str]) -> bool:
    """Whether a (normalised) sentence says something goes wrong: a problem word or an error signature."""
    return names_problem(sentence, raw)


def _top_k(score: npt.NDArray[np.float64], reached: npt.NDArray[np.bool_], k: int) -> npt.NDArray[np.int64]:
    """Indices of the k best finite scores among reached articles (any order).

    A threshold that leaves a few hundred articles lets the partial sort and the reached-test run on those and
    not on the whole KB: first one estimated from a sample, then windows below the best score; only a weak
    query falls back to the full pass.
    """
    if k <= 0 or len(score) == 0:
        return np.zeros(0, dtype=np.int64)
    # first a threshold read off every _TOP_K_STRIDE-th article: one pass over the KB, not one per window
    sample = score[::_TOP_K_STRIDE]
    want = max(2, 4 * k // _TOP_K_STRIDE)
    if len(sample) > want:
        threshold = np.partition(sample, len(sample) - want)[len(sample) - want]
        if np.isfinite(threshold):
            cand = np.flatnonzero(score >= threshold)
            cand = cand[reached[cand]]
            if len(cand) >= k:
                return cand[np.argpartition(-score[cand], k - 1)[:k]].astype(np.int64)
    best = float(score.max())
    if np.isfinite(best):
        for margin in _TOP_K_MARGINS:
            cand = np.flatnonzero(score >= best - margin)
            cand = cand[reached[cand]]
            if len(cand) >= k:
                return cand[np.argpartition(-score[cand], k - 1)[:k]].astype(np.int64)
    cand = np.flatnonzero(reached & np.isfinite(score))
    if len(cand) <= k:
        return cand.astype(np.int64)
    return cand[np.argpartition(-score[cand], k - 1)[:k]].astype(np.int64)


def best_line(text: str, lines: list[str], *, cutoff: float) -> str | None:
    """The line (as given) that `text` contains most nearly, by rapidfuzz's partial_ratio, if it reaches
    `cutoff`; of equal scores the longest. Below the cut-off a line is not shown whatever it scores, so
    rapidfuzz can stop early on those.

    partial_ratio slides the shorter text along the longer: a 300-character line against a long message's 400
    characters costs 0.3 ms. A window w of the longer reaches ratio r only if 2 LCS >= r (m + |w|), m the
    shorter's length, and LCS <= |w|: so only if LCS >= r m / (2 - r). One bit-parallel LCS per line tells,
    and lines that cannot reach the cut-off are left out, exactly as if they had scored 0."""
    if not text or not lines:
        return None
    lowered = [line.lower() for line in lines]
    r = cutoff / 100.0
    common = process.cdist([text], lowered, scorer=LCSseq.similarity, workers=1)[0].tolist()
    fit = [i for i, c in enumerate(common) if c * (2 - r) >= r * min(len(lowered[i]), len(text)) - 1e-9]
    if not fit:
        return None
    scores = process.cdist([text], [lowered[i] for i in fit], scorer=fuzz.partial_ratio, score_cutoff=cutoff)[0]
    score, _, line = max(zip(scores.tolist(), (len(lines[i]) for i in fit), (lines[i] for i in fit), strict=True))
    return line if score >= cutoff else None


class SearchEngine:
    """Load once (`SearchEngine.load(index_dir, kb)`), then `search()` from any thread: read-only."""

    def __init__(
        self,
        *,
        index: SearchIndex,
        lexicon: Lexicon | None = None,
        model: RankModel | None = None,
        kb: KnowledgeBase | None = None,
        vectors: TokenVectors | None = None,
        params: SearchParams = PARAMS,
        within: npt.NDArray[np.bool_] | None = None,
    ) -> None:
        """`within`: search only these articles (a sub-KB view of the index; the fit draws small KBs this way)."""
        self.index = index
        self.within = within
        self.params = params
        self.lexicon = lexicon if lexicon is not None else Lexicon.load()
        self.model = model if model is not None else RankModel.load()
        self.kb = kb
        self.vectors = (
            vectors if vectors is not None or index.semantic is None else packaged_vectors("semantic matching off")
        )
        self._n = len(index)
        articles = self._n if within is None else int(within.sum())
        # a small KB answers on a higher threshold: few articles compete, so the best match of a question it
        # cannot answer stands far above the rest, and confidence runs high for it (see RankModel)
        small = self.model.small_kb_min_articles <= articles < self.model.small_kb_articles
        self._answer_threshold = self.model.small_kb_answer_threshold if small else self.model.answer_threshold
        self._row_of = {qid: row for row, qid in enumerate(index.ids)}
        self._tag_code = {tag: code for code, tag in enumerate(index.product_names)}
        # an article whose product nobody recorded cannot disagree with the product a question names
        named = np.array([bool(tag) for tag in index.product_names] or [False])
        self._has_product = named[index.product_codes] if len(index) else np.zeros(0, dtype=bool)
        # what a word this KB has never seen is worth, in this KB's idf range (the fitted KB's range is 1)
        scale = _max_idf(self._n) / _max_idf(self.model.fitted_articles)
        self._unknown_idf = params.query.unknown_idf * scale
        self._unknown_miss_idf = params.query.unknown_miss_idf * scale
        self._typo_cache: dict[str, str | None] = {}
        self._typo_buckets: dict[tuple[str, int], list[str]] | None = None
        self._product_vectors: dict[tuple[frozenset[int], bool], npt.NDArray[np.float64]] = {}
        self._w_vec = self.model.rank_vector(VECTOR_FEATURES)
        self._w_short = self.model.rank_vector(SHORTLIST_FEATURES)
        self._s_data = self._combined()
        # the article prior: a troubleshooting article, by its SYMPTOMS heading or by a title naming a problem
        self._prior = self._w_vec[_V["has_symptoms"]] * index.has_symptoms.astype(np.float64)
        self._prior += self._w_vec[_V["problem_title"]] * index.problem_title.astype(np.float64)

    @classmethod
    def load(
        cls,
        index_dir: Path,
        kb: KnowledgeBase | None = None,
        *,
        model: RankModel | None = None,
        params: SearchParams = PARAMS,
    ) -> SearchEngine:
        """Open the search index of an index folder (`<index_dir>/search`, or `index_dir` itself); one built
        with other index parameters is refused (IndexFolderError), never searched with numbers it was not made
        for."""
        index_dir = Path(index_dir)
        directory = index_dir / "search" if (index_dir / "search").is_dir() else index_dir
        return cls(index=SearchIndex.load(directory, params=params.index), model=model, kb=kb, params=params)

    # ---------------------------------------------------------------- query analysis

    def _typo(self, word: str) -> str | None:
        """A vocabulary word one typo away from an unknown query word (`pritning` -> `print`), or None.

        Edits are counted as optimal string alignment (a swapped pair of letters is one edit): one edit for
        words up to six letters, two beyond. Only words the KB uses often are targets: a modern product name
        one letter away from some rare word must stay unknown, or out-of-domain questions look answerable.
        """
        if word in self._typo_cache:
            return self._typo_cache[word]
        if self._typo_buckets is None:
            # built on first use (about 20 ms on the full KB), not at load: most queries never need it
            buckets: dict[tuple[str, int], list[str]] = {}
            df = self.index.df
            q = self.params.query
            min_df = q.typo_min_df if self._n >= q.typo_min_df_kb else 1
            terms = self.index.terms
            frequent = np.flatnonzero(df >= min_df)
            for col in frequent[np.argsort(-df[frequent], kind="stable")]:
                term = terms[col]
                if term.isalpha() and len(term) >= q.typo_min_len - 1:
                    buckets.setdefault((term[0], len(term)), []).append(term)
            self._typo_buckets = buckets
        choices: list[str] = []
        for n in (len(word) - 1, len(word), len(word) + 1):
            choices.extend(self._typo_buckets.get((word[0], n), ()))
        max_edits = 1 if len(word) <= 6 else 2
        # choices are in falling frequency, so among equally close words the commonest wins
        best = process.extractOne(word, choices, scorer=OSA.distance, score_cutoff=max_edits)
        found = best[0] if best else None
        if len(self._typo_cache) > 50_000:
            self._typo_cache.clear()
        self._typo_cache[word] = found
        return found

    def analyse(self, query: str) -> QueryPlan:
        """The terms, weights, signatures, word pairs and products the engine makes of one query."""
        q = self.params.query
        cleaned = clean_query(query)
        norm = normalise_text(cleaned)
        plan = QueryPlan(text=norm[: q.fuzz_query_chars], semantic_text=cleaned[: q.semantic_query_chars])
        if not norm.strip():
            return plan
        typed = words(norm)
        terms, glued, unknown_mass = self._typed_terms(plan, typed, self._chatter(norm, typed))
        if plan.long:
            plan.sentences = self._sentences(plan.semantic_text)
        raw = _TOKEN.findall(norm[: q.expansion_chars])
        abbr, syn = self.lexicon.expand(raw)
        plan.products = self._named_products(norm[: q.expansion_chars], raw)
        # words the person did not type, at low weight: abbreviations spelled out, synonyms, version numbers
        added = [(t, q.abbreviation_weight) for exp in abbr for t in exp.terms]
        added += [(t, q.synonym_weight) for exp in syn for t in exp.terms]
        added += [(t, q.version_weight) for t in version_terms(raw + glued + [t for e in abbr for t in e.terms])]
        vocab, idf = self.index.vocab, self.index.idf
        for term, weight in added:
            col = vocab.get(term)
            if col is not None and col not in terms and idf[col] >= q.expansion_min_idf:
                terms[col] = (weight, 0.0)
        plan.signatures = list(dict.fromkeys(signatures(norm)))[: q.max_signatures]
        for sig in plan.signatures:
            col = vocab.get(sig)
            if col is not None:
                plan.sig_cols.append(col)
                terms.setdefault(col, (1.0, 0.0))
        plan.cols = list(terms)
        plan.weights = [w for w, _ in terms.values()]
        plan.idf_mass = [m for _, m in terms.values()]
        plan.qmass = sum(plan.idf_mass) + unknown_mass
        plan.bigram_cols, plan.bigram_weights = self._word_pairs(typed, syn)
        return plan

    def _named_products(self, norm: str, raw: list[str]) -> frozenset[str]:
        """The products a query names, less those it names only in clauses saying something works: a product
        the message says is fine is the setup around the problem, not the one at fault (and when every product
        named is named so, all of them count, as before)."""
        named = self.lexicon.products_in(raw)
        if not named or not _WORKS_FINE.search(norm):
            return named
        at_fault: frozenset[str] = frozenset()
        for clause in _CLAUSE.split(norm):
            if clause and not _WORKS_FINE.search(clause):
                at_fault |= self.lexicon.products_in(_TOKEN.findall(clause))
        return at_fault or named

    def _chatter(self, norm: str, typed: list[str]) -> frozenset[str]:
        """The words of a long message that only its chatter uses: sentences that say nothing about a problem
        (no error signature, no word such as "fails", "error", "nothing", "won't") are the setup, the story and
        the sign-off; a short question is all problem."""
        q = self.params.query
        if len(set(typed)) <= q.length_cap_words:
            return frozenset()
        problem: set[str] = set()
        chatter: set[str] = set()
        # past the opening a message is a pasted log, not a conversation: its words are left at full weight
        for sentence in _SENTENCE.split(norm[: q.chatter_chars]):
            raw = _TOKEN.findall(sentence)
            (problem if _names_problem(sentence, raw) else chatter).update(token_words(raw))
        return frozenset(chatter - problem)

    def _typed_terms(
        self, plan: QueryPlan, typed: list[str], chatter: frozenset[str]
    ) -> tuple[dict[int, tuple[float, float]], list[str], float]:
        """The columns of the words the person typed, each with (weight, idf mass), at most max_query_terms of
        them (the rarest); the version numbers glued to product names ("vb5"); the idf mass of unknown words.
        Words only the chatter of a long message uses weigh `chatter_weight`. Sets the plan's typed columns, its
        share of known words and its count of unknown ones."""
        q = self.params.query
        vocab, idf = self.index.vocab, self.index.idf
        terms: dict[int, tuple[float, float]] = {}  # col -> (weight, idf mass)
        unknown_mass = 0.0
        n_known = 0
        glued: list[str] = []
        distinct = list(dict.fromkeys(typed))
        for t in distinct:
            col = vocab.get(t)
            weight = q.chatter_weight if t in chatter else 1.0
            if col is None and (m := _GLUED_VERSION.match(t)) is not None and m.group(1) in vocab:
                # "vb5", "vfp6", "exch55": a product and its version typed as one word
                col = vocab[m.group(1)]
                glued.append(m.group(2))
            if col is None and len(t) >= q.typo_min_len and t.isalpha():
                near = self._typo(t)
                col = vocab.get(near) if near else None
                weight *= q.typo_weight
            if col is None:
                unknown_mass += self._unknown_idf * (q.chatter_weight if t in chatter else 1.0)
                plan.unknown += 1
                continue
            n_known += 1
            if col not in terms:
                terms[col] = (weight, weight * float(idf[col]))
                plan.typed_cols.append(col)
        if len(terms) > q.max_query_terms:
            # a pasted log: keep the rarest (most telling) terms; the rest would only add noise and time
            keep = sorted(terms, key=lambda c: -float(idf[c]))[: q.max_query_terms]
            terms = {c: terms[c] for c in keep}
        plan.known = n_known / max(1, len(distinct))
        plan.long = len(distinct) > q.length_cap_words
        return terms, glued, unknown_mass

    def _word_pairs(self, typed: list[str], syn: list[Expansion]) -> tuple[list[int], list[float]]:
        """Bigram columns and weights: the first distinct pairs of known typed words, in order (a pasted log
        repeats itself; stop early), then multi-word synonyms ("crash" -> "access violation") at synonym weight."""
        q = self.params.query
        vocab = self.index.vocab
        pairs: dict[tuple[int, int], None] = {}
        prev: int | None = None
        for t in typed:
            col = vocab.get(t)
            if prev is not None and col is not None:
                pairs[(prev, col)] = None
                if len(pairs) >= q.max_query_terms * 2:
                    break
            prev = col
        cols = self.index.bigram_cols(list(pairs))
        weights = [1.0] * len(cols)
        syn_pairs: list[tuple[int, int]] = []
        for exp in syn:
            for phrase in exp.phrases:
                phrase_cols = [vocab.get(t) for t in phrase]
                syn_pairs.extend(
                    (a, b) for a, b in itertools.pairwise(phrase_cols) if a is not None and b is not None
                )
        if syn_pairs:
            have = set(cols)
            extra = [c for c in self.index.bigram_cols(list(dict.fromkeys(syn_pairs))) if c not in have]
            extra = extra[: q.max_query_terms]
            cols += extra
            weights += [q.synonym_pair_weight] * len(extra)
        return cols, weights

    # ---------------------------------------------------------------- scoring

    def _combined(self) -> npt.NDArray[np.float32]:
        """Per-posting value of the linear model's full/head/title/cover/cover_head terms, aligned with the
        full postings: with it one bincount scores five features at once, the cost of plain BM25."""
        ix = self.index
        w = {name: np.float32(v) for name, v in zip(VECTOR_FEATURES, self._w_vec, strict=True)}
        # float32 and in place throughout: this runs over every posting (millions) at every bot start
        combined = np.repeat(ix.idf.astype(np.float32), np.diff(ix.full.indptr))
        head = ix.head_data
        combined *= np.where(head > 0, w["cover"] + w["cover_head"], w["cover"]).astype(np.float32)
        combined += w["full"] * ix.full.data
        combined += w["head"] * head
        combined += w["title"] * ix.title_data
        return combined

    def _candidates(
        self, plan: QueryPlan, context: SearchContext | None
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_], _Matched]:
        """Stage-1 score of every article (the linear model over VECTOR_FEATURES), which articles some query
        term reaches, and the matched postings (reused to compute the short list's features)."""
        n = self._n
        ix = self.index
        qmass = max(plan.qmass, 1e-6)
        w = dict(zip(VECTOR_FEATURES, self._w_vec, strict=True))
        rows, vals, _ = ix.full.gather(plan.cols, [q / qmass for q in plan.weights], values=self._s_data)
        # one bincount scores five features at once; a query whose words reach nothing scores all zero
        score = np.bincount(rows, weights=vals, minlength=n).astype(np.float64, copy=False)
        reached = score > 0
        w_sig = w["sig"] + (w["sig_long"] if plan.long else 0.0)
        if plan.sig_cols and w_sig:
            for col in plan.sig_cols:
                hit = ix.full.indices[ix.full.indptr[col] : ix.full.indptr[col + 1]]
                score[hit] += w_sig / len(plan.signatures)
        b_rows, b_vals, _ = ix.bigram.gather(plan.bigram_cols, [w / qmass for w in plan.bigram_weights])
        if len(b_rows) and w["bigram"]:
            # a few hundred postings: scattering them beats a pass over every article
            np.add.at(score, b_rows, w["bigram"] * b_vals)
            reached[b_rows] = True
        # the article prior and the product agreement in one pass (cached per set of products named)
        score += self._product_vector(plan.products, long=plan.long)
        if self.within is not None:
            score[~self.within] = -np.inf
        if context is not None:
            score = self._apply_context(context, score, reached)
        matched = _Matched(rows=rows, bigram_rows=b_rows, bigram_vals=b_vals)
        return score, reached, matched

    def _product_vector(self, tags: frozenset[str], *, long: bool) -> npt.NDArray[np.float64]:
        """Per-article prior plus product agreement with the products a query names (a long message names its
        setup in passing, so there agreement has weights of its own)."""
        codes = [self._tag_code[t] for t in tags if t in self._tag_code]
        if not codes:  # no product named, or none this KB has: nothing to agree or disagree with
            return self._prior
        key = (frozenset(codes), long)
        vec = self._product_vectors.get(key)
        if vec is None:
            w = dict(zip(VECTOR_FEATURES, self._w_vec, strict=True))
            same = np.isin(self.index.product_codes, codes)
            other = ~same & self._has_product if self._rules_out(tags) else np.zeros_like(same)
            agree, disagree = w["product"], w["other_product"]
            if long:
                agree, disagree = agree + w["product_long"], disagree + w["other_product_long"]
            vec = self._prior + np.where(same, agree, np.where(other, disagree, 0.0))
            if len(self._product_vectors) < 256:
                self._product_vectors[key] = vec
        return vec

    def _rules_out(self, tags: frozenset[str]) -> bool:
        """Whether naming `tags` counts against articles of other products: not when only platforms are named
        ("Magic School Bus on the spare Windows 95 PC" is a kids' title's article, filed under no Windows)."""
        return any(t not in self.lexicon.platforms for t in tags if t in self._tag_code)

    def row_features(
        self, plan: QueryPlan, top: npt.NDArray[np.int64], matched: _Matched, *, for_confidence: bool = False
    ) -> npt.NDArray[np.float64]:
        """VECTOR_FEATURES of the short list: its articles' postings of the query's terms, and the word pairs
        the query matched. `for_confidence`: only those the confidence model and the matched error lines read
        (cover, cover_head, sig), the rest left zero; what `search` needs of its first hits."""
        ix = self.index
        k = len(top)
        qmass = max(plan.qmass, 1e-6)
        out = np.zeros((k, len(VECTOR_FEATURES)), dtype=np.float64)
        if len(matched.rows):
            term, at, r = self._pool_postings(plan.cols, top)
            qw = np.asarray(plan.weights, dtype=np.float64)[term] / qmass
            idf = ix.idf[np.asarray(plan.cols, dtype=np.int64)[term]].astype(np.float64)
            head = ix.head_data[at]
            out[:, _V["cover"]] = np.bincount(r, weights=qw * idf, minlength=k)
            out[:, _V["cover_head"]] = np.bincount(r, weights=qw * idf * (head > 0), minlength=k)
            if plan.sig_cols:
                is_sig = np.isin(np.asarray(plan.cols), plan.sig_cols)[term] / len(plan.signatures)
                out[:, _V["sig"]] = np.bincount(r, weights=is_sig, minlength=k)
                if plan.long:
                    out[:, _V["sig_long"]] = out[:, _V["sig"]]
            if for_confidence:
                return out
            out[:, _V["full"]] = np.bincount(r, weights=qw * ix.full.data[at], minlength=k)
            out[:, _V["head"]] = np.bincount(r, weights=qw * head, minlength=k)
            out[:, _V["title"]] = np.bincount(r, weights=qw * ix.title_data[at], minlength=k)
        if for_confidence:
            return out
        if len(matched.bigram_rows) and k:
            order = np.argsort(top)
            pos = np.minimum(np.searchsorted(top[order], matched.bigram_rows), k - 1)
            hit = np.flatnonzero(top[order][pos] == matched.bigram_rows)
            out[:, _V["bigram"]] = np.bincount(order[pos[hit]], weights=matched.bigram_vals[hit], minlength=k)
        codes = [self._tag_code[t] for t in plan.products if t in self._tag_code]
        if codes:
            same = np.isin(ix.product_codes[top], codes)
            other = ~same & self._has_product[top] if self._rules_out(plan.products) else np.zeros_like(same)
            out[:, _V["product"]] = same
            out[:, _V["other_product"]] = other
            if plan.long:
                out[:, _V["product_long"]] = same
                out[:, _V["other_product_long"]] = other
        out[:, _V["has_symptoms"]] = ix.has_symptoms[top]
        out[:, _V["problem_title"]] = ix.problem_title[top]
        return out

    def _pool_postings(
        self, cols: list[int], top: npt.NDArray[np.int64]
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """(index into `cols`, position in the full postings, pool slot) of every posting of a pool article
        that is one of the terms `cols`, read from the article -> postings table: a few hundred entries per
        article, however many postings the query matched (a pasted log matches hundreds of thousands)."""
        ix = self.index
        empty = np.zeros(0, dtype=np.int64)
        if not len(top) or not cols:
            return empty, empty, empty
        starts, ends = ix.forward_ptr[top], ix.forward_ptr[top + 1]
        at = np.concatenate([ix.forward_pos[s:e] for s, e in zip(starts.tolist(), ends.tolist(), strict=True)])
        if not len(at):
            return empty, empty, empty
        # each article's positions ascend (terms ascending); offset by slot they ascend across the pool, so one
        # search finds, for every (article, query term), the article's first position at or past the start of
        # the term's run, and the article has the term when that position is still inside the run
        total = len(ix.full.indices)
        slots = np.arange(len(top), dtype=np.int64)
        keys = np.repeat(slots * total, ends - starts) + at
        qcols = np.asarray(cols, dtype=np.int64)
        lo = (slots[:, None] * total + ix.full.indptr[qcols][None, :]).ravel()
        hi = (slots[:, None] * total + ix.full.indptr[qcols + 1][None, :]).ravel()
        where = np.minimum(np.searchsorted(keys, lo), len(keys) - 1)
        # lo and hi run slot-major: entry i is query term i % len(cols) in pool slot i // len(cols)
        hit = np.flatnonzero((keys[where] >= lo) & (keys[where] < hi))
        return hit % len(qcols), at[where[hit]].astype(np.int64), hit // len(qcols)

    def _semantic(self, plan: QueryPlan, rows: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        """The SHORTLIST_FEATURES columns made of semantic cosines, for each row (zero without the token table):
        the query's vector with each row's, the same again for a paste or a long message (weights of their own),
        and for a long message the best cosine of any one of its sentences: a story, a setup and a sign-off
        around one sentence that says what goes wrong pull the whole message's mean away from the article."""
        out = np.zeros((len(rows), len(SHORTLIST_FEATURES)), dtype=np.float64)
        codes, scales = self.index.semantic, self.index.semantic_scale
        if self.vectors is None or codes is None or scales is None or not len(rows):
            return out
        vectors = self.vectors.embed_each([plan.semantic_text, *plan.sentences])
        cos = ((codes[rows].astype(np.float32) @ vectors.T) * scales[rows, None]).astype(np.float64)
        out[:, _S["semantic"]] = cos[:, 0]
        if plan.signatures:
            out[:, _S["semantic_paste"]] = cos[:, 0]
        if plan.long:
            out[:, _S["semantic_long"]] = cos[:, 0]
            out[:, _S["semantic_part"]] = cos.max(axis=1)
        return out

    def _sentences(self, text: str) -> list[str]:
        """The sentences of a message that have a few words (greetings and sign-offs mostly do not)."""
        q = self.params.query
        parts = [p for p in _SENTENCE.split(text) if len(_TOKEN.findall(p.lower())) >= q.sentence_min_words]
        return parts[: q.max_sentences]

    def _fuzz_head(
        self, plan: QueryPlan, rows: npt.NDArray[np.int64]
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """rapidfuzz agreement of the query with each row's title + symptom opening (the title on its own added
        nothing once the semantic feature was in, and cost a sixth of a query), and for a long message the best
        agreement of any one of its sentences. (Only the sentences naming a problem: pooled CV recall@1 on long
        questions 0.875 against 0.886, answered right 0.806 against 0.822, for 0.5 ms less.)"""
        if not plan.text or not len(rows):
            return np.zeros(len(rows), dtype=np.float64), np.zeros(len(rows), dtype=np.float64)
        rapid_text = self.index.rapid_text
        chars = self.params.query.fuzz_head_chars
        heads = [rapid_text(row)[0][:chars].lower() for row in rows.tolist()]
        queries = [plan.text, *(normalise_text(t) for t in plan.sentences)]
        # one call for the pool, the heads as rapidfuzz's queries: it prepares (splits and sorts) each query's
        # tokens once, and a 600-character head costs more to prepare than a sentence (token_set_ratio is
        # symmetric; a long message's 13 x 20 comparisons take a quarter less time this way round)
        ratios = process.cdist(heads, queries, scorer=fuzz.token_set_ratio, workers=1).T / 100.0
        return ratios[0], ratios.max(axis=0) if plan.long else np.zeros(len(rows))

    def rank(
        self,
        query: str,
        *,
        context: SearchContext | None = None,
        shortlist: int | None = None,
        all_features: bool = True,
    ) -> Ranked | None:
        """The re-ranked pool for a query, best first (None when the query has no searchable words).

        The ranking itself needs only the stage-1 score and the rapidfuzz features; the per-article
        VECTOR_FEATURES are for the confidence model, the matched error lines, fitting and `explain`. With
        `all_features=False` (what `search` uses) only the few the confidence model reads are worked out, for
        the first few hits only, and the rest are left zero, which spares a pass over every posting the query
        matched."""
        plan = self.analyse(query)
        if plan.empty:
            return None
        score, reached, matched = self._candidates(plan, context)
        q = self.params.query
        shortlist = q.shortlist if shortlist is None else shortlist
        pool = min(max(shortlist, q.rerank_pool), self._n)
        # articles no query term reaches are not candidates, whatever the priors say
        wide = _top_k(score, reached, min(max(shortlist, q.semantic_pool), self._n))
        if len(wide) == 0:
            return None
        # the semantic cosine costs next to nothing, so it widens the net: an article that says the same thing
        # in other words can climb into the pool from below; rapidfuzz, dearer, sees only the pool
        semantic = self._semantic(plan, wide)
        keep = np.argsort(-(score[wide] + semantic @ self._w_short), kind="stable")[:pool]
        top = wide[keep]
        short = semantic[keep]
        short[:, _S["fuzz_head"]], short[:, _S["fuzz_part"]] = self._fuzz_head(plan, top)
        final = score[top] + short @ self._w_short
        order = np.argsort(-final, kind="stable")
        rows = top[order]
        vec = np.zeros((len(rows), len(VECTOR_FEATURES)), dtype=np.float64)
        if all_features:
            vec[:] = self.row_features(plan, rows, matched)
        else:
            n_vec = min(len(rows), q.matched_error_hits)
            vec[:n_vec] = self.row_features(plan, rows[:n_vec], matched, for_confidence=True)
        return Ranked(rows=rows, scores=final[order], features=np.hstack([vec, short[order]]), plan=plan)

    def _apply_context(
        self, context: SearchContext, score: npt.NDArray[np.float64], reached: npt.NDArray[np.bool_]
    ) -> npt.NDArray[np.float64]:
        """Excluded articles out; with a product established in the thread, only that product's articles
        compete (as long as the question reaches any of them; otherwise the thread has moved on)."""
        if context.excluded:
            bad = [self._row_of[q] for q in context.excluded if q in self._row_of]
            if bad:
                score[bad] = -np.inf
        if context.product:
            tag = self.lexicon.product_tag(context.product)
            if tag is None and context.product.strip().lower() in self._tag_code:
                tag = context.product.strip().lower()
            code = self._tag_code.get(tag) if tag else None
            if code is not None:
                in_product = self.index.product_codes == code
                if np.any(in_product & reached & np.isfinite(score)):
                    score[~in_product] = -np.inf
            else:
                log.debug("context product %s is not a product of this KB", context.product)
        return score

    def confidence_features(self, ranked: Ranked) -> npt.NDArray[np.float64]:
        """CONFIDENCE_FEATURES of a ranked short list (kbbot/search/model.py says what each one is)."""
        q = self.params.query
        s = ranked.scores
        p = np.exp(s - s.max())
        p /= p.sum()
        names = VECTOR_FEATURES + SHORTLIST_FEATURES
        f = dict(zip(names, ranked.features[0], strict=True))
        fuzz_best = ranked.features[:, len(VECTOR_FEATURES) + SHORTLIST_FEATURES.index("fuzz_head")]
        # the hits whose per-article features `search` works out: the first matched_error_hits
        cover = ranked.features[: q.matched_error_hits, VECTOR_FEATURES.index("cover")]
        n_typed = len(ranked.plan.typed_cols)
        top_row = int(ranked.rows[0])
        has = self._article_has(ranked.plan.typed_cols, top_row)
        codes = self.index.product_codes[ranked.rows]
        spread = float(s[0] - statistics.median(s.tolist())) if len(s) > 2 else 0.0  # np.median: 20 us
        return np.array(
            [
                float(p[0]),
                float(s[0] - s[1]) if len(s) > 1 else 5.0,
                f["cover"],
                f["cover_head"],
                ranked.plan.known,
                1.0 if f["sig"] > 0 else 0.0,
                f["fuzz_head"],
                self._missing_rarest(ranked.plan, top_row, has) / self._unknown_miss_idf,
                1.0 if ranked.plan.unknown else 0.0,
                math.log1p(min(n_typed, q.length_cap_words)),
                float(s[0] - s[2]) if len(s) > 2 else 5.0,
                fuzz_best[0] - float(fuzz_best[1:].max()) if len(s) > 1 else 0.5,
                f["semantic"],
                1.0 if ranked.plan.long else 0.0,
                float(cover[0] - cover[1:].max()) if len(cover) > 1 else float(cover[0]),
                self._rare_cover(ranked.plan, top_row, has),
                np.count_nonzero(codes[1:] == codes[0]) / (len(codes) - 1) if len(codes) > 1 else 1.0,
                float(s[0] - s[1]) / spread if len(s) > 2 and spread > 1e-9 else 1.0,
            ],
            dtype=np.float64,
        )

    def _article_has(self, cols: list[int], row: int) -> set[int]:
        """Which of `cols` the article at `row` contains: _pool_postings for one article, where its positions
        need no pool-slot offset (the generic path's dozen array steps cost a twentieth of a short query)."""
        ix = self.index
        at = ix.forward_pos[ix.forward_ptr[row] : ix.forward_ptr[row + 1]]
        if not len(at) or not cols:
            return set()
        qcols = np.asarray(cols, dtype=np.int64)
        lo, hi = ix.full.indptr[qcols], ix.full.indptr[qcols + 1]
        first = at[np.minimum(np.searchsorted(at, lo), len(at) - 1)]
        return {c for c, has in zip(cols, ((first >= lo) & (first < hi)).tolist(), strict=True) if has}

    def _rare_cover(self, plan: QueryPlan, row: int, has: set[int]) -> float:
        """idf-weighted share of the query's rarest typed words (rare_terms of them) the article contains."""
        idf = self.index.idf
        rarest = sorted(plan.typed_cols, key=lambda c: -float(idf[c]))[: self.params.query.rare_terms]
        total = sum(float(idf[c]) for c in rarest)
        if total <= 0:
            return 0.0
        return sum(float(idf[c]) for c in rarest if c in has) / total

    def _missing_rarest(self, plan: QueryPlan, row: int, has: set[int]) -> float:
        """The idf of the rarest typed word the article lacks (a word the KB has never seen counts as
        rarer than any): an out-of-domain question usually names something no article does."""
        ceiling = self._unknown_miss_idf
        worst = ceiling if plan.unknown else 0.0
        idf = self.index.idf
        for col in plan.typed_cols:
            if float(idf[col]) > worst and col not in has:
                worst = float(idf[col])
        return min(worst, ceiling)

    def search(self, query: str, *, limit: int = 5, context: SearchContext | None = None) -> SearchResult:
        """Ranked hits for a query, best first, with the band the bot should answer in."""
        q = self.params.query
        limit = max(0, min(limit, q.max_limit))
        direct = self._by_number(query, context)
        if direct is not None:
            return SearchResult(query=query, hits=(direct,)[:limit], band="answer", confidence=1.0)
        try:
            ranked = self.rank(query, context=context, shortlist=max(q.shortlist, limit), all_features=False)
        except Exception:  # a search must never take the bot down; log it and say "no match"
            log.exception("search failed for a %s-character query", len(query or ""))
            ranked = None
        if ranked is None:
            return SearchResult(query=query, hits=(), band="none", confidence=0.0)
        # the confidence model was fitted on short lists of `shortlist` articles: judge on the same footing
        head = Ranked(
            rows=ranked.rows[: q.shortlist],
            scores=ranked.scores[: q.shortlist],
            features=ranked.features[: q.shortlist],
            plan=ranked.plan,
        )
        x = self.confidence_features(head)
        conf = self.model.confidence(x)
        band: Band
        if conf >= self._answer_threshold:
            band = "answer"
        elif self.model.in_top3(x) >= self.model.shortlist_threshold or x[CONFIDENCE_FEATURES.index("sig")]:
            # several articles fit about equally (same error text), or one fits loosely; a pasted error code
            # that articles contain is never "no match", however short the question
            band = "shortlist"
        else:
            band = "none"
        hits = tuple(self._hit(ranked, i) for i in range(min(limit, len(ranked.rows))))
        if band == "answer" and self._error_tie(ranked, hits):
            band = "shortlist"
        return SearchResult(query=query, hits=hits, band=band, confidence=conf)

    def _error_tie(self, ranked: Ranked, hits: tuple[SearchHit, ...]) -> bool:
        """Whether the pasted error text or code is printed, word for word, by the first hit and by another of the
        first three scoring about as well: several articles share the message (one per product or version), and
        no ranker can tell which the person has, so the bot offers them and lets the person pick."""
        first = hits[0].matched_error if hits else None
        if not first:
            return False
        key = " ".join(_TOKEN.findall(normalise_text(first)))
        for i in range(1, min(self.params.query.matched_error_hits, len(hits))):
            other = hits[i].matched_error
            if (
                other
                and ranked.scores[0] - ranked.scores[i] <= self.params.query.tie_margin
                and " ".join(_TOKEN.findall(normalise_text(other))) == key
            ):
                return True
        return False

    def _by_number(self, query: str, context: SearchContext | None) -> SearchHit | None:
        """A question that is just an article number ("Q163243", "kb 163243") is a lookup, not a search."""
        text = clean_query(query or "")
        if len(text) > 12:
            return None
        qid = normalise_qid(text.replace(" ", ""))
        row = self._row_of.get(qid) if qid else None
        if row is None or (context is not None and qid in context.excluded):
            return None
        tag = self.index.product_names[int(self.index.product_codes[row])]
        return SearchHit(
            id=self.index.ids[row],
            title=self.index.titles[row],
            score=1.0,
            product=self.lexicon.product_names.get(tag, tag),
        )

    def _hit(self, ranked: Ranked, i: int) -> SearchHit:
        row = int(ranked.rows[i])
        tag = self.index.product_names[int(self.index.product_codes[row])]
        return SearchHit(
            id=self.index.ids[row],
            title=self.index.titles[row],
            score=float(ranked.scores[i]),
            product=self.lexicon.product_names.get(tag, tag),
            # the card shows the first hits' matched lines; further down nobody looks, so spare the time
            matched_error=self._matched_error(ranked, i) if i < self.params.query.matched_error_hits else None,
        )

    def _matched_error(self, ranked: Ranked, i: int) -> str | None:
        """The article's literal error line (or code) the query matched, for the card to show as code."""
        _, errs = self.index.rapid_text(int(ranked.rows[i]))
        lines = [line for line in errs.split("\n") if line.strip()]
        if not lines or not ranked.plan.text:
            return None
        # a pasted code matches its line exactly; a message must agree closely, not merely share words
        return best_line(ranked.plan.text, lines, cutoff=80.0 if ranked.features[i, _V["sig"]] > 0 else 90.0)

    def section_scores(self, query: str, sections: Mapping[str, str]) -> dict[str, float]:
        """How well each of an article's sections (name -> heading and text) matches `query`: BM25 of the
        query's words over each section, with the KB's idf, the article's sections as the collection for length
        (which case of a page with one section per error the person has; kbbot/conversation/focus.py)."""
        asked = set(words(normalise_text(clean_query(query))))
        vocab, idf = self.index.vocab, self.index.idf
        weights = {t: float(idf[vocab[t]]) if t in vocab else self._unknown_idf for t in asked}
        counted = {name: Counter(words(normalise_text(text[: self.params.index.max_symptom_chars])))
                   for name, text in sections.items()}  # fmt: skip
        lengths = {name: sum(c.values()) for name, c in counted.items()}
        mean = max(1.0, sum(lengths.values()) / max(1, len(lengths)))
        k1, b = self.params.index.k1, self.params.index.fields["body"].b
        out: dict[str, float] = {}
        for name, counts in counted.items():
            norm = k1 * (1 - b + b * lengths[name] / mean)
            out[name] = sum(w * counts[t] * (k1 + 1) / (counts[t] + norm) for t, w in weights.items() if counts[t])
        return out

    def explain(self, query: str) -> Iterator[str]:
        """Lines describing how a query was understood and scored (for debugging and `--verbose`)."""
        ranked = self.rank(query)
        if ranked is None:
            yield "no searchable words"
            return
        plan = ranked.plan
        yield f"terms: {[self.index.terms[c] for c in plan.cols]}"
        yield f"products named: {sorted(plan.products)}  known: {plan.known:.2f}  qmass: {plan.qmass:.1f}"
        for i in range(min(5, len(ranked.rows))):
            named = zip(VECTOR_FEATURES + SHORTLIST_FEATURES, ranked.features[i], strict=True)
            feats = ", ".join(f"{n}={v:.2f}" for n, v in named)
            yield f"{self.index.ids[int(ranked.rows[i])]} {ranked.scores[i]:.2f}: {feats}"
