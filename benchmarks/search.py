"""Search benchmark on the full corpus: this engine beside a plain Okapi BM25 baseline, in the same run.

    python benchmarks/search.py [--index /work/index-full] [--queries dev-queries.jsonl]
    python benchmarks/search.py --fit      # refit kbbot/data/search_model.yaml with grouped cross-validation

--fit also reads `benchmarks/data/ood-extra.jsonl` (--extra-ood): 40 questions a support channel gets that no KB
article answers (today's tools, office chores), written for this project, not drawn from the evaluation files. The
dev file has only ten such rows; with one in ten allowed to be answered, the answer threshold would rest on a
single question. They teach only the confidence models (they have no right article to rank).

The index is built once (`kbbot index /work/corpus/txt --out /work/index-full`) or with --corpus here.
The baseline is Okapi BM25 (k1 1.2, b 0.75) over each article's title and all sections concatenated, with the
engine's own tokenizer, on the same sparse-postings code path, so the comparison is about ranking, not plumbing.
Memory and load time are measured in a fresh subprocess so the baseline's build does not inflate them.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

from kbbot.evaluate import read_questions, run_eval
from kbbot.kb import KnowledgeBase
from kbbot.search import SearchEngine, SearchHit, SearchResult
from kbbot.search.engine import SHORTLIST, Ranked
from kbbot.search.index import K1, _idf
from kbbot.search.model import CONFIDENCE_FEATURES, FEATURES, RankModel, fit_listwise, fit_logistic
from kbbot.search.text import normalise_text, tokenize, words

DEFAULT_INDEX = Path("/work/index-full")
DEFAULT_QUERIES = Path("/work/shared/eval/dev-queries.jsonl")
EXTRA_OOD = Path(__file__).resolve().parent / "data" / "ood-extra.jsonl"
# the product allows one unanswerable question in ten to be answered; the threshold keeps a margin under that,
# since the rate is measured on only 50 such questions
MAX_OOD_ANSWERED = 0.08
# at most about one confident answer in eight may be wrong (in-domain). One in ten cost three points of confident
# right answers in cross-validation (0.655 -> 0.631 over four deals), below the 0.65 the issue asks for
MAX_WRONG_SHARE = 0.12
TIE_FEATURES = ("gap3", "fuzz_margin")
MODEL_PATH = Path(__file__).resolve().parent.parent / "kbbot" / "data" / "search_model.yaml"


# ------------------------------------------------------------------------------------------- baseline
class PlainBM25:
    """Okapi BM25 over the concatenated article text; answers every query (no notion of confidence)."""

    def __init__(self, kb: KnowledgeBase) -> None:
        t0 = time.perf_counter()
        vocab: dict[str, int] = {}
        rows: list[int] = []
        cols: list[int] = []
        vals: list[float] = []
        lengths = np.zeros(len(kb), dtype=np.float32)
        self.ids: list[str] = []
        self.titles: list[str] = []
        for row in range(len(kb)):
            a = kb.article_at(row)
            self.ids.append(a.id)
            self.titles.append(a.title)
            terms = tokenize(a.title + "\n" + "\n".join(a.sections.values()))
            lengths[row] = len(terms)
            counts: dict[int, int] = {}
            for t in terms:
                c = vocab.setdefault(t, len(vocab))
                counts[c] = counts.get(c, 0) + 1
            for c, k in counts.items():
                rows.append(row)
                cols.append(c)
                vals.append(k)
        n = len(kb)
        m = sparse.csc_matrix(
            (np.asarray(vals, dtype=np.float32), (np.asarray(rows), np.asarray(cols))), shape=(n, len(vocab))
        )
        df = np.diff(m.indptr)
        idf = _idf(df.astype(np.int64), n)
        norm = (1 - 0.75) + 0.75 * lengths / lengths.mean()
        tf = m.data
        m.data = (idf[np.repeat(np.arange(len(vocab)), df)] * tf * (K1 + 1) / (tf + K1 * norm[m.indices])).astype(
            np.float32
        )
        self.vocab = vocab
        self.indptr, self.indices, self.data = m.indptr, m.indices, m.data
        self.n = n
        self.build_seconds = time.perf_counter() - t0

    def search(self, query: str, *, limit: int = 10) -> SearchResult:
        cols = sorted({self.vocab[t] for t in words(normalise_text(query[:60_000])) if t in self.vocab})
        if not cols:
            return SearchResult(query=query, hits=(), band="none", confidence=0.0)
        parts = [
            (self.indices[self.indptr[c] : self.indptr[c + 1]], self.data[self.indptr[c] : self.indptr[c + 1]])
            for c in cols
        ]
        rows = np.concatenate([p[0] for p in parts])
        vals = np.concatenate([p[1] for p in parts])
        scores = np.bincount(rows, weights=vals, minlength=self.n)
        k = min(limit, self.n)
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        hits = tuple(
            SearchHit(id=self.ids[r], title=self.titles[r], score=float(scores[r])) for r in top if scores[r] > 0
        )
        return SearchResult(
            query=query, hits=hits, band="answer" if hits else "none", confidence=1.0 if hits else 0.0
        )


# ------------------------------------------------------------------------------------------- probes
def long_query(kb: KnowledgeBase, chars: int = 40_000) -> str:
    """A pasted log: event-log lines with codes, wrapped around a few articles' text, `chars` long."""
    rng = np.random.default_rng(7)
    parts: list[str] = []
    while sum(map(len, parts)) < chars:
        a = kb.article_at(int(rng.integers(len(kb))))
        parts.append(
            f"12/01/1999 10:{int(rng.integers(60)):02d}:07 MSExchangeMTA Event ID: {int(rng.integers(9999))} "
        )
        parts.append(" ".join(a.sections.values())[:800])
    return "\n".join(parts)[:chars]


