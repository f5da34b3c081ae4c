"""Shared plumbing for the `python -m sedrepro.<stage>` entry points that the rules call."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence

from .io import InputError
from .registry import load_plugins

log = logging.getLogger("sedrepro")

# The config's plugin modules, comma-separated: the workflow sets it in every job's shell (rules/common.smk), so each
# stage imports them before it runs and their parts are registered in the job as at workflow start.
PLUGINS_ENV = "SEDREPRO_PLUGINS"


def plugins_from_env() -> list[str]:
    return [name for name in os.environ.get(PLUGINS_ENV, "").split(",") if name]


def parser(description: str, outputs: Sequence[str] = ()) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.output_options = set(outputs)  # extra option dests (besides OUTPUT_OPTIONS) that name outputs
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


# options that name what a stage writes (a stage adds its own with parser(..., outputs=)); every other option naming
# an existing path is an input. The log states both, so each rule's log names its inputs, outputs and wall time.
OUTPUT_OPTIONS = {"out", "md", "csv"}


def _paths(args: argparse.Namespace, p: argparse.ArgumentParser, outputs: bool) -> list[str]:
    found = []
    for name, value in vars(args).items():
        if name == "log":
            continue
        is_output = name in OUTPUT_OPTIONS or name.startswith("out_") or name in getattr(p, "output_options", ())
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str) and item and is_output == outputs and (outputs or os.path.exists(item)):
                found.append(item)
    return found


def _describe(path: str) -> str:
    if os.path.isdir(path):
        return f"{path} ({sum(len(files) for _, _, files in os.walk(path))} files)"
    if os.path.isfile(path):
        return f"{path} ({os.path.getsize(path):,} bytes)"
    return f"{path} (missing)"


def run(
    main: Callable[[argparse.Namespace], None], p: argparse.ArgumentParser, argv: Sequence[str] | None = None
) -> None:
    """Parse args, log to --log (else stderr; warnings always reach stderr), import the plugins named in
    $SEDREPRO_PLUGINS, time the stage; bad input exits 2."""
    args = p.parse_args(argv)
    terminal = logging.StreamHandler(sys.stderr)
    terminal.addFilter(lambda record: not getattr(record, "log_file_only", False))
    handlers: list[logging.Handler] = [terminal]
    if args.log:
        handlers.append(logging.FileHandler(args.log, mode="a", encoding="utf-8"))
        # The log file keeps every line; the terminal (Snakemake's, shared by parallel jobs) only warnings and errors.
        terminal.setLevel(logging.WARNING)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", handlers=handlers, force=True
    )
    start = time.perf_counter()
    log.info("%s %s", p.prog, " ".join(sys.argv[1:] if argv is None else argv))
    log.info("inputs: %s", ", ".join(_paths(args, p, outputs=False)) or "none")
    try:
        load_plugins(plugins_from_env(), where=f"environment variable {PLUGINS_ENV}")
        main(args)
    except InputError as err:
        log.error("%s", err, extra={"log_file_only": True})  # stderr gets it once, as the `error:` line below
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    log.info("outputs: %s", ", ".join(_describe(path) for path in _paths(args, p, outputs=True)) or "none")
    log.info("done in %.1f s", time.perf_counter() - start)
