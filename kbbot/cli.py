"""The `kbbot` command line. The only module that prints; everything else returns values or logs."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kbbot.errors import KbBotError

if TYPE_CHECKING:
    from kbbot.kb import KnowledgeBase
    from kbbot.settings import Settings

log = logging.getLogger(__name__)


def _add_index_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--index",
        type=Path,
        default=None,
        help="index folder (default: $KBBOT_INDEX, else one built from the built-in seeds/)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kbbot", description="Slack support bot over a knowledge base")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("--log-format", choices=("text", "json"), default="text")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("index", help="parse article files and build the search index")
    p.add_argument("sources", nargs="+", help="folders, files, .tar.xz/.tar.gz archives")
    p.add_argument("--out", type=Path, required=True, help="index folder to write (updated incrementally)")
    p.add_argument("--workers", type=int, default=None, help="parser processes (default: CPU count)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar even on a terminal")
    p.add_argument(
        "--force", action="store_true",
        help="replace the index even when this run found no articles or lost more than half of them",
    )
    p.add_argument(
        "--url-template", default=None,
        help="link for articles without a URL of their own, e.g. 'https://kb.example.com/{path}' "
             "({path}: the file's path in the tree without extension, {slug}, {id})",
    )

    p = sub.add_parser("search", help="search the knowledge base")
    p.add_argument("query")
    _add_index_arg(p)
    p.add_argument("--json", action="store_true")
    p.add_argument("--limit", type=int, default=5)

    p = sub.add_parser("show", help="show one article by number")
    p.add_argument("article", help="an id in any form: Q102087, 102087, KB2121926, a path slug, a file name")
    _add_index_arg(p)
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("eval", help="measure search on a file of questions (JSON lines)")
    p.add_argument("queries", type=Path)
    _add_index_arg(p)
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("intents", help="check intent phrases (intents/*.yaml)")
    intents_sub = p.add_subparsers(dest="intents_command", required=True)
    q = intents_sub.add_parser("eval", help="measure intent understanding on labelled messages (JSON lines)")
    q.add_argument("messages", type=Path)
    q.add_argument("--intents", type=Path, default=None, help="intents folder (default: the built-in intents/)")
    q.add_argument("--json", action="store_true")

    p = sub.add_parser("chat", help="talk to the bot in this terminal, offline (no Slack account needed)")
    _add_index_arg(p)
    p.add_argument("--config", type=Path, default=None, help="kbbot.yaml")

    p = sub.add_parser("serve", help="run the Slack app (Socket Mode if SLACK_APP_TOKEN is set, else HTTP)")
    _add_index_arg(p)
    p.add_argument("--port", type=int, default=None, help="HTTP port (default 3000)")
    p.add_argument("--host", default=None, help="HTTP bind address (default 0.0.0.0)")
    p.add_argument("--config", type=Path, default=None, help="kbbot.yaml")
    p.add_argument(
        "--workers", type=int, default=1,
        help="HTTP mode: serving processes sharing the port, one per core at most (default 1)",
    )
    p = sub.add_parser("report", help="knowledge gaps, failing articles and answer rates from thread outcomes")
    p.add_argument("--since", default=None, help="period to cover: 30d, 12h, 6w (default 30d)")
    p.add_argument("--format", choices=("markdown", "html", "json"), default="markdown")
    p.add_argument("--store", default=None, help="store URL (default: $KBBOT_STORE, else the sqlite state file)")
    p.add_argument("--config", type=Path, default=None, help="kbbot.yaml")
    p.add_argument("--out", type=Path, default=None, help="write the report to this file instead of stdout")
    return parser


def _configure_logging(verbose: bool, fmt: str) -> None:
    from kbbot.logs import configure_logging

    configure_logging(level=logging.DEBUG if verbose else logging.INFO, fmt=fmt)


def cmd_index(args: argparse.Namespace) -> int:
    from kbbot.indexer import run_index

    progress = sys.stderr.isatty() and not args.no_progress
    summary = run_index(
        [str(s) for s in args.sources], args.out, workers=args.workers, progress=progress, force=args.force,
        url_template=args.url_template,
    )
    print(summary.render())
    return 0 if summary.articles else 1


def _settings(args: argparse.Namespace) -> Settings:
    """The one Settings of this run: kbbot.yaml and the environment, with the command line's `--index` on top."""
    from kbbot.settings import Settings

    return Settings.from_env(os.environ, config=getattr(args, "config", None)).with_overrides(index=args.index)


