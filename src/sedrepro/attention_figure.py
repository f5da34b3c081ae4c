"""Figure kind "attention": the attention weights of one query frame over time, per model and clip, with the clip's
ground-truth and predicted labels below (the sparse self-attention paper's Figure 2).

Reads the dataset index (clips of the figure's evaluation set and their events), each run's checkpoints folder (the
last epoch's weights, rebuilt from train.json) and the features of its pipeline. The network must have
`attention_weights(x, layer)` (sedrepro.models.transformer.CNNTransformer). Which clips and head: the figure's
config settings (`figures/<paper>/<figure>`: `clips`, a list of file ids of the evaluation set with events, and
`head`); unset, the first two clips of the evaluation set, in file order, with events of two or more classes, and head
0. The query frame is the middle of each clip's first event. The split stage's normalisation is not a figure input: the features are z-scored per band
with the statistics of every frame of the features file, which is close to, not equal to, the training sources'.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from . import datasets, figures
from .io import fail, read_json, read_tsv

N_CLIPS = 2
# The settings a figure of this kind takes, with their defaults: clips None = the first N_CLIPS clips with events of
# two or more classes; head 0 (the paper's (a1) and (a3) come from different heads it does not name).
DEFAULTS = {"clips": None, "head": 0}
LAYER = 0
THRESHOLD = 0.5  # predicted labels: frame probabilities above it, no median filter


def _check(spec, where: str) -> None:
    figures._check_models(spec, where)
    if len(spec.models) != 2:
        raise fail(where, "two models (the sparse one, then the one it is compared with)", f"{len(spec.models)}")
    if spec.metrics:
        raise fail(where, "no metrics for an attention figure (it draws weights and labels)", repr(spec.metrics))


def _subkey(where: str, key: str) -> str:
    """ "config key 'figures/p/f'" -> "config key 'figures/p/f/<key>'"."""
    return f"{where[:-1]}/{key}'" if where.endswith("'") else f"{where}/{key}"


def _params(given: dict, where: str) -> dict:
    """The settings `clips` (null or a non-empty list of distinct file ids) and `head` (an integer >= 0)."""
    unknown = sorted(set(given) - set(DEFAULTS))
    if unknown:
        raise fail(where, f"settings among {', '.join(DEFAULTS)}", ", ".join(unknown))
    out = {**DEFAULTS, **given}
    clips = out["clips"]
    if clips is not None and (
        not isinstance(clips, list)
        or not clips
        or not all(isinstance(c, str) and c for c in clips)
        or len(set(clips)) != len(clips)
    ):
        raise fail(_subkey(where, "clips"), "null or a non-empty list of distinct file ids", repr(clips))
    head = out["head"]
    if isinstance(head, bool) or not isinstance(head, int) or head < 0:
        raise fail(_subkey(where, "head"), "an integer >= 0 (an attention head of the first layer)", repr(head))
    return out


def choose_clips(
    index_dir: Path, evaluation_set: str, n: int = N_CLIPS, clips: list[str] | None = None
) -> list[tuple[str, pd.DataFrame]]:
    """(file_id, its events) of the given clips (each of the set, with events), or, with none given, of the first n
    clips of the set (files.tsv order) with events of two or more classes."""
    for name in ("files.tsv", "events.tsv"):
        if not (index_dir / name).is_file():
            raise fail(index_dir / name, "the dataset index's file", "no such file")
    files = read_tsv(index_dir / "files.tsv", dtype={"file_id": str})
    events = read_tsv(index_dir / "events.tsv", dtype={"file_id": str, "label": str})
    ids = files.loc[files["split"].astype(str) == evaluation_set, "file_id"].tolist()
    if clips is not None:
        out = []
        for fid in clips:
            ev = events[events["file_id"] == fid].sort_values("onset")
            if fid not in ids or ev.empty:
                raise fail(
                    "figure setting clips",
                    f"clips of set {evaluation_set!r} with events ({index_dir / 'files.tsv'})",
                    repr(fid) + ("" if fid in ids else " (not in that set)"),
                )
            out.append((fid, ev))
        return out
    chosen = []
    for fid in ids:
        ev = events[events["file_id"] == fid].sort_values("onset")
        if ev["label"].nunique() >= 2:
            chosen.append((fid, ev))
        if len(chosen) == n:
            return chosen
    raise fail(
        index_dir / "files.tsv",
        f"{n} clips of set {evaluation_set!r} with events of two or more classes",
        f"{len(chosen)} among {len(ids)} clips of that set",
    )


def _features(paths, fids: list[str]) -> tuple[dict[str, np.ndarray], float]:
    """Per clip its z-scored (per band, over all frames of the file) features, and the frame hop in seconds."""
    folders = {Path(p).parent for p in paths}
    if len(folders) != 1:
        raise fail("--features", "the feature files of one pipeline", ", ".join(sorted(map(str, folders))) or "none")
    folder = folders.pop()
    feats = np.load(folder / "features.npy", mmap_mode="r")
    frames = read_tsv(folder / "frames.tsv", dtype={"file_id": str}).set_index("file_id")
    hop_s = float(read_json(folder / "features.json")["hop_s"])
    mean = feats.mean(axis=0, dtype=np.float64)
    std = np.sqrt(np.maximum(feats.var(axis=0, dtype=np.float64), 1e-12))
    out = {}
    for fid in fids:
        if fid not in frames.index:
            raise fail(folder / "frames.tsv", f"features of clip {fid!r}", "no such row")
        start, n = int(frames.at[fid, "start"]), int(frames.at[fid, "n_frames"])
        out[fid] = ((np.asarray(feats[start : start + n], dtype=np.float64) - mean) / std).astype(np.float32)
    return out, hop_s


def _last_epoch(ckpt_dir: Path) -> Path:
    found = sorted(ckpt_dir.glob("epoch*.pt"))
    if not found:
        raise fail(ckpt_dir, "epochNNN.pt checkpoints of a trained run", "none")
    return found[-1]


def attention_and_probs(run_ckpt_dir: Path, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, int, str]:
    """Attention weights (heads, T', T') of the last epoch's network for one clip's features x (T, F), its frame
    probabilities (T, C), its time factor and the checkpoint's name."""
    import torch  # only when the figure is drawn: importing the paper (workflow parse) stays torch-free

    from .predict import load_checkpoint, load_model, model_of_run

    run_dir = Path(run_ckpt_dir).parent
    record = model_of_run(run_dir)
    device = torch.device("cpu")
    model = load_model(run_dir, int(record["n_features"]), int(record["n_classes"]), device)
    if not hasattr(model, "attention_weights"):
        raise fail(run_dir / "train.json", "a network with attention weights (cnn_transformer)", record["architecture"])
    ckpt = _last_epoch(Path(run_ckpt_dir))
    model.load_state_dict(load_checkpoint(ckpt, device))
    model.eval()
    with torch.inference_mode():
        xt = torch.from_numpy(x)[None]
        weights = model.attention_weights(xt, LAYER)[0].numpy()
        probs = torch.sigmoid(model(xt)["strong"])[0].numpy()
    return weights, probs, int(model.time_factor), ckpt.name


