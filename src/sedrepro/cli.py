"""Shared plumbing for the `python -m sedrepro.<stage>` entry points that the rules call."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from typing import Callable, Sequence

from .io import InputError

log = logging.getLogger("sedrepro")


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--log", help="also write the log to this file")
    return p


def json_arg(text: str) -> dict:
    """Parse a JSON object given on the command line (rules pass config sections this way)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise argparse.ArgumentTypeError(f"expected a JSON object, found {text[:60]!r} ({err.msg})") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object, found {type(value).__name__}")
    return value


def run(main: Callable[[argparse.Namespace], None], p: argparse.ArgumentParser, argv: Sequence[str] | None = None) -> None:
    """Parse args, log to stderr (and --log), time the stage; bad input exits 2 with one line."""
    args = p.parse_args(argv)
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if args.log:
        handlers.append(logging.FileHandler(args.log, mode="a", encoding="utf-8"))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", handlers=handlers, force=True)
    start = time.perf_counter()
    log.info("%s %s", p.prog, " ".join(sys.argv[1:] if argv is None else argv))
    try:
        main(args)
    except InputError as err:
        log.error("%s", err)
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    log.info("done in %.1f s", time.perf_counter() - start)
