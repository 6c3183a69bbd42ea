"""The `kbbot` command line. The only module that prints; everything else returns values or logs."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from kbbot.article import normalise_qid
from kbbot.errors import KbBotError

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

    p = sub.add_parser("search", help="search the knowledge base")
    p.add_argument("query")
    _add_index_arg(p)
    p.add_argument("--json", action="store_true")
    p.add_argument("--limit", type=int, default=5)

    p = sub.add_parser("show", help="show one article by number")
    p.add_argument("article", help="Q102087 or 102087")
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
    return parser


def _configure_logging(verbose: bool, fmt: str) -> None:
    from kbbot.logs import configure_logging

    configure_logging(level=logging.DEBUG if verbose else logging.INFO, fmt=fmt)


def cmd_index(args: argparse.Namespace) -> int:
    from kbbot.indexer import run_index

    progress = sys.stderr.isatty() and not args.no_progress
    summary = run_index([str(s) for s in args.sources], args.out, workers=args.workers, progress=progress)
    print(summary.render())
    return 0 if summary.articles else 1


def cmd_show(args: argparse.Namespace) -> int:
    from kbbot.kb import KnowledgeBase
    from kbbot.locate import resolve_index

    qid = normalise_qid(args.article)
    if qid is None:
        print(f"kbbot: {args.article!r} is not an article number (try Q102087)", file=sys.stderr)
        return 2
    kb = KnowledgeBase.open(resolve_index(args.index))
    article = kb.get(qid)
    if article is None:
        near = kb.closest_ids(qid, limit=3)
        hint = f" Closest: {', '.join(near)}." if near else ""
        print(f"kbbot: no article {qid} in this knowledge base.{hint}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(article.to_show_json(), indent=2, ensure_ascii=False))
    else:
        from kbbot.render import render_article_text

        print(render_article_text(article))
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from kbbot.locate import open_engine

    engine = open_engine(args.index)
    result = engine.search(args.query, limit=max(1, args.limit))
    if args.json:
        print(json.dumps(result.to_json(), ensure_ascii=False))
    else:
        from kbbot.search import render_search_text

        print(render_search_text(result))
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from kbbot.evaluate import render_report, run_eval
    from kbbot.locate import open_engine

    engine = open_engine(args.index)
    report = run_eval(args.queries, engine)
    print(json.dumps(report) if args.json else render_report(report))
    return 0


def cmd_intents(args: argparse.Namespace) -> int:
    from kbbot.conversation.intent_eval import evaluate, format_report, read_messages
    from kbbot.conversation.intents import IntentSet, builtin_intents_dir

    intents = IntentSet.load(args.intents or builtin_intents_dir())
    report = evaluate(intents, read_messages(args.messages))
    print(json.dumps(report.as_dict()) if args.json else format_report(report))
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    from kbbot.settings import Settings
    from kbbot.slack.chat import run_chat

    # the same settings `kbbot serve` reads (intents, confidence floors, flood limit), built once here
    settings = Settings.from_env(os.environ, config=args.config).with_overrides(index=args.index)
    return run_chat(settings, color=not os.environ.get("NO_COLOR"))


def cmd_serve(args: argparse.Namespace) -> int:
    from kbbot.slack.serve import run_serve

    return run_serve(index=args.index, config=args.config, port=args.port, host=args.host, workers=args.workers)


COMMANDS = {
    "index": cmd_index,
    "show": cmd_show,
    "search": cmd_search,
    "eval": cmd_eval,
    "intents": cmd_intents,
    "chat": cmd_chat,
    "serve": cmd_serve,
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
