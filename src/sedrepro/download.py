"""Stage 'download': resolve where one archive comes from and what its checksum must be, then fetch and verify it.

Real archives: URLs and checksums pinned in config (never fetched from the host that serves the archive).
Embedded archives: the generator's manifest gives the checksum it computed, the URL is file:// into its folder.
Both go through the same `datasets.archive.fetch`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from . import cli
from .datasets.archive import fetch
from .io import fail, read_json


def from_manifest(name: str, manifest: Path) -> tuple[list[str], str | None, str | None]:
    """(urls, md5, sha256) of an embedded archive: file:// beside the manifest, the digest the generator computed."""
    entries = {a["name"]: a for a in read_json(manifest)["archives"]}
    if name not in entries:
        raise fail(manifest, f"an entry for {name}", ", ".join(sorted(entries)) or "no archives")
    entry = entries[name]
    # sha256 when the manifest has it (it records both); one digest is what fetch() verifies
    if entry.get("sha256"):
        return [(manifest.resolve().parent / name).as_uri()], None, entry["sha256"]
    return [(manifest.resolve().parent / name).as_uri()], entry.get("md5"), None


def main(args: argparse.Namespace) -> None:
    if args.manifest:
        urls, md5, sha256 = from_manifest(Path(args.out).name, Path(args.manifest))
    else:
        urls, md5, sha256 = args.url, args.md5, args.sha256
    if not urls:
        raise fail(args.out, "--manifest or at least one --url", "neither")
    fetch(urls, Path(args.out), md5=md5, sha256=sha256)


def build_parser() -> argparse.ArgumentParser:
    p = cli.parser("Fetch one dataset archive and verify its checksum.")
    p.add_argument("--manifest", help="embedded generator manifest (source: embedded)")
    p.add_argument("--url", action="append", default=[], help="a mirror (repeatable, tried in order)")
    digest = p.add_mutually_exclusive_group()
    digest.add_argument("--md5")
    digest.add_argument("--sha256")
    p.add_argument("--out", required=True, help="where the archive goes; its file name names the archive")
    return p


if __name__ == "__main__":
    cli.run(main, build_parser())
