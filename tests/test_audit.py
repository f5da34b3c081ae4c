"""Audit findings on a tiny fake table with known answers, and on the real transcribed values."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from sedrepro import audit, papers
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
