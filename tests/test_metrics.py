"""The metric registry and the scoring chain: event-based F1 and PSDS on hand-made events (values worked out by hand),
the per-class median filter, config checks of metric entries, and scoring per named evaluation set."""

from __future__ import annotations

import json

import numpy as np
import pytest
from metrics_doc import default_scoring

from sedrepro import evaluate, metrics, results
from sedrepro.evaluate import SetInputs, Settings, class_windows, median_filter, window_frames
from sedrepro.io import InputError

PSDS = {"dtc": 0.5, "gtc": 0.5, "cttc": 0.3, "alpha_ct": 0.0, "alpha_st": 0.0, "max_efpr": 100.0}


def ev(onset, offset, label):
    return {"onset": onset, "offset": offset, "event_label": label}


REF = {"f": [ev(1.0, 3.0, "a"), ev(5.0, 6.0, "b")]}
DUR = {"f": 10.0}


def test_registry_declares_every_metric_of_metrics_json():
    assert set(metrics.METRICS.names()) >= {"segment_f1", "event_f1", "psds", "accuracy", "loss", "micro_f1", "clip_f1"}
    seg, psds = metrics.get("segment_f1"), metrics.get("psds")
    assert seg.per_class and seg.unit == "%" and seg.targets == ("frames",) and seg.trivial
    assert not psds.per_class and psds.params == (
        "dtc",
        "gtc",
        "cttc",
        "alpha_ct",
        "alpha_st",
        "max_efpr",
        "thresholds",
    )
    assert set(metrics.get("accuracy").targets) == {"frames", "clip", "tags"}
    with pytest.raises(
        InputError, match="^metric: expected a registered metric \\(accuracy, average_precision, clip_f1, .*found 'f1'$"
    ):
        metrics.get("f1")


def test_event_f1_collars():
    f1 = metrics.event_f1(REF, REF, DUR, ["a", "b"], t_collar=0.2, percentage_of_length=0.2)
    assert f1 == {"a": 100.0, "b": 100.0, "Average": 100.0, "Overall": 100.0}  # a perfect system
    # onsets 0.1 s late (within the 0.2 s collar) for a, 0.5 s late (beyond it) for b: b's event is a miss and a
    # false alarm -> b: TP 0 -> F1 0; Overall TP 1, FP 1, FN 1 -> 50
    f1 = metrics.event_f1(REF, {"f": [ev(1.1, 3.0, "a"), ev(5.5, 6.0, "b")]}, DUR, ["a", "b"], 0.2, 0.2)
    assert (f1["a"], f1["b"], f1["Average"], f1["Overall"]) == (100.0, 0.0, 50.0, 50.0)
    # offsets 0.3 s late: within a's offset collar max(0.2, 20 % of 2 s = 0.4), beyond b's max(0.2, 20 % of 1 s)
    f1 = metrics.event_f1(REF, {"f": [ev(1.0, 3.3, "a"), ev(5.0, 6.3, "b")]}, DUR, ["a", "b"], 0.2, 0.2)
    assert (f1["a"], f1["b"]) == (100.0, 0.0)
    # a class never detected scores 0 (not undefined), as for segment F1
    assert metrics.event_f1(REF, {"f": [ev(1.0, 3.0, "a")]}, DUR, ["a", "b"], 0.2, 0.2)["b"] == 0.0


def test_psds_hand_worked_values():
    assert metrics.psds(REF, [REF, REF], DUR, ["a", "b"], **PSDS) == pytest.approx(1.0)  # perfect at every threshold
    assert metrics.psds(REF, [{"f": []}], DUR, ["a", "b"], **PSDS) == pytest.approx(0.0)  # nothing detected
    # a found, b missed: per-class TPR 1 and 0 at no false positive -> mean 0.5
    assert metrics.psds(REF, [{"f": [ev(1.5, 3.5, "a")]}], DUR, ["a", "b"], **PSDS) == pytest.approx(0.5)
    # a extra false a-event in the 10 s file = 1 FP per 10 s = 360 per hour: a's TPR 1 only from eFPR 360, so up to
    # max_efpr 400 its area is (400 - 360) / 400 = 0.1; b perfect (1.0) -> 0.55. With max_efpr 100 a adds nothing.
    noisy = {"f": [ev(1.0, 3.0, "a"), ev(7.0, 8.0, "a"), ev(5.0, 6.0, "b")]}
    assert metrics.psds(REF, [noisy], DUR, ["a", "b"], **{**PSDS, "max_efpr": 400.0}) == pytest.approx(0.55)
    assert metrics.psds(REF, [noisy], DUR, ["a", "b"], **PSDS) == pytest.approx(0.5)
    # a detection covering a quarter of a's reference fails the ground-truth criterion (gtc 0.5)
    assert metrics.psds(REF, [{"f": [ev(2.5, 3.0, "a"), ev(5.0, 6.0, "b")]}], DUR, ["a", "b"], **PSDS) == pytest.approx(
        0.5
    )
    with pytest.raises(InputError, match="at least 2 classes"):
        metrics.psds({"f": [ev(1.0, 3.0, "a")]}, [{"f": []}], DUR, ["a"], **PSDS)


