"""Audit findings on a tiny fake table with known answers, and on the real transcribed values."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from sedrepro import audit, papers
from sedrepro.io import InputError
from sedrepro.papers import TableSpec, load_paper_values

TSV = Path(__file__).resolve().parents[1] / "config" / "paper_values" / "hypernetworks.tsv"

SPEC = TableSpec(
    name="t", caption="fake", dataset="toy",
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

    md = audit.markdown(findings, [SPEC], "fake", "fake.tsv")
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
    audit.main(audit.build_parser().parse_args(["--paper", "hypernetworks", "--paper-values", str(TSV), "--out", str(out)]))
    md = out.read_text()
    mod = papers.get("hypernetworks")
    findings = audit.audit(mod.TABLES, load_paper_values(TSV), mod.DATASET_DURATIONS)
    flagged = {(f.table, f.column): round(f.difference, 3) for f in findings if f.check == "average_row" and f.flagged}
    assert flagged == {("table2", "crnn_bi"): 0.16, ("table2", "hcrnn64"): 0.44}
    (dur,) = [f for f in findings if f.check == "duration_sum"]
    assert dur.recomputed * 60 == pytest.approx(40569) and dur.printed == 566
    assert "2 of 8 flagged" in md and "40569 s" in md


# ----------------------------------------------------------------------------------------- dessed paper

DESSED_TSV = TSV.with_name("dessed.tsv")


def _dessed_index(tmp_path):
    idx = tmp_path / "index"
    idx.mkdir()
    (idx / "files.tsv").write_text("file_id\tsplit\taudio\tannotation\tduration_s\nm\ttrain\tm.wav\tm.txt\t30\n")
    (idx / "events.tsv").write_text("file_id\tonset\toffset\tlabel\n" + "m\t0\t1\tbus\n" * 456 + "m\t0\t2\train\n" * 3)
    return idx


def test_dessed_audit_findings(tmp_path):
    mod = papers.get("dessed")
    findings = audit.declared_findings(mod, load_paper_values(DESSED_TSV), str(TSV), str(_dessed_index(tmp_path)))
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


def test_dessed_audit_cli(tmp_path):
    out = tmp_path / "audit.md"
    idx = _dessed_index(tmp_path)
    audit.main(audit.build_parser().parse_args([
        "--paper", "dessed", "--paper-values", str(DESSED_TSV), "--cross-paper-values", str(TSV), "--index", str(idx),
        "--data-note", "synthetic test index", "--out", str(out)]))
    md = out.read_text()
    assert "5 of 5 rows cannot hold their parameters" in md and "0 of 16 classes agree" in md
    assert "Printed counts sum to 36326" in md and "Annotations: synthetic test index. 1 of 16 classes match" in md
    assert "1 of 13 flagged" in md and "Which machine" in md and "Overall rows" not in md
    with pytest.raises(InputError, match="--cross-paper-values"):
        audit.declared_findings(papers.get("dessed"), load_paper_values(DESSED_TSV), None, str(idx))


def test_hypernetworks_audit_has_no_declared_checks(tmp_path):
    assert audit.declared_findings(papers.get("hypernetworks"), load_paper_values(TSV)) == []
    out = tmp_path / "audit.md"
    audit.main(audit.build_parser().parse_args(["--paper", "hypernetworks", "--paper-values", str(TSV), "--out", str(out)]))
    md = out.read_text()
    headings = [line for line in md.splitlines() if line.startswith("## ")]
    assert headings == ["## Average rows vs mean of the printed class values",
                        "## Total duration column vs the dataset duration stated in the text",
                        "## Events implied by Total dur. / Avg. dur. per event", "## Not checkable from the paper"]
    assert f"computed from `{TSV}`; nothing" in md
