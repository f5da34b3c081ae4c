"""DESED embedded stand-in: the DCASE baseline's tree after extraction, real names and TSV formats, the real quirks,
audible events at their annotated times, weak tags of the rendered classes, missing YouTube clips, identical bytes.

The dataset is not registered here (its spec is another module's): the tests build a test-only spec, registered only
for the CLI test.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile

from sedrepro.datasets import DATASETS, embedded
from sedrepro.datasets import desed_standin as ds
from sedrepro.datasets.archive import extract, file_digests
from sedrepro.datasets.base import DatasetSpec
from sedrepro.io import InputError

REAL = Path("/work/shared/realdata/DESED")
SPEC = DatasetSpec(
    name="desed_standin_test",
    classes=tuple(ds.SOUNDS),
    root_name="dataset",
    embedded_archives=ds.ARCHIVES,
    splits=tuple(ds.TREE),
    subset_label_kinds=(("weak", "weak"), ("unlabel_in_domain", "none")),
    embedded=ds.STAND_IN,
)
PARAMS = {
    "n_synthetic_train": 4,
    "n_synthetic_validate": 2,
    "n_weak": 8,
    "n_unlabel_in_domain": 8,
    "n_validation": 12,
    "n_public_eval": 4,
    "n_strong_real": 8,
    "duration_s": [4.0, 10.0],
    "events_per_file": [1, 3],
    "max_polyphony": 2,
    "sample_rate": 44100,
    "seed": 16,
    "missing_fraction": 0.125,
}
EXPECTED_FILES = {  # the merged tree: every folder holding audio, and every metadata file
    "audio/train/synthetic21_train/soundscapes",
    "audio/validation/synthetic21_validation/soundscapes",
    "audio/train/weak",
    "audio/train/unlabel_in_domain",
    "audio/validation/validation",
    "audio/eval/public",
    "audio/train/strong_label_real",
    "metadata/train/synthetic21_train/soundscapes.tsv",
    "metadata/validation/synthetic21_validation/soundscapes.tsv",
    "metadata/validation/synthetic21_validation/durations.tsv",
    "metadata/train/weak.tsv",
    "metadata/train/unlabel_in_domain.tsv",
    "metadata/validation/validation.tsv",
    "metadata/validation/validation_durations.tsv",
    "metadata/eval/public.tsv",
    "metadata/train/audioset_strong.tsv",
    "README",
}
YT_ID = r"[A-Za-z0-9_-]{11}"
NAME_PATTERNS = {
    "synthetic_train": r"\d+\.wav",
    "synthetic_validate": r"\d+\.wav",
    "weak": rf"Y{YT_ID}_\d+\.\d{{3}}_\d+\.\d{{3}}\.wav",
    "unlabel_in_domain": rf"Y{YT_ID}_\d+\.\d{{3}}_\d+\.\d{{3}}\.wav",
    "validation": rf"Y{YT_ID}_\d+\.\d{{3}}_\d+\.\d{{3}}\.wav",
    "public_eval": rf"{YT_ID}_\d+_\d+\.wav",
    "strong_real": rf"Y{YT_ID}_\d+\.\d{{3}}_\d+\.\d{{3}}\.wav",
}


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Generated, extracted as the workflow does (all archives into one folder), dcase_synth/ merged into dataset/."""
    base = tmp_path_factory.mktemp("desed")
    ds.STAND_IN.run(SPEC, base / "emb", dict(PARAMS))
    extract([base / "emb" / a for a in ds.ARCHIVES], base / "x")
    assert sorted(p.name for p in (base / "x").iterdir()) == ["dataset", ds.SYNTH_ROOT]
    synth = base / "x" / ds.SYNTH_ROOT
    # dcase_synth/ and dataset/ share no file, so merging them loses nothing
    assert not any((base / "x" / "dataset" / p.relative_to(synth)).is_file() for p in synth.rglob("*"))
    shutil.copytree(base / "x" / ds.SYNTH_ROOT, base / "x" / "dataset", dirs_exist_ok=True)
    return base


