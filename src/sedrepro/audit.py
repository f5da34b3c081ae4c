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
* ``duration_sum`` (``dataset_durations``): for a table with a ``total_dur_s`` column and a dataset duration
  stated in the text (transcribed under table "text"), the sum of the column against that duration. Informational: in a
  polyphonic dataset the summed event durations may exceed the recording time (overlaps) or fall short of
  it (silence), so a mismatch is not by itself an error; the ratio is the implied mean polyphony over
  event-covered time only if there were no silence.
* ``implied_events``: total_dur / avg_dur per class, with the interval allowed by the one-decimal
  ``avg_dur_s`` and integer ``total_dur_s`` rounding. The paper prints no event counts, so this can only be
  checked for the existence of an integer count in the interval (always true at this precision); it is
  listed so the counts can be compared with the dataset's own metadata.
* Not checkable from the paper: what the paper's ``not_checkable`` lists (for the hypernetworks paper the
  "Overall" (micro) rows, which need per-class segment counts that the paper does not print).

Checks for papers that declare them (fields of ``papers.Paper``; the dessed paper, ``text_claim`` both papers):

* ``count_sum`` (``count_totals``): the sum of a count table against the total the text states.
* ``bytes_per_parameter`` (``size_table``): the printed on-disk size over the printed parameter count, against
  the 4 bytes a float32 weight needs (below 1 byte per parameter no weight format can hold the model).
* ``claim`` (kinds value / ratio / reduction of ``text_claims``): ratios, reductions and values the text claims,
  recomputed from the table they summarise; flagged beyond ``CLAIM_TOLERANCE`` (prose says "about", "times").
* ``cross_paper_events`` (``cross_paper_events``): a per-class event count against another paper's
  total / mean event duration of the same dataset, with the interval that paper's rounding allows.
* ``annotation_events`` (``annotation_counts``): the printed counts against the events of the dataset index
  this run uses (the embedded stand-in by default: then the comparison only shows the check runs).
* ``text_claim`` (``text_claims``, a claims TSV: see sedrepro.claims): every other numeric statement of the text and
  captions, recomputed from the tables, from the dataset indexes this run uses, or by arithmetic; claimed vs
  computed, the difference and the tolerance. Statements that cannot be checked join the "not checkable" list with
  the reason transcribed beside them.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from . import claims as text_claims
from . import cli, page, papers, provenance
from .io import fail, write_text
from .papers import AVERAGE, Paper, TableSpec, check_paper_values, load_paper_values, paper_value

log = logging.getLogger("sedrepro.audit")

EPS = 1e-6
ROUNDING = 0.05  # half a unit of one printed decimal; the audit's text and flags are written from it
ROUNDING_TOL = ROUNDING + EPS
COMBINED_TOL = 2 * ROUNDING + EPS
FLOAT32_BYTES = 4  # a trained weight as Keras and PyTorch store it
MIN_BYTES_PER_PARAMETER = 1  # even 8-bit quantised weights need a byte each
KB = 1024
CLAIM_TOLERANCE = text_claims.CLAIM_TOLERANCE


@dataclass(frozen=True)
class Finding:
    table: str  # for a text_claim: where the statement is in the paper
    check: str  # average_row | duration_sum | implied_events | count_sum | bytes_per_parameter | claim | ...
    column: str
    printed: float | None
    recomputed: float | None
    difference: float | None  # printed - recomputed
    flagged: bool
    detail: str
    # text_claim findings only: the statement and how it was judged
    quote: str = ""
    claimed: str = ""  # as printed ("0.015", "3..4")
    relation: str = ""
    source: str = ""  # tables | dataset index | arithmetic
    tolerance: str = ""


