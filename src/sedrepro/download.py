"""Stage 'download': resolve where one archive comes from and what its checksum must be, then fetch and verify it.

Real archives: URLs and checksums pinned in config (never fetched from the host that serves the archive).
Embedded archives: the generator's manifest gives the checksum it computed, the URL is file:// into its folder.
Both go through the same `datasets.archive.fetch`. Real downloads retry failed rounds over the mirrors with
exponential backoff (config download.retries / backoff_s, passed as SEDREPRO_DOWNLOAD_* by rules/common.smk).
`notices` says, before anything is fetched, what each planned real download needs (sizes, licence or access
condition, how to use a copy already on disk), from the facts kept beside the archive entries in config;
`missing_copies` says which copies on disk (`source: local`) are not there, so that a run learns it at the start and
not hours later when the index reaches them.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from . import cli
from .datasets import get as get_dataset
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


def notice(dataset: str, cfg: Mapping[str, Any]) -> str:
    """One line on what downloading `dataset` needs: its archives with their sizes (and where a size comes from), its
    licence or access condition, and how to use a copy already on disk. Every fact comes from the dataset's config
    entry (`archives[].bytes`, `archives[].size_note`, `access`), none from code."""
    parts = []
    for a in cfg["archives"]:
        size = [f"{a['bytes']:,} bytes"] if a.get("bytes") is not None else []
        size += [a["size_note"]] if a.get("size_note") else []
        unpinned = f"; no checksum, pinned by: {a['pinned_by']}" if a.get("pinned_by") else ""
        parts.append(f"{a['name']} ({', '.join(size) or 'size not known'}{unpinned})")
    known = [a["bytes"] for a in cfg["archives"] if a.get("bytes") is not None]
    total = f", {sum(known):,} bytes in all" if 1 < len(known) == len(cfg["archives"]) else ""
    return (
        f"{dataset}: {len(parts)} archive(s) to download: {'; '.join(parts)}{total}. "
        f"Licence or access: {_access(cfg, 'not stated in the config')}. "
        f"A copy already on disk: set datasets/{dataset}/source: local and datasets/{dataset}/local_path: "
        f"{_copy_folder(dataset)}, and nothing is downloaded."
    )


def _access(cfg: Mapping[str, Any], otherwise: str) -> str:
    """The dataset's licence or access condition as its config entry states it (`access`)."""
    return (cfg.get("access") or otherwise).rstrip(".")


def _copy_folder(dataset: str) -> str:
    """What local_path of a copy on disk must name."""
    return f"the folder holding {get_dataset(dataset).root_name}/ (or that folder itself)"


def notices(config: Mapping[str, Any], datasets: Iterable[str], data_root: str) -> list[str]:
    """`notice` for each of `datasets` whose real archives a run would download: source download, not extracted
    yet and an archive still missing under data_root (a run that already has them downloads nothing)."""
    out = []
    for name in datasets:
        cfg = config["datasets"][name]
        if cfg["source"] != "download" or os.path.isdir(os.path.join(data_root, "datasets", name, "extracted")):
            continue
        if all(os.path.isfile(os.path.join(data_root, "archives", name, a["name"])) for a in cfg["archives"]):
            continue
        out.append(notice(name, cfg))
    return out


def missing_copies(config: Mapping[str, Any], datasets: Iterable[str]) -> list[str]:
    """One line for each of `datasets` read from disk (source local) whose local_path is not a folder: the path as
    given and as resolved from the working directory, where the run will stop, and what the folder must hold."""
    out = []
    for name in datasets:
        cfg = config["datasets"][name]
        path = cfg.get("local_path")
        if cfg["source"] != "local" or (path and os.path.isdir(path)):
            continue
        resolved = f" ({os.path.abspath(path)})" if path and not os.path.isabs(path) else ""
        access = f" Licence or access: {_access(cfg, '')}." if cfg.get("access") else ""
        out.append(
            f"{name}: datasets/{name}/local_path is {path!r}{resolved}, which is not a folder, so index_dataset will "
            f"stop there. Set it to {_copy_folder(name)}, or leave out the papers that use {name} "
            f"(--config papers=...).{access}"
        )
    return out


def main(args: argparse.Namespace) -> None:
    if args.manifest:
        urls, md5, sha256 = from_manifest(Path(args.out).name, Path(args.manifest))
    else:
        urls, md5, sha256 = args.url, args.md5, args.sha256
    if not urls:
        raise fail(args.out, "--manifest or at least one --url", "neither")
    retries = args.retries if args.retries is not None else int(_from_env("SEDREPRO_DOWNLOAD_RETRIES", int))
    backoff_s = args.backoff_s if args.backoff_s is not None else _from_env("SEDREPRO_DOWNLOAD_BACKOFF_S", float)
    if args.manifest:  # the generator's own file beside its manifest is there or not: retrying cannot change that
        retries = 0
    fetch(urls, Path(args.out), md5=md5, sha256=sha256, retries=retries, backoff_s=backoff_s)


def _from_env(name: str, kind: type[int] | type[float]) -> float:
    """A number set by the workflow (rules/common.smk) in the environment; 0 outside it."""
    text = os.environ.get(name, "0")
    try:
        value = kind(text)
    except ValueError:
        raise fail(f"environment variable {name}", f"a non-negative {kind.__name__}", repr(text)) from None
    if value < 0:
        raise fail(f"environment variable {name}", f"a non-negative {kind.__name__}", repr(text))
    return value


def build_parser() -> argparse.ArgumentParser:
    p = cli.parser("Fetch one dataset archive and verify its checksum.")
    p.add_argument("--manifest", help="embedded generator manifest (source: embedded)")
    p.add_argument("--url", action="append", default=[], help="a mirror (repeatable, tried in order)")
    digest = p.add_mutually_exclusive_group()
    digest.add_argument("--md5")
    digest.add_argument("--sha256")
    p.add_argument("--out", required=True, help="where the archive goes; its file name names the archive")
    p.add_argument(
        "--retries",
        type=int,
        default=None,
        help="rounds over the mirrors after the first (default: $SEDREPRO_DOWNLOAD_RETRIES, else 0)",
    )
    p.add_argument(
        "--backoff-s",
        type=float,
        default=None,
        help="wait before the first retry round, doubling (default: $SEDREPRO_DOWNLOAD_BACKOFF_S, else 0)",
    )
    return p


if __name__ == "__main__":
    cli.run(main, build_parser())
