"""Hand-made metrics.json documents in the layout sedrepro.evaluate writes (for tests of its readers)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def metrics_doc(
    dataset: str,
    model: str,
    seed: int,
    per_class: Sequence[dict],
    target: str = "frames",
    metric: str = "segment_f1",
    scalars: Mapping[str, Sequence[float]] | None = None,
    trivial: dict | None = None,
    epochs: Sequence[int] | None = None,
    threshold: float = 0.5,
    segment_s: float = 1.0,
    set_name: str = "test",
) -> dict:
    """One run scored on one set: `per_class` = the per-class metric's value per checkpoint, `scalars` = scalar
    metrics' values per checkpoint; mean/std are left empty (readers average per-checkpoint values)."""
    epochs = list(epochs or range(1, len(per_class) + 1))
    metrics = {
        metric: {"params": {}, "unit": "%", "per_class": True, "per_checkpoint": list(per_class), "mean": {}, "std": {}}
    }
    for name, vals in (scalars or {}).items():
        metrics[name] = {
            "params": {},
            "unit": "fraction",
            "per_class": False,
            "per_checkpoint": list(vals),
            "mean": None,
            "std": None,
        }
    classes = sorted({k for v in per_class for k in v} - {"Average", "Overall"})
    return {
        "dataset": dataset,
        "model": model,
        "seed": seed,
        "classes": classes,
        "target": target,
        "sets": {
            set_name: {
                "epochs": epochs,
                "threshold": threshold,
                "segment_s": segment_s,
                "postprocess": {"median_filter_s": None, "apply_to": "scores"},
                "metrics": metrics,
                "trivial": {metric: trivial or {}},
            }
        },
    }


def default_scoring(sets: Sequence[str] = ("test",)) -> dict:
    """The default config's scoring settings as the score rule passes them (its metric lists reproduce the papers').
    Schema defaults only, no cross-field check: tests that stand in toy classes for the datasets' (monkeypatching
    sedrepro.evaluate._dataset_classes) would fail the real models' per-class median windows."""
    import yaml

    from sedrepro import config

    cfg = yaml.safe_load((config.REPO / "config.yaml").read_text(encoding="utf-8"))
    config.validate_and_default(cfg)
    evaluation = cfg["evaluation"]
    return {**{k: evaluation[k] for k in ("threshold", "segment_s", "postprocess", "metrics")}, "sets": list(sets)}
