"""Figures from data: every dessed figure is written from a synthetic index and synthetic history.csv files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sedrepro import figures, papers
from sedrepro.io import InputError

MOD = papers.get("dessed")
PNG = b"\x89PNG\r\n\x1a\n"


def write_index(
    d,
    durations=(4.0, 4.0, 3.5, 1.2),
    events=(("a", 0.0, 0.5, "rain"), ("a", 1.0, 9.0, "rain"), ("b", 2.0, 2.2, "footsteps")),
):
    d.mkdir(parents=True, exist_ok=True)
    (d / "files.tsv").write_text(
        "file_id\tsplit\taudio\tannotation\tduration_s\n"
        + "".join(f"c{i}\tfold1\tc{i}.wav\tm.csv\t{x}\n" for i, x in enumerate(durations))
    )
    (d / "events.tsv").write_text(
        "file_id\tonset\toffset\tlabel\n" + "".join(f"{f}\t{a}\t{b}\t{c}\n" for f, a, b, c in events)
    )
    return d


def write_history(root, dataset, model, seed, n=6):
    run = root / "runs" / dataset / model / f"seed{seed}"
    run.mkdir(parents=True)
    epochs = np.arange(1, n + 1)
    val_loss = 1.0 / epochs + (epochs == n) * 0.5  # lowest at epoch n - 1
    pd.DataFrame(
        {
            "epoch": epochs,
            "train_loss": 1.0 / epochs,
            "val_loss": val_loss,
            "train_accuracy": epochs / n,
            "val_accuracy": epochs / (n + 1),
            "val_frame_f1": epochs,
            "epoch_time_s": 1.0,
        }
    ).to_csv(run / "history.csv", index=False)
    return run / "history.csv"


@pytest.mark.parametrize("spec", MOD.figures, ids=lambda s: s.name)
def test_every_figure_is_written(tmp_path, spec):
    out = tmp_path / f"{spec.name}.png"
    argv = ["--paper", "dessed", "--figure", spec.name, "--data-note", "synthetic test data", "--out", str(out)]
    if spec.models:  # what plot_figure passes: an empty --index, the histories
        paths = [write_history(tmp_path, spec.dataset, m, s) for _, m in spec.models for s in (0, 1)]
        argv += ["--index=", "--history", *map(str, paths)]
    else:  # an index and an empty --history
        argv += ["--index", str(write_index(tmp_path / "index")), "--history"]
    figures.main(figures.build_parser().parse_args(argv))
    assert out.read_bytes()[:8] == PNG and out.stat().st_size > 10_000


def test_histogram_inputs(tmp_path):
    idx = write_index(tmp_path / "i")
    assert sorted(figures.clip_durations(idx)) == [1.2, 3.5, 4.0, 4.0]
    ev = figures.event_durations(idx)
    assert list(ev["duration"].round(6)) == [0.5, 8.0, 0.2]
    # an index built without audio: durations come from the clips' events
    nan_idx = write_index(
        tmp_path / "j", durations=("", ""), events=(("c0", 0.0, 2.5, "siren"), ("c1", 0.0, 4.0, "siren"))
    )
    assert list(figures.clip_durations(nan_idx)) == [2.5, 4.0]


def test_histories_are_checked(tmp_path):
    good = write_history(tmp_path, "tut_sed_synthetic_2016", "dnd_baseline", 3)
    assert figures.run_of(good) == ("dnd_baseline", 3)
    with pytest.raises(InputError, match="seed<N>/history.csv"):
        figures.run_of(tmp_path / "history.csv")
    df = pd.read_csv(good).drop(columns=["val_accuracy"])
    bad = tmp_path / "x" / "dnd_dilated" / "seed0" / "history.csv"
    bad.parent.mkdir(parents=True)
    df.to_csv(bad, index=False)
    with pytest.raises(InputError, match="without val_accuracy"):
        figures.read_histories([bad], ("accuracy", "loss"))
    assert figures._best_epoch(pd.read_csv(good)) == 5


def test_curves_need_exactly_the_figures_models(tmp_path):
    spec = figures.figure_spec("dessed", "figure11")
    other = figures.read_histories([write_history(tmp_path, spec.dataset, "dnd_dilated", 0)], spec.metrics)
    with pytest.raises(InputError, match="histories of exactly dnd_baseline"):
        figures.draw(spec, "note", tmp_path / "f.png", histories=other)
    with pytest.raises(InputError, match="one of figure1"):
        figures.figure_spec("dessed", "figure2")


@pytest.mark.parametrize("name", ["figure11", "figure14"])
def test_curves_read_right(tmp_path, name):
    """Epoch ticks are integers, legends cover no curve or title, one seed reads 'seed 0'."""
    import matplotlib.pyplot as plt

    spec = figures.figure_spec("dessed", name)
    paths = [write_history(tmp_path, spec.dataset, m, 0, n=2) for _, m in spec.models]
    fig = figures.build(spec, "toy data", histories=figures.read_histories(paths, spec.metrics))
    try:
        fig.canvas.draw()
        r = fig.canvas.get_renderer()
        title = fig._suptitle.get_text()
        assert "seed 0;" in title and "seeds" not in title
        for ax in fig.axes:
            lo, hi = ax.get_xlim()
            ticks = [x.get_text() for v, x in zip(ax.get_xticks(), ax.get_xticklabels(), strict=True) if lo <= v <= hi]
            assert ticks == ["1", "2"], ticks  # not 1.0, 1.2, ... 2.0
            legend = ax.get_legend().get_window_extent(r)
            for other in [
                *(a.get_window_extent(r) for a in fig.axes),
                *(a.title.get_window_extent(r) for a in fig.axes),
                fig._suptitle.get_window_extent(r),
            ]:
                assert not (
                    legend.x0 < other.x1 and other.x0 < legend.x1 and legend.y0 < other.y1 and other.y0 < legend.y1
                )
    finally:
        plt.close(fig)


def classwise_doc(model, seed, per_checkpoint, dataset="toyset"):
    from metrics_doc import metrics_doc

    return metrics_doc(dataset, model, seed, per_checkpoint, metric="event_f1")


CLASSWISE = papers.FigureSpec(
    "figure1", "Class-wise performance", "classwise", "toyset", (("baseline", "mb"), ("SSA", "ma")), ("event_f1",)
)


def test_classwise_values_are_table_cells_per_class():
    docs = [
        classwise_doc("ma", 0, [{"cat": 40.0, "dog": 60.0, "Average": 50.0}, {"cat": 42.0, "dog": None}]),
        classwise_doc("ma", 1, [{"cat": 44.0, "dog": 70.0, "Average": 57.0}]),
        classwise_doc("mb", 0, [{"cat": 10.0, "dog": 20.0, "Average": 15.0}]),
    ]
    v = figures.classwise_values(CLASSWISE, docs).set_index(["model", "class"])
    assert list(v.index) == [("baseline", "cat"), ("baseline", "dog"), ("SSA", "cat"), ("SSA", "dog")]
    assert v.loc[("SSA", "cat"), "mean"] == pytest.approx(42.0)  # every (seed, checkpoint): 40, 42, 44
    assert v.loc[("SSA", "cat"), "std"] == pytest.approx(np.std([40.0, 42.0, 44.0]))
    assert v.loc[("SSA", "dog"), "mean"] == pytest.approx(65.0)  # an undefined checkpoint value is skipped
    fig = figures.build(CLASSWISE, "toy data", data=figures.FigureData(metrics=docs))
    try:
        ax = fig.axes[0]
        assert len(ax.patches) == 4 and [t.get_text() for t in ax.get_xticklabels()] == ["cat", "dog"]
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ["baseline", "SSA"]
        title = ax.get_title(loc="left")
        assert "event_f1 on evaluation set 'test'" in title and "seeds 0, 1" in title
    finally:
        import matplotlib.pyplot as plt

        plt.close(fig)
    with pytest.raises(InputError, match="metrics files of exactly mb, ma"):
        figures.classwise_values(CLASSWISE, docs[:2])
    with pytest.raises(InputError, match="expected dataset 'toyset' for figure1"):
        figures.classwise_values(CLASSWISE, docs[:2] + [classwise_doc("mb", 0, [{"cat": 1.0}], dataset="other")])


@pytest.mark.parametrize(
    "fields, message",
    [
        (dict(models=(("SSA", "ma"),)), "FigureSpec figure1: expected two or more models to compare class by class"),
        (dict(metrics=("psds",)), "FigureSpec figure1: expected one registered per-class metric for a classwise"),
        (dict(metrics=("event_f1", "segment_f1")), "expected one registered per-class metric"),
        (dict(metrics=("f1",)), "FigureSpec figure1 metrics: expected a registered metric"),
    ],
)
def test_a_classwise_figure_is_checked_when_defined(fields, message):
    import dataclasses

    with pytest.raises(InputError, match=message):
        dataclasses.replace(CLASSWISE, **fields)


@pytest.fixture
def toy_kinds(monkeypatch):
    """A registry of the built-in kinds plus a test-only one reading checkpoints and features (as an attention
    figure does): the real registry stays as it was."""
    from sedrepro.registry import Registry

    kinds = Registry("figure kind")
    for name, kind in figures.KINDS.items():
        kinds.register(name, kind)
    seen = {}

    def check(spec, where):
        if len(spec.models) != 1:
            raise InputError(f"{where}: expected one model, found {len(spec.models)}")

    def draw(plt, spec, data, note):
        seen["data"] = data
        fig, ax = plt.subplots()
        ax.set_title(f"{spec.caption}; {note}")
        return fig

    monkeypatch.setattr(figures, "KINDS", kinds)
    figures.register_kind(figures.FigureKind("toy_attention", ("index", "checkpoints", "features"), check, draw))
    return seen


def test_a_registered_kind_gets_the_inputs_it_declares(tmp_path, monkeypatch, toy_kinds):
    from sedrepro.registry import Registry

    spec = papers.FigureSpec("figure2", "Attention weights", "toy_attention", "toyset", (("SSA", "ma"),))
    with pytest.raises(InputError, match="expected one model, found 2"):
        papers.FigureSpec("figure2", "x", "toy_attention", "toyset", (("A", "ma"), ("B", "mb")))
    monkeypatch.setattr(papers, "PAPERS", Registry("paper"))
    papers.register(papers.Paper("toy", (papers.dessed.PAPER.tables[0],), figures=(spec,)))
    index = write_index(tmp_path / "index")
    ckpt = tmp_path / "ma" / "seed0" / "checkpoints"
    ckpt.mkdir(parents=True)
    feats = tmp_path / "features.npy"
    feats.write_bytes(b"x")
    out = tmp_path / "figure2.png"
    argv = ["--paper", "toy", "--figure", "figure2", "--data-note", "toy data", "--out", str(out)]
    argv += ["--index", str(index), "--history", "--metrics", "--checkpoints", str(ckpt), "--features", str(feats)]
    figures.main(figures.build_parser().parse_args(argv))
    data = toy_kinds["data"]
    assert data.index_dir == index and data.checkpoints == [ckpt] and data.features == [feats]
    assert data.histories is None and list(data.metrics) == []
    assert out.read_bytes()[:8] == PNG
    history = write_history(tmp_path, "toyset", "ma", 0)
    with pytest.raises(InputError, match=r"only the inputs of kind 'toy_attention' \(index, checkpoints, features\)"):
        figures.main(figures.build_parser().parse_args(argv + ["--history", str(history)]))
    with pytest.raises(ValueError, match="inputs among index, history, metrics, checkpoints, features"):
        figures.FigureKind("bad", ("weights",), lambda s, w: None, lambda *a: None)
