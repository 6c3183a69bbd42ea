"""Do the TXT and Markdown copies of the same article parse to the same article?

For every article present in both forms, compares title, section names (in order) and procedure step counts.
Target: >= 99% agreement. Prints the figure, a breakdown by what disagreed, and examples.

    nice python benchmarks/parse_agreement.py --txt TXT_DIR --md MD_DIR [--limit N]
    (or KBBOT_BENCH_TXT / KBBOT_BENCH_MD)
                                              [--workers 2] [--examples 10]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import sys
import time
from collections import Counter
from pathlib import Path

from paths import path_option, require  # benchmarks/paths.py (run as scripts from benchmarks/)

from kbbot.errors import ParseError
from kbbot.parse import parse_file


def _shape(path: str) -> tuple[str, str, tuple[str, ...], tuple[int, ...]] | tuple[str, str]:
    try:
        a = parse_file(path)
    except ParseError as exc:
        return ("error", str(exc))
    return (a.id, a.title, tuple(a.sections), tuple(len(p.steps) for p in a.procedures))


def _pair(paths: tuple[str, str]) -> tuple[str, str, object, object]:
    t, m = paths
    return t, m, _shape(t), _shape(m)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    path_option(ap, "--txt", "KBBOT_BENCH_TXT", "the unpacked TXT corpus")
    path_option(ap, "--md", "KBBOT_BENCH_MD", "the unpacked Markdown corpus")
    ap.add_argument("--limit", type=int, default=0, help="sample this many pairs (0 = all)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--examples", type=int, default=8)
    args = ap.parse_args(argv)
    require(ap, args, "--txt", "--md")

    pairs: list[tuple[str, str]] = []
    for folder in sorted(args.txt.iterdir()):
        if not folder.is_dir():
            continue
        for f in sorted(folder.iterdir()):
            md = args.md / folder.name / f.stem / "README.md"
            if md.is_file():
                pairs.append((str(f), str(md)))
    if args.limit and args.limit < len(pairs):
        pairs = random.Random(7).sample(pairs, args.limit)
    started = time.monotonic()
    with multiprocessing.get_context("fork").Pool(args.workers) as pool:
        results = pool.map(_pair, pairs, chunksize=64)
    elapsed = time.monotonic() - started

    agree = 0
    reasons: Counter[str] = Counter()
    examples: dict[str, list[str]] = {}
    for t, _md, a, b in results:
        diffs = []
        if a[0] == "error" or b[0] == "error":
            diffs.append("parse error")
        else:
            assert len(a) == 4 and len(b) == 4
            if a[0] != b[0]:
                diffs.append("id")
            if a[1] != b[1]:
                diffs.append("title")
            if a[2] != b[2]:
                diffs.append("sections")
            if a[3] != b[3]:
                diffs.append("steps")
        if not diffs:
            agree += 1
            continue
        for d in diffs:
            reasons[d] += 1
            ex = examples.setdefault(d, [])
            if len(ex) < args.examples:
                detail = {
                    "parse error": lambda a=a, b=b: f"txt={a[1] if a[0] == 'error' else 'ok'} "
                    f"md={b[1] if b[0] == 'error' else 'ok'}",
                    "id": lambda a=a, b=b: f"{a[0]} vs {b[0]}",
                    "title": lambda a=a, b=b: f"{a[1]!r} vs {b[1]!r}",
                    "sections": lambda a=a, b=b: f"{list(a[2])} vs {list(b[2])}",
                    "steps": lambda a=a, b=b: f"{list(a[3])} vs {list(b[3])}",
                }[d]()
                ex.append(f"{Path(t).stem}: {detail}")
    n = len(results)
    print(f"TXT/Markdown pairs compared: {n}  (parsed both in {elapsed:.1f} s)")
    print(f"agreement (same title, section names, step counts): {agree}/{n} = {100 * agree / max(1, n):.2f}%")
    for reason, count in reasons.most_common():
        print(f"  {reason}: {count} disagreements")
        for e in examples[reason]:
            print(f"      {e}")
    return 0 if agree >= 0.99 * n else 1


if __name__ == "__main__":
    sys.exit(main())
