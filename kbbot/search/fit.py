"""Fitting the search model (`kbbot/data/search_model.yaml`) on labelled questions, with grouped cross-validation.

    python -m kbbot.search.fit --index INDEX QUESTIONS.jsonl [MORE.jsonl ...] [--also INDEX2 QUESTIONS2.jsonl]
        [--out PATH]

Three things are fitted, all plain numpy: the ranking weights (a listwise softmax: which article of the short
list is the right one), two logistic models over the per-query confidence features (is the top hit right? is
the right article among the first three?) and the two band thresholds. Rows with `"expected": null` (questions
the KB cannot answer) teach only the confidence models.

Every figure and both thresholds come from out-of-fold predictions: the questions are dealt into folds grouped
by their article (the phrasings of one article never straddle training and test), several deals are pooled,
and a held-out question is searched again by an engine carrying its fold's ranking weights, so it never picks
its own candidates. The answer threshold follows the product's rule separately for short and long messages:
as many right answers as possible while at most `max_ood_answered` of the unanswerable questions of that
length are answered and at most `max_wrong_share` of the confident answers are wrong.

`--also` adds questions over another KB (a modern Markdown KB beside the 1999 archive): each is searched in its
own index, all of them are fitted together, folds stay grouped by article within each KB, the threshold rule
holds on every KB apart, and the figures are reported for all questions and per KB ("main" is `--index`'s).
Rows naming their article by `expected_path` are resolved to its id first (`resolve_expected`).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from kbbot.evaluate import Question, read_questions
from kbbot.kb import KnowledgeBase
from kbbot.search.engine import Ranked, SearchEngine
from kbbot.search.model import CONFIDENCE_FEATURES, FEATURES, RankModel

log = logging.getLogger(__name__)

Floats = npt.NDArray[np.float64]

# Where the ranking fit starts (not defaults the engine ever runs with: a refit starts here, not from the
# installed weights, so a refit does not depend on the fits before it)
FIT_START: dict[str, float] = {
    "full": 1.0,
    "head": 0.5,
    "title": 0.5,
    "bigram": 0.3,
    "cover": 2.0,
    "cover_head": 1.0,
    "sig": 3.0,
    "product": 0.5,
    "other_product": -0.3,
    "has_symptoms": 0.3,
    "problem_title": 0.3,
    "fuzz_head": 0.5,
    "semantic": 0.0,
    "semantic_paste": 0.0,
}
# "is it among the first three" does not depend on how #1 compares with #2 and #3: these are left out of that
# model (held at zero, so their weights stay zero)
TIE_FEATURES = ("gap3", "fuzz_margin", "margin_norm")


@dataclass(frozen=True, slots=True, kw_only=True)
class FitSettings:
    folds: int = 5
    # fold deals pooled for every figure and threshold: with a few hundred questions one deal moves the figures
    # by two or three points, enough to pick a threshold that only suited that deal
    seeds: tuple[int, ...] = (0, 1, 2, 3)
    l2: float = 0.01
    # all unanswerable questions together weigh this share of the answerable ones, however many there are: a
    # handful of rows, but a real share of what a support channel asks
    ood_share: float = 0.3
    # the product allows one unanswerable question in ten to be answered; the threshold keeps a margin under that,
    # since the rate is measured on a few dozen questions of each length
    max_ood_answered: float = 0.08
    # at most about one confident answer in eight may be wrong (in-domain). One in ten cost three points of
    # confident right answers in cross-validation (0.655 -> 0.631 over four deals)
    max_wrong_share: float = 0.12
    # rounds of (pick the training pools, fit the ranking on them) before the cross-validated fit
    pool_passes: int = 2
    # a message of this many words or more is "long" for the threshold rule (the long dev questions have 57-113)
    long_words: int = 40
    # Small KBs drawn from each KB of the fit (views of its index holding `size` articles): some questions'
    # articles kept in, as many others' left out, which makes those unanswerable there. A KB of fewer than
    # `small_kb_articles` answers from a threshold of its own, the rule's on these draws (out of fold, like every
    # threshold here); they fit no weights. With the big KBs' threshold a 100-article KB answered a quarter of
    # what it cannot answer; its right answers are so clear that a higher threshold costs them little
    sub_kb_sizes: tuple[int, ...] = (30, 100, 300)
    sub_kb_draws: int = 8  # small KBs per size and KB
    sub_kb_questions: int = 12  # answerable questions kept in, answerable questions left out, unanswerable ones
    small_kb_articles: int = 1000


@dataclass(frozen=True, slots=True, kw_only=True)
class FitSet:
    """Questions over one KB. The fit runs on several at once (the archive's dev sets and a modern KB's), so one
    model is fitted to rank and to judge confidence on KBs of both kinds; each question is searched in its own."""

    engine: SearchEngine
    questions: Sequence[Question]
    name: str
    ranking: bool = True  # its questions train the ranking (a drawn small KB's do not)
    group: str = ""  # fold groups are per group (drawn small KBs: the KB they came from)
    # per question, the article whose questions share its fold, when it is not `expected` (a drawn small KB's
    # left-out questions are unanswerable there, but stay with their article's fold)
    articles: Sequence[str | None] = ()


@dataclass(frozen=True, slots=True)
class _Example:
    question: Question
    ranked: Ranked | None
    right: int  # position of the right article in the short list, -1 if absent or unanswerable
    long: bool
    kb: int = 0  # which FitSet (and engine) the question belongs to
    ranking: bool = True
    article: str | None = None  # the article whose questions share a fold (a left-out article's too)


@dataclass(slots=True)
class FitResult:
    model: RankModel
    summary: list[str]  # the cross-validated figures, one line each (written at the top of the model file)
    figures: dict[str, float] = field(default_factory=dict)


# ------------------------------------------------------------------------------------------- the solvers
def fit_listwise(
    groups: list[tuple[Floats, int]], *, l2: float = 0.01, steps: int = 400, init: Floats | None = None
) -> Floats:
    """Weights w maximising sum log softmax(X w)[right] over groups (X: candidates x features, right: row
    of the right article), with an L2 penalty. Plain gradient descent with a backtracking step: a dozen
    features and a few hundred groups need nothing more."""
    n_feat = groups[0][0].shape[1]
    w = np.zeros(n_feat) if init is None else init.astype(np.float64).copy()

    def loss_grad(w: Floats) -> tuple[float, Floats]:
        loss = l2 * float(w @ w)
        grad = 2 * l2 * w
        for x, right in groups:
            s = x @ w
            s = s - s.max()
            p = np.exp(s)
            p /= p.sum()
            loss -= float(np.log(p[right] + 1e-12))
            grad += x.T @ p - x[right]
        return loss / len(groups), grad / len(groups)

    step = 1.0
    loss, grad = loss_grad(w)
    for _ in range(steps):
        new = w - step * grad
        new_loss, new_grad = loss_grad(new)
        if new_loss < loss:
            w, loss, grad = new, new_loss, new_grad
            step *= 1.3
        else:
            step *= 0.5
            if step < 1e-8:
                break
    return w


def fit_logistic(
    x: Floats, y: Floats, *, l2: float = 0.01, steps: int = 50, sample_weight: Floats | None = None
) -> tuple[Floats, float]:
    """(weights, bias) of an L2-regularised, optionally sample-weighted logistic regression.

    Newton's method: with a dozen features it converges in a few steps to the exact optimum, so the
    probabilities are as calibrated as the model allows (gradient descent stopped early shrinks them
    towards 0.5)."""
    n, d = x.shape
    sw = np.ones(n) if sample_weight is None else sample_weight.astype(np.float64)
    sw = sw / sw.mean()
    xb = np.hstack([x, np.ones((n, 1))])
    theta = np.zeros(d + 1)
    reg = np.full(d + 1, 2 * l2)
    reg[-1] = 0.0  # the bias is not shrunk
    for _ in range(steps):
        z = np.clip(xb @ theta, -30, 30)
        p = 1.0 / (1.0 + np.exp(-z))
        grad = xb.T @ ((p - y) * sw) / n + reg * theta
        hess = (xb * (p * (1 - p) * sw)[:, None]).T @ xb / n + np.diag(reg) + 1e-9 * np.eye(d + 1)
        step = np.linalg.solve(hess, grad)
        theta -= step
        if float(np.abs(step).max()) < 1e-8:
            break
    return theta[:-1], float(theta[-1])


# ------------------------------------------------------------------------------------------- cross-validation
def deal_folds(expected: Sequence[str | None], k: int, seed: int = 0) -> npt.NDArray[np.int64]:
    """Fold per question, grouped by target article so the phrasings of one article never straddle training
    and test (that would leak the article's words). Seed 0 deals the groups out in file order; other seeds
    shuffle them first."""
    groups: dict[str, int] = {}
    for i, e in enumerate(expected):
        groups.setdefault(e or f"ood{i}", len(groups))
    order = np.arange(len(groups))
    if seed:
        np.random.default_rng(seed).shuffle(order)
    fold_of = {key: int(order[n]) % k for key, n in groups.items()}
    return np.asarray([fold_of[e or f"ood{i}"] for i, e in enumerate(expected)], dtype=np.int64)


def _head(engine: SearchEngine, ranked: Ranked) -> Ranked:
    """The first `shortlist` of a ranking: what the confidence model judges at search time."""
    n = engine.params.query.shortlist
    return Ranked(rows=ranked.rows[:n], scores=ranked.scores[:n], features=ranked.features[:n], plan=ranked.plan)


def _position(engine: SearchEngine, ranked: Ranked, expected: str | None) -> int:
    if expected is None:
        return -1
    ids = [engine.index.ids[int(r)] for r in ranked.rows]
    return ids.index(expected) if expected in ids else -1


def _with_rank_weights(engine: SearchEngine, w: Floats) -> SearchEngine:
    model = dataclasses.replace(engine.model, rank_weights=dict(zip(FEATURES, map(float, w), strict=True)))
    return SearchEngine(
        index=engine.index,
        lexicon=engine.lexicon,
        model=model,
        kb=engine.kb,
        vectors=engine.vectors,
        params=engine.params,
        within=engine.within,
    )


def _train_groups(examples: Sequence[_Example], keep: npt.NDArray[np.bool_]) -> list[tuple[Floats, int]]:
    return [
        (ex.ranked.features, ex.right)
        for ex, k in zip(examples, keep, strict=True)
        if k and ex.ranking and ex.ranked is not None and ex.right >= 0
    ]


def _out_of_fold_rankings(
    engines: Sequence[SearchEngine], examples: list[_Example], fold: npt.NDArray[np.int64], settings: FitSettings
) -> list[tuple[Ranked | None, int]]:
    """Each question's short list as ranked by weights fitted without its fold, and where its article is.

    The stage-1 weights pick the pool, so a held-out question is searched again by an engine carrying this
    fold's weights: re-scoring the pool the installed model (fitted on every question) picked would let the
    held-out questions choose their own candidates."""
    init = np.array([FIT_START.get(n, 0.0) for n in FEATURES])
    oof: list[tuple[Ranked | None, int]] = [(None, -1)] * len(examples)
    for f in range(settings.folds):
        w = fit_listwise(_train_groups(examples, fold != f), l2=settings.l2, init=init)
        fold_engines = [_with_rank_weights(engine, w) for engine in engines]
        for i in np.flatnonzero(fold == f).tolist():
            ex = examples[i]
            again = fold_engines[ex.kb].rank(ex.question.query) if ex.ranked is not None else None
            if again is not None:
                head = _head(engines[ex.kb], again)
                oof[i] = (head, _position(engines[ex.kb], head, ex.question.expected))
    return oof


def _out_of_fold_p(x: Floats, y: Floats, sw: Floats, fold: npt.NDArray[np.int64], folds: int) -> Floats:
    p = np.zeros(len(y))
    for f in range(folds):
        tr = fold != f
        w, b = fit_logistic(x[tr], y[tr], sample_weight=sw[tr])
        p[~tr] = 1 / (1 + np.exp(-(x[~tr] @ w + b)))
    return p


@dataclass(slots=True)
class _Pooled:
    """Out-of-fold confidence rows of every deal, stacked (each question once per deal)."""

    x: list[Floats] = field(default_factory=list)
    y: list[Floats] = field(default_factory=list)
    y3: list[Floats] = field(default_factory=list)
    p: list[Floats] = field(default_factory=list)
    p3: list[Floats] = field(default_factory=list)
    # 1-based rank of the right article, 0 where it is not in the short list
    ranks: list[npt.NDArray[np.int64]] = field(default_factory=list)

    def stack(self, name: str) -> Floats:
        return np.concatenate(getattr(self, name))


def _without_ties(x: Floats) -> Floats:
    out = x.copy()
    out[:, [CONFIDENCE_FEATURES.index(n) for n in TIE_FEATURES]] = 0.0
    return out


def _confidence_rows(
    engines: Sequence[SearchEngine], examples: list[_Example], oof: list[tuple[Ranked | None, int]]
) -> tuple[Floats, Floats, Floats]:
    x = np.zeros((len(oof), len(CONFIDENCE_FEATURES)))
    y = np.zeros(len(oof))
    y3 = np.zeros(len(oof))
    for i, (ranked, right) in enumerate(oof):
        if ranked is not None:
            x[i] = engines[examples[i].kb].confidence_features(ranked)
            y[i] = 1.0 if right == 0 else 0.0
            y3[i] = 1.0 if 0 <= right < 3 else 0.0
    return x, y, y3


def _deal(
    examples: list[_Example], expected: list[str | None], folds: int, seed: int
) -> npt.NDArray[np.int64]:
    """Folds for the real questions as they would be dealt without the drawn small KBs (so adding those changes
    no fold); a small KB's question goes to its article's fold, an unanswerable one to a fold of its own deal."""
    real = [i for i, ex in enumerate(examples) if ex.ranking]
    fold = np.zeros(len(examples), dtype=np.int64)
    fold[real] = deal_folds([expected[i] for i in real], folds, seed)
    fold_of = {expected[i]: int(fold[i]) for i in real if expected[i] is not None}
    rest = [i for i, ex in enumerate(examples) if not ex.ranking]
    drawn = deal_folds([None] * len(rest), folds, seed + 1000)
    for j, i in enumerate(rest):
        fold[i] = fold_of.get(expected[i], int(drawn[j])) if expected[i] is not None else int(drawn[j])
    return fold


def _pool_deals(
    engines: Sequence[SearchEngine], examples: list[_Example], sw: Floats, settings: FitSettings
) -> _Pooled:
    pooled = _Pooled()
    # grouped by article within its KB (two KBs may share an id form, never an article)
    expected = [ex.article for ex in examples]
    for seed in settings.seeds:
        fold = _deal(examples, expected, settings.folds, seed)
        oof = _out_of_fold_rankings(engines, examples, fold, settings)
        pooled.ranks.append(np.array([right + 1 if r is not None and right >= 0 else 0 for r, right in oof]))
        x, y, y3 = _confidence_rows(engines, examples, oof)
        for name, value in (("x", x), ("y", y), ("y3", y3)):
            getattr(pooled, name).append(value)
        pooled.p.append(_out_of_fold_p(x, y, sw, fold, settings.folds))
        pooled.p3.append(_out_of_fold_p(_without_ties(x), y3, sw, fold, settings.folds))
    return pooled


# ------------------------------------------------------------------------------------------- thresholds
@dataclass(frozen=True, slots=True)
class _Outcome:
    """Pooled out-of-fold labels: which rows are answerable, unanswerable, long; is the top hit right."""

    indomain: npt.NDArray[np.bool_]
    long: npt.NDArray[np.bool_]
    y: Floats
    y3: Floats
    kb: npt.NDArray[np.int64]  # the rule group of each row (a KB, or the small KBs drawn from one)

    @property
    def ood(self) -> npt.NDArray[np.bool_]:
        return ~self.indomain


def _subset(out: _Outcome, rows: npt.NDArray[np.bool_]) -> _Outcome:
    return _Outcome(indomain=out.indomain[rows], long=out.long[rows], y=out.y[rows], y3=out.y3[rows],
                    kb=out.kb[rows])


def _allowed(answered: npt.NDArray[np.bool_], out: _Outcome, settings: FitSettings) -> bool:
    """The product's rule, for short and for long messages alike, on every KB of the fit: a KB whose
    unanswerable questions are easy to tell must not buy confident answers for a KB where they are not."""
    kbs = [out.kb == k for k in np.unique(out.kb)]
    for style in [kb & length for kb in kbs for length in (out.long, ~out.long)]:
        ood = out.ood & style
        right = int(np.sum(answered & out.indomain & style & (out.y == 1)))
        wrong = int(np.sum(answered & out.indomain & style & (out.y == 0)))
        if ood.any() and float(np.mean(answered[ood])) > settings.max_ood_answered:
            return False
        if wrong > settings.max_wrong_share * max(right + wrong, 1):
            return False
    return True


def _answer_threshold(p: Floats, out: _Outcome, settings: FitSettings) -> float:
    best = (-1, 0.95)
    for t in np.arange(0.2, 0.96, 0.01):
        answered = p >= t
        right = int(np.sum(answered & out.indomain & (out.y == 1)))
        if right > best[0] and _allowed(answered, out, settings):
            best = (right, float(t))
    return best[1]


def _shortlist_threshold(p3: Floats, out: _Outcome) -> float:
    """The share of answerable questions offered a short list holding the answer, minus the share of
    unanswerable ones offered a short list at all: both rates count alike."""
    best = (-1e9, 0.3)
    for t in np.arange(0.05, 0.95, 0.01):
        offered = p3 >= t
        gain = float(np.mean(offered[out.indomain] & (out.y3[out.indomain] == 1)))
        gain -= float(np.mean(offered[out.ood])) if out.ood.any() else 0.0
        if gain > best[0]:
            best = (gain, float(t))
    return best[1]


def _figures(
    p: Floats,
    p3: Floats,
    t_answer: float | Floats,
    t_short: float,
    out: _Outcome,
    styles: Sequence[tuple[str, npt.NDArray[np.bool_]]],
) -> dict[str, float]:
    answered = p >= t_answer
    offered = (p3 >= t_short) | answered
    fig: dict[str, float] = {}
    for style, rows in styles:
        ind, ood = out.indomain & rows, out.ood & rows
        n_in = max(int(ind.sum()), 1)
        fig[f"{style}_answered_right"] = float(np.sum(answered & ind & (out.y == 1)) / n_in)
        fig[f"{style}_answered_wrong"] = float(np.sum(answered & ind & (out.y == 0)) / n_in)
        fig[f"{style}_ood_answered"] = float(np.mean(answered[ood])) if ood.any() else 0.0
        fig[f"{style}_offered_right"] = float(np.sum(offered & ind & (out.y3 == 1)) / n_in)
        fig[f"{style}_ood_no_match"] = float(1 - np.mean(offered[ood])) if ood.any() else 1.0
    return fig


# ------------------------------------------------------------------------------------------- the fit
def _examples(sets: Sequence[FitSet], weights: Floats, settings: FitSettings) -> list[_Example]:
    out = []
    for kb, fit_set in enumerate(sets):
        engine = _with_rank_weights(fit_set.engine, weights)
        for i, q in enumerate(fit_set.questions):
            ranked = engine.rank(q.query)  # the pool the engine re-ranks at run time, so CV figures are honest
            right = _position(engine, ranked, q.expected) if ranked is not None else -1
            article = fit_set.articles[i] if fit_set.articles else q.expected
            out.append(_Example(q, ranked, right, len(q.query.split()) >= settings.long_words, kb,
                                ranking=fit_set.ranking,
                                article=f"{fit_set.group or fit_set.name}:{article}" if article else None))
    return out


def draw_small_kbs(fit_set: FitSet, settings: FitSettings, seed: int = 0) -> list[FitSet]:
    """Small KBs drawn from one KB of the fit (views of its index): in each, a few questions' articles and
    random others; those questions stay answerable, as many others become unanswerable (their article is not
    in it), and a few of the KB's unanswerable questions come along."""
    rng = np.random.default_rng(seed)
    engine, n = fit_set.engine, len(fit_set.engine.index)
    row_of = {qid: row for row, qid in enumerate(engine.index.ids)}
    answerable = [q for q in fit_set.questions if q.expected is not None and q.expected in row_of]
    unanswerable = [q for q in fit_set.questions if q.expected is None]
    k = settings.sub_kb_questions
    out = []
    for size in settings.sub_kb_sizes:
        if len(answerable) < 2 * k or size <= k or size >= n:
            continue
        for _ in range(settings.sub_kb_draws):
            picked = [answerable[i] for i in rng.permutation(len(answerable))]
            kept = picked[:k]
            kept_rows = {row_of[q.expected or ""] for q in kept}
            others = [q for q in picked[k:] if row_of[q.expected or ""] not in kept_rows]
            within = np.zeros(n, dtype=bool)
            within[list(kept_rows)] = True
            free = np.flatnonzero(~within)
            within[rng.choice(free, size=size - len(kept_rows), replace=False)] = True
            left_out = [q for q in others if not within[row_of[q.expected or ""]]][:k]
            ood = [unanswerable[i] for i in rng.permutation(len(unanswerable))[:k]]
            view = SearchEngine(index=engine.index, lexicon=engine.lexicon, model=engine.model, kb=engine.kb,
                                vectors=engine.vectors, params=engine.params, within=within)
            questions = [*kept, *(dataclasses.replace(q, expected=None) for q in left_out), *ood]
            articles = [q.expected for q in kept] + [q.expected for q in left_out] + [None] * len(ood)
            out.append(FitSet(engine=view, questions=questions, name=f"{fit_set.name} small KBs", ranking=False,
                              group=fit_set.name, articles=articles))
    return out




def _styles(examples: list[_Example], sets: Sequence[FitSet]) -> list[tuple[str, npt.NDArray[np.bool_]]]:
    """(name, rows) of each reported style: short and long, and with several KBs short and long per KB too."""
    long = np.array([ex.long for ex in examples])
    name_of = np.array([sets[ex.kb].name for ex in examples])
    real = np.array([ex.ranking for ex in examples])
    out = [("short", ~long & real), ("long", long & real)]
    names = list(dict.fromkeys(s.name for s in sets))
    if len(names) > 1:
        out += [(f"{name} {style}", (name_of == name) & (long if style == "long" else ~long))
                for name in names for style in ("short", "long")]
    return [(name, rows) for name, rows in out if rows.any()]


def _ranking_lines(
    pooled: _Pooled, examples: list[_Example], sets: Sequence[FitSet], settings: FitSettings
) -> list[str]:
    indomain = np.array([ex.question.expected is not None for ex in examples])
    lines = []
    for style, in_style in _styles(examples, sets):
        rows = indomain & in_style
        if not rows.any():
            continue
        per_deal = [(np.mean(rk[rows] == 1), np.mean((rk[rows] >= 1) & (rk[rows] <= 3))) for rk in pooled.ranks]
        rk = np.concatenate([rk[rows] for rk in pooled.ranks])
        mrr = float(np.mean(np.where(rk > 0, 1 / np.maximum(rk, 1), 0)))
        lines.append(
            f"CV ranking, {style} ({int(rows.sum())} questions, {settings.folds} folds grouped by article, "
            f"{len(settings.seeds)} deals): recall@1 {np.mean(rk == 1):.3f}  "
            f"recall@3 {np.mean((rk >= 1) & (rk <= 3)):.3f}  MRR {mrr:.3f} "
            f"(recall@1 by deal: {' '.join(f'{v[0]:.3f}' for v in per_deal)})"
        )
    return lines


def fit_model(
    engine: SearchEngine,
    questions: Sequence[Question],
    *,
    settings: FitSettings | None = None,
    also: Sequence[FitSet] = (),
) -> FitResult:
    """Fit ranking weights, both confidence models and both thresholds on `questions` over `engine`'s index, and
    on the questions of `also` over theirs (a modern KB's dev set beside the archive's)."""
    settings = settings if settings is not None else FitSettings()
    sets = [FitSet(engine=engine, questions=questions, name="main"), *also]
    if settings.sub_kb_sizes:
        sets += [small for i, base in enumerate(list(sets)) for small in draw_small_kbs(base, settings, seed=i)]
    engines = [s.engine for s in sets]
    init = np.array([FIT_START.get(n, 0.0) for n in FEATURES])
    # The training pools are picked by ranking weights fitted here, not by the installed model's: pools from
    # FIT_START, weights fitted on them, pools again from those. A refit then depends on the questions alone,
    # never on the fits before it.
    weights = init
    for _ in range(settings.pool_passes):
        examples = _examples(sets, weights, settings)
        if not any(ex.right >= 0 for ex in examples):
            raise ValueError("no question has its article in the short list: nothing to fit the ranking on")
        weights = fit_listwise(
            _train_groups(examples, np.ones(len(examples), dtype=bool)), l2=settings.l2, init=init
        )
    engines = [_with_rank_weights(e, weights) for e in engines]
    indomain1 = np.array([ex.question.expected is not None for ex in examples])
    real = np.array([ex.ranking for ex in examples])
    n_ood = int((~indomain1 & real).sum())
    sw1 = np.where(~indomain1, settings.ood_share * (indomain1 & real).sum() / max(n_ood, 1), 1.0)
    sw1[~real] = 0.0  # the drawn small KBs fit no weights: they set the small-KB threshold only
    pooled = _pool_deals(engines, examples, sw1, settings)
    # the answer rule holds on each real KB, and on all the drawn small KBs together
    rule_of = [s.name if s.ranking else "small KBs" for s in sets]
    rule_group = {name: i for i, name in enumerate(dict.fromkeys(rule_of))}
    deals = len(settings.seeds)
    out = _Outcome(
        indomain=np.tile(indomain1, deals),
        long=np.tile(np.array([ex.long for ex in examples]), deals),
        y=pooled.stack("y"),
        y3=pooled.stack("y3"),
        kb=np.tile(np.array([rule_group[rule_of[ex.kb]] for ex in examples]), deals),
    )
    p, p3 = pooled.stack("p"), pooled.stack("p3")
    big = np.tile(real, deals)
    t_answer = _answer_threshold(p[big], _subset(out, big), settings)
    t_small = _answer_threshold(p[~big], _subset(out, ~big), settings) if (~big).any() else 1.0
    t_short = _shortlist_threshold(p3[big], _subset(out, big))
    styles = [(name, np.tile(rows, deals)) for name, rows in _styles(examples, sets)]
    figures = _figures(p, p3, np.where(big, t_answer, t_small), t_short, out, styles)
    summary = _ranking_lines(pooled, examples, sets, settings)
    for style, _rows in styles:
        summary.append(
            f"CV confidence, {style}: answered & right {figures[f'{style}_answered_right']:.3f}, "
            f"answered & wrong {figures[f'{style}_answered_wrong']:.3f}, "
            f"unanswerable answered {figures[f'{style}_ood_answered']:.3f}; answered or offered a list holding "
            f"the answer {figures[f'{style}_offered_right']:.3f}, unanswerable told 'no match' "
            f"{figures[f'{style}_ood_no_match']:.2f}"
        )
    summary.append(f"thresholds: answer {t_answer:.2f}, short list {t_short:.2f}; answer in a KB of "
                   f"{min(settings.sub_kb_sizes, default=0)}-{settings.small_kb_articles} articles {t_small:.2f}")
    w_all = weights  # fitted on every question's pool
    x, sw = pooled.stack("x"), np.tile(sw1, deals)
    cw, cb = fit_logistic(x, out.y, sample_weight=sw)
    w3, b3 = fit_logistic(_without_ties(x), out.y3, sample_weight=sw)
    model = RankModel(
        rank_weights=dict(zip(FEATURES, map(float, w_all), strict=True)),
        conf_weights=dict(zip(CONFIDENCE_FEATURES, map(float, cw), strict=True)),
        conf_bias=float(cb),
        top3_weights=dict(zip(CONFIDENCE_FEATURES, map(float, w3), strict=True)),
        top3_bias=float(b3),
        answer_threshold=t_answer,
        shortlist_threshold=t_short,
        fitted_articles=len(engine.index),  # the main KB's: what the unknown-word idf is scaled against
        small_kb_articles=settings.small_kb_articles if (~big).any() else 0,
        small_kb_min_articles=min(settings.sub_kb_sizes, default=0),
        small_kb_answer_threshold=t_small,
    )
    return FitResult(model=model, summary=summary, figures=figures)


def write_model(result: FitResult, path: Path, *, sources: Sequence[Path]) -> None:
    names = " + ".join(s.name for s in sources)
    header = f"# Fitted by kbbot/search/fit.py on {names} ({time.strftime('%Y-%m-%d')}).\n" + "".join(
        f"# {line}\n" for line in result.summary
    )
    Path(path).write_text(result.model.to_yaml(header), encoding="utf-8")


def read_all(paths: Sequence[Path], kb: KnowledgeBase | None = None) -> list[Question]:
    """Every question of `paths`; given the KB, each names its article by canonical id (see `resolve_expected`)."""
    questions: list[Question] = []
    for path in paths:
        questions += read_questions(path)[0]
    return questions if kb is None else resolve_expected(questions, kb)


def resolve_expected(questions: Sequence[Question], kb: KnowledgeBase) -> list[Question]:
    """The questions with `expected` as the KB's canonical id: an id in any accepted form is resolved, and a
    row naming its article by `expected_path` (a modern KB's dev set) gets the id of the article whose source
    ends with that path. The fit compares ids, so an unresolved path would turn a question into an
    "unanswerable" one; a path no article has is an error, not a silent relabel."""
    by_path: dict[str, str] = {}
    if any(q.expected is None and q.expected_path for q in questions):
        for article in kb.iter_articles():
            by_path[article.source.replace("\\", "/")] = article.id
    out = []
    for q in questions:
        if q.expected is not None:
            out.append(dataclasses.replace(q, expected=kb.resolve(q.expected) or q.expected))
        elif q.expected_path:
            want = q.expected_path.replace("\\", "/")
            found = [i for src, i in by_path.items() if src == want or src.endswith(("/" + want, "!" + want))]
            if not found:
                raise ValueError(f"line {q.line}: no article's source ends with {q.expected_path}")
            out.append(dataclasses.replace(q, expected=found[0]))
        else:
            out.append(q)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m kbbot.search.fit", description=__doc__.split("\n\n")[0])
    ap.add_argument("questions", type=Path, nargs="+", help="JSON-lines question files (as `kbbot eval` reads)")
    ap.add_argument("--index", type=Path, required=True, help="an index folder built by `kbbot index`")
    ap.add_argument(
        "--also",
        nargs=2,
        action="append",
        default=[],
        type=Path,
        metavar=("INDEX", "QUESTIONS"),
        help="questions over another KB's index, fitted on too (repeatable): a modern KB beside the archive",
    )
    ap.add_argument("--out", type=Path, default=None, help="where to write the model (default: print only)")
    ap.add_argument("--cv-seeds", default="0,1,2,3", help="fold deals to pool")
    ap.add_argument("--small-kbs", default=None, help="sizes of the small KBs drawn from each KB (default "
                    "30,100,300; 0 for none)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    kb = KnowledgeBase.open(args.index)
    engine = SearchEngine.load(args.index, kb)
    also = []
    for index, questions in args.also:
        other_kb = KnowledgeBase.open(index)
        also.append(
            FitSet(
                engine=SearchEngine.load(index, other_kb),
                questions=read_all([questions], other_kb),
                name=questions.stem,
            )
        )
    settings = FitSettings(seeds=tuple(int(v) for v in args.cv_seeds.split(",")))
    if args.small_kbs is not None:
        sizes = tuple(int(v) for v in args.small_kbs.split(",") if v)
        settings = dataclasses.replace(settings, sub_kb_sizes=sizes)
    result = fit_model(engine, read_all(args.questions, kb), settings=settings, also=also)
    for line in result.summary:
        print(line)
    if args.out is not None:
        write_model(result, args.out, sources=[*args.questions, *(q for _, q in args.also)])
        print(f"wrote {args.out}")
    return 0

if __name__ == "__main__":
    sys.exit(main())