def _segments(active: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) runs of True."""
    padded = np.concatenate([[False], active, [False]]).astype(np.int8)
    d = np.diff(padded)
    return list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1), strict=True))


def _draw(plt, spec, data: figures.FigureData, data_note: str):
    classes = list(datasets.get(spec.dataset).classes)
    if len(data.checkpoints) != len(spec.models):
        raise fail(
            f"figure {spec.name}", f"one checkpoints folder per model ({len(spec.models)})", len(data.checkpoints)
        )
    params = data.params or _params({}, f"figure {spec.name}")
    head = params["head"]
    clips = choose_clips(data.index_dir, spec.evaluation_set, clips=params["clips"])
    feats, hop_s = _features(data.features, [fid for fid, _ in clips])
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    n_models = len(spec.models)
    fig, axes = plt.subplots(
        2 * n_models + 1,
        len(clips),
        figsize=(6.5 * len(clips) + 1.5, 2.0 * n_models + 1.2 * (n_models + 1) + 1.2),
        squeeze=False,
        gridspec_kw={"height_ratios": [2.0] * n_models + [0.6] * (n_models + 1)},
    )
    used = []
    for col, (fid, ev) in enumerate(clips):
        x = feats[fid]
        duration = len(x) * hop_s
        first = ev.iloc[0]
        query_s = (float(first["onset"]) + min(float(first["offset"]), duration)) / 2
        labels_here = sorted(ev["label"].unique(), key=classes.index)
        preds = []
        for row, ((label, model), ckpt_dir) in enumerate(zip(spec.models, data.checkpoints, strict=True)):
            weights, probs, factor, ckpt = attention_and_probs(Path(ckpt_dir), x)
            if head >= weights.shape[0]:
                raise fail("figure setting head", f"a head of {model} (0 to {weights.shape[0] - 1})", head)
            used.append(f"{model} {ckpt}")
            step = hop_s * factor
            q = min(int(query_s / step), weights.shape[1] - 1)
            t = (np.arange(weights.shape[2]) + 0.5) * step
            ax = axes[row][col]
            ax.plot(t, weights[head, q], color="black", linewidth=1)
            for c in labels_here:  # the weights over each class's events coloured by that class, as the paper
                for _, e in ev[ev["label"] == c].iterrows():
                    inside = (t >= e["onset"]) & (t <= e["offset"])
                    ax.fill_between(
                        t, 0, weights[head, q], where=inside, color=colours[classes.index(c) % 10], alpha=0.5
                    )
            ax.axvline(query_s, color="grey", linestyle=":", linewidth=1)
            nonzero = int((weights[head, q] > 0).sum())
            ax.set_title(
                f"({chr(97 + col)}{row + 1}) {label} ({model}), head {head}: {nonzero} of {weights.shape[2]} weights > 0",
                fontsize=8,
            )
            ax.set_ylabel("attention weight", fontsize=7)
            ax.set_xlim(0, duration)
            preds.append((label, probs[: len(x)] > THRESHOLD))
        rows = [("ground truth", None)] + preds
        for k, (name, active) in enumerate(rows):
            ax = axes[n_models + k][col]
            for c in range(len(classes)):
                if active is None:
                    spans = [
                        (e["onset"], min(e["offset"], duration)) for _, e in ev[ev["label"] == classes[c]].iterrows()
                    ]
                else:
                    spans = [(a * hop_s, b * hop_s) for a, b in _segments(active[:, c])]
                for a, b in spans:  # one lane per class, top to bottom in the dataset's order
                    ax.broken_barh([(a, b - a)], (len(classes) - 1 - c, 0.9), color=colours[c % 10])
            ax.set_xlim(0, duration)
            ax.set_ylim(0, len(classes))
            ax.set_yticks([])
            ax.set_ylabel(name, fontsize=7, rotation=0, ha="right", va="center")
        axes[-1][col].set_xlabel(f"time (s) of clip {fid}")
    handles = [plt.Rectangle((0, 0), 1, 1, color=colours[c % 10]) for c in range(len(classes))]
    axes[n_models][-1].legend(
        handles, classes, fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, ncol=1
    )
    chosen = (
        "clips set in config"
        if params["clips"] is not None
        else f"the first {N_CLIPS} clips of the set with events of two or more classes"
    )
    detail = (
        f"{chosen}; query frame at the middle of each clip's first event (dotted), layer {LAYER}, "
        f"{'; '.join(dict.fromkeys(used))}; "
        f"predictions at {THRESHOLD} without median filter; one lane per class in the label rows"
    )
    fig.suptitle(figures._title(spec, data_note, detail, width=130), fontsize=8, x=0.01, ha="left")
    return fig


KIND = figures.register_kind(
    figures.FigureKind("attention", ("index", "checkpoints", "features"), _check, _draw, _params)
)
