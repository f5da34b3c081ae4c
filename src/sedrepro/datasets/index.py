"""Index a dataset folder: check its layout, parse annotations and official splits, write files.tsv + events.tsv.

CLI: python -m sedrepro.datasets.index --dataset NAME --root DIR [--annotations-only] [--subsets A,B] --out DIR
     [--log FILE]
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from .. import cli
from . import get

log = logging.getLogger(__name__)


def main(args: argparse.Namespace) -> None:
    spec = get(args.dataset)
    subsets = args.subsets.split(",") if args.subsets else None
    index = spec.index(Path(args.root), annotations_only=args.annotations_only, subsets=subsets)
    index.write(Path(args.out))
    log.info("wrote %s/files.tsv (%d rows) and events.tsv (%d rows)", args.out, len(index.files), len(index.events))


def build_parser() -> argparse.ArgumentParser:
    p = cli.parser("Index a dataset folder into files.tsv and events.tsv.")
    p.add_argument("--dataset", required=True)
    p.add_argument("--root", required=True, help="the dataset folder (or the folder holding it)")
    p.add_argument("--annotations-only", action="store_true", help="no audio: skip audio checks, duration_s = NaN")
    p.add_argument("--subsets", help="comma-separated subsets to index (default: all of the dataset's)")
    p.add_argument("--out", required=True)
    return p


if __name__ == "__main__":
    cli.run(main, build_parser())