def cmd_show(args: argparse.Namespace) -> int:
    from kbbot.kb import KnowledgeBase
    from kbbot.locate import resolve_index

    settings = _settings(args)
    kb = KnowledgeBase.open(resolve_index(settings))
    found = kb.resolve(args.article)
    article = kb.get(found) if found else None
    if article is None:
        near = kb.suggest(args.article, limit=3)
        if not near:
            # not an id in any form: the words may still name an article
            from kbbot.locate import open_engine

            near = [h.id for h in open_engine(settings).search(args.article, limit=3).hits]
        hint = f" Closest: {', '.join(near)}." if near else ""
        print(f"kbbot: no article {args.article!r} in this knowledge base.{hint}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(article.to_show_json(), indent=2, ensure_ascii=False))
    else:
        from kbbot.render import render_article_text

        print(render_article_text(article))
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from kbbot.locate import open_engine

    engine = open_engine(_settings(args))
    result = engine.search(args.query, limit=max(1, args.limit))
    if args.json:
        print(json.dumps(_with_sources(result.to_json(), engine.kb), ensure_ascii=False))
    else:
        from kbbot.search import render_search_text

        print(render_search_text(result))
    return 0


def _with_sources(data: dict[str, Any], kb: KnowledgeBase | None) -> dict[str, Any]:
    """Each hit gains the article's `source` and `url` (docs/design.md), read from the knowledge base."""
    for hit in data["hits"]:
        article = kb.get(hit["id"]) if kb is not None else None
        hit["source"] = article.source if article else None
        hit["url"] = article.url if article else None
    return data


def cmd_eval(args: argparse.Namespace) -> int:
    from kbbot.evaluate import render_report, run_eval
    from kbbot.locate import open_engine

    engine = open_engine(_settings(args))
    report = run_eval(args.queries, engine, known_ids=engine.kb)
    print(json.dumps(report) if args.json else render_report(report))
    return 0


def cmd_intents(args: argparse.Namespace) -> int:
    from kbbot.conversation.intent_eval import evaluate, format_report, read_messages
    from kbbot.conversation.intents import IntentSet
    from kbbot.locate import builtin_intents_dir
    from kbbot.settings import Settings

    # the intents the bot would use: --intents, else the configured folder (KBBOT_INTENTS), else the built-in ones
    configured = Settings.from_env(os.environ).intents
    intents = IntentSet.load(args.intents or configured or builtin_intents_dir())
    report = evaluate(intents, read_messages(args.messages))
    print(json.dumps(report.as_dict()) if args.json else format_report(report))
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    from kbbot.settings import Settings
    from kbbot.slack.chat import run_chat

    # the same settings `kbbot serve` reads (intents, confidence floors, flood limit), built once here
    settings = Settings.from_env(os.environ, config=args.config).with_overrides(index=args.index)
    return run_chat(settings)


def cmd_serve(args: argparse.Namespace) -> int:
    from kbbot.server.serve import run_serve

    return run_serve(index=args.index, config=args.config, port=args.port, host=args.host, workers=args.workers)


def cmd_report(args: argparse.Namespace) -> int:
    import time

    from kbbot.report.build import DEFAULT_SINCE, parse_since
    from kbbot.report.run import run_report
    from kbbot.settings import Settings

    try:
        since_s = parse_since(args.since or DEFAULT_SINCE)
    except ValueError as exc:
        print(f"kbbot: {exc}", file=sys.stderr)
        return 2
    settings = Settings.from_env(os.environ, config=args.config).with_overrides(store_url=args.store)
    text = run_report(settings=settings, since_s=since_s, now=time.time(), fmt=args.format)
    if args.out is not None:
        args.out.write_text(text, encoding="utf-8")
    else:
        print(text, end="")
    return 0


COMMANDS = {
    "index": cmd_index,
    "show": cmd_show,
    "search": cmd_search,
    "eval": cmd_eval,
    "intents": cmd_intents,
    "chat": cmd_chat,
    "serve": cmd_serve,
    "report": cmd_report,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _configure_logging(args.verbose, args.log_format)
    try:
        return COMMANDS[args.command](args)
    except KbBotError as exc:
        print(f"kbbot: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `kbbot search ... | head` closing the pipe is not an error worth a traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