def _average_findings(spec: TableSpec, pv: pd.Series) -> list[Finding]:
    out = []
    class_labels = [label for label, _ in spec.class_rows]
    avg_label = next((label for label, key in spec.rows if key == AVERAGE), None)
    if avg_label is None or not class_labels:  # an Average row alone (a table of averages) has nothing to check
        return out
    for _header, col in spec.model_columns:
        vals = [float(pv[(label, col)]) for label in class_labels]
        recomputed = sum(vals) / len(vals)
        printed = float(pv[(avg_label, col)])
        diff = printed - recomputed
        beyond = abs(diff) > ROUNDING_TOL
        severe = abs(diff) > COMBINED_TOL
        detail = (
            f"mean of {len(vals)} printed class values = {recomputed:.4f}; printed {avg_label} = {printed:.1f}; "
            + (
                f"beyond the worst-case combined rounding ({2 * ROUNDING:.2f})"
                if severe
                else f"beyond the printed value's rounding ({ROUNDING:.2f}) but within combined rounding "
                f"({2 * ROUNDING:.2f})"
                if beyond
                else "within rounding"
            )
        )
        out.append(Finding(spec.name, "average_row", col, printed, recomputed, diff, beyond, detail))
    return out


def _duration_findings(
    spec: TableSpec, pv: pd.Series, paper_values: pd.DataFrame, ref: tuple[str, str, str] | None
) -> list[Finding]:
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
        out.append(
            Finding(
                spec.name,
                "duration_sum",
                "total_dur_s",
                stated_min,
                total_s / 60.0,
                -diff,
                abs(diff) > 0.5,
                f"sum of {len(totals)} printed class totals = {total_s:.0f} s = {total_s / 60:.1f} min vs stated "
                f"{stated_min:g} min ({stated_s:.0f} s): ratio {total_s / stated_s:.3f}. Summed event durations count "
                "overlapping events once per class, so they can exceed the recording time in a polyphonic dataset; "
                "the mismatch is informational, not proof of an error.",
            )
        )
    if "avg_dur_s" in spec.stats:
        for label, _ in spec.class_rows:
            total = float(pv[(label, "total_dur_s")])
            avg = float(pv[(label, "avg_dur_s")])
            if avg <= 0.05:
                continue
            lo = math.ceil((total - 0.5) / (avg + 0.05))
            hi = math.floor((total + 0.5) / (avg - 0.05))
            out.append(
                Finding(
                    spec.name,
                    "implied_events",
                    label,
                    None,
                    total / avg,
                    None,
                    lo > hi,
                    f"{total:.0f} s / {avg:.1f} s = {total / avg:.1f} events; rounding allows {lo}..{hi}"
                    + ("" if lo <= hi else " (no integer count fits: inconsistent)"),
                )
            )
    return out


def _cells(spec: TableSpec, paper_values: pd.DataFrame) -> pd.Series:
    check_paper_values(spec, paper_values)
    return paper_values[paper_values["table"] == spec.name].set_index(["row", "column"])["value"]


def _count_column(spec: TableSpec) -> str:
    if len(spec.stats) != 1:
        raise fail(f"TableSpec {spec.name}", "one count column", f"columns {spec.stats}")
    return spec.stats[0]


def count_sum_findings(
    specs: Mapping[str, TableSpec], paper_values: pd.DataFrame, totals: Mapping[str, tuple[str, str, str]]
) -> list[Finding]:
    """The sum of each count table against the total its text states."""
    out = []
    for name, ref in totals.items():
        spec = specs[name]
        pv, col = _cells(spec, paper_values), _count_column(spec)
        total = sum(float(pv[(label, col)]) for label, _ in spec.class_rows)
        stated = paper_value(paper_values, *ref)
        out.append(
            Finding(
                name,
                "count_sum",
                col,
                stated,
                total,
                stated - total,
                stated != total,
                f"sum of {len(spec.class_rows)} printed counts = {total:.0f}; the text ({ref[1]}) states "
                f"{stated:.0f}" + (": equal" if stated == total else f": differs by {stated - total:+.0f}"),
            )
        )
    return out


