"""Audit findings on a tiny fake table with known answers, and on the real transcribed values."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from sedrepro import audit, claims, papers
from sedrepro.datasets import DatasetIndex
from sedrepro.io import InputError
from sedrepro.papers import TableSpec, load_paper_values

TSV = Path(__file__).resolve().parents[1] / "config" / "paper_values" / "hypernetworks.tsv"

SPEC = TableSpec(
    name="t",
    caption="fake",
    dataset="toy",
    model_columns=(("Good", "good"), ("Rounded", "rounded"), ("Bad", "bad")),
    stat_columns=(("Avg", "avg_dur_s"), ("Total", "total_dur_s")),
    rows=(("A", "a"), ("B", "b"), ("C", "c"), ("Average", "Average"), ("Overall", "Overall")),
)


def fake_values():
    cells = {
        # good: mean of 10, 20, 30.3 = 20.1 exactly as printed
        "good": (10.0, 20.0, 30.3, 20.1, 1.0),
        # rounded: mean 20.0667, printed 20.0 -> -0.067: beyond 0.05, within the 0.10 combined bound
        "rounded": (10.0, 20.1, 30.1, 20.0, 1.0),
        # bad: mean 20.0, printed 20.5 -> +0.5
        "bad": (10.0, 20.0, 30.0, 20.5, 1.0),
    }
    rows = []
    for col, vals in cells.items():
        for row, v in zip(("A", "B", "C", "Average", "Overall"), vals, strict=False):
            rows.append(("t", row, col, v))
    for row, avg, total in (("A", 2.0, 600.0), ("B", 1.5, 1200.0), ("C", 4.0, 1800.0)):
        rows += [("t", row, "avg_dur_s", avg), ("t", row, "total_dur_s", total)]
    rows.append(("text", "toy duration", "duration_min", 50.0))
    return pd.DataFrame([dict(table=a, row=b, column=c, value=v, note="") for a, b, c, v in rows])


def test_fake_table_findings():
    findings = audit.audit([SPEC], fake_values(), {"t": ("text", "toy duration", "duration_min")})
    avg = {f.column: f for f in findings if f.check == "average_row"}
    assert avg["good"].difference == pytest.approx(0.0, abs=1e-9) and not avg["good"].flagged
    assert avg["rounded"].difference == pytest.approx(20.0 - 60.2 / 3) and avg["rounded"].flagged
    assert "within combined rounding" in avg["rounded"].detail
    assert avg["bad"].difference == pytest.approx(0.5) and avg["bad"].flagged
    assert "beyond the worst-case" in avg["bad"].detail
    (dur,) = [f for f in findings if f.check == "duration_sum"]
    assert dur.recomputed == pytest.approx(60.0) and dur.printed == 50.0 and dur.difference == pytest.approx(-10.0)
    assert dur.flagged and "ratio 1.200" in dur.detail
    implied = {f.column: f for f in findings if f.check == "implied_events"}
    assert implied["A"].recomputed == pytest.approx(300.0) and implied["B"].recomputed == pytest.approx(800.0)

    md = audit.markdown(findings, [SPEC], "fake", "fake.tsv", papers.get("hypernetworks").not_checkable)
    assert "| t | Bad (bad) | 20.5 | 20.000 | +0.500 | > 0.10 |" in md
    assert "| t | Rounded (rounded) | 20.0 | 20.067 | -0.067 | > 0.05 |" in md
    assert "| t | Good (good) | 20.1 | 20.100 | 0.000 |  |" in md
    assert "2 of 3 flagged" in md and "60.0 min vs stated 50 min" in md
    assert "Overall rows" in md
    # the text explains each flag the column shows, in the column's own words
    rows = [line for line in md.splitlines() if line.startswith(("| t | Bad", "| t | Rounded", "| t | Good"))]
    flags = {line.split("|")[-2].strip() for line in rows} - {""}
    assert flags == {"> 0.05", "> 0.10"}
    (text,) = [line for line in md.splitlines() if line.startswith("Flagged when")]
    assert all(f"`{flag}` is beyond" in text for flag in flags), text


def test_duration_reference_must_exist():
    from sedrepro.io import InputError

    with pytest.raises(InputError, match="stated dataset duration"):
        audit.audit([SPEC], fake_values(), {"t": ("text", "nope", "duration_min")})


def test_real_paper_audit(tmp_path):
    out = tmp_path / "audit.md"
    audit.main(
        audit.build_parser().parse_args(
            [
                "--paper",
                "hypernetworks",
                "--paper-values",
                str(TSV),
                "--out",
                str(out),
                "--out-html",
                str(out.with_suffix(".html")),
                *_index_args(tmp_path),
            ]
        )
    )
    md = out.read_text()
    mod = papers.get("hypernetworks")
    findings = audit.audit(mod.tables, load_paper_values(TSV), mod.dataset_durations)
    flagged = {(f.table, f.column): round(f.difference, 3) for f in findings if f.check == "average_row" and f.flagged}
    assert flagged == {("table2", "crnn_bi"): 0.16, ("table2", "hcrnn64"): 0.44}
    (dur,) = [f for f in findings if f.check == "duration_sum"]
    assert dur.recomputed * 60 == pytest.approx(40569) and dur.printed == 566
    assert "2 of 8 flagged" in md and "40569 s" in md


# ----------------------------------------------------------------------------------------- dessed paper

DESSED_TSV = TSV.with_name("dessed.tsv")
CLAIMS = {"hypernetworks": TSV.with_name("hypernetworks_claims.tsv"), "dessed": TSV.with_name("dessed_claims.tsv")}


def _write_index(folder, files, events):
    """A dataset index with files (file_id, split, duration_s) and events (file_id, onset, offset, label)."""
    folder.mkdir(parents=True)
    (folder / "files.tsv").write_text(
        "file_id\tsplit\taudio\tannotation\tduration_s\n"
        + "".join(f"{f}\t{split}\t{f}.wav\t{f}.txt\t{dur}\n" for f, split, dur in files)
    )
    (folder / "events.tsv").write_text(
        "file_id\tonset\toffset\tlabel\n" + "".join(f"{f}\t{on}\t{off}\t{label}\n" for f, on, off, label in events)
    )
    return folder


def _dessed_index(tmp_path):
    events = [("m", 0, 1, "bus")] * 456 + [("m", 0, 2, "rain")] * 3
    return _write_index(tmp_path / "index", [("m", "train", 30)], events)


def _small_indexes(tmp_path):
    """Tiny indexes of the three datasets the papers' claims read (not the real data: the numbers only show the
    checks run)."""
    return {
        "tut_sed_synthetic_2016": _dessed_index(tmp_path),
        "urban_sed": _write_index(
            tmp_path / "urban",
            [("u1", "train", 10), ("u2", "test", 10)],
            [("u1", 0, 1, "siren"), ("u2", 0, 2, "siren"), ("u2", 1, 3, "drilling")],
        ),
        "urbansound8k": _write_index(
            tmp_path / "us8k",
            [("x1", "fold1", 4.0), ("x2", "fold2", 0.05)],
            [("x1", 0, 4, "siren"), ("x2", 0, 0.05, "dog_bark")],
        ),
    }


def _index_args(tmp_path, paper="hypernetworks"):
    args = ["--claims", str(CLAIMS[paper])]
    for name, folder in _small_indexes(tmp_path / "cli").items():
        args += ["--dataset-index", f"{name}={folder}", "--dataset-note", f"{name}=tiny test index"]
    return args


def test_dessed_audit_findings(tmp_path):
    mod = papers.get("dessed")
    findings = audit.declared_findings(
        mod,
        load_paper_values(DESSED_TSV),
        str(TSV),
        str(_dessed_index(tmp_path)),
        str(CLAIMS["dessed"]),
        _small_indexes(tmp_path / "claims"),
    )
    by = {}
    for f in findings:
        by.setdefault(f.check, []).append(f)
    sums = {f.table: f for f in by["count_sum"]}
    assert sums["table1"].recomputed == 8732 and sums["table2"].recomputed == 36326
    assert not any(f.flagged for f in sums.values())
    size = {f.column: f for f in by["bytes_per_parameter"]}
    assert all(f.flagged for f in size.values()) and len(size) == 5
    assert "= 14.8 MB" in size["Baseline"].detail and "0.0119 bytes per parameter" in size["Baseline"].detail
    assert size["Baseline"].recomputed == pytest.approx(3_700_000 * 4 / 1024)
    claims = [(f.column, round(f.recomputed, 2), f.flagged) for f in by["claim"]]
    assert ("dilated training time vs baseline", 14.06, False) in claims
    assert ("dessed training time in words", 59.0, False) in claims  # Table 4 prints 0:59, the text "an hour"
    assert ("depth-wise separable training time vs baseline", 1.84, True) in claims  # Dessed: 59 / 32, not 6x
    assert ("depth-wise separable training time vs baseline", 6.06, False) in claims  # the 1x1 variant: 194 / 32
    assert [c for c in claims if c[2]] == [("depth-wise separable training time vs baseline", 1.84, True)]
    cross = {f.column: f for f in by["cross_paper_events"]}
    assert cross["horsewalk"].recomputed == pytest.approx(1614 / 6.4) and cross["horsewalk"].printed == 6603
    assert cross["bus"].flagged and "442..447" in cross["bus"].detail  # 456 printed, 3464 s / 7.8 s allows 442..447
    assert sum(not f.flagged for f in cross.values()) == 0
    ann = {f.column: f for f in by["annotation_events"]}
    assert ann["bus"].recomputed == 456 and not ann["bus"].flagged
    assert ann["rain"].recomputed == 3 and ann["rain"].difference == 511 - 3 and ann["footsteps"].recomputed == 0
    # the other statements of the text: those on the tables and by arithmetic do not depend on the index
    text = {(f.column, f.source): f for f in by["text_claim"]}
    flagged = sorted(f.column for f in by["text_claim"] if f.flagged and f.source != "dataset index")
    assert flagged == [
        "1x1 variant test accuracy",
        "MFCC frames of a 4 s clip",
        "baseline f1-score",
        "baseline test loss",
        "depth-wise separable f1-score loss",
        "dilated f1-score advancement",
    ]
    adv = text[("dilated f1-score advancement", "tables")]
    assert adv.recomputed == pytest.approx(0.7299 - 0.71566) and adv.printed == 0.015
    assert "= 0.7299 - 0.71566 = 0.01424" in adv.detail and adv.tolerance.startswith("±0.0005")
    frames = text[("MFCC frames of a 4 s clip", "arithmetic")]
    assert frames.recomputed == 173 and frames.difference == 1 and frames.tolerance == "exact"
    low = text[("fewest elements vs lowest F1", "tables")]
    assert low.recomputed == 0 and "in both: none" in low.detail and not low.flagged
    clips = text[("UrbanSound8K clips in the index", "dataset index")]
    assert clips.recomputed == 2 and clips.flagged  # the tiny index has 2 clips, not 8732


def test_dessed_audit_cli(tmp_path):
    out = tmp_path / "audit.md"
    idx = _dessed_index(tmp_path)
    audit.main(
        audit.build_parser().parse_args(
            [
                "--paper",
                "dessed",
                "--paper-values",
                str(DESSED_TSV),
                "--cross-paper-values",
                str(TSV),
                "--index",
                str(idx),
                "--data-note",
                "synthetic test index",
                "--out",
                str(out),
                "--out-html",
                str(out.with_suffix(".html")),
                *_index_args(tmp_path, "dessed"),
            ]
        )
    )
    md = out.read_text()
    assert "5 of 5 rows cannot hold their parameters" in md and "0 of 16 classes agree" in md
    assert "Printed counts sum to 36326" in md and "Annotations: synthetic test index. 1 of 16 classes match" in md
    assert "1 of 13 flagged" in md and "Which machine" in md and "Overall rows" not in md
    assert (
        "| dilated training time vs baseline | 15 | 14.06 | Dilated train_time_min / Baseline train_time_min "
        "= 450 / 32 = 14.06; the text says 15: consistent |  |"
    ) in md  # the first audit's rows, unchanged
    assert "Indexes read: tut_sed_synthetic_2016: tiny test index; urban_sed: tiny test index" in md
    assert (
        "| Section 2.2 | the smaller recordings are padded with zeros to reach the dimension of the longer audio, "
        "which has a length of 174 frames | 174 | 173 | -1 | exact | **flag** | 1 + floor(4 * 22050 / 512) = 173; "
        "reading:"
    ) in md
    assert '- Section 4: "I tested training on CPU but it was too much slow, about 6 times vs a GPU" (6): no CPU' in md
    html = out.with_suffix(".html").read_text()  # the report's page: the same findings
    assert "<h2>Model size on disk vs number of parameters</h2>" in html and "0 of 16 classes agree" in html
    assert "<td>table4</td>\n      <td>Baseline</td>\n      <td>43</td>\n      <td>14453</td>" in html
    with pytest.raises(InputError, match="--cross-paper-values"):
        audit.declared_findings(papers.get("dessed"), load_paper_values(DESSED_TSV), None, str(idx))
    with pytest.raises(InputError, match="--claims: expected the claims TSV config/paper_values/dessed_claims.tsv"):
        audit.declared_findings(papers.get("dessed"), load_paper_values(DESSED_TSV), str(TSV), str(idx))
    with pytest.raises(InputError, match="--dataset-index: expected the index of 'urbansound8k'"):
        audit.declared_findings(
            papers.get("dessed"),
            load_paper_values(DESSED_TSV),
            str(TSV),
            str(idx),
            str(CLAIMS["dessed"]),
            {"tut_sed_synthetic_2016": str(idx)},
        )


def test_hypernetworks_audit_declares_only_text_claims(tmp_path):
    indexes = _small_indexes(tmp_path / "claims")
    findings = audit.declared_findings(
        papers.get("hypernetworks"),
        load_paper_values(TSV),
        claims_path=str(CLAIMS["hypernetworks"]),
        dataset_indexes=indexes,
    )
    assert {f.check for f in findings} == {"text_claim"}
    flagged = sorted(f.column for f in findings if f.flagged and f.source != "dataset index")
    assert flagged == [
        "LSTM input size",
        "improvement ≈3 % over the Uni-baseline",
        "improvement ≈3-4 %, TUT-SED, Uni-baseline",
        "improvement ≈3-4 %, URBAN-SED, Bi-baseline",
        "long average duration of those classes",
        "many samples of those classes",
        "mel range vs sample rate",
        "short classes worse than Bi-baseline",
        "short classes worse than Uni-baseline",
    ]
    by = {f.column: f for f in findings}
    assert by["improvement ≈3 % over the Bi-baseline"].recomputed == pytest.approx((4.3 + 1.4) / 2)
    assert by["all classes but Dog_bark vs Uni-baseline"].recomputed == 9
    assert "not in: Dog_bark)" in by["all classes but Dog_bark vs Uni-baseline"].detail
    assert by["mel range vs sample rate"].recomputed == 11250 and by["mel range vs sample rate"].difference == -225
    out = tmp_path / "audit.md"
    audit.main(
        audit.build_parser().parse_args(
            [  # as audit_paper passes it: empty values for the checks it lacks
                "--paper",
                "hypernetworks",
                "--paper-values",
                str(TSV),
                "--cross-paper-values=",
                "--index=",
                "--data-note=",
                "--out",
                str(out),
                "--out-html",
                str(out.with_suffix(".html")),
                *_index_args(tmp_path),
            ]
        )
    )
    md = out.read_text()
    headings = [line for line in md.splitlines() if line.startswith("#")]
    assert headings == [
        "# Audit of the published tables: hypernetworks",
        "## Average rows vs mean of the printed class values",
        "## Total duration column vs the dataset duration stated in the text",
        "## Events implied by Total dur. / Avg. dur. per event",
        "## Numeric statements of the text and captions, recomputed",
        "### Recomputed from the tables",
        "### Recomputed from the dataset index",
        "### Recomputed by arithmetic",
        "## Not checkable from the paper",
    ]
    assert f"computed from `{TSV}`, `{CLAIMS['hypernetworks']}`, `" in md
    assert '- Section 4: "the bidirectional baseline has more trainable parameters as compared to HCRNN-128": the' in md


# ----------------------------------------------------------------------------------------- claims of the text

HEADER = "\t".join(claims.CLAIM_COLUMNS)


def _claims_file(tmp_path, rows, name="claims.tsv"):
    """rows: (claimed, relation, tolerance, check) or full 9-field tuples."""
    lines = [HEADER]
    for i, row in enumerate(rows):
        if len(row) == 4:
            row = (f"c{i}", "Section 1", f"quote {i}", row[0], row[1], row[2], "expr", row[3], "")
        lines.append("\t".join(row))
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def _evaluate(path, indexes=None):
    loaders = {k: (lambda v=v: DatasetIndex.read(v)) for k, v in (indexes or {}).items()}
    ctx = claims.Context({"t": SPEC}, fake_values(), loaders)
    return [claims.evaluate(c, ctx) for c in claims.load_claims(path) if c.checkable]


def test_claim_tolerances_and_relations(tmp_path):
    cases = {  # (claimed, relation, tolerance, check): flagged
        ("20.1", "=", "rounded", "20.14"): False,
        ("20.1", "=", "rounded", "20.16"): True,  # ±0.05
        ("566", "=", "rounded", "566.4"): False,
        ("566", "=", "rounded", "566.6"): True,  # ±0.5
        ("3", "=", "exact", "n(1, 2, 3)"): False,
        ("4", "=", "exact", "n(1, 2, 3)"): True,
        ("10", "=", "about", "12.4"): False,
        ("10", "=", "about", "12.6"): True,  # ±25 %
        ("3..4", "in", "about", "3.5"): False,
        ("3..4", "in", "about", "2.3"): False,
        ("3..4", "in", "about", "2.2"): True,
        ("3..4", "in", "about", "4.9"): False,
        ("3..4", "in", "about", "5.1"): True,
        ("0", ">", "exact", "0"): True,
        ("0", ">=", "exact", "0"): False,
        ("5", "<", "exact", "5"): True,
        ("5", "<=", "exact", "5"): False,
        ("0", ">", "exact", "0.001"): False,
        ("0", "<=", "exact", "1 / (2 - 2)"): True,
        ("0", "<", "exact", "min(1 / 0, -1)"): True,  # nan is never a pass
    }
    results = _evaluate(_claims_file(tmp_path, list(cases)))
    assert [r.flagged for r in results] == list(cases.values())
    by = {r.claim.check + r.claim.claimed: r for r in results}
    assert by["2.23..4"].delta == pytest.approx(-0.8) and by["3.53..4"].delta == 0  # distance outside the range
    assert by["20.1620.1"].tolerance_text == "±0.05 (rounding of the printed 20.1)"
    assert by["12.610"].tolerance_text == "±25% ('about')" and by["n(1, 2, 3)4"].tolerance_text == "exact"


def test_claim_table_functions_recompute_and_flag_when_perturbed(tmp_path):
    expected = {  # check on the fake table t: value
        't["Average", "bad"]': 20.5,
        'wins(t, "rounded", "good")': 1,  # A 10 = 10, B 20.1 > 20, C 30.1 < 30.3
        'count_below(t, "total_dur_s", 1500)': 2,
        'rank_share(t, "avg_dur_s", "C")': 1.0,
        'rank_share(t, "avg_dur_s", "A")': 0.5,
        'col_max(t, "bad")': 30,
        'col_min(t, "rounded")': 10,
        'bottom_overlap(t, "avg_dur_s", t, "total_dur_s", 2)': 2,
        "rows(t)": 3,
        'mean(t["A", "good"], t["B", "good"]) - floor(2 ** 3 / 3) + 1 // 2': 13,
    }
    rows = [(f"{v:g}", "=", "exact", check) for check, v in expected.items()]
    results = _evaluate(_claims_file(tmp_path, rows))
    assert [r.computed for r in results] == pytest.approx(list(expected.values()))
    assert not any(r.flagged for r in results) and {r.source for r in results} == {"tables"}
    perturbed = _evaluate(
        _claims_file(
            tmp_path,
            [(f"{v + 1:g}", *rest) for v, *rest in [(v, "=", "exact", c) for c, v in expected.items()]],
            "p.tsv",
        )
    )
    assert all(r.flagged for r in perturbed)
    how = {r.claim.check: r.how for r in results}
    assert how['wins(t, "rounded", "good")'] == (
        'wins(t, "rounded", "good") = 1 (rounded > good in 1 of 3 rows; not in: A, C)'
    )
    check = 'mean(t["A", "good"], t["B", "good"]) - floor(2 ** 3 / 3) + 1 // 2'
    assert how[check] == f"{check} = mean(10, 20) - floor(2 ** 3 / 3) + 1 // 2 = 13"


def test_claim_dataset_functions_recompute_and_flag_when_perturbed(tmp_path):
    idx = _write_index(
        tmp_path / "ds",
        [("f1", "train", 60), ("f2", "train", 60), ("f3", "test", 120)],
        [("f1", 0, 10, "a"), ("f1", 5, 15, "b"), ("f1", 8, 9, "a"), ("f1", 20, 21, "a"), ("f2", 0, 2, "b")],
    )
    expected = {  # a: 3 events, mean 4 s; b: 2 events, mean 6 s; 3 events overlap in f1 from 8 to 9 s
        'files("toy")': 3,
        'duration_min("toy")': 4,
        'events("toy")': 5,
        'labels("toy")': 2,
        'max_polyphony("toy")': 3,
        'split_percent("toy", "train")': 200 / 3,
        'min_duration_s("toy")': 60,
        'max_duration_s("toy")': 120,
        'files_shorter("toy", 100)': 2,
        'percent_files_at_least("toy", 100)': 100 / 3,
        'events_per_file_min("toy")': 0,
        'events_per_file_max("toy")': 4,
        'count_length_spearman("toy")': -1,
        'length_rank_share("toy", "b")': 1,
    }
    rows = [(claims.fmt(v), "=", "exact" if float(v).is_integer() else "rounded", c) for c, v in expected.items()]
    results = _evaluate(_claims_file(tmp_path, rows), {"toy": idx})
    assert [r.computed for r in results] == pytest.approx(list(expected.values()))
    assert not any(r.flagged for r in results) and {r.source for r in results} == {"dataset index"}
    perturbed = _evaluate(
        _claims_file(
            tmp_path,
            [(claims.fmt(v + 1), *rest) for v, *rest in [(v, "=", "exact", c) for c, v in expected.items()]],
            "p.tsv",
        ),
        {"toy": idx},
    )
    assert all(r.flagged for r in perturbed)
    missing = _evaluate(
        _claims_file(tmp_path, [("0.5", ">", "exact", 'length_rank_share("toy", "zebra")')], "m.tsv"), {"toy": idx}
    )
    assert missing[0].flagged and "no events of class zebra in the index" in missing[0].how  # NaN is never a pass
    assert claims.datasets_needed(claims.load_claims(tmp_path / "claims.tsv")) == ["toy"]
    bare = _write_index(tmp_path / "bare", [("f1", "train", "")], [("f1", 0, 1, "a")])  # annotations only: no duration
    rows = [("0", "=", "exact", 'files_shorter("bare", 1)')]
    (short,) = _evaluate(_claims_file(tmp_path, rows, "b.tsv"), {"bare": bare})
    assert short.flagged and "1 files without a duration in the index (annotations only)" in short.how


@pytest.mark.parametrize("paper", ["hypernetworks", "dessed"])
def test_every_transcribed_claim_is_flagged_when_its_number_moves(paper, tmp_path):
    """Each checkable statement of the papers, with its claimed number moved beyond its tolerance, is flagged: no
    check ignores the number it judges."""
    mod = papers.get(paper)
    ctx = claims.Context(
        {s.name: s for s in mod.tables},
        load_paper_values(TSV.with_name(f"{paper}.tsv")),
        {k: (lambda v=v: DatasetIndex.read(v)) for k, v in _small_indexes(tmp_path).items()},
    )
    checked = [c for c in claims.load_claims(CLAIMS[paper]) if c.checkable]
    assert len(checked) >= (40 if paper == "hypernetworks" else 70)
    for claim in checked:
        value = claims.evaluate(claim, ctx).computed
        if value != value:  # NaN (a class the tiny index lacks): flagged whatever is claimed
            continue
        moved = {
            "=": 2 * value + (1 if value >= 0 else -1),
            ">": value + 1,
            ">=": value + 1,
            "<": value - 1,
            "<=": value - 1,
        }.get(claim.relation)
        text = f"{moved:.6f}" if moved is not None else f"{3 * abs(value) + 10:.6f}..{3 * abs(value) + 11:.6f}"
        assert claims.evaluate(dataclasses.replace(claim, claimed=text), ctx).flagged, claim


BAD_CLAIMS = {
    "header": (
        "label\twhere\n",
        r":1: expected header label\twhere\tquote\tclaimed\trelation\ttolerance\tkind"
        r"\tcheck\tnote, found 'label\twhere'",
    ),
    "fields": ("a\tb\tc\n", ":2: expected 9 tab-separated fields, found 3"),
    "number": (
        "x\tS1\tq\t1,614\t=\texact\texpr\t1614\t\n",
        ":2: expected a plain number or lo..hi in 'claimed' (1,614 -> 1614), found '1,614'",
    ),
    "relation": ("x\tS1\tq\t1\t~\texact\texpr\t1\t\n", ":2: expected a relation among = < <= > >= in, found '~'"),
    "range": (
        "x\tS1\tq\t3..4\t=\tabout\texpr\t3\t\n",
        ":2: expected a lo..hi claim exactly with relation 'in', found '3..4' with '='",
    ),
    "tolerance": (
        "x\tS1\tq\t1\t=\tloose\texpr\t1\t\n",
        ":2: expected a tolerance among exact, rounded, about, found 'loose'",
    ),
    "legacy": (
        "x\tS1\tq\t1\t=\trounded\tratio\t1\t\n",
        ":2: expected tolerance 'about' and relation '=' for kind 'ratio', found 'rounded' and '='",
    ),
    "syntax": (
        "x\tS1\tq\t1\t=\texact\texpr\t1 +\t\n",
        ":2: expected a Python-syntax expression in 'check', found '1 +' (invalid syntax)",
    ),
    "code": (
        "x\tS1\tq\t0\t=\texact\texpr\t__import__('os').system('true')\t\n",
        ":2: expected numbers, + - * / // **, table cells and the functions of sedrepro.claims, found "
        "\"__import__('os').system('true')\"",
    ),
    "note": (
        "x\tS1\tq\t-\t-\t-\t-\t-\t\n",
        ":2: expected a note saying why the statement cannot be checked, found an empty note",
    ),
}


@pytest.mark.parametrize("case", BAD_CLAIMS)
def test_bad_claims_line_is_one_line(case, tmp_path):
    body, message = BAD_CLAIMS[case]
    path = tmp_path / "c.tsv"
    path.write_text(body if case == "header" else HEADER + "\n" + body)
    with pytest.raises(InputError) as err:
        claims.load_claims(path)
    assert str(err.value) == str(path) + message


def test_bad_claim_references_are_one_line(tmp_path):
    with pytest.raises(InputError, match=r"paper values: expected a transcribed value \(t, Nope, good\), found no"):
        _evaluate(_claims_file(tmp_path, [("1", "=", "exact", 't["Nope", "good"]')]))
    with pytest.raises(
        InputError,
        match=r"c.tsv:2: expected the arguments of wins\(\) \(see sedrepro.claims\), found "
        r"'wins\(t\)'",
    ):
        _evaluate(_claims_file(tmp_path, [("1", "=", "exact", "wins(t)")], "c.tsv"))
    plain = papers.Paper("plain", (dataclasses.replace(SPEC, name="table1"),))  # a paper without text_claims
    with pytest.raises(InputError, match="--claims: expected no claims file .* found 'c.tsv'"):
        audit.declared_findings(plain, fake_values(), claims_path="c.tsv")
    with pytest.raises(InputError, match=r"e.tsv:2: expected a table name among t, found 'table9'"):
        _evaluate(_claims_file(tmp_path, [("1", "=", "exact", "rows(table9)")], "e.tsv"))
    with pytest.raises(InputError, match="--dataset-index: expected the index of 'toy' .* a claim reads, found none"):
        _evaluate(_claims_file(tmp_path, [("1", "=", "exact", 'files("toy")')], "d.tsv"))


def test_audit_cli_stops_on_a_bad_claims_file_with_one_line(tmp_path):
    bad = tmp_path / "claims.tsv"
    bad.write_text(HEADER + "\n" + BAD_CLAIMS["code"][0])
    cmd = [
        sys.executable,
        "-m",
        "sedrepro.audit",
        "--paper",
        "hypernetworks",
        "--paper-values",
        str(TSV),
        "--claims",
        str(bad),
        "--out",
        str(tmp_path / "audit.md"),
        "--out-html",
        str(tmp_path / "audit.html"),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 2 and not (tmp_path / "audit.md").exists()
    assert [line for line in proc.stderr.splitlines() if line.startswith("error:")] == [
        f"error: {bad}{BAD_CLAIMS['code'][1]}"
    ]
    assert "Traceback" not in proc.stderr


@pytest.mark.realdata
def test_real_metadata_claims():
    """The dataset claims on the real annotations (shared/realdata): counts hold; clip durations are not in an
    annotations-only index, so those claims are NaN and flagged, never passed."""
    from conftest import REALDATA

    from sedrepro import datasets

    roots = {"urban_sed": REALDATA / "URBAN-SED_v1.0", "urbansound8k": REALDATA / "UrbanSound8K"}
    if not all(p.is_dir() for p in roots.values()):
        pytest.skip(f"real metadata not found under {REALDATA} (set SEDREPRO_REALDATA)")
    indexes = {name: datasets.get(name).index(root, annotations_only=True) for name, root in roots.items()}
    found = {}
    for paper in ("hypernetworks", "dessed"):
        mod = papers.get(paper)
        ctx = claims.Context(
            {s.name: s for s in mod.tables},
            load_paper_values(TSV.with_name(f"{paper}.tsv")),
            {k: (lambda v=v: v) for k, v in indexes.items()},
        )
        for claim in claims.load_claims(CLAIMS[paper]):
            if claim.checkable and any(f'("{name}"' in claim.check for name in indexes):
                found[claim.label] = claims.evaluate(claim, ctx)
    passed = {label: r.computed for label, r in found.items() if not r.flagged}
    assert passed == {
        "URBAN-SED soundscapes in the index": 10000,
        "URBAN-SED fewest events per recording": 1,
        "URBAN-SED most events per recording": 9,
        "URBAN-SED classes in the index": 10,
        "UrbanSound8K clips in the index": 8732,
        "UrbanSound8K classes in the index": 10,
    }
    assert all(
        r.computed != r.computed and "annotations only" in r.how for label, r in found.items() if label not in passed
    )


def test_cited_rows_are_not_audited():
    """Rows the paper cites from other works are its values of someone else's models: no bytes-per-parameter check."""
    spec = TableSpec(
        name="table4",
        caption="Sizes.",
        dataset="toyset",
        model_columns=(("Ours", "ma"),),
        stat_columns=(),
        rows=(),
        layout=papers.MODELS_LAYOUT,
        metric_columns=(("Params", "parameters"), ("KB", "size_kb")),
        cited_rows=(("Other [3]", "[3] a cited model"),),
    )
    cells = {("Ours", "parameters"): 1000, ("Ours", "size_kb"): 4, ("Other [3]", "parameters"): 1e6}
    cells[("Other [3]", "size_kb")] = 1  # far below a byte per parameter: flagged if it were audited
    pv = pd.DataFrame(
        [{"table": "table4", "row": r, "column": c, "value": v, "note": ""} for (r, c), v in cells.items()]
    )
    found = audit.size_findings(spec, pv, "parameters", "size_kb")
    assert [f.column for f in found] == ["Ours"] and not found[0].flagged
