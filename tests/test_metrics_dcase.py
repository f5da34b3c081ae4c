"""DCASE-style scoring checked against independent implementations: the class-wise median filter against scipy called
as the DCASE baselines call it, event-based F1 against sed_eval called directly, PSDS (psds_eval) against a second
implementation (sed_scores_eval); the DCASE defaults of the metric params, PSDS's notes, and the per-class windows
checked at workflow start."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
import scipy.ndimage
import sed_eval
from metrics_doc import default_scoring

from sedrepro import config, datasets, evaluate, metrics, papers
from sedrepro.evaluate import SetInputs, Settings, class_windows, median_filter, window_seconds
from sedrepro.io import InputError

CLASSES = ["a", "b", "c", "d"]
HOP = 0.125  # a binary fraction: every event time is exact in float (why: see the PSDS test)
GROUPS = [
    {"seconds": 0.375, "classes": ["a", "c"]},
    {"seconds": 0.875, "classes": ["b"]},
    {"seconds": 2.0, "classes": ["d"]},
]


def ev(onset, offset, label):
    return {"onset": onset, "offset": offset, "event_label": label}


def synthetic(seed, n_files=40, quantize=True):
    """Reference events and frame scores of n_files clips (8-12 s, 4 classes): per event a score plateau that starts
    and ends a few frames off, with half-height edges; cross-triggers on the next class; false bursts; every fifth
    clip without events. quantize: scores on the grid k / 20 (so a threshold list between grid values yields every
    distinct decision pattern)."""
    rng = np.random.default_rng(seed)
    reference, durations, scores = {}, {}, {}
    for k in range(n_files):
        f = f"Y{k:03d}-x_{k}.000_{k + 10}.000"
        n = int(rng.integers(64, 97))
        durations[f] = n * HOP
        s = np.tile(rng.uniform(0, 0.3, len(CLASSES)), (n, 1)) + rng.uniform(0, 0.02, (n, len(CLASSES)))

        def put(c, a, b, level, s=s, n=n):
            a, b = max(0, a), min(n, b)
            s[a:b, c] = np.maximum(s[a:b, c], level + rng.uniform(-0.02, 0.02, max(b - a, 0)))
            for e in (a - 1, b):
                if 0 <= e < n:
                    s[e, c] = max(s[e, c], level / 2)

        events = []
        for c, label in enumerate(CLASSES):
            if k % 5 == 4:
                break
            for _ in range(int(rng.integers(0, 3))):
                on = int(rng.integers(0, n - 10))
                off = min(n, on + int(rng.integers(3, 40)))
                events.append(ev(on * HOP, off * HOP, label))
                put(c, on + int(rng.integers(-4, 5)), off + int(rng.integers(-6, 5)), rng.uniform(0.3, 0.97))
                if rng.uniform() < 0.3:
                    put((c + 1) % len(CLASSES), on, off, rng.uniform(0.1, 0.7))
        if rng.uniform() < 0.5:
            a = int(rng.integers(0, n - 5))
            put(int(rng.integers(len(CLASSES))), a, a + int(rng.integers(2, 10)), rng.uniform(0.3, 0.9))
        s = np.clip(s, 0.0, 0.99)
        scores[f] = np.clip(np.round(s * 20), 1, 19) / 20 if quantize else s
        reference[f] = events
    return reference, durations, scores


def chain(reference, durations, scores, metric_entries, postprocess=None):
    """The scoring chain's view of these scores (one predictions file), with the given metric entries."""
    defaults = config.load([config.REPO / "config.yaml"])["evaluation"]["metric_params"]
    # as the workflow passes them: entries completed from evaluation.metric_params (evaluate.scoring_config)
    doc = {**default_scoring(), "metrics": evaluate.with_metric_params({"frames": metric_entries}, defaults)}
    doc["postprocess"] = postprocess or {"median_filter_s": None, "apply_to": "decisions"}
    settings = Settings.from_config(doc)
    files = sorted(scores)
    offsets = np.concatenate(([0], np.cumsum([len(scores[f]) for f in files])))
    probs = np.concatenate([scores[f] for f in files]).astype(np.float32)
    x = SetInputs("frames", CLASSES, HOP, files, offsets, probs, reference, durations, settings)
    return x, settings.metrics_for("frames")


