"""Check that every number of metrics.json files in the layout before issue 15 (one test split: per_checkpoint f1 and
scores, mean, std, scores_mean, trivial) reappears, equal to the last bit, under sets.test of the new layout.

    python tests/compare_legacy_metrics.py OLD_RESULTS_ROOT NEW_RESULTS_ROOT

Compares runs/**/metrics.json present under both roots; prints one line per difference and exits 1 if any.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def compare(old: dict, new: dict) -> list[str]:
    """Differences between an old document and the new one's "test" set ([] when every old number is there)."""
    out = []

    def same(what: str, a, b) -> None:
        if a != b:
            out.append(f"{what}: {a!r} != {b!r}")

    target = old.get("target", "frames")
    f1 = "clip_f1" if target == "clip" else "segment_f1"
    test = new["sets"]["test"]
    for key in ("dataset", "model", "seed", "classes"):
        same(key, old[key], new[key])
    same("target", target, new["target"])
    for key in ("threshold", "segment_s", "epochs"):
        same(key, old[key], test[key])
    m = test["metrics"]
    for i, c in enumerate(old["per_checkpoint"]):
        same(f"checkpoint {i} f1", c["f1"], m[f1]["per_checkpoint"][i])
        for k, v in c["scores"].items():
            same(f"checkpoint {i} {k}", v, m[k]["per_checkpoint"][i])
    same("mean", old["mean"], m[f1]["mean"])
    same("std", old["std"], m[f1]["std"])
    for k, v in old["scores_mean"].items():
        same(f"scores_mean {k}", v, m[k]["mean"])
    same("trivial", old["trivial"], test["trivial"][f1])
    return out


def main(old_root: str, new_root: str) -> int:
    olds = sorted(Path(old_root).glob("runs/**/metrics.json"))
    bad = compared = missing = 0
    for p in olds:
        q = Path(new_root) / p.relative_to(old_root)
        if not q.is_file():
            print(f"{q}: missing")
            missing += 1
            continue
        diffs = compare(json.loads(p.read_text()), json.loads(q.read_text()))
        compared += 1
        bad += bool(diffs)
        for d in diffs:
            print(f"{q}: {d}")
    print(f"{compared} metrics files compared, {bad} with differences, {missing} missing")
    return 1 if bad or missing or not olds else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
