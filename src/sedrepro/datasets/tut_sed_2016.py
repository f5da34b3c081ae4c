"""TUT-SED Synthetic 2016 (Cakir et al., TASLP 2017): layout checks and split lists.

Layout (guide section 1): audio/TUT-SED-synthetic-2016-mix-<N>.wav, meta/TUT-SED-synthetic-2016-annot-<N>.txt,
evaluation_setup/{train+validate,validate,test,evaluate}.txt. The split-list format is unconfirmed, so each
non-empty line's first whitespace field is read as an audio path relative to the dataset root (DCASE-style lists
repeat the path once per event, hence the unique first fields). train = train+validate minus validate.
file_id is the wav stem (e.g. "TUT-SED-synthetic-2016-mix-7"), which stays right whatever the real numbering is.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from ..io import fail, read_text
from .base import DatasetSpec, require_dir
from .embedded import TUT_STAND_IN

ROOT_NAME = "TUT-SED-synthetic-2016"
CLASSES: tuple[str, ...] = (
    "alarms_and_sirens",
    "baby_crying",
    "bird_singing",
    "bus",
    "cat_meowing",
    "crowd_applause",
    "crowd_cheering",
    "dog_barking",
    "footsteps",
    "glass_smash",
    "gun_shot",
    "horsewalk",
    "mixer",
    "motorcycle",
    "rain",
    "thunder",
)
log = logging.getLogger(__name__)
SPLIT_LISTS: tuple[str, ...] = ("train+validate.txt", "validate.txt", "test.txt", "evaluate.txt")


@dataclass(frozen=True)
class TutSedSynthetic2016Spec(DatasetSpec):
    def _looks_like_root(self, root: Path) -> bool:
        return (root / "evaluation_setup").is_dir() or (root / "meta").is_dir()

    def read_split_list(self, root: Path, name: str) -> list[str]:
        """Unique first fields of a split list, in file order, as paths relative to root."""
        path = root / "evaluation_setup" / name
        if not path.is_file():
            raise fail(path, f"the split list evaluation_setup/{name}", "no such file")
        seen: dict[str, None] = {}
        for lineno, line in enumerate(read_text(path).splitlines(), start=1):
            fields = line.split()
            if not fields:
                continue
            rel = fields[0].replace("\\", "/")
            # Some DCASE lists prefix the dataset folder; paths are otherwise relative to it.
            if rel.startswith(self.root_name + "/"):
                rel = rel[len(self.root_name) + 1 :]
            if rel.startswith("/") or ".." in rel.split("/"):
                raise fail(f"{path}:{lineno}", "an audio path relative to the dataset root", repr(fields[0]))
            seen.setdefault(rel, None)
        return list(seen)

    def annotation_for(self, root: Path, audio_rel: str) -> str:
        """meta/<stem with -mix- -> -annot->.txt (3rd-party naming), else meta/<stem>.txt (dcase_util's prepare())."""
        stem = Path(audio_rel).stem
        candidates = [f"meta/{stem.replace('-mix-', '-annot-')}.txt", f"meta/{stem}.txt"]
        for rel in candidates:
            if (root / rel).is_file():
                return rel
        raise fail(
            root / candidates[0], f"the annotation file of {audio_rel}", "no such file (nor " + candidates[1] + ")"
        )

    def _list_files(self, root: Path, annotations_only: bool) -> list[dict]:
        require_dir(root / "meta", f"the annotation folder meta/ of {self.root_name}")
        require_dir(root / "evaluation_setup", f"the split-list folder evaluation_setup/ of {self.root_name}")
        if not annotations_only:
            require_dir(root / "audio", f"the audio folder audio/ of {self.root_name}")
        lists = {name: self.read_split_list(root, name) for name in SPLIT_LISTS[:3]}
        validate = lists["validate.txt"]
        train = [f for f in lists["train+validate.txt"] if f not in set(validate)]
        test = lists["test.txt"]
        # evaluate.txt is optional: its format is unconfirmed; when present its files must exist like the others.
        evaluate = (
            self.read_split_list(root, "evaluate.txt") if (root / "evaluation_setup" / "evaluate.txt").is_file() else []
        )
        leak = sorted(set(test) & (set(train) | set(validate)))
        if leak:
            raise fail(
                root / "evaluation_setup" / "test.txt",
                "test files disjoint from train+validate.txt",
                f"{len(leak)} shared, e.g. {leak[0]}",
            )
        items = []
        for split, rels in (("train", train), ("validate", validate), ("test", test)):
            for rel in rels:
                items.append(
                    {
                        "file_id": Path(rel).stem,
                        "split": split,
                        "audio": rel,
                        "annotation": self.annotation_for(root, rel),
                    }
                )
        listed = {item["annotation"] for item in items}
        unlisted = sorted(p.name for p in (root / "meta").glob("*.txt") if f"meta/{p.name}" not in listed)
        if unlisted:
            log.warning(
                "%s: %d annotation file(s) in no split list, ignored (e.g. %s)",
                root / "meta",
                len(unlisted),
                unlisted[0],
            )
        if not annotations_only:
            for list_name, rels in (*lists.items(), ("evaluate.txt", evaluate)):
                for rel in rels:
                    if not (root / rel).is_file():
                        raise fail(root / rel, f"the audio file named in evaluation_setup/{list_name}", "no such file")
        return items


SPEC = TutSedSynthetic2016Spec(
    name="tut_sed_synthetic_2016",
    classes=CLASSES,
    root_name=ROOT_NAME,
    embedded_archives=(f"{ROOT_NAME}.meta.zip", f"{ROOT_NAME}.audio.1.zip", f"{ROOT_NAME}.audio.2.zip"),
    embedded=TUT_STAND_IN,
)