def size_findings(spec: TableSpec, paper_values: pd.DataFrame, params_col: str, size_col: str) -> list[Finding]:
    """Bytes per parameter implied by each model row's printed size and parameter count (not of cited rows: other
    works' results the paper only quotes)."""
    pv = _cells(spec, paper_values)
    out = []
    for label, _ in spec.model_columns:
        params, size_kb = float(pv[(label, params_col)]), float(pv[(label, size_col)])
        size_b = size_kb * KB
        per = size_b / params
        need_mb = params * FLOAT32_BYTES / 1e6
        out.append(
            Finding(
                spec.name,
                "bytes_per_parameter",
                label,
                size_kb,
                need_mb * 1e6 / KB,
                None,
                per < MIN_BYTES_PER_PARAMETER,
                f"{params:.0f} parameters x {FLOAT32_BYTES} bytes (float32) = {need_mb:.1f} MB; printed {size_kb:g} KB = "
                f"{size_b:.0f} bytes = {per:.4f} bytes per parameter, {params * FLOAT32_BYTES / size_b:.0f}x too small"
                if per < FLOAT32_BYTES
                else f"{per:.2f} bytes per parameter",
            )
        )
    return out


def claim_findings(claims: Sequence[text_claims.Claim], ctx: text_claims.Context) -> list[Finding]:
    """Each checkable statement of the text recomputed: value / ratio / reduction claims in the first audit's
    format (check "claim"), every other one as a text_claim with claimed vs computed and the tolerance."""
    out = []
    for claim in claims:
        if not claim.checkable:
            continue
        r = text_claims.evaluate(claim, ctx)
        lo = claim.bounds[0]
        if claim.kind in text_claims.LEGACY_KINDS:
            detail, value = text_claims.legacy_detail(r)
            out.append(Finding(r.cells[0][0], "claim", claim.label, lo, value, lo - value, r.flagged, detail))
            continue
        detail = r.how + (f"; reading: {claim.note}" if claim.note else "")
        out.append(
            Finding(
                claim.where,
                "text_claim",
                claim.label,
                lo,
                r.computed,
                -r.delta,
                r.flagged,
                detail,
                quote=claim.quote,
                claimed=claim.claimed,
                relation=claim.relation,
                source=r.source,
                tolerance=r.tolerance_text,
            )
        )
    return out


def _implied_interval(total: float, avg: float) -> tuple[int, int]:
    """Integer event counts allowed by an integer total and a one-decimal mean duration."""
    return math.ceil((total - 0.5) / (avg + 0.05)), math.floor((total + 0.5) / (avg - 0.05))


def cross_paper_findings(
    spec: TableSpec, paper_values: pd.DataFrame, other: TableSpec, other_values: pd.DataFrame, other_name: str
) -> list[Finding]:
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
        out.append(
            Finding(
                spec.name,
                "cross_paper_events",
                key,
                count,
                total / avg,
                count - total / avg,
                not lo <= count <= hi,
                f"{other_name} {other.name} {olabel}: {total:.0f} s / {avg:.1f} s = {total / avg:.1f} events "
                f"(rounding allows {lo}..{hi}); printed {count:.0f} = {count * avg:.0f} s at that mean duration",
            )
        )
    return out


def annotation_findings(spec: TableSpec, paper_values: pd.DataFrame, events: pd.DataFrame) -> list[Finding]:
    """Per class: the printed count against the number of events of that class in the index."""
    pv, col = _cells(spec, paper_values), _count_column(spec)
    counts = events["label"].value_counts()
    out = []
    for label, key in spec.class_rows:
        printed, found = float(pv[(label, col)]), float(counts.get(key, 0))
        out.append(
            Finding(
                spec.name,
                "annotation_events",
                key,
                printed,
                found,
                printed - found,
                printed != found,
                f"printed {printed:.0f}, annotated {found:.0f}",
            )
        )
    return out


def audit(
    spec_tables: Sequence[TableSpec],
    paper_values: pd.DataFrame,
    dataset_durations: Mapping[str, tuple[str, str, str]] | None = None,
) -> list[Finding]:
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


