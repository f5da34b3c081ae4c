"""sedrepro.ensemble: an ensemble's predictions are the mean of its members' k-th selected checkpoints."""

import json

import numpy as np
import pytest
from metrics_doc import default_scoring

from sedrepro import ensemble, evaluate, results
from sedrepro.io import InputError

CLASSES = ("a", "b")
FILES = {"t1": 8, "t2": 6}  # frames per test clip (hop 0.5 s)


def member(path, epochs, seed, classes=CLASSES, files=FILES, sets=("test",)):
    """A predictions directory as predict_checkpoints writes it: <set>/epochNNN.npz per set and epoch, and
    selection.json naming the sets; returns the probs by (set, epoch)."""
    rng = np.random.default_rng(seed)
    offsets = np.cumsum([0, *files.values()]).astype(np.int64)
    probs = {}
    for name in sets:
        (path / name).mkdir(parents=True)
        for epoch in epochs:
            probs[name, epoch] = rng.random((int(offsets[-1]), len(classes))).astype(np.float32)
            np.savez_compressed(
                path / name / f"epoch{epoch:03d}.npz",
                probs=probs[name, epoch],
                offsets=offsets,
                file_ids=np.array(list(files), dtype=str),
                hop_s=np.float64(0.5),
                classes=np.array(classes, dtype=str),
                target=np.asarray("frames"),
            )
    (path / "selection.json").write_text(
        json.dumps({"selection": "best_val_loss", "n_checkpoints": len(epochs), "epochs": epochs, "sets": list(sets)})
    )
    return probs


def test_the_kth_checkpoint_is_the_mean_of_the_members_kth(tmp_path):
    p1 = member(tmp_path / "m1", [2, 5], seed=1)
    p2 = member(tmp_path / "m2", [1, 4], seed=2)
    p3 = member(tmp_path / "m3", [3, 6], seed=3)
    out = tmp_path / "ens"
    doc = ensemble.average_predictions([tmp_path / "m1", tmp_path / "m2", tmp_path / "m3"], out)
    assert sorted(p.name for p in out.iterdir()) == ["selection.json", "test"]
    assert sorted(p.name for p in (out / "test").iterdir()) == ["epoch001.npz", "epoch002.npz"]
    got = ensemble.read_predictions(out)["test"]
    assert [c.epoch for c in got] == [1, 2]
    for k, (e1, e2, e3) in enumerate([(2, 1, 3), (5, 4, 6)]):
        want = (p1["test", e1].astype(np.float64) + p2["test", e2] + p3["test", e3]) / 3
        np.testing.assert_allclose(got[k].arrays["probs"], want, rtol=1e-6)
        assert got[k].arrays["probs"].dtype == np.float32
        assert got[k].arrays["classes"].tolist() == list(CLASSES) and str(got[k].arrays["target"]) == "frames"
    assert [m["epochs"] for m in doc["members"]] == [[2, 5], [1, 4], [3, 6]]
    written = json.loads((out / "selection.json").read_text())
    assert (written["epochs"], written["sets"]) == ([1, 2], ["test"])


def test_each_evaluation_set_is_averaged_on_its_own(tmp_path):
    sets = ("test", "eval")
    p1 = member(tmp_path / "m1", [2, 5], seed=1, sets=sets)
    p2 = member(tmp_path / "m2", [1, 4], seed=2, sets=sets)
    out = tmp_path / "ens"
    doc = ensemble.average_predictions([tmp_path / "m1", tmp_path / "m2"], out)
    assert doc["sets"] == list(sets) and json.loads((out / "selection.json").read_text())["sets"] == list(sets)
    got = ensemble.read_predictions(out)
    assert list(got) == list(sets)
    for name in sets:
        assert [c.path for c in got[name]] == [out / name / "epoch001.npz", out / name / "epoch002.npz"]
        for k, (e1, e2) in enumerate([(2, 1), (5, 4)]):
            want = (p1[name, e1].astype(np.float64) + p2[name, e2]) / 2
            np.testing.assert_allclose(got[name][k].arrays["probs"], want, rtol=1e-6)
    # the sets' predictions differ (member() draws each anew), so a set averaged with another's files would fail above
    assert not np.allclose(got["test"][0].arrays["probs"], got["eval"][0].arrays["probs"])


def test_members_with_other_evaluation_sets_are_refused_in_one_line(tmp_path):
    member(tmp_path / "m1", [1], seed=1, sets=("test", "eval"))
    member(tmp_path / "m2", [1], seed=2, sets=("test",))
    with pytest.raises(InputError) as err:
        ensemble.average_predictions([tmp_path / "m1", tmp_path / "m2"], tmp_path / "ens")
    message = str(err.value)
    assert "\n" not in message and message == (
        f"{tmp_path / 'm2' / 'selection.json'}: expected the evaluation sets of "
        f"{tmp_path / 'm1'} (test, eval), found sets test"
    )
    assert not (tmp_path / "ens").exists()


def test_a_member_whose_sets_hold_other_epochs_is_refused(tmp_path):
    member(tmp_path / "m1", [1, 2], seed=1, sets=("test", "eval"))
    member(tmp_path / "m2", [1, 2], seed=2, sets=("test", "eval"))
    (tmp_path / "m2" / "eval" / "epoch002.npz").rename(tmp_path / "m2" / "eval" / "epoch003.npz")
    with pytest.raises(
        InputError, match=r"m2/eval: expected the epochs of set 'test' \(\[1, 2\]\), found epochs \[1, 3\]$"
    ):
        ensemble.average_predictions([tmp_path / "m1", tmp_path / "m2"], tmp_path / "ens")
    assert not (tmp_path / "ens").exists()