def test_median_filter_removes_spikes_keeps_events_per_class_and_file():
    assert (window_frames(0.3, 0.1), window_frames(0.2, 0.1), window_frames(0.45, 0.1), window_frames(0.01, 0.1)) == (
        3,
        3,
        5,
        1,
    )
    scores = np.zeros((20, 2), dtype=np.float32)
    scores[4, 0] = scores[4, 1] = 0.9  # a 1-frame spike in both classes
    scores[10:16, 0] = 0.8  # a 6-frame event in class 0
    offsets = np.array([0, 12, 20])  # two files: 0..11 and 12..19
    windows = class_windows({"median_filter_s": {"a": 0.3, "b": 0.1}, "apply_to": "scores"}, ["a", "b"], 0.1)
    assert windows == [3, 1]  # per class: b keeps its frames as they are
    out = median_filter(scores, offsets, windows)
    assert out[4, 0] == 0 and out[4, 1] == pytest.approx(0.9)  # spike gone in a, kept in b (window 1)
    # the event straddles the file boundary at 12: each file filters on its own, so both parts keep their frames
    # but the one-frame-from-the-edge rows see mirrored neighbours, not the other file's frames
    assert np.array_equal(out[10:16, 0], scores[10:16, 0])
    # a long event inside one file stays whole, its edges unmoved
    long = np.zeros((12, 1), dtype=np.float32)
    long[3:9, 0] = 1.0
    assert np.array_equal(median_filter(long, np.array([0, 12]), [5]), long)
    with pytest.raises(
        InputError, match="median_filter_s: expected a window for each of the 2 classes, found none for 'b'"
    ):
        class_windows({"median_filter_s": {"a": 0.3}, "apply_to": "scores"}, ["a", "b"], 0.1)


def _inputs(scores, postprocess, offsets=None):
    settings = Settings.from_config({**default_scoring(), "postprocess": postprocess})
    ref = {"f": [ev(0.5, 1.2, "a")]}
    offsets = np.array([0, len(scores)]) if offsets is None else offsets
    return SetInputs("frames", ["a"], 0.1, ["f"], offsets, scores, ref, {"f": len(scores) * 0.1}, settings)


def _spans(x):
    return [(round(e["onset"], 6), round(e["offset"], 6)) for e in x.events()["f"]]


def test_chain_filters_scores_or_decisions():
    scores = np.zeros((20, 1), dtype=np.float32)
    scores[5:12, 0] = 0.9
    scores[8, 0] = 0.2  # a dip inside the event
    scores[15, 0] = 0.6  # a lone frame
    raw = _inputs(scores, {"median_filter_s": None, "apply_to": "scores"})
    assert _spans(raw) == [(0.5, 0.8), (0.9, 1.2), (1.5, 1.6)]  # the dip splits the event; the lone frame is one
    for apply_to in ("scores", "decisions"):  # a 3-frame window closes the dip and drops the lone frame either way
        assert _spans(_inputs(scores, {"median_filter_s": 0.3, "apply_to": apply_to})) == [(0.5, 1.2)], apply_to
    # on scores the filtered score at the dip is 0.9 (median of 0.9, 0.2, 0.9); on decisions the scores stay raw and
    # the vote over (active, inactive, active) makes the dip active
    on_scores = _inputs(scores, {"median_filter_s": 0.3, "apply_to": "scores"})
    assert on_scores.scores[8, 0] == pytest.approx(0.9) and on_scores.decisions()[8, 0]
    on_decisions = _inputs(scores, {"median_filter_s": 0.3, "apply_to": "decisions"})
    assert on_decisions.scores[8, 0] == pytest.approx(0.2) and on_decisions.decisions()[8, 0]  # raw scores kept


def test_metric_entries_are_checked():
    base = default_scoring()
    with pytest.raises(
        InputError, match="^--evaluation/metrics/frames/0/name: expected a registered metric .*found 'segmnt_f1'"
    ):
        Settings.from_config({**base, "metrics": {"frames": [{"name": "segmnt_f1"}]}})
    with pytest.raises(
        InputError,
        match="^--evaluation/metrics/frames/0/params: expected the parameters of metric "
        "'event_f1' \\(t_collar, percentage_of_length, evaluate_onset, evaluate_offset\\), found no 'evaluate_offset'$",
    ):
        Settings.from_config({**base, "metrics": {"frames": [{"name": "event_f1", "params": {"t_collar": 0.2}}]}})
    with pytest.raises(InputError, match="metric for target 'clip' \\(metric 'segment_f1' scores frames\\)"):
        Settings.from_config({**base, "metrics": {"clip": [{"name": "segment_f1"}]}})
    with pytest.raises(InputError, match="thresholds: expected a non-empty list of thresholds in \\(0, 1\\)"):
        Settings.from_config({**base, "metrics": {"frames": [{"name": "psds", "params": {**PSDS, "thresholds": []}}]}})
    with pytest.raises(InputError, match="^--evaluation: expected keys threshold, .*found no 'sets'$"):
        Settings.from_config({k: v for k, v in base.items() if k != "sets"})


