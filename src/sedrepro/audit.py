"""Internal-consistency audit of a paper's published tables, computed only from the transcribed values.

Checks
------
* ``average_row``: for every model column, the printed "Average" row against the mean of the printed
  per-class values. Both sides are rounded to one decimal, so:
  - the printed Average alone can be off by up to 0.05 (its own rounding);
  - the mean of the printed class values can be off by up to another 0.05 (mean of each value's rounding).
  A difference above ``ROUNDING_TOL`` (0.05 + epsilon) is flagged as beyond the printed value's rounding;
  ``COMBINED_TOL`` (0.10 + epsilon) is the worst case when both roundings push the same way, so a difference
  above it cannot be explained by rounding at all.
* ``duration_sum``: for a table with a ``total_dur_s`` column and a dataset duration stated in the text
  (transcribed under table "text"), the sum of the column against that duration. Informational: in a
  polyphonic dataset the summed event durations may exceed the recording time (overlaps) or fall short of
  it (silence), so a mismatch is not by itself an error; the ratio is the implied mean polyphony over
  event-covered time only if there were no silence.
* ``implied_events``: total_dur / avg_dur per class, with the interval allowed by the one-decimal
  ``avg_dur_s`` and integer ``total_dur_s`` rounding. The paper prints no event counts, so this can only be
  checked for the existence of an integer count in the interval (always true at this precision); it is
  listed so the counts can be compared with the dataset's own metadata.
* Not checkable from the paper: the "Overall" (micro) rows, which need per-class segment counts that the
  paper does not print.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from . import cli, papers
from .io import fail, write_text
from .papers import AVERAGE, OVERALL, TableSpec, check_paper_values, load_paper_values

log = logging.getLogger("sedrepro.audit")

EPS = 1e-6
ROUNDING_TOL = 0.05 + EPS
COMBINED_TOL = 0.10 + EPS


@dataclass(frozen=True)
class Finding:
    table: str
    check: str  # average_row | duration_sum | implied_events
    column: str
    printed: float | None
    recomputed: float | None
    difference: float | None  # printed - recomputed
    flagged: bool
    detail: str


def _average_findings(spec: TableSpec, pv: pd.Series) -> list[Finding]:
    out = []
    class_labels = [label for label, _ in spec.class_rows]
    avg_label = next((label for label, key in spec.rows if key == AVERAGE), None)
    if avg_label is None:
        return out
    for _header, col in spec.model_columns:
        vals = [float(pv[(label, col)]) for label in class_labels]
        recomputed = sum(vals) / len(vals)
        printed = float(pv[(avg_label, col)])
        diff = printed - recomputed
        beyond = abs(diff) > ROUNDING_TOL
        severe = abs(diff) > COMBINED_TOL
        detail = (f"mean of {len(vals)} printed class values = {recomputed:.4f}; printed {avg_label} = {printed:.1f}; "
                  + ("beyond the worst-case combined rounding (0.10)" if severe
                     else "beyond the printed value's rounding (0.05) but within combined rounding (0.10)" if beyond
                     else "within rounding"))
        out.append(Finding(spec.name, "average_row", col, printed, recomputed, diff, beyond, detail))
    return out


def _duration_findings(spec: TableSpec, pv: pd.Series, paper_values: pd.DataFrame, ref: tuple[str, str, str] | None) -> list[Finding]:
    out = []
    if "total_dur_s" not in spec.stats:
        return out
    totals = [float(pv[(label, "total_dur_s")]) for label, _ in spec.class_rows]
    total_s = sum(totals)
    if ref is not None:
        t, r, c = ref
        hit = paper_values[(paper_values["table"] == t) & (paper_values["row"] == r) & (paper_values["column"] == c)]
        if hit.empty:
            raise fail("paper values", f"the stated dataset duration ({t}, {r}, {c})", "no such line")
        stated_min = float(hit["value"].iloc[0])
        stated_s = stated_min * 60.0
        diff = total_s / 60.0 - stated_min
        out.append(Finding(
            spec.name, "duration_sum", "total_dur_s", stated_min, total_s / 60.0, -diff, abs(diff) > 0.5,
            f"sum of {len(totals)} printed class totals = {total_s:.0f} s = {total_s / 60:.1f} min vs stated "
            f"{stated_min:g} min ({stated_s:.0f} s): ratio {total_s / stated_s:.3f}. Summed event durations count "
            "overlapping events once per class, so they can exceed the recording time in a polyphonic dataset; "
            "the mismatch is informational, not proof of an error.",
        ))
    if "avg_dur_s" in spec.stats:
        for label, _ in spec.class_rows:
            total = float(pv[(label, "total_dur_s")])
            avg = float(pv[(label, "avg_dur_s")])
            if avg <= 0.05:
                continue
            lo = math.ceil((total - 0.5) / (avg + 0.05))
            hi = math.floor((total + 0.5) / (avg - 0.05))
            out.append(Finding(
                spec.name, "implied_events", label, None, total / avg, None, lo > hi,
                f"{total:.0f} s / {avg:.1f} s = {total / avg:.1f} events; rounding allows {lo}..{hi}"
                + ("" if lo <= hi else " (no integer count fits: inconsistent)"),
            ))
    return out


def audit(spec_tables: Sequence[TableSpec], paper_values: pd.DataFrame,
          dataset_durations: Mapping[str, tuple[str, str, str]] | None = None) -> list[Finding]:
    """All findings for the given tables, computed from the transcribed paper values only."""
    findings: list[Finding] = []
    for spec in spec_tables:
        check_paper_values(spec, paper_values)
        pv = paper_values[paper_values["table"] == spec.name].set_index(["row", "column"])["value"]
        findings += _average_findings(spec, pv)
        findings += _duration_findings(spec, pv, paper_values, (dataset_durations or {}).get(spec.name))
    return findings


def _f(x: float | None, d: int = 2, sign: bool = False) -> str:
    if x is None:
        return ""
    text = f"{x:+.{d}f}" if sign else f"{x:.{d}f}"
    return text.replace("+0.00", "0.00").replace("-0.00", "0.00") if float(text) == 0 else text


def markdown(findings: Sequence[Finding], spec_tables: Sequence[TableSpec], paper: str, source: str) -> str:
    headers = {s.name: s for s in spec_tables}
    lines = [f"# Audit of the published tables: {paper}", "",
             f"Every number below is computed from `{source}`; nothing is typed in by hand.", ""]
    avg = [f for f in findings if f.check == "average_row"]
    if avg:
        flagged = [f for f in avg if f.flagged]
        lines += ["## Average rows vs mean of the printed class values", "",
                  f"Flagged when |printed - recomputed| > 0.05 (the printed value's own rounding); up to 0.10 can "
                  f"still come from rounding both sides. {len(flagged)} of {len(avg)} flagged.", "",
                  "| table | column | printed Average | mean of classes | printed - mean | flag |",
                  "|:---|:---|---:|---:|---:|:---|"]
        for f in avg:
            flag = ("> 0.10" if abs(f.difference) > COMBINED_TOL else "> 0.05") if f.flagged else ""
            col = f"{headers[f.table].column_header(f.column)} ({f.column})"
            lines.append(f"| {f.table} | {col} | {f.printed:.1f} | {f.recomputed:.3f} | {_f(f.difference, 3, True)} | {flag} |")
        lines.append("")
    dur = [f for f in findings if f.check == "duration_sum"]
    if dur:
        lines += ["## Total duration column vs the dataset duration stated in the text", ""]
        lines += [f"- {f.table}: {f.detail}" for f in dur] + [""]
    imp = [f for f in findings if f.check == "implied_events"]
    if imp:
        total = sum(f.recomputed for f in imp)
        lines += ["## Events implied by Total dur. / Avg. dur. per event", "",
                  "The paper prints no event counts, so these cannot be checked against it; with one-decimal "
                  "averages every class admits a range of integer counts. Listed for comparison with the "
                  f"dataset's own annotations (sum of implied counts: {total:.0f}).", "",
                  "| table | class | implied events | allowed by rounding |", "|:---|:---|---:|---:|"]
        for f in imp:
            rng = f.detail.split("rounding allows ")[1]
            lines.append(f"| {f.table} | {f.column} | {f.recomputed:.1f} | {rng} |")
        lines.append("")
    lines += ["## Not checkable from the paper", "",
              f"- {OVERALL} rows: micro-averaged F1 needs per-class segment counts (reference and system), which "
              "are not printed.",
              "- Event counts per class: not printed (see the implied counts above).",
              "- Tables without duration columns: no dataset statistics to cross-check.", ""]
    return "\n".join(lines)


def build_parser():
    p = cli.parser("Audit the internal consistency of a paper's published tables.")
    p.add_argument("--paper", required=True, help=f"one of {', '.join(papers.NAMES)}")
    p.add_argument("--paper-values", required=True, help="transcribed paper-values TSV")
    p.add_argument("--out", required=True, help="audit.md to write")
    return p


def main(args) -> None:
    mod = papers.get(args.paper)
    pv = load_paper_values(args.paper_values)
    findings = audit(mod.TABLES, pv, getattr(mod, "DATASET_DURATIONS", None))
    write_text(args.out, markdown(findings, mod.TABLES, args.paper, str(Path(args.paper_values))))
    n = sum(f.flagged for f in findings if f.check == "average_row")
    log.info("wrote %s: %d findings, %d Average rows flagged", args.out, len(findings), n)


__all__ = ["Finding", "audit", "markdown", "main"]

if __name__ == "__main__":
    cli.run(main, build_parser())