def test_median_filter_per_class_windows_match_scipy_as_the_dcase_baselines_call_it():
    """Groups of classes with their own windows: each file's (N, C) block of a group's classes equals
    scipy.ndimage.median_filter(block, (w, 1)) (the DCASE 2020 / 2022 baselines' call, scipy's default edge mode),
    on scores and on 0/1 decisions; no frame of another file enters a file's window."""
    rng = np.random.default_rng(3)
    lengths = [40, 7, 55]
    offsets = np.concatenate(([0], np.cumsum(lengths)))
    scores = rng.uniform(size=(offsets[-1], len(CLASSES)))
    windows = class_windows({"median_filter_s": GROUPS, "apply_to": "scores"}, CLASSES, HOP)
    assert windows == [3, 7, 3, 17]  # 0.375 s = 3 frames, 0.875 s = 7, 2.0 s = 16 -> nearest odd 17 (ties upward)
    for values in (scores, scores >= 0.5):
        out = median_filter(values, offsets, windows)
        assert out.dtype == values.dtype
        for k in range(len(lengths)):
            block = values[offsets[k] : offsets[k + 1]]
            for w in sorted(set(windows)):
                cols = [c for c, wc in enumerate(windows) if wc == w]
                direct = scipy.ndimage.median_filter(block[:, cols], (w, 1))
                assert np.array_equal(out[offsets[k] : offsets[k + 1]][:, cols], direct), (k, w)
    assert not np.array_equal(median_filter(scores, offsets, windows), scores)  # it did filter


def test_median_filter_groups_are_checked():
    assert window_seconds({"median_filter_s": GROUPS}, CLASSES) == [0.375, 0.875, 0.375, 2.0]
    with pytest.raises(
        InputError, match="median_filter_s/1/classes: expected each class in one group, found 'a' again"
    ):
        window_seconds({"median_filter_s": [GROUPS[0], {"seconds": 1.0, "classes": ["a", "b", "d"]}]}, CLASSES)
    with pytest.raises(
        InputError, match="median_filter_s: expected a window for each of the 4 classes, found none for 'd'"
    ):
        window_seconds({"median_filter_s": GROUPS[:2]}, CLASSES)


def test_per_class_windows_are_checked_against_the_dataset_at_workflow_start():
    cfg = config.load([config.REPO / "config.yaml"])
    shown: dict[str, set[str]] = {}
    for p in cfg["papers"]:
        for t in papers.get(p).tables:
            for m in t.models:
                shown.setdefault(m, set()).add(t.dataset)
    model, (dataset,) = next((m, d) for m, d in shown.items() if len(d) == 1 and "evaluation" in cfg["models"][m])
    classes = [str(c) for c in datasets.get(dataset).classes]
    own = cfg["models"][model]["evaluation"] = dict(cfg["models"][model]["evaluation"])  # YAML anchors share it
    own["postprocess"] = {"median_filter_s": [{"seconds": 0.3, "classes": classes[:-1]}], "apply_to": "decisions"}
    with pytest.raises(
        InputError,
        match=f"^config key 'models/{model}' evaluation/postprocess \\({dataset}\\)/median_filter_s: expected a window "
        f"for each of the {len(classes)} classes, found none for '{classes[-1]}'$",
    ):
        config.check(cfg)
    own["postprocess"]["median_filter_s"] = [{"seconds": 0.3, "classes": classes}]
    config.check(cfg)  # every class named once: accepted


def test_event_f1_matches_sed_eval_called_directly_with_the_dcase_collars():
    """The chain's event_f1 with the config's default params (the DCASE evaluation's) against sed_eval's
    EventBasedMetrics(t_collar=0.2, percentage_of_length=0.2, evaluate_onset=True, evaluate_offset=True) on the same
    events, file by file; median-filtered decisions, so the events are the ones the chain really scores."""
    reference, durations, scores = synthetic(1, n_files=15, quantize=False)
    post = {"median_filter_s": GROUPS, "apply_to": "decisions"}
    x, chosen = chain(reference, durations, scores, [{"name": "event_f1"}], post)
    ((metric, params),) = chosen
    assert params == {"t_collar": 0.2, "percentage_of_length": 0.2, "evaluate_onset": True, "evaluate_offset": True}
    ours = metric.compute(x, params)
    estimated = x.events()
    direct = sed_eval.sound_event.EventBasedMetrics(
        event_label_list=CLASSES,
        t_collar=0.2,
        percentage_of_length=0.2,
        evaluate_onset=True,
        evaluate_offset=True,
        empty_system_output_handling="zero_score",
    )
    for f in sorted(durations):
        direct.evaluate(reference[f], estimated[f])
    res = direct.results()
    for c in CLASSES:
        assert ours[c] == pytest.approx(100 * res["class_wise"][c]["f_measure"]["f_measure"])
    assert ours["Average"] == pytest.approx(100 * res["class_wise_average"]["f_measure"]["f_measure"])
    assert ours["Overall"] == pytest.approx(100 * res["overall"]["f_measure"]["f_measure"])
    assert 0 < ours["Average"] < 100  # neither trivial end
    onset_only = metrics.event_f1(reference, estimated, durations, CLASSES, 0.2, 0.2, True, False)
    assert onset_only["Overall"] > ours["Overall"]  # dropping the offset condition matches more


