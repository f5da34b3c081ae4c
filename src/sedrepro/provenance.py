"""What produced a result: the configuration files, the stage's settings, every input with its sha256, the code
commit, package versions and the machine.

Every output a reader sees (tables, figures, audits, dataset pages, benchmark summaries, and a run's metrics and
training) gets a sidecar `<stem>.provenance.json` beside it, written by `write_sidecar`.

The workflow tells each job which configuration it runs under through the environment variable
`SEDREPRO_CONFIGURATION` (set in the shell prefix of rules/common.smk, so that it triggers no rerun): the config files
(paths and sha256), the `--config` overrides, the results root and a digest of the effective settings. A stage run by
hand, outside the workflow, records `null` there.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import importlib.metadata
import json
import os
import platform
import socket
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .io import InputError, read_json, write_json

CONFIGURATION_ENV = "SEDREPRO_CONFIGURATION"

PACKAGES = (
    "torch",
    "torchaudio",
    "numpy",
    "pandas",
    "scipy",
    "librosa",
    "soundfile",
    "sed_eval",
    "psds_eval",
    "entmax",
    "dcase_util",
    "snakemake",
    "matplotlib",
    "sedrepro",
)


def git_state(start: str | os.PathLike = ".") -> dict[str, Any]:
    """The commit of the code and whether tracked files differ from it; commit 'unknown' outside git."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=start, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=start,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return {"commit": "unknown", "dirty": None}
    return {"commit": sha, "dirty": bool(dirty)}


def package_versions() -> dict[str, str]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def sha256_file(path: str | os.PathLike) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def sha256_tree(path: str | os.PathLike) -> tuple[str, int]:
    """One digest of a folder's files (relative paths and contents, in sorted order) and how many there are."""
    root = Path(path)
    h = hashlib.sha256()
    files = sorted(p for p in root.rglob("*") if p.is_file())
    for p in files:
        h.update(p.relative_to(root).as_posix().encode() + b"\0" + sha256_file(p).encode() + b"\n")
    return h.hexdigest(), len(files)


def input_record(path: str | os.PathLike, known: dict[str, str] | None = None) -> dict[str, Any]:
    """{path, sha256} of a file (from `known`, path -> sha256, when the caller already hashed it); a folder also gets
    its file count."""
    p = Path(path)
    if known and str(p) in known:
        return {"path": str(p), "sha256": known[str(p)]}
    if p.is_dir():
        digest, n = sha256_tree(p)
        return {"path": str(p), "sha256": digest, "files": n}
    return {"path": str(p), "sha256": sha256_file(p)}


def configuration() -> dict[str, Any] | None:
    """The workflow configuration this job runs under, as the workflow passed it; None outside the workflow."""
    raw = os.environ.get(CONFIGURATION_ENV)
    return json.loads(raw) if raw else None


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            return next(
                (line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")),
                platform.processor() or platform.machine(),
            )
    except OSError:
        return platform.processor() or platform.machine()


def collect(
    config: dict[str, Any],
    seed: int | None = None,
    inputs: Iterable[str | os.PathLike] = (),
    known: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The provenance record of one output: `config` holds the stage's own settings; `known` (path -> sha256) spares
    hashing inputs the stage has hashed already."""
    return {
        "config": config,
        "seed": seed,
        "configuration": configuration(),
        "inputs": sorted((input_record(p, known) for p in inputs), key=lambda r: r["path"]),
        "git": git_state(Path(__file__).resolve().parent),
        "packages": package_versions(),
        "python": sys.version.split()[0],
        "machine": {
            "platform": platform.platform(),
            "processor": platform.machine(),
            "cpu": cpu_model(),
            "cpus": os.cpu_count(),
            "hostname": socket.gethostname(),
        },
        "created_utc": utc_now(),
    }


def utc_now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def sidecar_path(output: str | os.PathLike) -> Path:
    """`<stem>.provenance.json` beside an output (table1.md -> table1.provenance.json)."""
    out = Path(output)
    return out.with_name(out.stem + ".provenance.json")


def write_sidecar(
    output: str | os.PathLike,
    config: dict[str, Any],
    inputs: Iterable[str | os.PathLike] = (),
    seed: int | None = None,
    known: dict[str, str] | None = None,
) -> Path:
    path = sidecar_path(output)
    write_json(path, collect(config, seed=seed, inputs=inputs, known=known))
    return path


def describe_configuration(identity: dict[str, Any]) -> str:
    files = ", ".join(identity.get("files") or []) or "no config file"
    overrides = identity.get("overrides") or {}
    extra = f" with --config {json.dumps(overrides, sort_keys=True)}" if overrides else ""
    return f"{files}{extra} (results root {identity.get('results_root')})"


def check_one_configuration(sidecars: Iterable[str | os.PathLike], current: dict[str, Any]) -> list[str]:
    """Refuse (InputError) a set of outputs that were made under different configurations, or whose provenance does
    not say; return one warning per output made from an earlier version of the current configuration's files."""
    groups: dict[str, list[Path]] = {}
    older: list[Path] = []
    for path in map(Path, sidecars):
        record = read_json(path).get("configuration")
        if not record:
            raise InputError(
                f"{path}: expected the configuration that made this output, found none (made outside the "
                "workflow or by an older version of it: rebuild it with this configuration)"
            )
        groups.setdefault(json.dumps(record["identity"], sort_keys=True), []).append(path)
        if record["settings_sha256"] != current["settings_sha256"]:
            older.append(path)
    if len(groups) > 1:
        parts = [
            f"{describe_configuration(json.loads(k))}: {len(v)} output{'' if len(v) == 1 else 's'}, e.g. {v[0]}"
            for k, v in groups.items()
        ]
        raise InputError(
            f"expected the outputs of one configuration in this results tree, found {len(groups)}: " + "; ".join(parts)
        )
    if groups and next(iter(groups)) != json.dumps(current["identity"], sort_keys=True):
        made_by = describe_configuration(json.loads(next(iter(groups))))
        raise InputError(
            f"expected outputs of {describe_configuration(current['identity'])}, found outputs of "
            f"{made_by} (e.g. {next(iter(groups.values()))[0]})"
        )
    return [
        f"{p}: made with other settings than the current ones (config files edited since?); `snakemake -n` "
        "shows what is out of date"
        for p in older
    ]