def audit_page(
    findings: Sequence[Finding],
    spec_tables: Sequence[TableSpec],
    paper: str,
    source: str,
    not_checkable: Sequence[str] = (),
    data_note: str | None = None,
    index_notes: Mapping[str, str] | None = None,
) -> list[page.Block]:
    """The audit's sections, for the Markdown and the HTML file alike."""
    headers = {s.name: s for s in spec_tables}
    blocks: list[page.Block] = [
        page.Heading(1, f"Audit of the published tables: {paper}"),
        page.Paragraph(f"Every number below is computed from `{source}`; nothing is typed in by hand."),
    ]
    blocks += _extra_sections(findings, data_note)
    avg = [f for f in findings if f.check == "average_row"]
    if avg:
        flagged = [f for f in avg if f.flagged]
        rows = []
        for f in avg:
            flag = f"> {2 * ROUNDING if abs(f.difference) > COMBINED_TOL else ROUNDING:.2f}" if f.flagged else ""
            col = f"{headers[f.table].column_header(f.column)} ({f.column})"
            rows.append([f.table, col, f"{f.printed:.1f}", f"{f.recomputed:.3f}", _f(f.difference, 3, True), flag])
        blocks += [
            page.Heading(2, "Average rows vs mean of the printed class values"),
            page.Paragraph(
                f"Flagged when |printed - recomputed| > {ROUNDING:.2f}: `> {ROUNDING:.2f}` is beyond "
                f"the printed value's own rounding but within the {2 * ROUNDING:.2f} that rounding "
                f"both sides can give; `> {2 * ROUNDING:.2f}` is beyond both, so rounding cannot "
                f"explain it. {len(flagged)} of {len(avg)} flagged."
            ),
            page.Table(
                ["table", "column", "printed Average", "mean of classes", "printed - mean", "flag"], rows, "llrrrl"
            ),
        ]
    dur = [f for f in findings if f.check == "duration_sum"]
    if dur:
        blocks += [
            page.Heading(2, "Total duration column vs the dataset duration stated in the text"),
            page.Bullets([f"{f.table}: {f.detail}" for f in dur]),
        ]
    imp = [f for f in findings if f.check == "implied_events"]
    if imp:
        total = sum(f.recomputed for f in imp)
        blocks += [
            page.Heading(2, "Events implied by Total dur. / Avg. dur. per event"),
            page.Paragraph(
                "The paper prints no event counts, so these cannot be checked against it; with "
                "one-decimal averages every class admits a range of integer counts. Listed for "
                "comparison with the dataset's own annotations (sum of implied counts: "
                f"{total:.0f})."
            ),
            page.Table(
                ["table", "class", "implied events", "allowed by rounding"],
                [[f.table, f.column, f"{f.recomputed:.1f}", f.detail.split("rounding allows ")[1]] for f in imp],
                "llrr",
            ),
        ]
    blocks += _text_claim_section(findings, index_notes or {})
    if not_checkable:
        blocks += [page.Heading(2, "Not checkable from the paper"), page.Bullets(not_checkable)]
    return blocks


def markdown(
    findings: Sequence[Finding],
    spec_tables: Sequence[TableSpec],
    paper: str,
    source: str,
    not_checkable: Sequence[str] = (),
    data_note: str | None = None,
    index_notes: Mapping[str, str] | None = None,
) -> str:
    return page.markdown(audit_page(findings, spec_tables, paper, source, not_checkable, data_note, index_notes))


def html(
    findings: Sequence[Finding],
    spec_tables: Sequence[TableSpec],
    paper: str,
    source: str,
    not_checkable: Sequence[str] = (),
    data_note: str | None = None,
    index_notes: Mapping[str, str] | None = None,
) -> str:
    return page.html(
        audit_page(findings, spec_tables, paper, source, not_checkable, data_note, index_notes),
        f"Audit of the published tables: {paper}",
    )


