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

Checks for papers whose module declares them (the dessed paper):

* ``count_sum`` (``COUNT_TOTALS``): the sum of a count table against the total the text states.
* ``bytes_per_parameter`` (``SIZE_TABLE``): the printed on-disk size over the printed parameter count, against
  the 4 bytes a float32 weight needs (below 1 byte per parameter no weight format can hold the model).
* ``claim`` (``CLAIMS``): ratios, reductions and values the text claims, recomputed from the table they summarise;
  flagged beyond ``CLAIM_TOLERANCE`` (prose says "about", "times").
* ``cross_paper_events`` (``CROSS_PAPER_EVENTS``): a per-class event count against another paper's
  total / mean event duration of the same dataset, with the interval that paper's rounding allows.
* ``annotation_events`` (``ANNOTATION_COUNTS``): the printed counts against the events of the dataset index
  this run uses (the embedded stand-in by default: then the comparison only shows the check runs).
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
from .papers import AVERAGE, OVERALL, TableSpec, check_paper_values, load_paper_values, paper_value

log = logging.getLogger("sedrepro.audit")

EPS = 1e-6
ROUNDING = 0.05  # half a unit of one printed decimal; the audit's text and flags are written from it
ROUNDING_TOL = ROUNDING + EPS
COMBINED_TOL = 2 * ROUNDING + EPS
FLOAT32_BYTES = 4  # a trained weight as Keras and PyTorch store it
MIN_BYTES_PER_PARAMETER = 1  # even 8-bit quantised weights need a byte each
KB = 1024
CLAIM_TOLERANCE = 0.25  # relative; prose claims ("about 7 times") are rough, so only a gross mismatch is flagged
NOT_CHECKABLE = (
    f"{OVERALL} rows: micro-averaged F1 needs per-class segment counts (reference and system), which "
    "are not printed.",
    "Event counts per class: not printed (see the implied counts above).",
    "Tables without duration columns: no dataset statistics to cross-check.",
)