def _root(tree: Path) -> Path:
    return tree / "x" / "dataset"


def _tsv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)


def _plan() -> dict[str, ds.Clip]:
    return {f"{c.file.stem}.wav": c for c in ds.plan(SPEC, ds.STAND_IN, PARAMS)}


def test_extracted_tree_is_the_dcase_baseline_layout(tree: Path) -> None:
    synth = {p.relative_to(tree / "x" / ds.SYNTH_ROOT) for p in (tree / "x" / ds.SYNTH_ROOT).rglob("*") if p.is_file()}
    assert synth and all(p.parts[0] in ("audio", "metadata") for p in synth)
    root = _root(tree)
    files = [p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()]
    wav_dirs = {f.rsplit("/", 1)[0] for f in files if f.endswith(".wav")}
    others = {f for f in files if not f.endswith((".wav", ".txt"))}
    assert wav_dirs | others == EXPECTED_FILES
    # Scaper's .txt lists lie beside the synthetic soundscapes only, one per soundscape, as in dcase_synth.zip
    txt = {f for f in files if f.endswith(".txt")}
    assert {f.rsplit("/", 1)[0] for f in txt} == {ds.TREE[s][0] for s in ds.SYNTHETIC}
    assert {f[: -len(".txt")] for f in txt} == {
        f[: -len(".wav")]
        for f in files
        if f.rsplit("/", 1)[0] in {ds.TREE[s][0] for s in ds.SYNTHETIC} and f.endswith(".wav")
    }


def test_names_follow_the_real_patterns(tree: Path) -> None:
    root = _root(tree)
    ids = []
    for subset, (folder, meta) in ds.ALL_TREE.items():
        listed = _tsv(root / meta)["filename"].unique()
        assert len(listed) == PARAMS[f"n_{subset}"]
        for name in [*listed, *(p.name for p in (root / folder).glob("*.wav"))]:
            assert re.fullmatch(NAME_PATTERNS[subset], name), (subset, name)
        if subset not in ds.SYNTHETIC:
            ids += [n.removeprefix("Y")[:11] if subset != "public_eval" else n[:11] for n in listed]
    assert len(set(ids)) == len(ids) and any("-" in i for i in ids) and any("_" in i for i in ids)
    # the name spans the whole seconds around the clip: 10 s, or a short clip's rounded-up length
    for name, dur in _tsv(root / ds.DURATIONS["validation"]).itertuples(index=False):
        start, end = (float(v) for v in name.removesuffix(".wav").rsplit("_", 2)[1:])
        assert end - start == np.ceil(float(dur))