def _text_claim_section(findings: Sequence[Finding], index_notes: Mapping[str, str]) -> list[page.Block]:
    """The numeric statements of the text, recomputed, grouped by what they are recomputed from."""
    found = [f for f in findings if f.check == "text_claim"]
    if not found:
        return []
    blocks: list[page.Block] = [
        page.Heading(2, "Numeric statements of the text and captions, recomputed"),
        page.Paragraph(
            f"{len(found)} statements recomputed, {sum(f.flagged for f in found)} flagged (ratios, "
            "reductions and restated values summarising a table are in the claims section above, if any). "
            "Tolerance: exact for counts; half a unit of the last printed digit for a number printed to "
            f'that precision; {CLAIM_TOLERANCE:.0%} of the claimed number for a rough one ("about", '
            '"≈", in words). A stated bound (<, >) or range is flagged when the computed value falls '
            'outside it by more than that tolerance. "computed - claimed" is the distance outside the '
            "range for a range."
        ),
    ]
    for source in text_claims.SOURCES:
        group = [f for f in found if f.source == source]
        if not group:
            continue
        blocks.append(
            page.Heading(3, f"Recomputed from the {source}" if source != "arithmetic" else "Recomputed by arithmetic")
        )
        if source == "dataset index":
            blocks.append(
                page.Paragraph(
                    "Indexes read: " + ("; ".join(f"{d}: {n}" for d, n in index_notes.items()) or "none") + "."
                )
            )
        rows = [
            [
                f.table,
                f.quote,
                f.claimed if f.relation in ("=", "in") else f"{f.relation} {f.claimed}",
                text_claims.fmt(f.recomputed),
                text_claims.fmt(-f.difference),
                str(f.tolerance),
                "**flag**" if f.flagged else "pass",
                f.detail,
            ]
            for f in group
        ]
        blocks.append(
            page.Table(
                [
                    "where",
                    "statement",
                    "claimed",
                    "computed",
                    "computed - claimed",
                    "tolerance",
                    "verdict",
                    "computed from",
                ],
                rows,
                "llrrrlll",
            )
        )
    return blocks


