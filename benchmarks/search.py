"""Search benchmark: this engine beside a plain Okapi BM25 baseline, in the same run, by question style.

    python benchmarks/search.py --index INDEX --queries FILE.jsonl [FILE.jsonl ...]
    (or KBBOT_BENCH_INDEX=INDEX KBBOT_BENCH_QUERIES=a.jsonl:b.jsonl python benchmarks/search.py)

Each question is put in one style: short paraphrase, error paste (`"kind": "error"` or `"paste"`), long
(`"kind": "long"` or 40 words and more), ood short and ood long (`"expected": null`, by the same length rule); for
each style the engine's and the baseline's recall@1/3/10, MRR, confident right / wrong answers and unanswerable
questions answered are printed side by side, then latency (interleaved, so machine load falls on both alike), a
40,000-character message, index load time and resident memory (in a fresh subprocess, so the baseline's build does
not inflate it).

The baseline is Okapi BM25 (k1 1.2, b 0.75) over each article's title and all sections concatenated, with the
engine's own tokenizer, on the same sparse-postings code path, so the comparison is about ranking, not plumbing;
it answers every question (it has no notion of confidence). Fitting is not done here: `python -m kbbot.search.fit`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

from kbbot.evaluate import Question, Searcher
from kbbot.kb import KnowledgeBase
from kbbot.search import SearchEngine, SearchHit, SearchResult
from kbbot.search.fit import read_all
from kbbot.search.index import _idf
from kbbot.search.text import normalise_text, tokenize, words

K1 = 1.2
B = 0.75
LONG_WORDS = 40  # as kbbot/search/fit.py's FitSettings.long_words
STYLES = ("short paraphrase", "error paste", "long", "ood short", "ood long")


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
        norm = (1 - B) + B * lengths / lengths.mean()
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


def latency(searchers: list[Any], queries: list[str], repeat: int = 5) -> list[dict[str, float]]:
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


# ------------------------------------------------------------------------------------------- main
def style(q: Question) -> str:
    long = q.kind == "long" or len(q.query.split()) >= LONG_WORDS
    if q.expected is None:
        return "ood long" if long else "ood short"
    if q.kind in ("error", "paste"):  # dev-queries.jsonl says "error", officedocs-dev.jsonl "paste"
        return "error paste"
    return "long" if long else "short paraphrase"


def measure(
    searcher: Searcher, questions: list[Question], ranks: list[int] | None = None
) -> dict[str, dict[str, float]]:
    """Per style: n, recall@1/3/10, MRR, confident right and wrong answers (answerable questions), and the share
    of unanswerable questions answered with confidence. `ranks` gets each question's rank of its article (0:
    not in the first ten, or unanswerable)."""
    acc: dict[str, dict[str, float]] = {}
    for q in questions:
        result = searcher.search(q.query, limit=10)
        a = acc.setdefault(
            style(q), dict.fromkeys(("n", "r1", "r3", "r10", "rr", "right", "wrong", "answered"), 0.0)
        )
        a["n"] += 1
        if q.expected is None:
            a["answered"] += result.confident
            if ranks is not None:
                ranks.append(0)
            continue
        ids = [h.id for h in result.hits]
        rank = ids.index(q.expected) + 1 if q.expected in ids else 0
        if ranks is not None:
            ranks.append(rank)
        a["r1"] += rank == 1
        a["r3"] += 1 <= rank <= 3
        a["r10"] += rank >= 1
        a["rr"] += 1 / rank if rank else 0.0
        a["right"] += result.confident and rank == 1
        a["wrong"] += result.confident and rank != 1
    out = {}
    for name in STYLES:
        if name in acc:
            a = acc[name]
            n = a["n"]
            out[name] = {"n": n} | {k: round(v / n, 3) for k, v in a.items() if k != "n"}
    return out


def _env_paths(name: str) -> list[Path]:
    value = os.environ.get(name, "")
    return [Path(p) for p in value.split(os.pathsep) if p]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    env_index = os.environ.get("KBBOT_BENCH_INDEX")
    ap.add_argument(
        "--index", type=Path, default=Path(env_index) if env_index else None, help="$KBBOT_BENCH_INDEX"
    )
    ap.add_argument(
        "--queries",
        type=Path,
        nargs="+",
        default=_env_paths("KBBOT_BENCH_QUERIES"),
        help=f"question files ($KBBOT_BENCH_QUERIES, separated by {os.pathsep!r})",
    )
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    ap.add_argument("--probe", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.index is None or not args.queries:
        ap.error("an index (--index or KBBOT_BENCH_INDEX) and question files (--queries or KBBOT_BENCH_QUERIES)")
    if args.probe:
        probe(args.index)
        return 0
    if not (args.index / "search" / "meta.json").is_file():
        print(f"no index at {args.index}: build one with `kbbot index SOURCE --out {args.index}`", file=sys.stderr)
        return 2
    kb = KnowledgeBase.open(args.index)
    engine = SearchEngine.load(args.index, kb)
    meta = json.loads((args.index / "search" / "meta.json").read_text())
    base = PlainBM25(kb)
    questions = read_all(args.queries, kb)
    texts = [q.query for q in questions]
    # warm both (first-use caches, page cache), then measure interleaved so machine load hits both alike
    for q in texts[:20]:
        engine.search(q)
        base.search(q)
    engine_ranks: list[int] = []
    base_ranks: list[int] = []
    by_style = {
        "engine": measure(engine, questions, engine_ranks),
        "plain BM25": measure(base, questions, base_ranks),
    }
    # stage one must not lose what plain BM25 finds: questions BM25 has in its first ten and the engine does not
    lost = [
        q.expected
        for q, mine, theirs in zip(questions, engine_ranks, base_ranks, strict=True)
        if theirs and not mine
    ]
    lat_engine, lat_base = latency([engine, base], texts)
    big = long_query(kb)
    t_big = []
    for _ in range(5):
        t0 = time.perf_counter()
        engine.search(big, limit=10)
        t_big.append((time.perf_counter() - t0) * 1000)
    out = subprocess.run(
        [sys.executable, __file__, "--probe", "--index", str(args.index), "--queries", str(args.queries[0])],
        capture_output=True,
        text=True,
        check=True,
    )
    probe_res = json.loads(out.stdout.strip().splitlines()[-1])
    report = {
        "articles": len(kb),
        "by_style": by_style,
        "latency": {"engine": lat_engine, "plain BM25": lat_base},
        "p99_ratio": round(lat_engine["p99_ms"] / lat_base["p99_ms"], 2),
        "found_by_bm25_only": lost,
        "message_40k_ms": {"median": round(statistics.median(t_big), 1), "max": round(max(t_big), 1)},
        "build_seconds": meta.get("build_seconds"),
        "baseline_build_seconds": round(base.build_seconds, 1),
        **probe_res,
    }
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"corpus: {len(kb)} articles; {len(questions)} questions from {', '.join(p.name for p in args.queries)}")
    print(f"{'style':<17}{'searcher':<11}{'n':>4}  r@1    r@3    r@10   MRR    right  wrong  OOD-answered")
    for name in STYLES:
        for searcher, figures in by_style.items():
            f = figures.get(name)
            if f is None:
                continue
            if name.startswith("ood"):
                print(f"{name:<17}{searcher:<11}{int(f['n']):>4}  {'':<42}{f['answered']:.3f}")
            else:
                cells = "  ".join(f"{f[k]:.3f}" for k in ("r1", "r3", "r10", "rr", "right", "wrong"))
                print(f"{name:<17}{searcher:<11}{int(f['n']):>4}  {cells}")
    print(f"in plain BM25's first ten but not the engine's: {len(lost)} {lost}")
    print(
        f"latency: engine p50 {lat_engine['p50_ms']:.2f} ms p99 {lat_engine['p99_ms']:.2f} ms; plain BM25 p50 "
        f"{lat_base['p50_ms']:.2f} ms p99 {lat_base['p99_ms']:.2f} ms; p99 ratio {report['p99_ratio']:.2f}"
    )
    print(
        f"search index build {meta.get('build_seconds')} s (BM25 baseline build {base.build_seconds:.1f} s); "
        f"load {probe_res['load_s']} s; RSS after load {probe_res['rss_mb_after_load']} MB, "
        f"after queries {probe_res['rss_mb_after_queries']} MB"
    )
    print(f"40,000-char message: median {statistics.median(t_big):.1f} ms, max {max(t_big):.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
