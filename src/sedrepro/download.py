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


def resolve(name: str, dataset_cfg: dict, manifest: Path | None) -> tuple[list[str], str | None, str | None]:
    """(urls, md5, sha256) of archive `name`."""
    if dataset_cfg["source"] == "embedded":
        if manifest is None:
            raise fail(f"archive {name}", "the embedded generator's manifest", "no --manifest")
        entries = {a["name"]: a for a in read_json(manifest)["archives"]}
        if name not in entries:
            raise fail(manifest, f"an entry for {name}", ", ".join(sorted(entries)) or "no archives")
        entry = entries[name]
        return [(manifest.resolve().parent / name).as_uri()], entry.get("md5"), entry.get("sha256")
    entries = {a["name"]: a for a in dataset_cfg["archives"]}
    if name not in entries:
        raise fail("config key 'datasets/.../archives'", f"an archive named {name}", ", ".join(sorted(entries)))
    entry = entries[name]
    return list(entry["urls"]), entry.get("md5"), entry.get("sha256")


def main(args: argparse.Namespace) -> None:
    urls, md5, sha256 = resolve(args.archive, args.dataset_config, Path(args.manifest) if args.manifest else None)
    fetch(urls, Path(args.out), md5=md5, sha256=sha256)


def build_parser() -> argparse.ArgumentParser:
    p = cli.parser("Fetch one dataset archive and verify its checksum.")
    p.add_argument("--archive", required=True, help="archive file name")
    p.add_argument("--dataset-config", type=cli.json_arg, required=True, help="the dataset's config section as JSON")
    p.add_argument("--manifest", help="embedded generator manifest (source: embedded)")
    p.add_argument("--out", required=True)
    return p


if __name__ == "__main__":
    cli.run(main, build_parser())
