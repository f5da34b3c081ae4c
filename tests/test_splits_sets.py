"""Named training sources and evaluation sets in the split store, on a dataset defined and registered here."""

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from sedrepro.data import SplitData
from sedrepro.datasets import DATASETS, DatasetSpec
from sedrepro.io import InputError, read_json, save_npy, write_json, write_tsv
from sedrepro.splits import make_splits, set_label_kind

SUBSETS = ("synthetic", "weak", "unlabel", "validate", "eval")


@dataclass(frozen=True)
class ToySpec(DatasetSpec):
    """Subsets of three label kinds, assigned to sets of the same names by the official protocol."""


TOY = ToySpec(
    name="toy_sets",
    classes=("x", "y"),
    root_name="toy",
    embedded_archives=(),
    splits=SUBSETS,
    subset_label_kinds=(("weak", "weak"), ("unlabel", "none")),
    set_names=(*SUBSETS, "train", "test"),
)

# clip -> (subset, frames); every clip has one event of x over its first half, the unlabelled one too
CLIPS = {
    "a": ("synthetic", 10),
    "b": ("synthetic", 6),
    "c": ("weak", 8),
    "d": ("unlabel", 12),
    "e": ("validate", 5),
    "f": ("eval", 7),
}
PIPELINE = {
    "normalisation": "global",
    "target": "frames",
    "split": {"protocol": "official", "seed": 0, "test_fold": 10},
    "chunks": {"length_frames": 4, "hop_frames": 4, "tail": "pad", "pad": "zeros"},
    "sources": [
        {"name": "synthetic", "label_kind": None},
        {"name": "weak", "label_kind": None},
        {"name": "unlabel", "label_kind": None},
    ],
    "evaluation_sets": ["validate", "eval"],
}


@pytest.fixture(autouse=True)
def _registered(monkeypatch):
    """The toy dataset is registered for each test only (other tests list the registered datasets)."""
    monkeypatch.setitem(DATASETS._parts, TOY.name, TOY)
    assert DATASETS.get(TOY.name) is TOY


@pytest.fixture
def store(tmp_path):
    fdir, idx = tmp_path / "features", tmp_path / "index"
    lengths = [n for _, n in CLIPS.values()]
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    feats = np.arange(sum(lengths) * 3, dtype=np.float32).reshape(-1, 3)
    save_npy(fdir / "features.npy", feats)
    write_tsv(
        fdir / "frames.tsv",
        pd.DataFrame(
            {"file_id": list(CLIPS), "split": [s for s, _ in CLIPS.values()], "start": starts, "n_frames": lengths}
        ),
    )
    write_json(fdir / "features.json", {"hop_s": 0.1})
    write_tsv(
        idx / "files.tsv",
        pd.DataFrame(
            {
                "file_id": list(CLIPS),
                "split": [s for s, _ in CLIPS.values()],
                "audio": "",
                "annotation": "",
                "duration_s": [n * 0.1 for n in lengths],
            }
        ),
    )
    write_tsv(
        idx / "events.tsv",
        pd.DataFrame({"file_id": list(CLIPS), "onset": 0.0, "offset": [n * 0.05 for n in lengths], "label": "x"}),
    )
    return fdir, idx, tmp_path / "splits", dict(zip(CLIPS, starts, strict=True))


def test_sources_and_evaluation_sets_are_written_with_their_label_kinds(store):
    fdir, idx, out, start = store
    summary = make_splits(fdir, idx, TOY.name, out, PIPELINE)
    with np.load(out / "chunks.npz") as z:
        assert z.files == ["synthetic", "weak", "unlabel", "validate", "eval"]  # sources, validate, evaluation sets
        assert z["synthetic"][:, 0].tolist() == [start["a"], start["a"] + 4, start["a"] + 8, start["b"], start["b"] + 4]
        assert z["eval"].tolist() == [[start["f"], 4], [start["f"] + 4, 3]]
    assert summary["sources"] == [
        {"name": "synthetic", "label_kind": "strong"},
        {"name": "weak", "label_kind": "weak"},
        {"name": "unlabel", "label_kind": "none"},
    ]
    assert summary["evaluation_sets"] == ["validate", "eval"] and summary["validation_set"] == "validate"
    assert summary["label_kinds"] == {
        "synthetic": "strong",
        "weak": "weak",
        "unlabel": "none",
        "validate": "strong",
        "eval": "strong",
    }
    assert read_json(out / "splits.json") == summary
    labels = np.load(out / "labels.npy")
    # the unlabelled clip's event is no target: its rows are zeros and its set says "none" (not all-negative frames)
    assert not labels[start["d"] : start["d"] + 12].any() and labels[start["c"] : start["c"] + 4, 0].all()
    assert read_json(out / "norm.json")["frames"] == 10 + 6 + 8 + 12  # statistics over every training source
    data = SplitData.load(fdir, out)
    assert data.sources == {"synthetic": "strong", "weak": "weak", "unlabel": "none"}
    assert data.evaluation_sets == ["validate", "eval"]
    assert [data.has_targets(s, k) for s in ("synthetic", "weak", "unlabel") for k in ("strong", "weak")] == [
        True,
        True,
        False,
        True,
        False,
        False,
    ]