def _extra_sections(findings: Sequence[Finding], data_note: str | None) -> list[page.Block]:
    """Sections of the checks declared by a paper module (none for the hypernetworks paper)."""
    blocks: list[page.Block] = []
    sums = [f for f in findings if f.check == "count_sum"]
    if sums:
        blocks += [
            page.Heading(2, "Count tables vs the totals stated in the text"),
            page.Bullets([f"{f.table}: {f.detail}" for f in sums]),
        ]
    size = [f for f in findings if f.check == "bytes_per_parameter"]
    if size:
        blocks += [
            page.Heading(2, "Model size on disk vs number of parameters"),
            page.Paragraph(
                f"A trained weight takes {FLOAT32_BYTES} bytes as float32; below "
                f"{MIN_BYTES_PER_PARAMETER} byte per parameter no weight format can hold the model. "
                f"{sum(f.flagged for f in size)} of {len(size)} rows cannot hold their parameters."
            ),
            page.Table(
                ["table", "model", "printed size (KB)", "float32 size (KB)", "finding"],
                [[f.table, f.column, f"{f.printed:g}", f"{f.recomputed:.0f}", f.detail] for f in size],
                "llrrl",
            ),
        ]
    claims = [f for f in findings if f.check == "claim"]
    if claims:
        blocks += [
            page.Heading(2, "Claims of the text recomputed from the table"),
            page.Paragraph(
                f"Flagged when the recomputed value is more than {CLAIM_TOLERANCE:.0%} away from "
                f"the claim. {sum(f.flagged for f in claims)} of {len(claims)} flagged."
            ),
            page.Table(
                ["claim", "stated", "recomputed", "how", "flag"],
                [
                    [f.column, f"{f.printed:g}", f"{f.recomputed:.2f}", f.detail, "yes" if f.flagged else ""]
                    for f in claims
                ],
                "lrrll",
            ),
        ]
    cross = [f for f in findings if f.check == "cross_paper_events"]
    if cross:
        agree = sum(not f.flagged for f in cross)
        printed, implied = sum(f.printed for f in cross), sum(f.recomputed for f in cross)
        blocks += [
            page.Heading(2, "Event counts vs another paper's durations of the same dataset"),
            page.Paragraph(
                f"{agree} of {len(cross)} classes agree (count within the interval the other "
                f"paper's rounding allows). Printed counts sum to {printed:.0f}, implied counts to "
                f"{implied:.0f} (ratio {printed / implied:.2f})."
            ),
            page.Table(
                ["class", "printed count", "implied count", "printed / implied", "detail"],
                [
                    [f.column, f"{f.printed:.0f}", f"{f.recomputed:.1f}", f"{f.printed / f.recomputed:.2f}", f.detail]
                    for f in cross
                ],
                "lrrrl",
            ),
        ]
    ann = [f for f in findings if f.check == "annotation_events"]
    if ann:
        agree = sum(not f.flagged for f in ann)
        blocks += [
            page.Heading(2, "Event counts vs the annotations of this run's dataset index"),
            page.Paragraph(
                f"Annotations: {data_note or 'the dataset index given'}. {agree} of {len(ann)} "
                f"classes match; printed total {sum(f.printed for f in ann):.0f}, annotated total "
                f"{sum(f.recomputed for f in ann):.0f}."
            ),
            page.Table(
                ["class", "printed", "annotated", "printed - annotated"],
                [[f.column, f"{f.printed:.0f}", f"{f.recomputed:.0f}", f"{f.difference:+.0f}"] for f in ann],
                "lrrr",
            ),
        ]
        if cross:
            implied = {f.column: f.recomputed for f in cross}
            blocks.append(
                page.Paragraph(
                    "Annotated vs implied by the other paper's durations: "
                    + ", ".join(
                        f"{f.column} {f.recomputed:.0f}/{implied[f.column]:.0f}" for f in ann if f.column in implied
                    )
                    + "."
                )
            )
    return blocks


def build_parser():
    p = cli.parser("Audit the internal consistency of a paper's published tables.")
    p.add_argument("--paper", required=True, help=f"one of {', '.join(papers.names())}")
    p.add_argument("--paper-values", help="transcribed paper-values TSV (default: the paper's values_path)")
    p.add_argument("--out", required=True, help="audit.md to write")
    p.add_argument("--out-html", required=True, help="the same audit as HTML (what the Snakemake report shows)")
    # empty values (the rule passes --index= for a paper without the check) mean "none"
    p.add_argument("--cross-paper-values", help="paper-values TSV of the other paper of the paper's cross_paper_events")
    p.add_argument(
        "--index", help="dataset index folder whose events.tsv the paper's annotation_counts table is checked against"
    )
    p.add_argument("--data-note", help="which data the index holds (embedded synthetic stand-in or real)")
    p.add_argument("--claims", help="claims TSV of the paper's text_claims (numeric statements of the text)")
    p.add_argument(
        "--dataset-index",
        action="extend",
        nargs="*",
        default=[],
        metavar="DATASET=DIR",
        help="index folder of a dataset the claims read (repeatable)",
    )
    p.add_argument(
        "--dataset-note",
        action="extend",
        nargs="*",
        default=[],
        metavar="DATASET=NOTE",
        help="which data that index holds (repeatable)",
    )
    return p


def _pairs(values: Sequence[str], option: str) -> dict[str, str]:
    out = {}
    for text in values:
        if not text:  # the rule's quoted empty list: no pair
            continue
        key, sep, value = text.partition("=")
        if not sep or not key or not value:
            raise fail(option, "DATASET=VALUE", repr(text))
        out[key] = value
    return out