def test_tsvs_have_the_real_headers_and_formats(tree: Path) -> None:
    root = _root(tree)
    headers = {
        ds.TREE["synthetic_train"][1]: "filename\tonset\toffset\tevent_label",
        ds.TREE["weak"][1]: "filename\tevent_labels",
        ds.TREE["unlabel_in_domain"][1]: "filename",
        ds.TREE["validation"][1]: "filename\tonset\toffset\tevent_label",
        ds.DURATIONS["validation"]: "filename\tduration",
        ds.TREE["public_eval"][1]: "filename\tonset\toffset\tevent_label",
    }
    real = {  # the same files of the real DESED, where present
        ds.TREE["synthetic_train"][1]: "dcase2019_SEDT/data/dcase2019/metadata/train/synthetic_2019/soundscapes.tsv",
        ds.TREE["weak"][1]: "data/real/metadata/train/weak.tsv",
        ds.TREE["unlabel_in_domain"][1]: "data/real/metadata/train/unlabel_in_domain.tsv",
        ds.TREE["validation"][1]: "data/real/metadata/validation/validation.tsv",
        ds.DURATIONS["validation"]: "DESED_task/PSDS_Eval/meta/validation_durations.tsv",
        ds.TREE["public_eval"][1]: "data/real/metadata/eval/public.tsv",
    }
    for name, header in headers.items():
        assert (root / name).read_text().split("\n", 1)[0] == header
        if (REAL / real[name]).is_file():
            assert (REAL / real[name]).read_text().split("\n", 1)[0] == header
    ms, synth, tenth = r"\d+\.\d{3}", r"\d+(\.\d{1,9})?", r"\d+\.\d"
    for subset in ("synthetic_train", "synthetic_validate", "validation", "public_eval"):
        with open(root / ds.TREE[subset][1], newline="") as f:
            rows = list(csv.reader(f, delimiter="\t"))[1:]
        assert rows and all(len(r) == 4 for r in rows)
        for _, onset, offset, label in (r for r in rows if r[1:] != ["", "", ""]):
            assert re.fullmatch(synth if subset in ds.SYNTHETIC else ms, onset) and float(onset) < float(offset)
            assert re.fullmatch(synth if subset in ds.SYNTHETIC else ms, offset) and label in SPEC.classes
        strong = pd.DataFrame([r for r in rows if r[3]], columns=["filename", "onset", "offset", "label"])
        strong[["onset", "offset"]] = strong[["onset", "offset"]].astype(float)
        for _, events in strong.groupby(["filename", "label"]):  # no same-class overlap (psds_eval refuses it)
            events = events.sort_values("onset")
            assert (events["onset"].to_numpy()[1:] >= events["offset"].to_numpy()[:-1]).all()
    for subset in ("synthetic_validate", "validation"):
        durations = _tsv(root / ds.DURATIONS[subset])
        assert all(re.fullmatch(tenth, d) for d in durations["duration"])
        assert list(durations["filename"]) == list(_tsv(root / ds.TREE[subset][1])["filename"].unique())
    for tags in _tsv(root / ds.TREE["weak"][1])["event_labels"]:
        labels = tags.split(",")
        assert labels == sorted(set(labels)) and set(labels) <= set(SPEC.classes)
    # every class occurs in the strong training metadata
    assert set(_tsv(root / ds.TREE["synthetic_train"][1])["event_label"]) == set(SPEC.classes)


def test_quirks_are_present_and_counted(tree: Path) -> None:
    root = _root(tree)
    validation = _tsv(root / ds.TREE["validation"][1])
    empty = validation[validation["event_label"] == ""]
    assert (empty[["onset", "offset"]] == "").all().all()
    assert len(empty) == PARAMS["n_validation"] // ds.EMPTY_EVERY == 2
    assert not set(empty["filename"]) & set(validation.loc[validation["event_label"] != "", "filename"])

    durations = _tsv(root / ds.DURATIONS["validation"]).set_index("filename")["duration"].astype(float)
    assert (durations < PARAMS["duration_s"][1]).sum() == PARAMS["n_validation"] // ds.SHORT_EVERY
    for name, dur in durations.items():  # the audio lasts what durations.tsv says
        path = root / ds.TREE["validation"][0] / name
        if path.is_file():
            info = soundfile.info(str(path))
            assert info.frames == round(dur * PARAMS["sample_rate"])

    public = _tsv(root / ds.TREE["public_eval"][1])
    lengths = {p.name: soundfile.info(str(p)).duration for p in (root / ds.TREE["public_eval"][0]).glob("*.wav")}
    past = public[public["offset"].astype(float) > public["filename"].map(lengths)]
    assert len(past) == PARAMS["n_public_eval"] // ds.PAST_END_EVERY == 1

    for subset in ds.YOUTUBE:
        listed = set(_tsv(root / ds.TREE[subset][1])["filename"])
        present = {p.name for p in (root / ds.TREE[subset][0]).glob("*.wav")}
        assert present < listed
        assert len(listed - present) == round(PARAMS["missing_fraction"] * PARAMS[f"n_{subset}"]) >= 1
    for subset in (*ds.SYNTHETIC, "public_eval"):
        listed = set(_tsv(root / ds.TREE[subset][1])["filename"])
        assert {p.name for p in (root / ds.TREE[subset][0]).glob("*.wav")} == listed


