"""Where a benchmark's inputs are: an argument, else an environment variable, never a path of one machine."""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def path_option(parser: argparse.ArgumentParser, flag: str, env: str, what: str) -> None:
    """`flag` (e.g. --index) defaulting to $`env`; `what` names the input in --help."""
    value = os.environ.get(env)
    parser.add_argument(flag, type=Path, default=Path(value) if value else None, help=f"{what} (or ${env})")


def require(parser: argparse.ArgumentParser, args: argparse.Namespace, *flags: str) -> None:
    """Stop with one line naming every input that was given neither as an argument nor in the environment."""
    missing = [f for f in flags if getattr(args, f.lstrip("-").replace("-", "_")) is None]
    if missing:
        parser.error("needs " + ", ".join(missing) + " (or the environment variable named in --help)")