def _sed_scores_psds(reference, durations, scores, dtc, gtc, cttc, alpha_ct, alpha_st, max_efpr):
    try:
        import sed_scores_eval  # noqa: F401
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("sed_scores_eval not installed, and CI is set (.ci/run installs a C compiler before bootstrap)")
        pytest.skip("envs/requirements-test.txt not installed (sed_scores_eval needs a C compiler)")
    from sed_scores_eval import intersection_based
    from sed_scores_eval.base_modules.scores import create_score_dataframe

    frames = {f: create_score_dataframe(s, np.arange(len(s) + 1) * HOP, CLASSES) for f, s in scores.items()}
    # sed_scores_eval refuses overlapping or touching same-class events as psds_eval does: both get them joined
    truth = {
        f: [(e["onset"], e["offset"], e["event_label"]) for e in metrics._merged(evs)] for f, evs in reference.items()
    }
    return intersection_based.psds(
        frames,
        truth,
        durations,
        dtc_threshold=dtc,
        gtc_threshold=gtc,
        cttc_threshold=cttc if alpha_ct else None,  # sed_scores_eval refuses a cttc that alpha_ct = 0 ignores
        alpha_ct=alpha_ct,
        alpha_st=alpha_st,
        max_efpr=max_efpr,
    )[0]


SCENARIOS = [  # (dtc, gtc, cttc, alpha_ct, alpha_st, max_efpr): the DCASE 2020 baseline's, and 2022's two
    (0.5, 0.5, 0.3, 0.0, 0.0, 100.0),
    (0.7, 0.7, 0.3, 0.0, 1.0, 100.0),
    (0.1, 0.1, 0.3, 0.5, 1.0, 100.0),
    (0.5, 0.5, 0.3, 1.0, 0.0, 100.0),
]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: f"dtc{s[0]}_act{s[3]}_ast{s[4]}")
def test_psds_matches_sed_scores_eval(scenario):
    """PSDS through the chain (psds_eval at the configured thresholds) against sed_scores_eval's intersection-based
    PSDS on the same scores and reference (40 clips, 4 classes, cross-triggers, false bursts, clips without events).

    The two differ by design in the operating points: psds_eval scores the given threshold list, sed_scores_eval every
    distinct score (the exact PSD-ROC). With scores on the grid k / 20 and the DCASE 2020 baseline's 50 thresholds
    (0.01, 0.03, ..., 0.99: one between any two grid values), both see exactly the same distinct decisions, so the
    ROC points and the staircase areas are the same numbers: the tolerance is 1e-9 (float summation order only).
    The frame hop is 1/8 s so that event times and their intersection ratios are exact in float: with a hop of
    0.1 s a detection covering exactly half of an event (dtc 0.5) is 0.4999... for one library and 0.5 (it rounds
    times to 6 decimals) for the other, which moved PSDS by up to 0.01 in trials."""
    dtc, gtc, cttc, alpha_ct, alpha_st, max_efpr = scenario
    reference, durations, scores = synthetic(0)
    psds_params = {"dtc": dtc, "gtc": gtc, "cttc": cttc, "alpha_ct": alpha_ct, "alpha_st": alpha_st}
    entry = {"name": "psds", "params": {**psds_params, "max_efpr": max_efpr, "thresholds": 50}}
    x, ((metric, params),) = chain(reference, durations, scores, [entry])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # psds_eval's deprecation and repeated-operating-point warnings
        ours = metric.compute(x, params)
    theirs = _sed_scores_psds(reference, durations, scores, *scenario)
    assert 0.1 < theirs < 0.9  # a non-trivial score
    assert ours == pytest.approx(theirs, abs=1e-9)