def test_missing_clips_are_not_in_the_audio_archive(tree: Path) -> None:
    plan = _plan()
    with tarfile.open(tree / "emb" / ds.ARCHIVES[3]) as tf:
        members = {m.name.rsplit("/", 1)[-1] for m in tf.getmembers() if m.isfile()}
    missing = {name for name, c in plan.items() if c.missing}
    assert missing and not missing & members
    assert members == {name for name, c in plan.items() if c.file.split in ds.YOUTUBE and not c.missing}


def test_strong_real_subset_is_drawn_apart_and_leaves_the_other_archives_byte_identical(tmp_path: Path) -> None:
    """The strong real subset (audioset_strong.tsv + strong_label_real/, its own archive): strong TSV with YouTube
    names, some clips listed but missing; its size changes no byte of the other four archives (so the runs on them,
    e.g. the ssa paper's, do not move)."""
    digests = {}
    for n in (1, 5):
        out = tmp_path / str(n)
        ds.STAND_IN.run(SPEC, out, {**PARAMS, "n_strong_real": n})
        digests[n] = [file_digests(out / a) for a in ds.ARCHIVES]
        with tarfile.open(out / ds.ARCHIVES[4]) as tf:
            names = [m.name for m in tf.getmembers() if m.isfile()]
            meta = tf.extractfile(f"dataset/{ds.STRONG_REAL_TREE[1]}").read().decode()
        listed = {line.split("\t")[0] for line in meta.splitlines()[1:]}
        wavs = {name.rsplit("/", 1)[-1] for name in names if name.endswith(".wav")}
        assert meta.startswith("filename\tonset\toffset\tevent_label\n") and len(listed) == n
        assert wavs <= listed and len(listed - wavs) == min(n - 1, round(PARAMS["missing_fraction"] * n))
    assert digests[1][:4] == digests[5][:4] and digests[1][4] != digests[5][4]


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))


def test_events_are_audible_at_their_times_and_weak_tags_are_the_rendered_classes(tree: Path) -> None:
    root = _root(tree)
    plan = _plan()
    weak = _tsv(root / ds.TREE["weak"][1]).set_index("filename")["event_labels"]
    checked = {s: 0 for s in ds.ALL_TREE}
    for name, clip in plan.items():
        path = root / ds.ALL_TREE[clip.file.split][0] / name
        if clip.missing:
            assert not path.exists()
            continue
        x, sr = soundfile.read(str(path), dtype="float32")
        assert sr == 44100 and x.ndim == 1
        if clip.file.split == "weak":
            assert weak[name].split(",") == sorted({label for _, _, label, _ in clip.file.events})
        if clip.file.split != "unlabel_in_domain":  # what the metadata says is what was rendered
            rendered = [(on, off, label) for on, off, label, _ in clip.file.events]
            annotated = [(on, min(off, clip.file.duration_s), label) for on, off, label in clip.annotated]
            assert annotated == rendered
        if clip.file.split == "validation" and not clip.file.events:
            continue  # an empty clip: background only
        assert clip.file.events
        quiet = np.ones(len(x), dtype=bool)
        for on, off, _, _ in clip.file.events:
            quiet[round(on * sr) : round(off * sr)] = False
        if quiet.sum() < 0.2 * sr:
            continue  # events cover (nearly) the whole clip: no background to compare with
        background = _rms(x[quiet])
        assert background < 1.5 * embedded.BACKGROUND_RMS, name  # nothing sounds outside the annotated events
        for on, off, label, _ in clip.file.events:
            assert _rms(x[round(on * sr) : round(off * sr)]) > 1.5 * background, (name, label)
        checked[clip.file.split] += 1
    assert all(n >= 2 for n in checked.values()), checked