@dataclass(frozen=True)
class Finding:
    table: str
    check: str  # average_row | duration_sum | implied_events | count_sum | bytes_per_parameter | claim | ...
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
                  + (f"beyond the worst-case combined rounding ({2 * ROUNDING:.2f})" if severe
                     else f"beyond the printed value's rounding ({ROUNDING:.2f}) but within combined rounding "
                     f"({2 * ROUNDING:.2f})" if beyond
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


def _cells(spec: TableSpec, paper_values: pd.DataFrame) -> pd.Series:
    check_paper_values(spec, paper_values)
    return paper_values[paper_values["table"] == spec.name].set_index(["row", "column"])["value"]


def _count_column(spec: TableSpec) -> str:
    if len(spec.stats) != 1:
        raise fail(f"TableSpec {spec.name}", "one count column", f"columns {spec.stats}")
    return spec.stats[0]


def count_sum_findings(specs: Mapping[str, TableSpec], paper_values: pd.DataFrame,
                       totals: Mapping[str, tuple[str, str, str]]) -> list[Finding]:
    """The sum of each count table against the total its text states."""
    out = []
    for name, ref in totals.items():
        spec = specs[name]
        pv, col = _cells(spec, paper_values), _count_column(spec)
        total = sum(float(pv[(label, col)]) for label, _ in spec.class_rows)
        stated = paper_value(paper_values, *ref)
        out.append(Finding(name, "count_sum", col, stated, total, stated - total, stated != total,
                           f"sum of {len(spec.class_rows)} printed counts = {total:.0f}; the text ({ref[1]}) states "
                           f"{stated:.0f}" + (": equal" if stated == total else f": differs by {stated - total:+.0f}")))
    return out


def size_findings(spec: TableSpec, paper_values: pd.DataFrame, params_col: str, size_col: str) -> list[Finding]:
    """Bytes per parameter implied by each row's printed size and parameter count."""
    pv = _cells(spec, paper_values)
    out = []
    for label, _ in spec.model_columns:
        params, size_kb = float(pv[(label, params_col)]), float(pv[(label, size_col)])
        size_b = size_kb * KB
        per = size_b / params
        need_mb = params * FLOAT32_BYTES / 1e6
        out.append(Finding(
            spec.name, "bytes_per_parameter", label, size_kb, need_mb * 1e6 / KB, None, per < MIN_BYTES_PER_PARAMETER,
            f"{params:.0f} parameters x {FLOAT32_BYTES} bytes (float32) = {need_mb:.1f} MB; printed {size_kb:g} KB = "
            f"{size_b:.0f} bytes = {per:.4f} bytes per parameter, {params * FLOAT32_BYTES / size_b:.0f}x too small"
            if per < FLOAT32_BYTES else f"{per:.2f} bytes per parameter"))
    return out


def claim_findings(spec: TableSpec, paper_values: pd.DataFrame, claims: Sequence[tuple]) -> list[Finding]:
    """Each claim of the text (ratio or % reduction) against the same quantity computed from the table."""
    pv = _cells(spec, paper_values)
    out = []
    for text_row, text_col, kind, (num_row, num_col), den in claims:
        claimed = paper_value(paper_values, "text", text_row, text_col)
        a = float(pv[(num_row, num_col)])
        if kind == "value":  # a number the text restates, e.g. a training time in words
            value, how = a, f"{num_row} {num_col} = {a:g}"
        else:
            den_row, den_col = den
            b = float(pv[(den_row, den_col)])
            value = a / b if kind == "ratio" else 100.0 * (1.0 - a / b)
            how = (f"{num_row} {num_col} / {den_row} {den_col} = {a:g} / {b:g} = {value:.2f}" if kind == "ratio"
                   else f"1 - {num_row} {num_col} / {den_row} {den_col} = 1 - {a:g} / {b:g} = {value:.1f} %")
        off = abs(value - claimed) / claimed
        out.append(Finding(spec.name, "claim", text_row, claimed, value, claimed - value, off > CLAIM_TOLERANCE,
                           f"{how}; the text says {claimed:g}" + (" %" if kind == "reduction" else "")
                           + (f": off by {off:.0%}" if off > CLAIM_TOLERANCE else ": consistent")))
    return out


def _implied_interval(total: float, avg: float) -> tuple[int, int]:
    """Integer event counts allowed by an integer total and a one-decimal mean duration."""
    return math.ceil((total - 0.5) / (avg + 0.05)), math.floor((total + 0.5) / (avg - 0.05))


def cross_paper_findings(spec: TableSpec, paper_values: pd.DataFrame, other: TableSpec, other_values: pd.DataFrame,
                         other_name: str) -> list[Finding]:
    """Per class: this table's printed count against the other paper's total / mean duration of the same class."""
    pv, col = _cells(spec, paper_values), _count_column(spec)
    opv = _cells(other, other_values)
    other_rows = {key: label for label, key in other.class_rows}
    out = []
    for label, key in spec.class_rows:
        if key not in other_rows:
            raise fail(f"{other_name} {other.name}", f"a row for class {key!r}", "none")
        olabel = other_rows[key]
        total, avg = float(opv[(olabel, "total_dur_s")]), float(opv[(olabel, "avg_dur_s")])
        count = float(pv[(label, col)])
        lo, hi = _implied_interval(total, avg)
        out.append(Finding(spec.name, "cross_paper_events", key, count, total / avg, count - total / avg,
                           not lo <= count <= hi,
                           f"{other_name} {other.name} {olabel}: {total:.0f} s / {avg:.1f} s = {total / avg:.1f} events "
                           f"(rounding allows {lo}..{hi}); printed {count:.0f} = {count * avg:.0f} s at that mean duration"))
    return out


def annotation_findings(spec: TableSpec, paper_values: pd.DataFrame, events: pd.DataFrame) -> list[Finding]:
    """Per class: the printed count against the number of events of that class in the index."""
    pv, col = _cells(spec, paper_values), _count_column(spec)
    counts = events["label"].value_counts()
    out = []
    for label, key in spec.class_rows:
        printed, found = float(pv[(label, col)]), float(counts.get(key, 0))
        out.append(Finding(spec.name, "annotation_events", key, printed, found, printed - found, printed != found,
                           f"printed {printed:.0f}, annotated {found:.0f}"))
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


def markdown(findings: Sequence[Finding], spec_tables: Sequence[TableSpec], paper: str, source: str,
             not_checkable: Sequence[str] = NOT_CHECKABLE, data_note: str | None = None) -> str:
    headers = {s.name: s for s in spec_tables}
    lines = [f"# Audit of the published tables: {paper}", "",
             f"Every number below is computed from `{source}`; nothing is typed in by hand.", ""]
    lines += _extra_sections(findings, data_note)
    avg = [f for f in findings if f.check == "average_row"]
    if avg:
        flagged = [f for f in avg if f.flagged]
        lines += ["## Average rows vs mean of the printed class values", "",
                  f"Flagged when |printed - recomputed| > {ROUNDING:.2f}: `> {ROUNDING:.2f}` is beyond the printed "
                  f"value's own rounding but within the {2 * ROUNDING:.2f} that rounding both sides can give; "
                  f"`> {2 * ROUNDING:.2f}` is beyond both, so rounding cannot explain it. "
                  f"{len(flagged)} of {len(avg)} flagged.", "",
                  "| table | column | printed Average | mean of classes | printed - mean | flag |",
                  "|:---|:---|---:|---:|---:|:---|"]
        for f in avg:
            flag = f"> {2 * ROUNDING if abs(f.difference) > COMBINED_TOL else ROUNDING:.2f}" if f.flagged else ""
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
    lines += ["## Not checkable from the paper", ""] + [f"- {n}" for n in not_checkable] + [""]
    return "\n".join(lines)


def _extra_sections(findings: Sequence[Finding], data_note: str | None) -> list[str]:
    """Sections of the checks declared by a paper module (none for the hypernetworks paper)."""
    lines: list[str] = []
    sums = [f for f in findings if f.check == "count_sum"]
    if sums:
        lines += ["## Count tables vs the totals stated in the text", ""] + [f"- {f.table}: {f.detail}" for f in sums] + [""]
    size = [f for f in findings if f.check == "bytes_per_parameter"]
    if size:
        lines += ["## Model size on disk vs number of parameters", "",
                  f"A trained weight takes {FLOAT32_BYTES} bytes as float32; below {MIN_BYTES_PER_PARAMETER} byte per "
                  f"parameter no weight format can hold the model. {sum(f.flagged for f in size)} of {len(size)} rows "
                  "cannot hold their parameters.", "",
                  "| table | model | printed size (KB) | float32 size (KB) | finding |", "|:---|:---|---:|---:|:---|"]
        lines += [f"| {f.table} | {f.column} | {f.printed:g} | {f.recomputed:.0f} | {f.detail} |" for f in size] + [""]
    claims = [f for f in findings if f.check == "claim"]
    if claims:
        lines += ["## Claims of the text recomputed from the table", "",
                  f"Flagged when the recomputed value is more than {CLAIM_TOLERANCE:.0%} away from the claim. "
                  f"{sum(f.flagged for f in claims)} of {len(claims)} flagged.", "",
                  "| claim | stated | recomputed | how | flag |", "|:---|---:|---:|:---|:---|"]
        lines += [f"| {f.column} | {f.printed:g} | {f.recomputed:.2f} | {f.detail} | {'yes' if f.flagged else ''} |"
                  for f in claims] + [""]
    cross = [f for f in findings if f.check == "cross_paper_events"]
    if cross:
        agree = sum(not f.flagged for f in cross)
        printed, implied = sum(f.printed for f in cross), sum(f.recomputed for f in cross)
        lines += ["## Event counts vs another paper's durations of the same dataset", "",
                  f"{agree} of {len(cross)} classes agree (count within the interval the other paper's rounding "
                  f"allows). Printed counts sum to {printed:.0f}, implied counts to {implied:.0f} "
                  f"(ratio {printed / implied:.2f}).", "",
                  "| class | printed count | implied count | printed / implied | detail |", "|:---|---:|---:|---:|:---|"]
        lines += [f"| {f.column} | {f.printed:.0f} | {f.recomputed:.1f} | {f.printed / f.recomputed:.2f} | {f.detail} |"
                  for f in cross] + [""]
    ann = [f for f in findings if f.check == "annotation_events"]
    if ann:
        agree = sum(not f.flagged for f in ann)
        lines += ["## Event counts vs the annotations of this run's dataset index", "",
                  f"Annotations: {data_note or 'the dataset index given'}. {agree} of {len(ann)} classes match; "
                  f"printed total {sum(f.printed for f in ann):.0f}, annotated total {sum(f.recomputed for f in ann):.0f}.",
                  "", "| class | printed | annotated | printed - annotated |", "|:---|---:|---:|---:|"]
        lines += [f"| {f.column} | {f.printed:.0f} | {f.recomputed:.0f} | {f.difference:+.0f} |" for f in ann] + [""]
        if cross:
            implied = {f.column: f.recomputed for f in cross}
            lines += ["Annotated vs implied by the other paper's durations: " + ", ".join(
                f"{f.column} {f.recomputed:.0f}/{implied[f.column]:.0f}" for f in ann if f.column in implied) + ".", ""]
    return lines


def build_parser():
    p = cli.parser("Audit the internal consistency of a paper's published tables.")
    p.add_argument("--paper", required=True, help=f"one of {', '.join(papers.NAMES)}")
    p.add_argument("--paper-values", required=True, help="transcribed paper-values TSV")
    p.add_argument("--out", required=True, help="audit.md to write")
    p.add_argument("--cross-paper-values", help="paper-values TSV of the paper named in the module's CROSS_PAPER_EVENTS")
    p.add_argument("--index", help="dataset index folder whose events.tsv the ANNOTATION_COUNTS table is checked against")
    p.add_argument("--data-note", help="which data the index holds (embedded synthetic stand-in or real)")
    return p


def main(args) -> None:
    mod = papers.get(args.paper)
    pv = load_paper_values(args.paper_values)
    findings = audit(mod.TABLES, pv, getattr(mod, "DATASET_DURATIONS", None))
    findings += declared_findings(mod, pv, args.cross_paper_values, args.index)
    sources = [str(Path(p)) for p in (args.paper_values, args.cross_paper_values) if p]
    if args.index and getattr(mod, "ANNOTATION_COUNTS", None):
        sources.append(str(Path(args.index) / "events.tsv"))
    write_text(args.out, markdown(findings, mod.TABLES, args.paper, "`, `".join(sources),
                                  getattr(mod, "NOT_CHECKABLE", NOT_CHECKABLE), args.data_note))
    n = sum(f.flagged for f in findings if f.check == "average_row")
    log.info("wrote %s: %d findings, %d Average rows flagged", args.out, len(findings), n)


def declared_findings(mod, paper_values: pd.DataFrame, cross_values_path: str | None = None,
                      index_dir: str | None = None) -> list[Finding]:
    """Findings of the checks a paper module declares (COUNT_TOTALS, SIZE_TABLE, CLAIMS, CROSS_PAPER_EVENTS,
    ANNOTATION_COUNTS); the cross-paper and annotation checks need their inputs."""
    specs = {s.name: s for s in mod.TABLES}
    out = count_sum_findings(specs, paper_values, getattr(mod, "COUNT_TOTALS", {}))
    size = getattr(mod, "SIZE_TABLE", None)
    if size:
        out += size_findings(specs[size[0]], paper_values, size[1], size[2])
        claims = getattr(mod, "CLAIMS", ())
        if claims:
            out += claim_findings(specs[size[0]], paper_values, claims)
    cross = getattr(mod, "CROSS_PAPER_EVENTS", None)
    if cross:
        if not cross_values_path:
            raise fail("--cross-paper-values", f"the paper-values TSV of {cross[0]!r}", "none")
        other = papers.table(cross[0], cross[1])
        out += cross_paper_findings(specs[cross[2]], paper_values, other, load_paper_values(cross_values_path), cross[0])
    name = getattr(mod, "ANNOTATION_COUNTS", None)
    if name:
        if not index_dir:
            raise fail("--index", f"the index of {specs[name].dataset} (its events.tsv)", "none")
        from .datasets.base import DatasetIndex  # late: only this check needs the dataset layer

        out += annotation_findings(specs[name], paper_values, DatasetIndex.read(Path(index_dir)).events)
    return out


__all__ = ["Finding", "audit", "declared_findings", "markdown", "main"]

if __name__ == "__main__":
    cli.run(main, build_parser())