def main(args) -> None:
    paper = papers.get(args.paper)
    args.paper_values = args.paper_values or paper.values_path
    pv = load_paper_values(args.paper_values)
    indexes = _pairs(args.dataset_index, "--dataset-index")
    findings = audit(paper.tables, pv, paper.dataset_durations)
    findings += declared_findings(paper, pv, args.cross_paper_values, args.index, args.claims, indexes)
    sources = [str(Path(p)) for p in (args.paper_values, args.cross_paper_values, args.claims) if p]
    if args.index and paper.annotation_counts:
        sources.append(str(Path(args.index) / "events.tsv"))
    sources += [str(Path(d) / n) for d in indexes.values() for n in ("files.tsv", "events.tsv")]
    unchecked = list(paper.not_checkable)
    if args.claims:
        unchecked += text_claims.not_checkable(text_claims.load_claims(args.claims))
    notes = _pairs(args.dataset_note, "--dataset-note")
    blocks = audit_page(
        findings,
        paper.tables,
        args.paper,
        "`, `".join(sources),
        unchecked,
        args.data_note,
        {d: notes.get(d, "no note given") for d in indexes},
    )
    write_text(args.out, page.markdown(blocks))
    write_text(args.out_html, page.html(blocks, f"Audit of the published tables: {args.paper}"))
    provenance.write_sidecar(args.out, {"paper": args.paper, "data_note": args.data_note}, inputs=sources)
    n = sum(f.flagged for f in findings if f.check == "average_row")
    text = [f for f in findings if f.check == "text_claim"]
    log.info(
        "wrote %s: %d findings, %d Average rows flagged, %d of %d statements of the text flagged",
        args.out,
        len(findings),
        n,
        sum(f.flagged for f in text),
        len(text),
    )


def _read_index(folder):
    from .datasets.base import DatasetIndex  # late: only the checks that read an index need the dataset layer

    return DatasetIndex.read(Path(folder))


def declared_findings(
    paper: Paper,
    paper_values: pd.DataFrame,
    cross_values_path: str | None = None,
    index_dir: str | None = None,
    claims_path: str | None = None,
    dataset_indexes: Mapping[str, str] | None = None,
) -> list[Finding]:
    """Findings of the checks a paper declares (count_totals, size_table, text_claims, cross_paper_events,
    annotation_counts); the cross-paper, claims and annotation checks need their inputs (claims that read a
    dataset: dataset_indexes, name -> index folder)."""
    specs = {s.name: s for s in paper.tables}
    out = count_sum_findings(specs, paper_values, paper.count_totals)
    size = paper.size_table
    if size:
        out += size_findings(specs[size.table], paper_values, size.parameters, size.size)
    cross = paper.cross_paper_events
    if cross:
        if not cross_values_path:
            raise fail("--cross-paper-values", f"the paper-values TSV of {cross.paper!r}", "none")
        other = papers.table(cross.paper, cross.table)
        out += cross_paper_findings(
            specs[cross.counts], paper_values, other, load_paper_values(cross_values_path), cross.paper
        )
    name = paper.annotation_counts
    if name:
        if not index_dir:
            raise fail("--index", f"the index of {specs[name].dataset} (its events.tsv)", "none")
        out += annotation_findings(specs[name], paper_values, _read_index(index_dir).events)
    if claims_path and not paper.text_claims:
        raise fail("--claims", "no claims file (the paper declares no text_claims)", repr(claims_path))
    if paper.text_claims:
        if not claims_path:
            raise fail("--claims", f"the claims TSV {paper.text_claims}", "none")
        loaders = {dataset: (lambda d=d: _read_index(d)) for dataset, d in (dataset_indexes or {}).items()}
        out += claim_findings(text_claims.load_claims(claims_path), text_claims.Context(specs, paper_values, loaders))
    return out


__all__ = ["Finding", "audit", "audit_page", "declared_findings", "html", "markdown", "main"]

if __name__ == "__main__":
    cli.run(main, build_parser())
