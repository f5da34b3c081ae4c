"""URBAN-SED v2.0.0 (Salamon et al., WASPAA 2017): layout checks; the split is the folder.

Layout (guide section 2): audio/{train,validate,test}/soundscape_<split>_<dist><k>.wav and
annotations/{train,validate,test}/<same stem>.txt (.jams beside them are ignored). file_id is the stem, which is
unique across splits because it contains the split name. With annotations_only the annotation folders alone define
the files, which is how the v1.0 annotation copy in shared/realdata is indexed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..io import fail
from .base import SPLITS, DatasetSpec, require_dir
from .embedded import URBAN_STAND_IN

ROOT_NAME = "URBAN-SED_v2.0.0"
CLASSES: tuple[str, ...] = (
    "air_conditioner",
    "car_horn",
    "children_playing",
    "dog_bark",
    "drilling",
    "engine_idling",
    "gun_shot",
    "jackhammer",
    "siren",
    "street_music",
)


@dataclass(frozen=True)
class UrbanSedSpec(DatasetSpec):
    def _looks_like_root(self, root: Path) -> bool:
        return (root / "annotations").is_dir() or (root / "audio").is_dir()

    def _list_files(self, root: Path, annotations_only: bool) -> list[dict]:
        require_dir(root / "annotations", f"the annotation folder annotations/ of {self.root_name}")
        for split in SPLITS:
            require_dir(root / "annotations" / split, f"the {split} annotation folder annotations/{split}/")
            if not annotations_only:
                require_dir(root / "audio" / split, f"the {split} audio folder audio/{split}/")
        items = []
        for split in SPLITS:
            ann_stems = {p.stem for p in (root / "annotations" / split).glob("*.txt")}
            if not ann_stems:
                raise fail(root / "annotations" / split, "at least one .txt annotation file", "none")
            if not annotations_only:
                audio_stems = {p.stem for p in (root / "audio" / split).glob("*.wav")}
                no_audio = sorted(ann_stems - audio_stems)
                if no_audio:
                    raise fail(
                        root / "audio" / split / f"{no_audio[0]}.wav",
                        f"the audio file of annotations/{split}/{no_audio[0]}.txt",
                        f"no such file ({len(no_audio)} annotation(s) without audio in {split})",
                    )
                no_ann = sorted(audio_stems - ann_stems)
                if no_ann:
                    raise fail(
                        root / "annotations" / split / f"{no_ann[0]}.txt",
                        f"the annotation file of audio/{split}/{no_ann[0]}.wav",
                        f"no such file ({len(no_ann)} audio file(s) without annotation in {split})",
                    )
            for stem in sorted(ann_stems):
                items.append(
                    {
                        "file_id": stem,
                        "split": split,
                        "audio": f"audio/{split}/{stem}.wav",
                        "annotation": f"annotations/{split}/{stem}.txt",
                    }
                )
        return items


SPEC = UrbanSedSpec(
    name="urban_sed",
    classes=CLASSES,
    root_name=ROOT_NAME,
    embedded_archives=(f"{ROOT_NAME}.tar.gz",),
    embedded=URBAN_STAND_IN,
)