def probe(index: Path) -> None:
    """Run in a fresh process: load time, RSS after load and after queries."""
    t0 = time.perf_counter()
    kb = KnowledgeBase.open(index)
    engine = SearchEngine.load(index, kb)
    load = time.perf_counter() - t0
    rss_load = _rss_mb()
    engine.search("exchange imc loses mail without ndr", limit=5)
    engine.search("recieve eror mesage wen startng", limit=5)
    print(json.dumps({"load_s": round(load, 3), "rss_mb_after_load": rss_load, "rss_mb_after_queries": _rss_mb()}))


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return -1.0


def latency(searchers: list[Any], queries: list[str], repeat: int = 3) -> list[dict[str, float]]:
    """p50/p99 per searcher, each query timed on every searcher back to back so machine load (2 shared
    cores) falls on all of them alike."""
    times: list[list[float]] = [[] for _ in searchers]
    for _ in range(repeat):
        for q in queries:
            for i, searcher in enumerate(searchers):
                t0 = time.perf_counter()
                searcher.search(q, limit=10)
                times[i].append((time.perf_counter() - t0) * 1000)
    out = []
    for t in times:
        t.sort()
        out.append(
            {"p50_ms": round(t[len(t) // 2], 3), "p99_ms": round(t[min(len(t) - 1, int(0.99 * len(t)))], 3)}
        )
    return out


# ------------------------------------------------------------------------------------------- fitting
def _folds(expected: list[str | None], k: int, seed: int = 0) -> np.ndarray:
    """Fold per question, grouped by target article so the two phrasings of one article never straddle
    training and test (that would leak the article's words). Seed 0 deals the groups out in file order; other
    seeds shuffle them first (CV figures move by a point or two between deals: compare ideas on several)."""
    groups: dict[str, int] = {}
    for i, e in enumerate(expected):
        groups.setdefault(e or f"ood{i}", len(groups))
    order = np.arange(len(groups))
    if seed:
        np.random.default_rng(seed).shuffle(order)
    fold_of = {key: int(order[n]) % k for key, n in groups.items()}
    return np.asarray([fold_of[e or f"ood{i}"] for i, e in enumerate(expected)])


def _oof_rankings(
    engine: SearchEngine,
    data: list[tuple[Any, Ranked | None, int]],
    fold: np.ndarray,
    folds: int,
    l2: float,
    init: np.ndarray,
) -> list[tuple[Ranked | None, int]]:
    """Each question's short list as ranked by weights fitted without its fold, and where its article is."""
    oof: list[tuple[Ranked | None, int]] = [(None, -1)] * len(data)
    for f in range(folds):
        train = [
            (r.features, right)
            for (_, r, right), fo in zip(data, fold, strict=True)
            if fo != f and r is not None and right >= 0
        ]
        w = fit_listwise(train, l2=l2, init=init)
        # The stage-1 weights pick the pool, so a held-out question is searched again by an engine carrying
        # this fold's weights: re-scoring the pool the installed model (fitted on every question) picked
        # would let the held-out questions choose their own candidates.
        fold_engine = SearchEngine(
            index=engine.index,
            lexicon=engine.lexicon,
            model=replace(engine.model, rank_weights=dict(zip(FEATURES, map(float, w), strict=True))),
            kb=engine.kb,
            vectors=engine.vectors,
        )
        for i, ((q, r, _), fo) in enumerate(zip(data, fold, strict=True)):
            if fo == f and r is not None:
                again = fold_engine.rank(q.query)
                if again is None:
                    continue
                head = Ranked(
                    rows=again.rows[:SHORTLIST],
                    scores=again.scores[:SHORTLIST],
                    features=again.features[:SHORTLIST],
                    plan=again.plan,
                )
                ids = [engine.index.ids[int(row)] for row in head.rows]
                oof[i] = (head, ids.index(q.expected) if q.expected in ids else -1)
    return oof


def _out_of_fold_p(
    x: np.ndarray, y: np.ndarray, sw: np.ndarray, fold: np.ndarray, folds: int
) -> np.ndarray:
    p = np.zeros(len(y))
    for f in range(folds):
        tr = fold != f
        w, b = fit_logistic(x[tr], y[tr], sample_weight=sw[tr])
        p[~tr] = 1 / (1 + np.exp(-(x[~tr] @ w + b)))
    return p


def fit(
    engine: SearchEngine,
    queries: Path,
    extra_ood: Path | None = None,
    folds: int = 5,
    seeds: tuple[int, ...] = (0, 1, 2, 3),
    l2: float = 0.01,
    ood_share: float = 0.3,
    summary: list[str] | None = None,
) -> RankModel:
    """Refit ranking weights, the two confidence models and the band thresholds; cross-validated figures
    are printed and appended to `summary`.

    Every figure and both thresholds come from several deals of the questions into folds (`seeds`), pooled:
    with a few hundred questions one deal moves them by two or three points, enough to pick a threshold that
    only suited that deal."""
    questions, _ = read_questions(queries)
    if extra_ood is not None:
        questions += [q for q in read_questions(extra_ood)[0] if q.expected is None]
    data: list[tuple[Any, Ranked | None, int]] = []
    for q in questions:
        ranked = engine.rank(q.query)  # the pool the engine re-ranks at run time, so CV figures are honest
        right = -1
        if ranked is not None and q.expected is not None:
            ids = [engine.index.ids[int(r)] for r in ranked.rows]
            right = ids.index(q.expected) if q.expected in ids else -1
        data.append((q, ranked, right))
    summary = summary if summary is not None else []
    # from the untuned defaults, not the installed weights: a refit must not depend on the fits before it
    init = RankModel().rank_vector(FEATURES)
    indomain1 = np.array([q.expected is not None for q, _, _ in data])
    ood1 = ~indomain1
    # Out-of-domain questions are a handful of rows but a real share of what a support channel asks:
    # weighting them up teaches the model that "nothing here names your product" is a reason to doubt.
    # (all of them together weigh `ood_share` of the answerable ones, however many the file has)
    sw1 = np.where(ood1, ood_share * indomain1.sum() / max(int(ood1.sum()), 1), 1.0)
    tie_cols = [CONFIDENCE_FEATURES.index(n) for n in TIE_FEATURES]

    # 1.-3. per deal: out-of-fold rankings, confidence features and out-of-fold confidences
    xs, ys, y3s, ps, p3s, rank_lines = [], [], [], [], [], []
    for seed in seeds:
        fold = _folds([q.expected for q, _, _ in data], folds, seed)
        oof = _oof_rankings(engine, data, fold, folds, l2, init)
        rk = np.array([right + 1 if r is not None and right >= 0 else 0 for r, right in oof])[indomain1]
        mrr = float(np.mean(np.where(rk > 0, 1 / np.maximum(rk, 1), 0)))
        rank_lines.append((float(np.mean(rk == 1)), float(np.mean((rk >= 1) & (rk <= 3))), mrr))
        x = np.zeros((len(data), len(CONFIDENCE_FEATURES)))
        y = np.zeros(len(data))
        y3 = np.zeros(len(data))
        for i, (r, right) in enumerate(oof):
            if r is not None:
                x[i] = engine.confidence_features(r)
                y[i] = 1.0 if right == 0 else 0.0
                y3[i] = 1.0 if 0 <= right < 3 else 0.0
        # "is it among the first three" does not depend on how #1 compares with #2 and #3: the tie features are
        # left out of that model (held at zero, so their weights stay zero)
        x3 = x.copy()
        x3[:, tie_cols] = 0.0
        xs.append(x)
        ys.append(y)
        y3s.append(y3)
        ps.append(_out_of_fold_p(x, y, sw1, fold, folds))
        p3s.append(_out_of_fold_p(x3, y3, sw1, fold, folds))
    r1, r3, mrr = np.mean(rank_lines, axis=0)
    summary.append(
        f"CV ranking ({folds} folds grouped by article, {len(seeds)} deals): recall@1 {r1:.3f}  "
        f"recall@3 {r3:.3f}  MRR {mrr:.3f} (recall@3 by deal: {' '.join(f'{v[1]:.3f}' for v in rank_lines)})"
    )
    w_all = fit_listwise(
        [(r.features, right) for q, r, right in data if r is not None and right >= 0], l2=l2, init=init
    )
    x, y, y3 = np.concatenate(xs), np.concatenate(ys), np.concatenate(y3s)
    p_oof, p3_oof = np.concatenate(ps), np.concatenate(p3s)
    indomain, ood = np.tile(indomain1, len(seeds)), np.tile(ood1, len(seeds))
    sw = np.tile(sw1, len(seeds))
    cw, cb = fit_logistic(x, y, sample_weight=sw)
    x3 = x.copy()
    x3[:, tie_cols] = 0.0
    w3, b3 = fit_logistic(x3, y3, sample_weight=sw)
    # The product's rule, out of fold: answer as many answerable questions rightly as possible, while at most
    # MAX_WRONG_SHARE of confident answers are wrong (in-domain) and MAX_OOD_ANSWERED of unanswerable
    # questions are answered
    best = (-1e9, 0.95)
    for t in np.arange(0.2, 0.96, 0.01):
        ans = p_oof >= t
        right = int(np.sum(ans & indomain & (y == 1)))
        wrong = int(np.sum(ans & indomain & (y == 0)))
        ood_rate = float(np.mean(ans[ood])) if ood.any() else 0.0
        if ood_rate <= MAX_OOD_ANSWERED and wrong <= MAX_WRONG_SHARE * max(right + wrong, 1) and right > best[0]:
            best = (right, float(t))
    t_answer = best[1]
    n_in = indomain.sum()
    for t in (0.4, 0.5, 0.6, 0.7, 0.8):
        a = p_oof >= t
        print(
            f"  threshold {t:.1f}: answered & right {np.sum(a & indomain & (y == 1)) / n_in:.3f}, "
            f"answered & wrong {np.sum(a & indomain & (y == 0)) / n_in:.3f}, OOD answered {np.mean(a[ood]):.2f}"
        )
    # the share of answerable questions offered a short list holding the answer, minus the share of
    # unanswerable ones offered a short list at all: both rates count alike
    best3 = (-1e9, 0.3)
    for t in np.arange(0.05, 0.95, 0.01):
        offered = p3_oof >= t
        gain = float(np.mean(offered[indomain] & (y3[indomain] == 1))) - (
            float(np.mean(offered[ood])) if ood.any() else 0.0
        )
        if gain > best3[0]:
            best3 = (gain, float(t))
    t_short = best3[1]
    offered = (p3_oof >= t_short) | (p_oof >= t_answer)
    summary.append(
        f"CV short list: threshold {t_short:.2f}: answerable questions answered or offered a list holding "
        f"the answer {np.mean(offered[indomain] & (y3[indomain] == 1)):.3f}; "
        f"OOD told 'no match' {1 - np.mean(offered[ood]) if ood.any() else 0:.2f}"
    )
    ans = p_oof >= t_answer
    summary.append(
        f"CV confidence: answer threshold {t_answer:.2f}: "
        f"answered & right {np.sum(ans & indomain & (y == 1)) / n_in:.3f}, "
        f"answered & wrong (in-domain) {np.sum(ans & indomain & (y == 0)) / n_in:.3f}, "
        f"OOD answered {np.mean(ans[ood]) if ood.any() else 0:.3f}; shortlist threshold {t_short:.3f}"
    )
    for line in summary:
        print(line)
    return RankModel(
        rank_weights=dict(zip(FEATURES, map(float, w_all), strict=True)),
        conf_weights=dict(zip(CONFIDENCE_FEATURES, map(float, cw), strict=True)),
        conf_bias=float(cb),
        top3_weights=dict(zip(CONFIDENCE_FEATURES, map(float, w3), strict=True)),
        top3_bias=float(b3),
        answer_threshold=t_answer,
        shortlist_threshold=t_short,
    )


# ------------------------------------------------------------------------------------------- main
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--index", type=Path, default=DEFAULT_INDEX)
    ap.add_argument("--corpus", type=Path, default=None, help="build the index from this folder first if missing")
    ap.add_argument("--queries", type=Path, default=DEFAULT_QUERIES)
    ap.add_argument("--fit", action="store_true", help="refit and write kbbot/data/search_model.yaml")
    ap.add_argument("--extra-ood", type=Path, default=EXTRA_OOD, help="more unanswerable questions for --fit")
    ap.add_argument("--cv-seeds", default="0,1,2,3", help="--fit: fold deals to pool")
    ap.add_argument("--dry-run", action="store_true", help="--fit: print the figures, write nothing")
    ap.add_argument("--probe", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.probe:
        probe(args.index)
        return 0
    if not (args.index / "search" / "meta.json").is_file():
        if args.corpus is None:
            print(f"no index at {args.index}; pass --corpus /work/corpus/txt to build it", file=sys.stderr)
            return 2
        from kbbot.indexer import run_index

        run_index([str(args.corpus)], args.index, progress=False)
    kb = KnowledgeBase.open(args.index)
    engine = SearchEngine.load(args.index, kb)
    if args.fit:
        cv: list[str] = []
        seeds = tuple(int(v) for v in args.cv_seeds.split(","))
        model = fit(engine, args.queries, args.extra_ood, seeds=seeds, summary=cv)
        if args.dry_run:
            return 0
        header = (
            f"# Fitted by benchmarks/search.py --fit on {args.queries.name} + {args.extra_ood.name} "
            f"({time.strftime('%Y-%m-%d')}).\n"
            + "".join(f"# {line}\n" for line in cv)
        )
        MODEL_PATH.write_text(model.to_yaml(header), encoding="utf-8")
        print(f"wrote {MODEL_PATH}")
        engine = SearchEngine.load(args.index, kb, model=model)

    meta = json.loads((args.index / "search" / "meta.json").read_text())
    base = PlainBM25(kb)
    questions, _ = read_questions(args.queries)
    texts = [q.query for q in questions]
    # warm both (first-use caches, page cache), then measure interleaved so machine load hits both alike
    for q in texts[:20]:
        engine.search(q)
        base.search(q)
    rep_engine = run_eval(args.queries, engine)
    rep_base = run_eval(args.queries, base)
    lat_engine, lat_base = latency([engine, base], texts)
    big = long_query(kb)
    t_big = []
    for _ in range(5):
        t0 = time.perf_counter()
        engine.search(big, limit=10)
        t_big.append((time.perf_counter() - t0) * 1000)
    out = subprocess.run(
        [sys.executable, __file__, "--probe", "--index", str(args.index)],
        capture_output=True,
        text=True,
        check=True,
    )
    probe_res = json.loads(out.stdout.strip().splitlines()[-1])

    def row(name: str, rep: dict[str, Any], lat: dict[str, float]) -> str:
        return (
            f"{name:<11} r@1 {rep['recall_at_1']:.3f}  r@3 {rep['recall_at_3']:.3f}  "
            f"r@10 {rep['recall_at_10']:.3f}  "
            f"MRR {rep['mrr']:.3f}  OOD-answered {rep['ood_false_answer_rate']:.2f}  "
            f"answered-right {rep['answered_correct_rate']:.3f}  "
            f"p50 {lat['p50_ms']:.2f} ms  p99 {lat['p99_ms']:.2f} ms"
        )

    print(f"corpus: {len(kb)} articles; questions: {rep_engine['n']} in-domain, {rep_engine['ood_n']} OOD")
    print(row("engine", rep_engine, lat_engine))
    print(row("plain BM25", rep_base, lat_base))
    print("engine by kind: " + json.dumps(rep_engine["by_kind"]))
    print(
        f"ratios engine/BM25: r@1 {rep_engine['recall_at_1'] / max(rep_base['recall_at_1'], 1e-9):.2f}  "
        f"p50 {lat_engine['p50_ms'] / lat_base['p50_ms']:.2f}  p99 {lat_engine['p99_ms'] / lat_base['p99_ms']:.2f}"
    )
    print(
        f"search index build {meta.get('build_seconds')} s (BM25 baseline build {base.build_seconds:.1f} s); "
        f"load {probe_res['load_s']} s; RSS after load {probe_res['rss_mb_after_load']} MB, "
        f"after queries {probe_res['rss_mb_after_queries']} MB"
    )
    print(f"40,000-char query: median {statistics.median(t_big):.1f} ms, max {max(t_big):.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
