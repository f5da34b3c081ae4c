"""Segment F1 against sed_eval and hand counts; frame-to-event convention; the score CLI end to end."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import sed_eval
from metrics_doc import default_scoring

from sedrepro import datasets, evaluate, metrics
from sedrepro.io import InputError

CLASSES = ["a", "b", "c"]
DEFAULT = default_scoring()
SETTINGS = evaluate.Settings.from_config(DEFAULT)


def ev(onset, offset, label):
    return {"onset": onset, "offset": offset, "event_label": label}


def test_frames_to_events_convention():
    probs = np.zeros((10, 2), dtype=np.float32)
    probs[2:5, 0] = 0.9  # frames 2..4 -> [0.2, 0.5)
    probs[9, 0] = 0.5  # threshold is inclusive; last frame -> [0.9, 1.0)
    probs[0, 1] = 0.7
    probs[1, 1] = 0.49
    events = evaluate.frames_to_events(probs, 0.1, 0.5, ["x", "y"])
    got = [(round(e["onset"], 6), round(e["offset"], 6), e["event_label"]) for e in events]
    assert got == [(0.2, 0.5, "x"), (0.9, 1.0, "x"), (0.0, 0.1, "y")]
    assert evaluate.frames_to_events(np.zeros((5, 2)), 0.1, 0.5, ["x", "y"]) == []
    with pytest.raises(InputError):
        evaluate.frames_to_events(np.zeros((5, 3)), 0.1, 0.5, ["x", "y"])


def test_segment_f1_matches_sed_eval_directly():
    reference = {
        "f1": [ev(0.0, 2.5, "a"), ev(1.2, 3.0, "b"), ev(6.0, 7.5, "c")],
        "f2": [ev(0.5, 1.5, "b"), ev(2.0, 9.0, "a")],
    }
    estimated = {
        "f1": [ev(0.3, 2.0, "a"), ev(3.5, 4.1, "b"), ev(6.2, 8.0, "c"), ev(0.0, 1.0, "c")],
        "f2": [ev(0.4, 1.2, "b"), ev(2.5, 10.2, "a")],  # runs past the 10 s file end
    }
    durations = {"f1": 12.0, "f2": 10.0}
    ours = evaluate.segment_f1(reference, estimated, durations, CLASSES, 1.0)

    direct = sed_eval.sound_event.SegmentBasedMetrics(event_label_list=CLASSES, time_resolution=1.0)
    direct.empty_system_output_handling = "zero_score"
    for f in sorted(durations):
        direct.evaluate(reference[f], estimated[f], evaluated_length_seconds=durations[f])
    res = direct.results()
    for c in CLASSES:
        assert ours[c] == pytest.approx(100 * res["class_wise"][c]["f_measure"]["f_measure"])
    assert ours["Average"] == pytest.approx(100 * res["class_wise_average"]["f_measure"]["f_measure"])
    assert ours["Overall"] == pytest.approx(100 * res["overall"]["f_measure"]["f_measure"])
    assert ours["Average"] == pytest.approx(np.mean([ours[c] for c in CLASSES]))


def test_segment_f1_hand_computed():
    # 4 s file, 1 s segments. a: ref segments {0,1}, est {1,2} -> TP 1, FP 1, FN 1 -> F1 = 0.5.
    # b: ref {3}, est none -> TP 0, FN 1 -> F1 = 0.  c: nothing anywhere -> undefined (None), skipped by Average.
    ref = {"f": [ev(0.0, 2.0, "a"), ev(3.0, 4.0, "b")]}
    est = {"f": [ev(1.0, 3.0, "a")]}
    out = evaluate.segment_f1(ref, est, {"f": 4.0}, CLASSES, 1.0)
    assert out["a"] == pytest.approx(50.0)
    assert out["b"] == pytest.approx(0.0)
    assert out["c"] is None
    assert out["Average"] == pytest.approx(25.0)
    # Overall: TP 1, FP 1, FN 2 -> P 1/2, R 1/3 -> F1 = 2 * (1/6) / (5/6) = 0.4
    assert out["Overall"] == pytest.approx(40.0)
    # sed_eval's default handling would make b undefined and drop it from the Average.
    default = evaluate.segment_f1(ref, est, {"f": 4.0}, CLASSES, 1.0, empty_system_output=None)
    assert default["b"] is None and default["Average"] == pytest.approx(50.0)


def test_duration_truncates_events_past_file_end():
    # The estimate runs to 4.2 s on a 4 s file: without the duration it would add a 5th segment (a false positive).
    ref = {"f": [ev(0.0, 4.0, "a")]}
    est = {"f": [ev(0.0, 4.2, "a")]}
    assert evaluate.segment_f1(ref, est, {"f": 4.0}, ["a"], 1.0)["a"] == pytest.approx(100.0)
    with pytest.raises(InputError):
        evaluate.segment_f1({"g": []}, est, {"f": 4.0}, ["a"], 1.0)


def _index(tmp_path):
    idx = tmp_path / "index"
    idx.mkdir()
    (idx / "files.tsv").write_text(
        "file_id\tsplit\taudio\tannotation\tduration_s\n"
        "t1\ttest\tt1.wav\tt1.ann\t4.0\n"
        "t2\ttest\tt2.wav\tt2.ann\t3.0\n"
        "tr\ttrain\ttr.wav\ttr.ann\t5.0\n"
    )
    (idx / "events.tsv").write_text(
        "file_id\tonset\toffset\tlabel\nt1\t0.0\t2.0\ta\nt2\t1.0\t3.0\tb\ntr\t0.0\t5.0\ta\n"
    )
    return idx


def _write_npz(path, probs_by_file, hop_s=0.5, classes=("a", "b")):
    ids = list(probs_by_file)
    offsets = np.cumsum([0] + [len(probs_by_file[f]) for f in ids]).astype(np.int64)
    np.savez(
        path,
        probs=np.concatenate([probs_by_file[f] for f in ids]).astype(np.float32),
        offsets=offsets,
        file_ids=np.array(ids),
        hop_s=np.float64(hop_s),
        classes=np.array(classes),
    )


def test_trivial_scores_hand_computed(tmp_path):
    idx = _index(tmp_path)
    trivial = evaluate.trivial_scores(idx, ["a", "b"], SETTINGS)
    assert set(trivial) == {"segment_f1"}  # the one configured frame metric that declares a trivial baseline
    out = trivial["segment_f1"]
    # 7 test segments per class. a: ref 2 segments -> P 2/7, R 1 -> F1 = 2p/(1+p) = 4/9.  b: same, 2 of 7.
    assert out["a"] == pytest.approx(100 * 4 / 9)
    assert out["b"] == pytest.approx(100 * 4 / 9)
    assert out["Overall"] == pytest.approx(100 * 4 / 9)


def test_score_cli_writes_metrics_and_provenance(tmp_path, monkeypatch):
    monkeypatch.setattr(evaluate, "_dataset_classes", lambda name: ["b", "a"])  # toy dataset, not registered
    idx = _index(tmp_path)
    pred = tmp_path / "pred"
    (pred / "test").mkdir(parents=True)
    # hop 0.5 s: t1 has 8 frames, t2 has 6.
    perfect = {"t1": np.zeros((8, 2)), "t2": np.zeros((6, 2))}
    perfect["t1"][0:4, 0] = 1  # a [0, 2)
    perfect["t2"][2:6, 1] = 1  # b [1, 3)
    _write_npz(pred / "test" / "epoch003.npz", perfect)
    half = {"t1": np.zeros((8, 2)), "t2": np.zeros((6, 2))}
    half["t1"][0:2, 0] = 1  # a [0, 1): a -> TP 1, FN 1; b missed -> F1 0
    _write_npz(pred / "test" / "epoch010.npz", half)
    assert evaluate.score_checkpoint(pred / "test" / "epoch003.npz", idx, SETTINGS)["segment_f1"][
        "Overall"
    ] == pytest.approx(100.0)

    out = tmp_path / "m" / "metrics.json"
    args = evaluate.build_parser().parse_args(
        [
            "score",
            "--predictions",
            str(pred),
            "--index",
            str(idx),
            "--evaluation",
            json.dumps(DEFAULT),
            "--dataset",
            "toy",
            "--model",
            "crnn_bi",
            "--seed",
            "7",
            "--out",
            str(out),
        ]
    )
    evaluate.main(args)
    doc = json.loads(out.read_text())
    assert (doc["dataset"], doc["model"], doc["seed"], doc["target"]) == ("toy", "crnn_bi", 7, "frames")
    assert list(doc["sets"]) == ["test"]
    test = doc["sets"]["test"]
    assert test["epochs"] == [3, 10] and (test["threshold"], test["segment_s"]) == (0.5, 1.0)
    assert test["postprocess"] == {"median_filter_s": None, "apply_to": "scores"}
    assert set(test["metrics"]) == {"segment_f1", "accuracy", "loss", "micro_f1"}
    seg = test["metrics"]["segment_f1"]
    assert seg["params"] == {"threshold": 0.5, "segment_s": 1.0} and seg["unit"] == "%" and seg["per_class"]
    f_half_a = 100 * 2 * (1 * 0.5) / 1.5  # P 1, R 1/2
    assert seg["per_checkpoint"][1]["a"] == pytest.approx(f_half_a)
    assert seg["per_checkpoint"][1]["b"] == pytest.approx(0.0)
    assert seg["mean"]["a"] == pytest.approx((100 + f_half_a) / 2)
    assert seg["std"]["a"] == pytest.approx(abs(100 - f_half_a) / 2)  # population std of two values
    assert test["trivial"]["segment_f1"]["Overall"] == pytest.approx(100 * 4 / 9)
    # frame-level scores (the dessed paper's Table 4): perfect at epoch 3; at epoch 10, 2 of 8 active cells found
    acc, micro, loss = (test["metrics"][k] for k in ("accuracy", "micro_f1", "loss"))
    assert acc["per_checkpoint"] == [pytest.approx(1.0), pytest.approx(22 / 28)]
    assert acc["mean"] == pytest.approx((1 + 22 / 28) / 2) and acc["std"] == pytest.approx((1 - 22 / 28) / 2)
    assert micro["per_checkpoint"] == [pytest.approx(1.0), pytest.approx(2 * 2 / (2 * 2 + 6))]
    assert loss["per_checkpoint"][1] > loss["per_checkpoint"][0] and loss["params"] == {}
    prov = json.loads((out.parent / "metrics.provenance.json").read_text())
    assert prov["seed"] == 7 and prov["config"]["threshold"] == 0.5 and len(prov["inputs"]) == 4
    assert prov["config"]["metric_params"]["test"]["segment_f1"] == {"threshold": 0.5, "segment_s": 1.0}


def test_score_rejects_predictions_for_other_files(tmp_path):
    idx = _index(tmp_path)
    _write_npz(tmp_path / "epoch001.npz", {"t1": np.zeros((8, 2)), "tr": np.zeros((10, 2))})
    with pytest.raises(InputError, match="test files"):
        evaluate.score_checkpoint(tmp_path / "epoch001.npz", idx, SETTINGS)


def test_class_average_rules():
    """The three rules of docs/evaluation.md; each assertion fails if its rule changes."""
    # 4 s file, 1 s segments. a: ref {0,1}, est {0,1} -> 100.  b: predicted in {2}, absent from the reference ->
    # undefined, left out of the Average.  c: ref {3}, never predicted -> 0 (zero_score), counted.  d: nothing -> None.
    ref = {"f": [ev(0.0, 2.0, "a"), ev(3.0, 4.0, "c")]}
    est = {"f": [ev(0.0, 2.0, "a"), ev(2.0, 3.0, "b")]}
    out = evaluate.segment_f1(ref, est, {"f": 4.0}, ["a", "b", "c", "d"], 1.0)
    assert (out["a"], out["b"], out["c"], out["d"]) == (pytest.approx(100.0), None, pytest.approx(0.0), None)
    assert out["Average"] == pytest.approx(50.0)  # (100 + 0) / 2: b and d left out
    # b's false alarm still counts in Overall: TP 2, FP 1, FN 1 -> P = R = 2/3
    assert out["Overall"] == pytest.approx(100 * 2 / 3)
    # Clip targets differ: a class predicted but never true scores 0 and counts in the macro Average.
    f1 = metrics.clip_f1(np.array([[0.9, 0.1, 0.0], [0.2, 0.8, 0.0]]), np.array([0, 0]), ["a", "b", "c"])
    assert (f1["a"], f1["b"], f1["c"]) == (pytest.approx(100 * 2 / 3), 0.0, None)
    assert f1["Average"] == pytest.approx(100 / 3)


def test_class_list_check_is_never_skipped(tmp_path, monkeypatch):
    idx = _index(tmp_path)
    pred = tmp_path / "pred"
    (pred / "test").mkdir(parents=True)
    _write_npz(pred / "test" / "epoch001.npz", {"t1": np.zeros((8, 2)), "t2": np.zeros((6, 2))})
    args = [
        "--predictions",
        str(pred),
        "--index",
        str(idx),
        "--model",
        "crnn_bi",
        "--seed",
        "1",
        "--out",
        str(tmp_path / "m" / "metrics.json"),
        "--evaluation",
        json.dumps(DEFAULT),
    ]
    proc = subprocess.run(
        [sys.executable, "-m", "sedrepro.evaluate", "score", "--dataset", "urban_sed", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert [line for line in proc.stderr.splitlines() if line.startswith("error:")] == [
        f"error: {pred / 'test' / 'epoch001.npz'}: expected the 10 classes of dataset 'urban_sed', "
        "found 2 classes ['a', 'b']..."
    ]
    assert not (tmp_path / "m").exists()
    # a dataset the registry does not know is an error, not a skipped check
    with pytest.raises(
        InputError,
        match=r"^dataset: expected a registered dataset \(audioset, desed, tut_sed_synthetic_2016, urban_sed, "
        r"urbansound8k\), found 'toy'",
    ):
        evaluate.score_predictions(pred, idx, SETTINGS, "toy", "crnn_bi", 1)
    # and if the registry itself ever breaks, scoring breaks with it instead of scoring unchecked
    monkeypatch.delattr(datasets, "get")
    with pytest.raises(AttributeError):
        evaluate.score_predictions(pred, idx, SETTINGS, "urban_sed", "crnn_bi", 1)
