"""The metric registry: every number of a metrics.json is computed by one registered `Metric`.

A metric declares what it reads from the scoring chain (``needs``), which prediction targets it scores, whether its
value is per class (a dict keyed by class plus "Average" and "Overall") or one number, its unit, the parameters it
takes from config (every one must be given there: no value is defaulted here) and the chain settings it depends on
(the threshold, the segment length); the values written for papers that do not name them (the DCASE evaluation's for
event_f1 and psds) are config too (``evaluation.metric_params``, merged into each entry by sedrepro.evaluate before
this check). `compute(inputs, params)` gets the chain's view of one checkpoint on one
evaluation set (``sedrepro.evaluate.SetInputs``: post-processed scores, decisions and events at any threshold, the
reference) and returns the value. A new metric is one `METRICS.register(...)` call, in a module of its own or a plugin.

Conventions of today's metrics (segment F1, frame scores, clip scores) are in sedrepro.evaluate's docstring.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .io import fail
from .registry import Registry

Event = dict  # {"onset": float, "offset": float, "event_label": str}
Value = float | None | dict[str, float | None]

AVERAGE = "Average"
OVERALL = "Overall"
FRAMES, CLIP, TAGS = "frames", "clip", "tags"
EMPTY_SYSTEM_OUTPUT = "zero_score"
EPS = 1e-7  # Keras' clipping of probabilities in its cross-entropies


@dataclass(frozen=True)
class Metric:
    """One registered metric.

    name: its registry name (the key in metrics.json and in table specs).
    needs: per target it scores, what it reads from the chain ("events", "decisions and frame truth", ...).
    per_class: True = a {class: value, "Average": v, "Overall": v} dict; False = one number.
    unit: what the numbers are ("%", "fraction", "nats", ...).
    params: names of its config parameters (each given in the config's metric entry).
    uses: chain settings the value depends on ("threshold", "segment_s"), written beside its params.
    trivial: whether the audio-blind baseline of its target is scored with it (metrics.json "trivial").
    compute: (inputs, params) -> value.
    """

    name: str
    needs: Mapping[str, str]
    per_class: bool
    unit: str
    compute: Callable[[Any, Mapping[str, Any]], Value]
    params: tuple[str, ...] = ()
    uses: tuple[str, ...] = ()
    trivial: bool = False
    description: str = ""
    check: Callable[[Mapping[str, Any], str], None] | None = field(default=None, compare=False)
    # (inputs, params) -> facts about how the value was computed, written once per set beside it ("notes")
    notes: Callable[[Any, Mapping[str, Any]], dict[str, Any]] | None = field(default=None, compare=False)

    @property
    def targets(self) -> tuple[str, ...]:
        return tuple(self.needs)

    def resolve(self, entry: Mapping[str, Any], target: str, where: str) -> dict[str, Any]:
        """The params of a config entry {name, params}, checked: every declared parameter, nothing else."""
        if target not in self.needs:
            raise fail(
                where,
                f"a metric for target {target!r} (metric {self.name!r} scores {', '.join(self.targets)})",
                repr(self.name),
            )
        params = dict(entry.get("params") or {})
        missing, extra = sorted(set(self.params) - set(params)), sorted(set(params) - set(self.params))
        if missing or extra:
            want = ", ".join(self.params) or "none"
            found = f"no {missing[0]!r}" if missing else f"an unknown {extra[0]!r}"
            raise fail(f"{where}/params", f"the parameters of metric {self.name!r} ({want})", found)
        if self.check is not None:
            self.check(params, f"{where}/params")
        return params


METRICS: Registry[Metric] = Registry("metric")


def register(metric: Metric) -> Metric:
    METRICS.register(metric.name, metric)
    return metric


def get(name: str, where: str = "metric") -> Metric:
    return METRICS.get(name, where)


# --------------------------------------------------------------------------------------------- helpers


def _pct(x: Any) -> float | None:
    x = float(x)
    return None if math.isnan(x) else 100.0 * x


def _sed_eval_f1(metrics: Any, labels: Sequence[str]) -> dict[str, float | None]:
    res = metrics.results()
    out: dict[str, float | None] = {c: _pct(res["class_wise"][c]["f_measure"]["f_measure"]) for c in labels}
    out[AVERAGE] = _pct(res["class_wise_average"]["f_measure"]["f_measure"])
    out[OVERALL] = _pct(res["overall"]["f_measure"]["f_measure"])
    return out


def _check_events(
    reference: Mapping[str, list[Event]],
    estimated: Mapping[str, list[Event]],
    durations: Mapping[str, float],
    labels: Sequence[str],
    what: str,
) -> None:
    unknown = (set(reference) | set(estimated)) - set(durations)
    if unknown:
        raise fail(
            what, "events only for files with a known duration", f"{len(unknown)} others, e.g. {sorted(unknown)[0]!r}"
        )
    label_set = set(labels)
    for kind, source in (("reference", reference), ("estimated", estimated)):
        for file_id, evs in source.items():
            for e in evs:
                if e["event_label"] not in label_set:
                    raise fail(
                        f"{kind} events of {file_id}", f"labels among {len(labels)} classes", repr(e["event_label"])
                    )


# --------------------------------------------------------------------------------------------- event metrics


def segment_f1(
    reference: Mapping[str, list[Event]],
    estimated: Mapping[str, list[Event]],
    durations: Mapping[str, float],
    classes: Sequence[str],
    segment_s: float = 1.0,
    empty_system_output: str | None = EMPTY_SYSTEM_OUTPUT,
) -> dict[str, float | None]:
    """Segment-based F1 (%) per class plus "Average" (class-wise mean) and "Overall" (micro).

    `empty_system_output` is sed_eval's empty_system_output_handling: "zero_score" (default here) scores a
    class with reference segments but no system output as F1 = 0; None is sed_eval's default (nan, skipped).

    Every file in `durations` is evaluated, file by file, over its full duration; a file missing from
    `reference` or `estimated` has no events there. Files in `reference`/`estimated` but not in `durations`
    are an error. A class with no reference and no system segment gets None (sed_eval's nan).
    """
    import sed_eval  # heavy import, only when scoring

    labels = [str(c) for c in classes]
    _check_events(reference, estimated, durations, labels, "segment_f1")
    metrics = sed_eval.sound_event.SegmentBasedMetrics(event_label_list=labels, time_resolution=float(segment_s))
    # SegmentBasedMetrics.__init__ does not forward this option of its base class; set it as the base does.
    metrics.empty_system_output_handling = empty_system_output
    for file_id in sorted(durations):
        ref = [dict(e) for e in reference.get(file_id, [])]
        est = [dict(e) for e in estimated.get(file_id, [])]
        metrics.evaluate(ref, est, evaluated_length_seconds=float(durations[file_id]))
    return _sed_eval_f1(metrics, labels)


def event_f1(
    reference: Mapping[str, list[Event]],
    estimated: Mapping[str, list[Event]],
    durations: Mapping[str, float],
    classes: Sequence[str],
    t_collar: float,
    percentage_of_length: float,
    evaluate_onset: bool = True,
    evaluate_offset: bool = True,
) -> dict[str, float | None]:
    """Event-based F1 (%) per class, "Average" and "Overall": sed_eval's EventBasedMetrics, an estimated event
    matching a reference one of its class when its onset is within `t_collar` s and its offset within
    max(t_collar, percentage_of_length * reference length) (DCASE's 200 ms / 20 %); `evaluate_onset` /
    `evaluate_offset` False drop that condition. Empty system output of a class with reference events scores 0, as
    for segment F1."""
    import sed_eval

    labels = [str(c) for c in classes]
    _check_events(reference, estimated, durations, labels, "event_f1")
    metrics = sed_eval.sound_event.EventBasedMetrics(
        event_label_list=labels,
        t_collar=float(t_collar),
        percentage_of_length=float(percentage_of_length),
        evaluate_onset=bool(evaluate_onset),
        evaluate_offset=bool(evaluate_offset),
        empty_system_output_handling=EMPTY_SYSTEM_OUTPUT,
    )
    for file_id in sorted(durations):
        metrics.evaluate([dict(e) for e in reference.get(file_id, [])], [dict(e) for e in estimated.get(file_id, [])])
    return _sed_eval_f1(metrics, labels)


def _merged(events: list[Event]) -> list[Event]:
    """Same-class events of one file with overlaps joined (psds_eval refuses overlapping events of one class)."""
    out: list[Event] = []
    for e in sorted(events, key=lambda e: (e["event_label"], e["onset"])):
        last = out[-1] if out else None
        if last is not None and last["event_label"] == e["event_label"] and e["onset"] <= last["offset"]:
            last["offset"] = max(last["offset"], e["offset"])
        else:
            out.append(dict(e))
    return out


def merged_count(events: Mapping[str, list[Event]]) -> int:
    """How many events `_merged` joins into an earlier overlapping event of their class (over all files)."""
    return sum(len(evs) - len(_merged(evs)) for evs in events.values())


def psds_thresholds(spec: int | Sequence[float]) -> list[float]:
    """The operating points' thresholds: a list as given, or n = the DCASE baselines' n evenly spaced midpoints
    (k + 0.5) / n, k = 0..n-1 (np.arange(1 / (2n), 1, 1 / n): 0.01, 0.03, ..., 0.99 for 50)."""
    if isinstance(spec, int):
        return [(k + 0.5) / spec for k in range(spec)]
    return [float(t) for t in spec]


def _event_table(events: Mapping[str, list[Event]]):
    import pandas as pd

    rows = [
        {"filename": f, "onset": e["onset"], "offset": e["offset"], "event_label": e["event_label"]}
        for f in sorted(events)
        for e in _merged(events[f])
    ]
    return pd.DataFrame(rows, columns=["filename", "onset", "offset", "event_label"])


def scored_classes(reference: Mapping[str, list[Event]], classes: Sequence[str]) -> list[str]:
    """The classes (in `classes` order) with at least one reference event: those PSDS can score."""
    present = {str(e["event_label"]) for evs in reference.values() for e in evs}
    return [str(c) for c in classes if str(c) in present]


def psds(
    reference: Mapping[str, list[Event]],
    operating_points: Sequence[Mapping[str, list[Event]]],
    durations: Mapping[str, float],
    classes: Sequence[str],
    dtc: float,
    gtc: float,
    cttc: float,
    alpha_ct: float,
    alpha_st: float,
    max_efpr: float,
) -> float:
    """Polyphonic Sound Detection Score (psds_eval) of the system's detections at several operating points (one
    per threshold); a number in [0, 1]. Overlapping reference events of one class are joined first. At least two
    classes: psds_eval 0.5.3 scores a single class 0 whatever the detections.

    PSDS averages per-class ROC curves, and a class with no reference event in the set has none (psds_eval 0.5.3
    stops with a KeyError): it is scored over the classes the reference has (`scored_classes`), the others'
    detections are left out, and the metric's notes list them."""
    import warnings

    import pandas as pd
    from psds_eval import PSDSEval

    for op in operating_points:
        _check_events(reference, op, durations, [str(c) for c in classes], "psds")
    labels = scored_classes(reference, classes)
    if len(labels) < 2:
        raise fail(
            "psds", "at least 2 classes with reference events (psds_eval scores a single class 0)", f"{len(labels)}"
        )
    operating_points = [
        {f: [e for e in evs if e["event_label"] in labels] for f, evs in op.items()} for op in operating_points
    ]
    meta = pd.DataFrame({"filename": sorted(durations), "duration": [float(durations[f]) for f in sorted(durations)]})
    ev = PSDSEval(
        dtc_threshold=dtc,
        gtc_threshold=gtc,
        cttc_threshold=cttc,
        class_names=labels,
        ground_truth=_event_table(reference),
        metadata=meta,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # psds_eval 0.5.3 calls pandas' deprecated fillna(method=)
        for i, op in enumerate(operating_points):  # psds_eval skips (with a warning) a repeat of an earlier point
            ev.add_operating_point(_event_table(op), info={"index": i})
        return float(ev.psds(alpha_ct=alpha_ct, alpha_st=alpha_st, max_efpr=max_efpr).value)


# --------------------------------------------------------------------------------------------- frame and clip scores


def frame_confusion(decisions: np.ndarray, truth: np.ndarray) -> tuple[int, int, int]:
    """(tp, fp, fn) over (frame, class) cells."""
    return (int((decisions & truth).sum()), int((decisions & ~truth).sum()), int((~decisions & truth).sum()))


def binary_loss(scores: np.ndarray, truth: np.ndarray) -> float:
    """Mean binary cross-entropy over (frame, class) cells, probabilities clipped to [EPS, 1 - EPS] as Keras does."""
    p = np.clip(scores.astype(np.float64), EPS, 1 - EPS)
    return float(-np.where(truth, np.log(p), np.log1p(-p)).mean())


def categorical_loss(scores: np.ndarray, truth: np.ndarray) -> float:
    """Mean categorical cross-entropy of clips with class indices `truth`, probabilities clipped below at EPS."""
    return float(-np.log(np.clip(scores[np.arange(len(truth)), truth].astype(np.float64), EPS, 1.0)).mean())


def clip_f1(scores: np.ndarray, truth: np.ndarray, classes: Sequence[str]) -> dict[str, float | None]:
    """Clip classification F1 (%) of argmax decisions per class, "Average" (macro over classes that occur in truth
    or prediction) and "Overall" (micro = accuracy)."""
    pred = scores.argmax(axis=1)
    f1: dict[str, float | None] = {}
    for i, c in enumerate(classes):
        tp, fp, fn = (
            int(((pred == i) & (truth == i)).sum()),
            int(((pred == i) & (truth != i)).sum()),
            int(((pred != i) & (truth == i)).sum()),
        )
        f1[str(c)] = None if tp + fp + fn == 0 else 100.0 * 2 * tp / (2 * tp + fp + fn)
    defined = [v for v in f1.values() if v is not None]
    f1[AVERAGE] = float(np.mean(defined)) if defined else None
    f1[OVERALL] = 100.0 * float((pred == truth).mean())
    return f1


# --------------------------------------------------------------------------------------------- clip tags (AudioSet)


def scored_tag_classes(truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(classes with positives and negatives, classes without positives) of (N, C) boolean tags: a ranking metric is
    undefined for a class without positives (and, for the ROC, without negatives)."""
    pos = truth.sum(axis=0)
    return np.flatnonzero((pos > 0) & (pos < len(truth))), np.flatnonzero(pos == 0)


def hull_auc(fpr: np.ndarray, tpr: np.ndarray) -> float:
    """Area under the convex hull of ROC points (fpr, tpr) with (0, 0) and (1, 1): the area of the convex hull (scipy's
    qhull) of those points and the corner (1, 0), whose lower and right edges are the axes. Never below the area under
    the ROC itself."""
    from scipy.spatial import ConvexHull

    points = np.vstack([np.column_stack([fpr, tpr]), [[0.0, 0.0], [1.0, 1.0], [1.0, 0.0]]])
    return float(ConvexHull(points).volume)  # a 2-d hull's "volume" is its area


def _ranked_curve(truth: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative true and false positives at each distinct score from the highest down (scikit-learn's
    _binary_clf_curve: one operating point per distinct threshold, ties together)."""
    order = np.argsort(-scores, kind="mergesort")
    s, t = scores[order], truth[order]
    last = np.r_[np.flatnonzero(s[1:] != s[:-1]), len(s) - 1]  # the last row of each group of equal scores
    tps = np.cumsum(t)[last]
    return tps, (last + 1) - tps


def tag_ranking(scores: np.ndarray, truth: np.ndarray, classes: Sequence[str], kind: str) -> dict[str, float | None]:
    """Per-class ranking score of clip tags: kind "roc_auc" (the area under the ROC, scikit-learn's roc_auc_score),
    "roc_auc_hull" (the area under the ROC's convex hull) or "average_precision" (scikit-learn's
    average_precision_score: sum of (R_n - R_{n-1}) P_n over the distinct thresholds, no interpolation). Computed here
    in numpy from scikit-learn's operating points (_ranked_curve) because its per-call checks cost tens of ms per
    class, x 527 classes x every checkpoint and epoch; tests/test_metrics_tags.py checks equality with scikit-learn.
    A class without positives (or, for the ROC, negatives) is None and left out of "Average", the unweighted mean
    over the other classes (the peer code's average over classes); "Overall" is the micro average over every
    (clip, class) cell."""
    truth = np.asarray(truth, dtype=bool)
    scores = np.asarray(scores, dtype=np.float64)
    ranked, _ = scored_tag_classes(truth)
    if kind == "average_precision":
        ranked = np.flatnonzero(truth.any(axis=0))  # defined with positives alone
    out: dict[str, float | None] = {str(c): None for c in classes}
    for i in ranked:
        out[str(classes[i])] = _ranking_value(truth[:, i], scores[:, i], kind)
    defined = [out[str(classes[i])] for i in ranked]
    out[AVERAGE] = float(np.mean(defined)) if defined else None
    flat_t, flat_s = truth.ravel(), scores.ravel()
    needs_negatives = kind != "average_precision"
    defined_overall = flat_t.any() and not (needs_negatives and flat_t.all())
    out[OVERALL] = _ranking_value(flat_t, flat_s, kind) if defined_overall else None
    return out


def _ranking_value(truth: np.ndarray, scores: np.ndarray, kind: str) -> float:
    tps, fps = _ranked_curve(truth, scores)
    n_pos, n_neg = tps[-1], fps[-1]
    if kind == "average_precision":
        recall_gain = np.diff(np.r_[0, tps]) / n_pos
        return float(np.sum(recall_gain * tps / (tps + fps)))
    fpr, tpr = np.r_[0.0, fps / n_neg], np.r_[0.0, tps / n_pos]
    if kind == "roc_auc_hull":
        return hull_auc(fpr, tpr)
    return float(np.trapezoid(tpr, fpr))


def d_prime(auc: float | None) -> float | None:
    """d' = sqrt(2) * Phi^-1(AUC) of one AUC (the peer code applies it to the mean AUC, not per class)."""
    from scipy.stats import norm

    return None if auc is None else float(math.sqrt(2.0) * norm.ppf(auc))


# --------------------------------------------------------------------------------------------- registered metrics


def _segment_f1(x: Any, params: Mapping[str, Any]) -> Value:
    return segment_f1(x.reference, x.events(), x.durations, x.classes, x.segment_s)


def _event_f1(x: Any, params: Mapping[str, Any]) -> Value:
    return event_f1(
        x.reference,
        x.events(),
        x.durations,
        x.classes,
        params["t_collar"],
        params["percentage_of_length"],
        params["evaluate_onset"],
        params["evaluate_offset"],
    )


def _psds(x: Any, params: Mapping[str, Any]) -> Value:
    ops = [x.events(t) for t in psds_thresholds(params["thresholds"])]
    return psds(
        x.reference,
        ops,
        x.durations,
        x.classes,
        params["dtc"],
        params["gtc"],
        params["cttc"],
        params["alpha_ct"],
        params["alpha_st"],
        params["max_efpr"],
    )


def _psds_notes(x: Any, params: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "files": len(x.durations),
        "files_without_reference_events": sum(1 for f in x.durations if not x.reference.get(f)),
        "reference_events": sum(len(evs) for evs in x.reference.values()),
        "reference_events_merged": merged_count(x.reference),
        "operating_points": len(psds_thresholds(params["thresholds"])),
        "classes_without_reference_events": [
            c for c in map(str, x.classes) if c not in scored_classes(x.reference, x.classes)
        ],
    }


def _cell_truth(x: Any) -> np.ndarray:
    """Boolean (rows, C) truth of a multi-label target: frame labels, or clip tags."""
    return x.tag_truth() if x.target == TAGS else x.frame_truth()


def _accuracy(x: Any, params: Mapping[str, Any]) -> Value:
    if x.target == CLIP:
        return float((x.scores.argmax(axis=1) == x.clip_truth()).mean())
    return float((x.decisions() == _cell_truth(x)).mean())


def _loss(x: Any, params: Mapping[str, Any]) -> Value:
    return categorical_loss(x.scores, x.clip_truth()) if x.target == CLIP else binary_loss(x.scores, _cell_truth(x))


def _micro_f1(x: Any, params: Mapping[str, Any]) -> Value:
    if x.target == CLIP:  # one decision per clip: micro F1 = accuracy
        return float((x.scores.argmax(axis=1) == x.clip_truth()).mean())
    tp, fp, fn = frame_confusion(x.decisions(), _cell_truth(x))
    return 2 * tp / max(2 * tp + fp + fn, 1)


def _ranking(kind: str) -> Callable[[Any, Mapping[str, Any]], Value]:
    return lambda x, params: tag_ranking(x.scores, x.tag_truth(), x.classes, kind)


def _ranking_notes(x: Any, params: Mapping[str, Any]) -> dict[str, Any]:
    truth = x.tag_truth()
    ranked, without = scored_tag_classes(truth)
    return {
        "clips": int(len(truth)),
        "classes": len(x.classes),
        "classes_without_positives": int(len(without)),
        "classes_without_negatives": int((truth.sum(axis=0) == len(truth)).sum()),
        "classes_averaged": {"roc": int(len(ranked)), "average_precision": int(truth.any(axis=0).sum())},
    }


def _d_prime(x: Any, params: Mapping[str, Any]) -> Value:
    return d_prime(tag_ranking(x.scores, x.tag_truth(), x.classes, "roc_auc")[AVERAGE])


def _clip_f1(x: Any, params: Mapping[str, Any]) -> Value:
    return clip_f1(x.scores, x.clip_truth(), x.classes)


def _unit_interval(names: Sequence[str]) -> Callable[[Mapping[str, Any], str], None]:
    def check(params: Mapping[str, Any], where: str) -> None:
        for name in names:
            v = params[name]
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 1:
                raise fail(f"{where}/{name}", "a number in [0, 1]", repr(v))

    return check


def _check_event_f1(params: Mapping[str, Any], where: str) -> None:
    _unit_interval(("percentage_of_length",))(params, where)
    if (
        isinstance(params["t_collar"], bool)
        or not isinstance(params["t_collar"], (int, float))
        or params["t_collar"] < 0
    ):
        raise fail(f"{where}/t_collar", "a collar in seconds >= 0", repr(params["t_collar"]))
    for name in ("evaluate_onset", "evaluate_offset"):
        if not isinstance(params[name], bool):
            raise fail(f"{where}/{name}", "true or false", repr(params[name]))
    if not (params["evaluate_onset"] or params["evaluate_offset"]):
        raise fail(where, "evaluate_onset or evaluate_offset true (sed_eval matches nothing else)", "both false")


def _check_psds(params: Mapping[str, Any], where: str) -> None:
    _unit_interval(("dtc", "gtc", "cttc", "alpha_ct"))(params, where)
    for name in ("alpha_st", "max_efpr"):
        v = params[name]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0 or (name == "max_efpr" and v == 0):
            raise fail(f"{where}/{name}", "a number >= 0" if name == "alpha_st" else "a number > 0", repr(v))
    t = params["thresholds"]
    if isinstance(t, int) and not isinstance(t, bool):
        if t < 1:
            raise fail(f"{where}/thresholds", "a number of thresholds >= 1 or a list of thresholds in (0, 1)", repr(t))
    elif (
        not isinstance(t, list)
        or not t
        or any(isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v < 1 for v in t)
    ):
        raise fail(f"{where}/thresholds", "a non-empty list of thresholds in (0, 1), or their number", repr(t))


register(
    Metric(
        "segment_f1",
        {FRAMES: "events"},
        per_class=True,
        unit="%",
        compute=_segment_f1,
        uses=("threshold", "segment_s"),
        trivial=True,
        description="sed_eval SegmentBasedMetrics F1, file by file over each file's duration, "
        "empty_system_output_handling zero_score",
    )
)
register(
    Metric(
        "event_f1",
        {FRAMES: "events"},
        per_class=True,
        unit="%",
        compute=_event_f1,
        params=("t_collar", "percentage_of_length", "evaluate_onset", "evaluate_offset"),
        uses=("threshold",),
        check=_check_event_f1,
        description="sed_eval EventBasedMetrics F1 (onset collar t_collar s, offset collar max(t_collar, "
        "percentage_of_length * reference length); evaluate_onset/offset), empty_system_output_handling zero_score",
    )
)
register(
    Metric(
        "psds",
        {FRAMES: "events at each of its thresholds"},
        per_class=False,
        unit="score in [0, 1]",
        compute=_psds,
        params=("dtc", "gtc", "cttc", "alpha_ct", "alpha_st", "max_efpr", "thresholds"),
        check=_check_psds,
        notes=_psds_notes,
        description="psds_eval PSDS over one operating point per threshold (a list, or n: (k + 0.5) / n), max_efpr "
        "per hour; overlapping same-class reference events joined first (notes: how many)",
    )
)
register(
    Metric(
        "accuracy",
        {FRAMES: "decisions and frame truth", CLIP: "clip scores and labels", TAGS: "decisions and clip tags"},
        per_class=False,
        unit="fraction",
        compute=_accuracy,
        uses=("threshold",),
        description="frames: binary accuracy over (frame, class) cells; clip: categorical accuracy of the argmax; "
        "tags: binary accuracy over (clip, class) cells",
    )
)
register(
    Metric(
        "loss",
        {FRAMES: "scores and frame truth", CLIP: "clip scores and labels", TAGS: "scores and clip tags"},
        per_class=False,
        unit="nats",
        compute=_loss,
        description="mean binary (frames, tags) or categorical (clip) cross-entropy, Keras' clipping at 1e-7",
    )
)
register(
    Metric(
        "micro_f1",
        {FRAMES: "decisions and frame truth", CLIP: "clip scores and labels", TAGS: "decisions and clip tags"},
        per_class=False,
        unit="fraction",
        compute=_micro_f1,
        uses=("threshold",),
        description="frames: micro F1 over (frame, class) cells; clip: micro F1 of the argmax (= accuracy); tags: "
        "micro F1 over (clip, class) cells",
    )
)
register(
    Metric(
        "clip_f1",
        {CLIP: "clip scores and labels"},
        per_class=True,
        unit="%",
        compute=_clip_f1,
        trivial=True,
        description="F1 of argmax decisions per class, macro Average over classes in truth or prediction, micro Overall",
    )
)
register(
    Metric(
        "roc_auc",
        {TAGS: "clip scores and tags"},
        per_class=True,
        unit="fraction",
        compute=_ranking("roc_auc"),
        notes=_ranking_notes,
        description="ROC AUC per class as scikit-learn's roc_auc_score (trapezoids under the empirical ROC); Average "
        "over the classes with positives and negatives (notes: how many were skipped), Overall micro",
    )
)
register(
    Metric(
        "roc_auc_hull",
        {TAGS: "clip scores and tags"},
        per_class=True,
        unit="fraction",
        compute=_ranking("roc_auc_hull"),
        notes=_ranking_notes,
        description="area under the convex hull of each class's ROC points (>= roc_auc); Average over the classes "
        "with positives and negatives, Overall micro",
    )
)
register(
    Metric(
        "average_precision",
        {TAGS: "clip scores and tags"},
        per_class=True,
        unit="fraction",
        compute=_ranking("average_precision"),
        notes=_ranking_notes,
        description="average precision per class as scikit-learn's average_precision_score (no interpolation); "
        "Average over the classes with positives (mAP; notes: how many were skipped), Overall micro",
    )
)
register(
    Metric(
        "d_prime",
        {TAGS: "clip scores and tags"},
        per_class=False,
        unit="d'",
        compute=_d_prime,
        description="sqrt(2) * Phi^-1(mean roc_auc over classes), from the mean AUC as the peer code "
        "(qiuqiangkong/audioset_classification) computes it",
    )
)