def test_psds_on_fewer_operating_points_is_bounded_by_the_exact_value():
    """Continuous scores: the 50 thresholds are a subset of sed_scores_eval's operating points, so with alpha_ct =
    alpha_st = 0 (a mean of per-class staircases, each monotone in its points) psds_eval's value can only be lower;
    with 10 thresholds lower still or equal. (Trials gave gaps of 0.02-0.07 on these data at 50 thresholds.)"""
    reference, durations, scores = synthetic(2, quantize=False)
    base = {"dtc": 0.5, "gtc": 0.5, "cttc": 0.3, "alpha_ct": 0.0, "alpha_st": 0.0, "max_efpr": 100.0}
    exact = _sed_scores_psds(reference, durations, scores, *base.values())
    values = []
    for n in (50, 10):
        x, ((metric, params),) = chain(
            reference, durations, scores, [{"name": "psds", "params": {**base, "thresholds": n}}]
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            values.append(metric.compute(x, params))
    assert values[1] <= values[0] + 1e-12 <= exact + 2e-12
    assert values[0] > 0.5 * exact  # the same quantity, not an unrelated number


def test_psds_defaults_thresholds_and_notes():
    assert metrics.psds_thresholds(50) == pytest.approx(np.arange(1 / 100, 1, 1 / 50))  # the DCASE baselines' list
    assert metrics.psds_thresholds([0.2, 0.7]) == [0.2, 0.7]
    reference, durations, scores = synthetic(4, n_files=10)
    f = sorted(reference)[0]
    reference[f] = reference[f] + [ev(0.0, 0.5, "a"), ev(0.25, 1.0, "a")]  # two overlapping a-events: one joined
    x, ((metric, params),) = chain(reference, durations, scores, [{"name": "psds"}])
    assert params == {
        "dtc": 0.5,
        "gtc": 0.5,
        "cttc": 0.3,
        "alpha_ct": 0.0,
        "alpha_st": 0.0,
        "max_efpr": 100.0,
        "thresholds": 50,
    }
    notes = metric.notes(x, params)
    assert notes["reference_events_merged"] >= 1
    assert notes == {
        "files": 10,
        "files_without_reference_events": sum(1 for g in durations if not reference[g]),
        "reference_events": sum(len(v) for v in reference.values()),
        "reference_events_merged": metrics.merged_count(reference),
        "operating_points": 50,
        "classes_without_reference_events": [],
    }
    assert notes["files_without_reference_events"] == 2


def test_psds_counts_false_alarms_in_clips_without_events():
    """psds_eval gets every clip's duration, so a detection in a clip without reference events is a false positive
    (and that clip's duration is in the hour count)."""
    reference = {"f": [ev(1.0, 3.0, "a"), ev(5.0, 6.0, "b")], "empty": []}
    durations = {"f": 10.0, "empty": 10.0}
    p = {"dtc": 0.5, "gtc": 0.5, "cttc": 0.3, "alpha_ct": 0.0, "alpha_st": 0.0, "max_efpr": 400.0}
    clean = metrics.psds(reference, [{"f": reference["f"]}], durations, ["a", "b"], **p)
    noisy = metrics.psds(reference, [{"f": reference["f"], "empty": [ev(2.0, 4.0, "a")]}], durations, ["a", "b"], **p)
    # one false a-event in 20 s = 180 per hour: a's TPR 1 from eFPR 180 -> (400 - 180) / 400 = 0.55; b 1 -> 0.775
    assert clean == pytest.approx(1.0) and noisy == pytest.approx(0.775)


def test_dcase_params_are_config_defaults_and_existing_lists_unchanged():
    cfg = config.load([config.REPO / "config.yaml"])
    assert cfg["evaluation"]["metric_params"]["psds"]["thresholds"] == 50
    for pipeline in cfg["pipelines"].values():
        pipeline.setdefault("evaluation_sets", ["test"])
    earlier = {m for name in ("hypernetworks", "dessed") for t in papers.get(name).tables for m in t.models}
    assert earlier and earlier <= set(cfg["models"])
    for model in sorted(earlier):  # the first two papers name no metric with params: their --evaluation is as before
        doc = evaluate.scoring_config(cfg, model)
        assert all("params" not in e for entries in doc["metrics"].values() for e in entries), model
    cfg["evaluation"]["metrics"]["frames"].append({"name": "event_f1", "params": {"t_collar": 0.25}})
    doc = evaluate.scoring_config(cfg, next(iter(cfg["models"])))
    assert doc["metrics"]["frames"][-1]["params"] == {
        "t_collar": 0.25,  # the entry's own value wins
        "percentage_of_length": 0.2,
        "evaluate_onset": True,
        "evaluate_offset": True,
    }
    with pytest.raises(InputError, match="evaluate_offset: expected true or false, found 1$"):
        Settings.from_config(
            {
                **default_scoring(),
                "metrics": {
                    "frames": [
                        {
                            "name": "event_f1",
                            "params": {
                                "t_collar": 0.2,
                                "percentage_of_length": 0.2,
                                "evaluate_onset": True,
                                "evaluate_offset": 1,
                            },
                        }
                    ]
                },
            }
        )


def test_score_writes_psds_params_and_notes_into_metrics_json(tmp_path, monkeypatch):
    defaults = config.load([config.REPO / "config.yaml"])["evaluation"]["metric_params"]  # before the toy classes
    scoring = default_scoring()
    monkeypatch.setattr(evaluate, "_dataset_classes", lambda name: ["a", "b"])
    idx = tmp_path / "index"
    idx.mkdir()
    (idx / "files.tsv").write_text("file_id\tsplit\tduration_s\nt1\ttest\t2.0\nt2\ttest\t2.0\n")
    # t1: two overlapping a-events (joined for PSDS) and a b-event; t2: no events
    (idx / "events.tsv").write_text(
        "file_id\tonset\toffset\tlabel\nt1\t0.0\t1.0\ta\nt1\t0.5\t1.5\ta\nt1\t1.0\t2.0\tb\n"
    )
    pred = tmp_path / "pred" / "test"
    pred.mkdir(parents=True)
    np.savez(
        pred / "epoch001.npz",
        probs=np.array([[0.9, 0.1], [0.8, 0.2], [0.1, 0.7], [0.1, 0.9], [0, 0], [0.95, 0], [0, 0], [0, 0]], "float32"),
        offsets=np.array([0, 4, 8]),
        file_ids=np.array(["t1", "t2"]),
        hop_s=np.float64(0.5),
        classes=np.array(["a", "b"]),
    )
    doc_in = {**scoring, "metrics": evaluate.with_metric_params({"frames": [{"name": "psds"}]}, defaults)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        doc = evaluate.score_predictions(tmp_path / "pred", idx, Settings.from_config(doc_in), "toy", "m", 0)
    entry = doc["sets"]["test"]["metrics"]["psds"]
    assert entry["params"] == defaults["psds"]
    assert entry["notes"] == {
        "files": 2,
        "files_without_reference_events": 1,
        "reference_events": 3,
        "reference_events_merged": 1,
        "operating_points": 50,
        "classes_without_reference_events": [],
    }
    # b: found at every threshold up to 0.9 with no false alarm -> 1. a: found (0.67 of the joined [0, 1.5) event)
    # only at thresholds <= 0.8, where the false a in t2 (0.95) is active too: 1 per 4 s = 900 per hour > max_efpr
    # 100 -> 0. Mean 0.5.
    assert entry["mean"] == pytest.approx(0.5)


def test_psds_scores_the_classes_the_reference_has():
    """A class without reference events in the set has no ROC curve (psds_eval 0.5.3 stops with a KeyError): PSDS is
    that of the other classes with its detections left out, and the notes name it."""

    def ev(onset, offset, label):
        return {"onset": onset, "offset": offset, "event_label": label}

    reference = {"f1": [ev(0.0, 1.0, "a"), ev(3.0, 4.0, "b")], "f2": [ev(2.0, 3.0, "a"), ev(5.0, 6.0, "b")]}
    durations = {"f1": 10.0, "f2": 10.0}
    ops = [
        {"f1": [ev(0.0, 1.0, "a"), ev(3.0, 4.0, "b"), ev(7.0, 8.0, "c")], "f2": [ev(2.0, 3.0, "a"), ev(8.0, 9.0, "b")]},
        {"f1": [ev(0.0, 1.0, "a"), ev(3.0, 4.0, "b")], "f2": [ev(2.0, 3.0, "a")]},
    ]
    args = (0.5, 0.5, 0.3, 0.0, 0.0, 100.0)
    with_c = metrics.psds(reference, ops, durations, ["a", "b", "c"], *args)
    drop_c = [{f: [e for e in evs if e["event_label"] != "c"] for f, evs in op.items()} for op in ops]
    assert with_c == metrics.psds(reference, drop_c, durations, ["a", "b"], *args) and with_c > 0
    assert metrics.scored_classes(reference, ["c", "b", "a"]) == ["b", "a"]
    with pytest.raises(InputError, match="at least 2 classes with reference events"):
        metrics.psds({"f1": [ev(0.0, 1.0, "a")], "f2": []}, ops, durations, ["a", "b", "c"], *args)
