"""Ranking metrics of multi-label clip tags (the audioset paper): per-class ROC AUC and average precision equal to
scikit-learn's, the ROC convex hull's area, their class averages and d', against independent numpy references."""

from __future__ import annotations

import math
from itertools import pairwise
from statistics import NormalDist

import numpy as np
import pytest

from sedrepro.evaluate import SetInputs, Settings
from sedrepro.metrics import AVERAGE, METRICS, OVERALL, hull_auc, tag_ranking


def auc_reference(truth: np.ndarray, scores: np.ndarray) -> float:
    """P(a positive outranks a negative) + half the ties: the Mann-Whitney statistic, pair by pair."""
    pos, neg = scores[truth], scores[~truth]
    wins = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(wins / (len(pos) * len(neg)))


def ap_reference(truth: np.ndarray, scores: np.ndarray) -> float:
    """sum_n (R_n - R_{n-1}) P_n over the distinct thresholds from the highest score down."""
    ap, last_recall = 0.0, 0.0
    for t in sorted(set(scores.tolist()), reverse=True):
        chosen = scores >= t
        tp = (chosen & truth).sum()
        recall, precision = tp / truth.sum(), tp / chosen.sum()
        ap += (recall - last_recall) * precision
        last_recall = recall
    return float(ap)


def roc_points(truth: np.ndarray, scores: np.ndarray) -> list[tuple[float, float]]:
    pts = [(0.0, 0.0)]
    for t in sorted(set(scores.tolist()), reverse=True):
        chosen = scores >= t
        pts.append(((chosen & ~truth).sum() / (~truth).sum(), (chosen & truth).sum() / truth.sum()))
    return pts


def hull_reference(points: list[tuple[float, float]]) -> float:
    """The ROC convex hull's height at x is the highest chord between two ROC points spanning x (every mixture of
    two classifiers is achievable); the hull is linear between the points' xs, so trapezoids over them are exact."""
    points = [*points, (0.0, 0.0), (1.0, 1.0)]

    def height(x: float) -> float:
        best = 0.0
        for x1, y1 in points:
            for x2, y2 in points:
                if x1 <= x <= x2:
                    best = max(best, y1 if x2 == x1 else y1 + (y2 - y1) * (x - x1) / (x2 - x1))
        return best

    xs = sorted({x for x, _ in points})
    return float(sum((b - a) * (height(a) + height(b)) / 2 for a, b in pairwise(xs)))


@pytest.fixture
def tagged():
    rng = np.random.default_rng(7)
    truth = rng.random((60, 5)) < 0.3
    truth[:, 3] = False  # a class without positives: skipped and counted
    truth[0, 3] = False
    scores = np.clip(truth * 0.3 + rng.random((60, 5)) * 0.8, 0, 1).round(2)  # rounded: ties occur
    return truth, scores


def test_per_class_auc_and_ap_match_numpy_references_and_skip_classes_without_positives(tagged):
    truth, scores = tagged
    classes = ["a", "b", "c", "d", "e"]
    auc = tag_ranking(scores, truth, classes, "roc_auc")
    ap = tag_ranking(scores, truth, classes, "average_precision")
    ranked = [0, 1, 2, 4]
    for i in ranked:
        assert auc[classes[i]] == pytest.approx(auc_reference(truth[:, i], scores[:, i]), abs=1e-12)
        assert ap[classes[i]] == pytest.approx(ap_reference(truth[:, i], scores[:, i]), abs=1e-12)
    assert auc["d"] is None and ap["d"] is None
    assert auc[AVERAGE] == pytest.approx(np.mean([auc_reference(truth[:, i], scores[:, i]) for i in ranked]))
    assert ap[AVERAGE] == pytest.approx(np.mean([ap_reference(truth[:, i], scores[:, i]) for i in ranked]))
    assert auc[OVERALL] == pytest.approx(auc_reference(truth.ravel(), scores.ravel()))


def test_per_class_values_equal_scikit_learn_s(tagged):
    from sklearn.metrics import average_precision_score, roc_auc_score

    truth, scores = tagged
    auc = tag_ranking(scores, truth, list("abcde"), "roc_auc")
    ap = tag_ranking(scores, truth, list("abcde"), "average_precision")
    for i in (0, 1, 2, 4):
        assert auc["abcde"[i]] == pytest.approx(roc_auc_score(truth[:, i], scores[:, i]), abs=1e-12)
        assert ap["abcde"[i]] == pytest.approx(average_precision_score(truth[:, i], scores[:, i]), abs=1e-12)
    assert ap[OVERALL] == pytest.approx(average_precision_score(truth.ravel(), scores.ravel()), abs=1e-12)


def test_hull_auc_matches_the_chord_reference_and_is_never_below_the_roc_area(tagged):
    truth, scores = tagged
    hull = tag_ranking(scores, truth, list("abcde"), "roc_auc_hull")
    plain = tag_ranking(scores, truth, list("abcde"), "roc_auc")
    for i, c in enumerate("abce"):
        i = "abcde".index(c)
        assert hull[c] == pytest.approx(hull_reference(roc_points(truth[:, i], scores[:, i])), abs=1e-12)
        assert hull[c] >= plain[c] - 1e-12


def test_the_paper_s_hull_auc_differs_from_scikit_learn_s_on_a_concave_roc():
    # ROC (0,0) (0,.5) (.5,.5) (1,.5) (1,1): area 0.5; its hull (0,0) (0,.5) (1,1): area 0.75
    truth = np.array([True, False, False, True])
    scores = np.array([0.9, 0.8, 0.7, 0.1])
    assert tag_ranking(scores[:, None], truth[:, None], ["x"], "roc_auc")["x"] == pytest.approx(0.5)
    assert tag_ranking(scores[:, None], truth[:, None], ["x"], "roc_auc_hull")["x"] == pytest.approx(0.75)
    assert hull_auc(np.array([0.0, 1.0]), np.array([0.0, 1.0])) == pytest.approx(0.5)


def test_metrics_json_entries_d_prime_and_notes_of_a_tags_set(tagged):
    truth, scores = tagged
    classes = list("abcde")
    ids = [f"-seg{i}" for i in range(len(truth))]
    reference = {
        f: [{"onset": 0.0, "offset": 10.0, "event_label": c} for c, t in zip(classes, row, strict=True) if t]
        for f, row in zip(ids, truth, strict=True)
    }
    settings = Settings(0.5, 1.0, {"median_filter_s": None, "apply_to": "scores"}, {}, ["eval"])
    x = SetInputs(
        "tags", classes, 1.0, ids, np.arange(len(ids) + 1), scores, reference, dict.fromkeys(ids, 10.0), settings
    )
    np.testing.assert_array_equal(x.tag_truth(), truth)
    mean_auc = np.mean([auc_reference(truth[:, i], scores[:, i]) for i in (0, 1, 2, 4)])
    assert METRICS.get("d_prime").compute(x, {}) == pytest.approx(math.sqrt(2) * NormalDist().inv_cdf(mean_auc))
    notes = METRICS.get("roc_auc").notes(x, {})
    assert notes["classes_without_positives"] == 1 and notes["classes_averaged"]["roc"] == 4
    loss = METRICS.get("loss").compute(x, {})
    p = np.clip(scores, 1e-7, 1 - 1e-7)
    assert loss == pytest.approx(float(-np.where(truth, np.log(p), np.log1p(-p)).mean()))