def test_a_member_without_its_sets_is_named(tmp_path):
    member(tmp_path / "m1", [1], seed=1)
    member(tmp_path / "m2", [1], seed=2)
    doc = json.loads((tmp_path / "m2" / "selection.json").read_text())
    del doc["sets"]  # the flat layout of before evaluation sets
    (tmp_path / "m2" / "selection.json").write_text(json.dumps(doc))
    with pytest.raises(
        InputError,
        match=r"m2/selection.json: expected a non-empty list of evaluation set names under "
        r"'sets', found None$",
    ):
        ensemble.average_predictions([tmp_path / "m1", tmp_path / "m2"], tmp_path / "ens")


def test_the_ensemble_is_scored_like_any_run(tmp_path, monkeypatch):
    """The written directory is what score_predictions reads: one member finds an event (0.9), the other misses it
    (0.2); their mean (0.55) finds it at threshold 0.5."""
    monkeypatch.setattr(evaluate, "_dataset_classes", lambda name: list(CLASSES))
    idx = tmp_path / "index"
    idx.mkdir()
    (idx / "files.tsv").write_text(
        "file_id\tsplit\taudio\tannotation\tduration_s\nt1\ttest\tt1.wav\tt1.ann\t4.0\nt2\ttest\tt2.wav\tt2.ann\t3.0\n"
    )
    (idx / "events.tsv").write_text("file_id\tonset\toffset\tlabel\nt1\t0.0\t2.0\ta\nt2\t1.0\t3.0\tb\n")
    member(tmp_path / "m1", [1], seed=1)
    member(tmp_path / "m2", [7], seed=2)
    for path, high in (
        (tmp_path / "m1" / "test" / "epoch001.npz", 0.9),
        (tmp_path / "m2" / "test" / "epoch007.npz", 0.2),
    ):
        arrays = dict(np.load(path))
        arrays["probs"] = np.full_like(arrays["probs"], 0.0)
        arrays["probs"][0:4, 0] = high  # t1, class a in [0, 2): found by m1 (0.9), missed by m2 (0.2)
        np.savez_compressed(path, **arrays)
    ensemble.average_predictions([tmp_path / "m1", tmp_path / "m2"], tmp_path / "ens")
    sets = json.loads((tmp_path / "ens" / "selection.json").read_text())["sets"]  # what the score rule passes
    settings = evaluate.Settings.from_config(default_scoring(sets))
    doc = evaluate.score_predictions(tmp_path / "ens", idx, settings, "toy", "ens", 0)
    assert results.setting(doc, "test", "epochs") == [1]
    assert results.per_checkpoint(doc, "segment_f1", "test", "a") == [pytest.approx(100.0)]  # mean 0.55 > 0.5: found
    member_doc = evaluate.score_predictions(tmp_path / "m2", idx, settings, "toy", "m2", 0)
    assert results.per_checkpoint(member_doc, "segment_f1", "test", "a") == [pytest.approx(0.0)]


@pytest.mark.parametrize(
    "other, expected",
    [
        (dict(classes=("a", "c")), "expected the classes of"),
        (dict(files={"t1": 8, "t2": 7}), "expected the offsets of"),
        (dict(files={"t2": 6, "t1": 8}), "expected the offsets of"),
    ],
    ids=["classes", "frames", "clip-order"],
)
def test_members_that_predict_other_classes_or_frames_are_refused_in_one_line(tmp_path, other, expected):
    member(tmp_path / "m1", [1, 2], seed=1)
    member(tmp_path / "m2", [1, 2], seed=2, **other)
    with pytest.raises(InputError) as err:
        ensemble.average_predictions([tmp_path / "m1", tmp_path / "m2"], tmp_path / "ens")
    message = str(err.value)
    assert "\n" not in message and expected in message and str(tmp_path / "m2" / "test" / "epoch001.npz") in message
    assert not (tmp_path / "ens" / "selection.json").exists()


def test_members_with_different_checkpoint_counts_are_refused(tmp_path):
    member(tmp_path / "m1", [1, 2], seed=1)
    member(tmp_path / "m2", [3], seed=2)
    with pytest.raises(
        InputError, match=r"m2/test: expected as many selected checkpoints as the other members \(2\), found 1"
    ):
        ensemble.average_predictions([tmp_path / "m1", tmp_path / "m2"], tmp_path / "ens")


def test_a_predictions_file_without_its_arrays_is_named(tmp_path):
    member(tmp_path / "m1", [1], seed=1)
    member(tmp_path / "m2", [1], seed=2)
    arrays = dict(np.load(tmp_path / "m2" / "test" / "epoch001.npz"))
    del arrays["classes"]
    np.savez_compressed(tmp_path / "m2" / "test" / "epoch001.npz", **arrays)
    with pytest.raises(InputError, match=r"m2/test/epoch001.npz: expected arrays probs, .*, found no classes"):
        ensemble.average_predictions([tmp_path / "m1", tmp_path / "m2"], tmp_path / "ens")


def test_cli_refuses_mismatched_members_with_one_error_line(tmp_path, capsys):
    member(tmp_path / "m1", [1], seed=1)
    member(tmp_path / "m2", [1], seed=2, classes=("a", "c"))
    with pytest.raises(SystemExit) as exit_:
        ensemble.cli.run(
            ensemble.main,
            ensemble.build_parser(),
            ["--members", str(tmp_path / "m1"), str(tmp_path / "m2"), "--out", str(tmp_path / "ens")],
        )
    assert exit_.value.code == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(err) == 1 and "expected the classes of" in err[0]