def _index(tmp_path):
    idx = tmp_path / "index"
    idx.mkdir()
    (idx / "files.tsv").write_text("file_id\tsplit\tduration_s\nv1\tvalidate\t2.0\nt1\ttest\t2.0\n")
    (idx / "events.tsv").write_text("file_id\tonset\toffset\tlabel\nv1\t0.0\t1.0\ta\nt1\t1.0\t2.0\tb\n")
    return idx


def _npz(path, file_id, probs):
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(
        path,
        probs=np.asarray(probs, dtype=np.float32),
        offsets=np.array([0, len(probs)]),
        file_ids=np.array([file_id]),
        hop_s=np.float64(0.5),
        classes=np.array(["a", "b"]),
    )


def test_each_evaluation_set_is_scored_on_its_own(tmp_path, monkeypatch):
    scoring = {s: default_scoring(s) for s in (("validate", "test"), ("public_eval",))}  # before the toy classes
    monkeypatch.setattr(evaluate, "_dataset_classes", lambda name: ["a", "b"])
    idx = _index(tmp_path)
    pred = tmp_path / "pred"
    _npz(pred / "validate" / "epoch002.npz", "v1", [[1, 0], [1, 0], [0, 0], [0, 0]])  # a on [0, 1): perfect
    _npz(pred / "test" / "epoch002.npz", "t1", [[1, 0], [1, 0], [0, 0], [0, 0]])  # a instead of b: all wrong
    event_params = {"t_collar": 0.2, "percentage_of_length": 0.2, "evaluate_onset": True, "evaluate_offset": True}
    event = {"name": "event_f1", "params": event_params}
    doc_in = scoring[("validate", "test")]
    doc_in["metrics"]["frames"].append(event)
    doc = evaluate.score_predictions(pred, idx, Settings.from_config(doc_in), "toy", "m", 0)
    assert list(doc["sets"]) == ["validate", "test"]
    for key in ("segment_f1", "event_f1"):
        assert results.values(doc, key, "validate", "Overall") == [100.0]
        assert results.values(doc, key, "test", "Overall") == [0.0]
    assert results.params(doc, "event_f1", "test") == {"threshold": 0.5, **event_params}
    assert results.trivial(doc, "event_f1", "test", "Overall") is None  # event F1 declares no trivial baseline
    assert results.trivial(doc, "segment_f1", "validate", "a") == pytest.approx(100 * 2 / 3)  # a in 1 of 2 segments
    json.dumps(doc)
    with pytest.raises(InputError, match="evaluation set 'public_eval', found sets test, validate"):
        results.evaluation_set(doc, "public_eval")
    with pytest.raises(InputError, match="metric 'psds' in evaluation set 'test', found metrics accuracy, "):
        results.values(doc, "psds", "test")
    with pytest.raises(InputError, match="files with split 'public_eval', found none"):
        _npz(pred / "public_eval" / "epoch002.npz", "t1", [[0, 0]] * 4)
        evaluate.score_predictions(pred, idx, Settings.from_config(scoring[("public_eval",)]), "toy", "m", 0)


def test_workflow_config_is_checked_per_model():
    from sedrepro import config

    cfg = config.load([config.REPO / "config.yaml"])
    for pipeline in cfg["pipelines"].values():
        pipeline.setdefault("evaluation_sets", ["test"])  # the schema's default, as the workflow fills it
    evaluate.check_config(cfg)
    doc = evaluate.scoring_config(cfg, "mono_baseline")
    assert (
        doc["sets"] == ["test"]
        and doc["threshold"] == 0.5
        and [e["name"] for e in doc["metrics"]["clip"]] == ["clip_f1", "accuracy", "loss", "micro_f1"]
    )
    cfg["models"]["dnd_dessed"]["evaluation"] = {
        **cfg["models"]["dnd_dessed"]["evaluation"],
        "metrics": {"frames": [{"name": "psds"}]},
    }
    evaluate.check_config(cfg)  # its params come from evaluation.metric_params (the DCASE 2020 baseline's)
    cfg["evaluation"]["metric_params"] = {"psds": {"dtc": 0.5}}  # without them, a missing one is named
    with pytest.raises(
        InputError,
        match="^evaluation of model dnd_dessed/metrics/frames/0/params: expected the "
        "parameters of metric 'psds' \\(dtc, gtc, cttc, alpha_ct, alpha_st, max_efpr, "
        "thresholds\\), found no 'alpha_ct'$",
    ):
        evaluate.check_config(cfg)
