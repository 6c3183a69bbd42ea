"""Full-corpus indexing benchmark. Run by hand, with nice, one full-corpus job at a time:

    nice python benchmarks/index.py --folder CORPUS_DIR --archive corpus-txt.tar.xz
    (or KBBOT_BENCH_FOLDER / KBBOT_BENCH_ARCHIVE)
                                    [--workers N] [--skip-archive] [--keep]

Phases, each in its own child process so peak memory is measured per phase (the child and its workers):
  1. baseline-folder   read + decode every file of the folder, nothing else
  2. index-folder      `run_index(folder)` into a fresh index (parse + store + search structures)
  3. rerun-folder      the same call again with nothing changed (target <= 5 s)
  3b. store-folder     `run_index(folder, search=False)`: the articles alone, without the search engine's part
  4. baseline-archive  stream every member of the archive and decode it
  5. index-archive     `run_index(archive)` into a fresh index
  6. rerun-archive     again with nothing changed
Targets on the 2-core machine: full index of 56,989 articles <= 60 s, no-change re-run <= 5 s.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

from paths import path_option, require  # benchmarks/paths.py (run as scripts from benchmarks/)


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _peak_mb() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(me, kids) / 1024  # ru_maxrss is in KiB on Linux


def phase(name: str, args: argparse.Namespace) -> dict[str, Any]:
    started = time.monotonic()
    out: dict[str, Any] = {"phase": name}
    if name == "baseline-folder":
        n = 0
        for root, _dirs, files in os.walk(args.folder):
            for f in files:
                with open(os.path.join(root, f), "rb") as fh:
                    _decode(fh.read())
                n += 1
        out["files"] = n
    elif name == "baseline-archive":
        n = 0
        with tarfile.open(args.archive, "r:*") as tar:
            for m in tar:
                if m.isfile():
                    fh = tar.extractfile(m)
                    if fh is not None:
                        _decode(fh.read())
                        n += 1
        out["files"] = n
    else:
        from kbbot.indexer import run_index

        source = args.folder if name.endswith("folder") else args.archive
        store_only = name.startswith("store")
        folder = Path(args.out) / ("store" if store_only else name.split("-")[1])  # a re-run reuses its index
        summary = run_index([str(source)], folder, workers=args.workers, search=not store_only)
        out.update(
            articles=summary.articles,
            files=summary.files_seen,
            parsed=summary.files_parsed,
            skipped=summary.files_skipped,
            duplicates=len(summary.duplicates),
            parse_s=round(summary.parse_seconds, 2),
            search_s=round(summary.search_seconds, 2),
            changed=summary.changed,
        )
    out["seconds"] = round(time.monotonic() - started, 2)
    out["peak_mb"] = round(_peak_mb(), 1)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    path_option(ap, "--folder", "KBBOT_BENCH_FOLDER", "an unpacked corpus folder")
    path_option(ap, "--archive", "KBBOT_BENCH_ARCHIVE", "the same corpus as a .tar.xz archive")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--skip-archive", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the built indexes (printed path)")
    ap.add_argument("--out", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--phase", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.phase:  # child mode
        print(json.dumps(phase(args.phase, args)))
        return 0

    require(ap, args, "--folder", *(() if args.skip_archive else ("--archive",)))
    work = Path(tempfile.mkdtemp(prefix="kbbot-bench-"))
    phases = ["baseline-folder", "index-folder", "rerun-folder", "store-folder"]
    if not args.skip_archive:
        phases += ["baseline-archive", "index-archive", "rerun-archive"]
    results: dict[str, dict[str, Any]] = {}
    try:
        for name in phases:
            cmd = [sys.executable, __file__, "--phase", name, "--out", str(work), "--folder", str(args.folder),
                   "--archive", str(args.archive)]
            if args.workers:
                cmd += ["--workers", str(args.workers)]
            done = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                print(f"{name} failed:\n{done.stderr}", file=sys.stderr)
                return 1
            results[name] = json.loads(done.stdout.strip().splitlines()[-1])
            r = results[name]
            extra = {k: v for k, v in r.items() if k not in ("phase", "seconds", "peak_mb")}
            print(f"{name:<17} {r['seconds']:>7.2f} s  peak {r['peak_mb']:>7.1f} MB  {extra}", flush=True)
    finally:
        if args.keep:
            print(f"indexes kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    print()
    print(f"cores: {os.cpu_count()}, workers: {args.workers or os.cpu_count()}")
    for src in ("folder", "archive"):
        if f"index-{src}" not in results:
            continue
        base, full, rerun = results[f"baseline-{src}"], results[f"index-{src}"], results[f"rerun-{src}"]
        ratio = full["seconds"] / max(0.01, base["seconds"])
        print(
            f"{src}: {full['articles']} articles in {full['seconds']:.1f} s "
            f"(parse {full['parse_s']:.1f} s + search {full['search_s']:.1f} s; target <= 60 s: "
            f"{'OK' if full['seconds'] <= 60 else 'MISSED'}), "
            f"{ratio:.1f}x the read+decode baseline of {base['seconds']:.1f} s; "
            f"no-change re-run {rerun['seconds']:.2f} s "
            f"(target <= 5 s: {'OK' if rerun['seconds'] <= 5 else 'MISSED'}); "
            f"peak memory {full['peak_mb']:.0f} MB"
        )
    if "store-folder" in results:
        s = results["store-folder"]
        print(
            f"articles only (no search structures): {s['seconds']:.1f} s "
            f"(parse {s['parse_s']:.1f} s), peak memory {s['peak_mb']:.0f} MB"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