def test_manifest_and_cli_through_the_generic_dispatch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The embedded CLI reaches the stand-in through the spec only; same params give byte-identical archives."""
    monkeypatch.setitem(DATASETS._parts, SPEC.name, SPEC)
    small = {**PARAMS, **{f"n_{s}": 2 for s in ds.COUNT_KEYS}, "duration_s": [4, 6], "seed": 5}
    digests = []
    for run in ("a", "b"):
        embedded.main(argparse.Namespace(dataset=SPEC.name, out=str(tmp_path / run), params=small))
        manifest = json.loads((tmp_path / run / embedded.MANIFEST_FILE).read_text())
        assert [a["name"] for a in manifest["archives"]] == list(ds.ARCHIVES)
        for a in manifest["archives"]:
            assert file_digests(tmp_path / run / a["name"]) == (a["md5"], a["sha256"])
        assert manifest["params"] == small
        digests.append([a["sha256"] for a in manifest["archives"]])
    assert digests[0] == digests[1]
    embedded.main(argparse.Namespace(dataset=SPEC.name, out=str(tmp_path / "c"), params={**small, "seed": 6}))
    other = json.loads((tmp_path / "c" / embedded.MANIFEST_FILE).read_text())
    assert [a["sha256"] for a in other["archives"]][0] != digests[0][0]
    incomplete = {k: v for k, v in small.items() if k != "missing_fraction"}
    with pytest.raises(
        InputError, match=r"^--params: expected keys n_synthetic_train, .*found missing missing_fraction$"
    ):
        embedded.main(argparse.Namespace(dataset=SPEC.name, out=str(tmp_path / "d"), params=incomplete))


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("n_weak", 0, "params.n_weak: expected an integer >= 1, found 0"),
        ("duration_s", [0.5, 10.0], "params.duration_s: expected [min, max] with 1 <= min <= max"),
        ("events_per_file", [2, 1], "params.events_per_file: expected [min, max] with 1 <= min <= max, found [2, 1]"),
        ("sample_rate", 4000, "params.sample_rate: expected a sample rate >= 8000 Hz, found 4000"),
        ("missing_fraction", 1.0, "params.missing_fraction: expected a fraction in [0, 1), found 1.0"),
    ],
)
def test_bad_params_are_one_line(tmp_path: Path, key: str, value: object, message: str) -> None:
    with pytest.raises(InputError) as err:
        ds.STAND_IN.run(SPEC, tmp_path, {**PARAMS, key: value})
    assert str(err.value).startswith(message) and "\n" not in str(err.value)
    assert not any(tmp_path.iterdir())


def test_the_registered_spec_indexes_the_stand_in_as_extracted(tmp_path: Path) -> None:
    """The workflow's path: the registered desed spec's archives, extracted side by side (dcase_synth/ beside the
    tree, not merged into it), indexed with every subset and the missing clips counted."""
    from sedrepro.datasets import get

    spec = get("desed")
    spec.embedded.run(spec, tmp_path / "emb", dict(PARAMS))
    extract([tmp_path / "emb" / a for a in spec.embedded_archives], tmp_path / "x")
    index = spec.index(tmp_path / "x")
    assert set(index.files["split"]) == set(spec.subsets)
    subsets = index.notes["subsets"]
    assert (
        subsets["synthetic_train"]["metadata"] == f"../{ds.SYNTH_ROOT}/metadata/train/synthetic21_train/soundscapes.tsv"
    )
    assert {s: subsets[s]["missing"] for s in ("weak", "unlabel_in_domain", "validation")} == {
        "weak": round(0.125 * 8),
        "unlabel_in_domain": round(0.125 * 8),
        "validation": round(0.125 * 12),
    }
    assert subsets["public_eval"]["events_past_clip_end_clipped"] > 0
    assert subsets["strong_real"]["missing"] == round(0.125 * 8) and spec.subsets["strong_real"] == "strong"