def test_a_source_without_statistics_leaves_the_normalisation_as_it_was(store):
    """statistics false: the source's chunks are written (a model may train on it) but norm.json is the one of the
    other sources, byte for byte (the strong real DESED source beside the ssa paper's three)."""
    fdir, idx, out, _ = store
    three = {**PIPELINE, "sources": PIPELINE["sources"][:2]}
    make_splits(fdir, idx, TOY.name, out / "a", three)
    offered = {**three, "sources": [*three["sources"], {"name": "unlabel", "label_kind": None, "statistics": False}]}
    make_splits(fdir, idx, TOY.name, out / "b", offered)
    assert (out / "a" / "norm.json").read_bytes() == (out / "b" / "norm.json").read_bytes()
    with np.load(out / "b" / "chunks.npz") as z:
        assert len(z["unlabel"]) == 3
    assert read_json(out / "b" / "norm.json")["frames"] == 10 + 6 + 8


def test_a_declared_label_kind_may_be_weaker_never_stronger(store):
    fdir, idx, out, _ = store
    weaker = {**PIPELINE, "sources": [{"name": "synthetic", "label_kind": "weak"}]}
    assert make_splits(fdir, idx, TOY.name, out, weaker)["sources"] == [{"name": "synthetic", "label_kind": "weak"}]
    stronger = {**PIPELINE, "sources": [{"name": "weak", "label_kind": "strong"}]}
    with pytest.raises(
        InputError,
        match=r"^pipeline key sources/weak/label_kind: expected weak or weaker \(its clips' "
        r"labels\), found 'strong'$",
    ):
        make_splits(fdir, idx, TOY.name, out / "2", stronger)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"evaluation_sets": ["tset"]},
            "pipeline key evaluation_sets: expected set names of toy_sets's split protocols "
            "(synthetic, weak, unlabel, validate, eval, train, test), found 'tset'",
        ),
        (
            {"sources": [{"name": "eval", "label_kind": None}]},
            "pipeline key sources: expected distinct names, none of them validate or an evaluation set, found ['eval']",
        ),
        (
            {"sources": [{"name": "weak", "label_kind": None}, {"name": "weak", "label_kind": None}]},
            "pipeline key sources: expected distinct names, none of them validate or an evaluation set, found ['weak', 'weak']",
        ),
    ],
    ids=["unknown-set", "source-is-scored", "source-twice"],
)
def test_bad_set_names_stop_with_one_line(store, change, message):
    fdir, idx, out, _ = store
    with pytest.raises(InputError) as err:
        make_splits(fdir, idx, TOY.name, out, {**PIPELINE, **change})
    assert str(err.value) == message
    assert not (out / "chunks.npz").exists()


def test_a_set_of_mixed_label_kinds_needs_a_declared_kind():
    mixed = pd.Series(["synthetic", "unlabel"])
    with pytest.raises(
        InputError,
        match=r"^set 'train' of toy_sets: expected clips of one label kind \(or a source's "
        r"declared label_kind\), found strong, none clips$",
    ):
        set_label_kind(TOY, "train", mixed, None)
    assert set_label_kind(TOY, "train", mixed, "none") == "none"


def test_split_protocols_are_the_datasets_own(store):
    """The protocol is looked up on the dataset: a registered dataset brings its own without any edit of splits.py."""
    files = pd.DataFrame({"file_id": list(CLIPS), "split": [s for s, _ in CLIPS.values()]})
    assert TOY.assign_splits(files, PIPELINE["split"]).tolist() == [s for s, _ in CLIPS.values()]
    with pytest.raises(InputError, match=r"^split/protocol: expected official or paper, found 'folds'$"):
        TOY.assign_splits(files, {**PIPELINE["split"], "protocol": "folds"})
