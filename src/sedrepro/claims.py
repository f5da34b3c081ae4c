"""Numeric statements of a paper's text, transcribed as data and recomputed (used by sedrepro.audit).

A claims TSV (config/paper_values/<paper>_claims.tsv) has one line per reading of a statement:

label      short name of the statement (may repeat when one sentence is checked several ways)
where      where it is in the paper ("Section 4.2", "Abstract", "Table 4 caption")
quote      the words of the paper, verbatim
claimed    the number as printed ("0.015", "566"), or "lo..hi" for a stated range ("3-4 %")
relation   = (equal within the tolerance), <, <=, >, >= (the text states a bound), in (a range); "-" if not checkable
tolerance  exact (counts) | rounded (half a unit of the last printed digit of `claimed`) |
           about (CLAIM_TOLERANCE relative: "about", "≈", "times", numbers in words); "-" if not checkable
kind       expr, or value / ratio / reduction (the first audit's prose claims about a table, always `about`, shown
           in the "Claims of the text recomputed from the table" section in that section's format); "-" if not
           checkable
check      the expression that recomputes the claim, or "-" if not checkable
note       why a statement cannot be checked (required then), or a remark on the reading chosen

Expressions are parsed with `ast` and evaluated by a whitelist (numbers, + - * / // **, parentheses, the functions
below); nothing is passed to eval. A table cell is written `table4["Dilated", "micro_f1"]` (any (table, row, column)
of the paper-values TSV, "text" included). Functions (each a small check of its own):

arithmetic   mean(...), min(...), max(...), floor(x), ceil(x), abs(x), n("a", "b", ...) (number of items listed)
tables       rows(t) (class rows), wins(t, "a", "b") (class rows where column a > column b), count_below(t, "col", x),
             rank_share(t, "col", "row") (share of the other rows with a smaller value), col_max(t, "col"),
             col_min(t, "col"), bottom_overlap(t1, "col1", t2, "col2", k) (rows among the k lowest of both)
datasets     (first argument a dataset name; the audit reads that dataset's index) files, duration_min, events,
             labels (distinct), max_polyphony, split_percent(ds, split), min_duration_s, max_duration_s,
             files_shorter(ds, s), percent_files_at_least(ds, s), events_per_file_min, events_per_file_max,
             count_length_spearman (per class: event count vs mean event length), length_rank_share(ds, label)
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .io import InputError, fail
from .papers import MODELS_LAYOUT, TableSpec, paper_value

CLAIM_COLUMNS = ("label", "where", "quote", "claimed", "relation", "tolerance", "kind", "check", "note")
RELATIONS = ("=", "<", "<=", ">", ">=", "in")
TOLERANCES = ("exact", "rounded", "about")
LEGACY_KINDS = ("value", "ratio", "reduction")
KINDS = LEGACY_KINDS + ("expr",)
NOT_CHECKABLE = "-"
CLAIM_TOLERANCE = 0.25  # relative; prose claims ("about 7 times") are rough, so only a gross mismatch is flagged
EPS = 1e-9
SOURCES = ("tables", "dataset index", "arithmetic")


@dataclass(frozen=True)
class Claim:
    label: str
    where: str
    quote: str
    claimed: str
    relation: str
    tolerance: str
    kind: str
    check: str
    note: str
    line: str  # file:line, for messages

    @property
    def checkable(self) -> bool:
        return self.check != NOT_CHECKABLE

    @property
    def bounds(self) -> tuple[float, float]:
        """(lo, hi) of the claimed number: equal for a single number."""
        lo, _, hi = self.claimed.partition("..")
        return float(lo), float(hi or lo)


def _half_unit(text: str) -> float:
    """Half a unit of the last printed digit: '0.015' -> 0.0005, '566' -> 0.5."""
    decimals = len(text.split(".")[1]) if "." in text else 0
    return 0.5 * 10.0**-decimals


def load_claims(path) -> list[Claim]:
    """Read and validate a claims TSV; a bad line stops with one line naming file:line."""
    path = Path(path)
    if not path.is_file():
        raise fail(path, "a claims TSV", "no such file")
    lines = path.read_text(encoding="utf-8").splitlines()
    if not lines or lines[0].split("\t") != list(CLAIM_COLUMNS):
        raise fail(f"{path}:1", "header " + "\\t".join(CLAIM_COLUMNS), repr(lines[0] if lines else ""))
    out = []
    for lineno, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        parts = [p.strip() for p in line.split("\t")]
        if len(parts) != len(CLAIM_COLUMNS):
            raise fail(where, f"{len(CLAIM_COLUMNS)} tab-separated fields", f"{len(parts)}")
        claim = Claim(*parts, line=where)
        for field in ("label", "where", "quote", "claimed", "check"):
            if not getattr(claim, field):
                raise fail(where, f"a non-empty {field}", "an empty field")
        if not claim.checkable:  # "claimed" may be "-" where the quote holds several numbers (settings)
            if not claim.note:
                raise fail(where, "a note saying why the statement cannot be checked", "an empty note")
            out.append(claim)
            continue
        try:
            lo, hi = claim.bounds
        except ValueError:
            raise fail(where, "a plain number or lo..hi in 'claimed' (1,614 -> 1614)", repr(claim.claimed)) from None
        if not (math.isfinite(lo) and math.isfinite(hi)) or "," in claim.claimed:
            raise fail(where, "a plain number or lo..hi in 'claimed' (1,614 -> 1614)", repr(claim.claimed))
        if claim.relation not in RELATIONS:
            raise fail(where, f"a relation among {' '.join(RELATIONS)}", repr(claim.relation))
        if (claim.relation == "in") != (".." in claim.claimed):
            raise fail(where, "a lo..hi claim exactly with relation 'in'", f"{claim.claimed!r} with {claim.relation!r}")
        if claim.tolerance not in TOLERANCES:
            raise fail(where, f"a tolerance among {', '.join(TOLERANCES)}", repr(claim.tolerance))
        if claim.kind not in KINDS:
            raise fail(where, f"a kind among {', '.join(KINDS)}", repr(claim.kind))
        if claim.kind in LEGACY_KINDS and (claim.tolerance, claim.relation) != ("about", "="):
            raise fail(
                where,
                f"tolerance 'about' and relation '=' for kind {claim.kind!r}",
                f"{claim.tolerance!r} and {claim.relation!r}",
            )
        try:
            tree = ast.parse(claim.check, mode="eval")
        except SyntaxError as err:
            raise fail(where, "a Python-syntax expression in 'check'", f"{claim.check!r} ({err.msg})") from None
        for node in ast.walk(tree):
            if not isinstance(node, _ALLOWED_NODES) or (isinstance(node, ast.Call) and not _is_known_call(node)):
                raise fail(
                    where,
                    "numbers, + - * / // **, table cells and the functions of sedrepro.claims",
                    repr(ast.unparse(node)),
                )
        out.append(claim)
    if not out:
        raise fail(path, "at least one claim line", "none")
    return out


def not_checkable(claims: list[Claim]) -> list[str]:
    """The statements the audit cannot check, with the reason transcribed beside them."""
    return [
        f'{c.where}: "{c.quote}"'
        + (f" ({c.claimed})" if c.claimed != NOT_CHECKABLE else "")
        + f": {c.note}"
        + ("" if c.note.endswith(".") else ".")
        for c in claims
        if not c.checkable
    ]


def datasets_needed(claims: list[Claim]) -> list[str]:
    """Dataset names whose index the claims' expressions read (first argument of a dataset function)."""
    out = []
    for claim in claims:
        if not claim.checkable:
            continue
        for node in ast.walk(ast.parse(claim.check, mode="eval")):
            if isinstance(node, ast.Call) and node.func.id in DATASET_FUNCTIONS:
                name = node.args[0].value if node.args and isinstance(node.args[0], ast.Constant) else None
                if not isinstance(name, str):
                    raise fail(
                        claim.line, f"a dataset name as the first argument of {node.func.id}()", repr(ast.unparse(node))
                    )
                if name not in out:
                    out.append(name)
    return out


# ------------------------------------------------------------------------------------------------ evaluation


class Context:
    """What expressions can read: the paper's values and tables, and dataset indexes by name."""

    def __init__(
        self,
        tables: Mapping[str, TableSpec],
        paper_values: pd.DataFrame,
        indexes: Mapping[str, Callable[[], object]] | None = None,
    ):
        self.tables, self.paper_values = tables, paper_values
        self._index_loaders, self._indexes = dict(indexes or {}), {}

    def cell(self, table: str, row: str, column: str) -> float:
        return paper_value(self.paper_values, table, row, column)

    def spec(self, name: str) -> TableSpec:
        if name not in self.tables:
            raise fail("claim", f"a table among {', '.join(self.tables)}", repr(name))
        return self.tables[name]

    def column(self, name: str, column: str) -> dict[str, float]:
        """row label -> value of one column over a table's class rows (model rows for a models table)."""
        spec = self.spec(name)
        labels = [label for label, _ in (spec.model_columns if spec.layout == MODELS_LAYOUT else spec.class_rows)]
        pv = self.paper_values[self.paper_values["table"] == name].set_index(["row", "column"])["value"]
        missing = [label for label in labels if (label, column) not in pv.index]
        if missing:
            raise fail(f"paper values {name}", f"a value of column {column!r} in every row", f"none for {missing[0]!r}")
        return {label: float(pv[(label, column)]) for label in labels}

    def index(self, dataset: str):
        if dataset not in self._indexes:
            if dataset not in self._index_loaders:
                raise fail("--dataset-index", f"the index of {dataset!r} (DATASET=DIR) that a claim reads", "none")
            self._indexes[dataset] = self._index_loaders[dataset]()
        return self._indexes[dataset]


def _n(ctx, *items):
    return len(items), ""


def _rows(ctx, t):
    return len(ctx.spec(t).class_rows), ""


def _wins(ctx, t, a, b):
    va, vb = ctx.column(t, a), ctx.column(t, b)
    losses = [label for label in va if not va[label] > vb[label]]
    return len(va) - len(losses), f"{a} > {b} in {len(va) - len(losses)} of {len(va)} rows; not in: " + (
        ", ".join(losses) or "none"
    )


def _count_below(ctx, t, col, x):
    vals = ctx.column(t, col)
    below = [label for label, v in vals.items() if v < x]
    return len(below), f"rows with {col} < {x:g}: {', '.join(below) or 'none'}"


def _rank_share(ctx, t, col, row):
    vals = ctx.column(t, col)
    if row not in vals:
        raise fail(f"paper values {t}", f"a row {row!r}", "none")
    others = [v for label, v in vals.items() if label != row]
    smaller = sum(v < vals[row] for v in others)
    return smaller / len(others), f"{row} {col} = {vals[row]:g}: larger than {smaller} of the {len(others)} other rows"


def _col_extreme(pick):
    def f(ctx, t, col):
        vals = ctx.column(t, col)
        label = pick(vals, key=vals.get)
        return vals[label], f"{pick.__name__} of {t} {col}: {label}"

    return f


def _bottom_overlap(ctx, t1, c1, t2, c2, k):
    k = int(k)
    low1 = sorted(ctx.column(t1, c1).items(), key=lambda kv: kv[1])[:k]
    low2 = sorted(ctx.column(t2, c2).items(), key=lambda kv: kv[1])[:k]
    s1, s2 = [label for label, _ in low1], [label for label, _ in low2]
    common = [label for label in s1 if label in s2]
    return len(common), (
        f"{k} lowest {t1} {c1}: {', '.join(s1)}; {k} lowest {t2} {c2}: {', '.join(s2)}; "
        f"in both: {', '.join(common) or 'none'}"
    )


def _events_per_file(index) -> pd.Series:
    return index.events.groupby("file_id").size().reindex(index.files["file_id"], fill_value=0)


def _spearman(index):
    ev = index.events.assign(length=index.events["offset"] - index.events["onset"])
    per = ev.groupby("label")["length"].agg(["size", "mean"])
    return float(per["size"].corr(per["mean"], method="spearman")), f"over {len(per)} classes"


def _length_rank_share(index, label):
    ev = index.events.assign(length=index.events["offset"] - index.events["onset"])
    means = ev.groupby("label")["length"].mean()
    if label not in means.index:  # a fact of this index (a small stand-in may lack the class), not a bad claim
        return math.nan, f"no events of class {label} in the index"
    others = means.drop(label)
    smaller = int((others < means[label]).sum())
    return smaller / len(others), (
        f"{label} mean event length {means[label]:.2f} s: longer than {smaller} of the {len(others)} other classes"
    )


def _on_durations(f: Callable[[pd.Series], float]) -> Callable:
    """A fact of the files' durations; NaN (never a pass) where the index has none (an annotations-only index)."""

    def g(ix, *args):
        durations = ix.files["duration_s"].astype(float)
        if durations.isna().any():
            return math.nan, f"{int(durations.isna().sum())} files without a duration in the index (annotations only)"
        return f(durations, *args)

    return g


# dataset functions: index -> value (or (value, note))
DATASET_FUNCTIONS: dict[str, Callable] = {
    "files": lambda ix: len(ix.files),
    "duration_min": _on_durations(lambda d: float(d.sum()) / 60.0),
    "events": lambda ix: len(ix.events),
    "labels": lambda ix: ix.events["label"].nunique(),
    "max_polyphony": lambda ix: _max_polyphony(ix),
    "split_percent": lambda ix, split: 100.0 * float((ix.files["split"] == split).mean()),
    "min_duration_s": _on_durations(lambda d: float(d.min())),
    "max_duration_s": _on_durations(lambda d: float(d.max())),
    "files_shorter": _on_durations(lambda d, s: int((d < s).sum())),
    "percent_files_at_least": _on_durations(lambda d, s: 100.0 * float((d >= s).mean())),
    "events_per_file_min": lambda ix: int(_events_per_file(ix).min()),
    "events_per_file_max": lambda ix: int(_events_per_file(ix).max()),
    "count_length_spearman": _spearman,
    "length_rank_share": _length_rank_share,
}


def _max_polyphony(index) -> int:
    from .datasets.stats import max_polyphony_per_file  # late: only dataset claims need the dataset layer

    per_file = max_polyphony_per_file(index.events)
    return int(per_file.max()) if len(per_file) else 0


TABLE_FUNCTIONS: dict[str, Callable] = {
    "rows": _rows,
    "wins": _wins,
    "count_below": _count_below,
    "rank_share": _rank_share,
    "col_max": _col_extreme(max),
    "col_min": _col_extreme(min),
    "bottom_overlap": _bottom_overlap,
}
ARITHMETIC_FUNCTIONS: dict[str, Callable] = {
    "mean": lambda *xs: sum(xs) / len(xs),
    "min": min,
    "max": max,
    "floor": math.floor,
    "ceil": math.ceil,
    "abs": abs,
}
_BINARY: dict[type, Callable[[float, float], float]] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.FloorDiv: lambda a, b: a // b,
    ast.Pow: lambda a, b: a**b,
}
_ALLOWED_NODES = (
    ast.Expression,
    ast.Constant,
    ast.UnaryOp,
    ast.USub,
    ast.UAdd,
    ast.BinOp,
    ast.Add,
    ast.Sub,
    ast.Mult,
    ast.Div,
    ast.FloorDiv,
    ast.Pow,
    ast.Subscript,
    ast.Tuple,
    ast.Name,
    ast.Load,
    ast.Call,
)


def _is_known_call(node: ast.Call) -> bool:
    return (
        isinstance(node.func, ast.Name)
        and not node.keywords
        and (
            node.func.id in DATASET_FUNCTIONS
            or node.func.id in TABLE_FUNCTIONS
            or node.func.id in ARITHMETIC_FUNCTIONS
            or node.func.id == "n"
        )
    )


def fmt(x: float) -> str:
    """A computed number for the report: integers whole, others to 6 significant digits."""
    if float(x).is_integer():
        return f"{x:.0f}"
    return f"{x:.6g}" if abs(x) < 1e5 else f"{x:.1f}"


class _Evaluator:
    def __init__(self, ctx: Context, where: str):
        self.ctx, self.where, self.sources = ctx, where, set()
        self.notes: list[tuple[ast.AST, float, str]] = []  # (call, value, what the function found)

    def bad(self, node, expected: str) -> InputError:
        return fail(self.where, expected, repr(ast.unparse(node)))

    def arg(self, node):
        """A function argument: a table name (bare name), a string, or a number."""
        if isinstance(node, ast.Name):
            if node.id not in self.ctx.tables:
                raise fail(self.where, f"a table name among {', '.join(self.ctx.tables)}", repr(node.id))
            return node.id
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        return self.value(node)

    def value(self, node) -> float:
        return self.visit(node)[0]

    def visit(self, node) -> tuple[float, ast.AST]:
        """(value, the node with every reference replaced by its value) of an expression node."""
        if isinstance(node, ast.Expression):
            return self.visit(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
            return float(node.value), node
        if isinstance(node, ast.UnaryOp):
            v, sub = self.visit(node.operand)
            return (-v if isinstance(node.op, ast.USub) else v), ast.UnaryOp(node.op, sub)
        if isinstance(node, ast.BinOp):
            (a, sa), (b, sb) = self.visit(node.left), self.visit(node.right)
            try:
                v = _BINARY[type(node.op)](a, b)
            except (ZeroDivisionError, OverflowError, ValueError):  # e.g. a count of 0 in a small stand-in index
                v = math.nan  # a value that cannot be computed is never a pass
            return v, ast.BinOp(sa, node.op, sb)
        if isinstance(node, ast.Subscript):
            key = node.slice
            if not (
                isinstance(node.value, ast.Name)
                and isinstance(key, ast.Tuple)
                and len(key.elts) == 2
                and all(isinstance(e, ast.Constant) and isinstance(e.value, str) for e in key.elts)
            ):
                raise self.bad(node, 'a table cell written table["row", "column"]')
            table = node.value.id
            self.sources.add("tables")
            v = self.ctx.cell(table, key.elts[0].value, key.elts[1].value)
            return v, _constant(v)
        if isinstance(node, ast.Call) and _is_known_call(node):
            name = node.func.id
            if name in ARITHMETIC_FUNCTIONS:
                parts = [self.visit(a) for a in node.args]
                if not parts:
                    raise self.bad(node, "at least one argument")
                values = [p[0] for p in parts]
                v = math.nan if any(math.isnan(x) for x in values) else float(ARITHMETIC_FUNCTIONS[name](*values))
                return v, ast.Call(node.func, [p[1] for p in parts], [])
            args = [self.arg(a) for a in node.args]
            try:
                if name == "n":
                    result = _n(self.ctx, *args)
                elif name in TABLE_FUNCTIONS:
                    self.sources.add("tables")
                    result = TABLE_FUNCTIONS[name](self.ctx, *args)
                else:
                    self.sources.add("dataset index")
                    result = DATASET_FUNCTIONS[name](self.ctx.index(args[0]), *args[1:])
            except TypeError as err:
                raise self.bad(node, f"the arguments of {name}() (see sedrepro.claims)") from err
            v, note = result if isinstance(result, tuple) else (result, "")
            if note:
                self.notes.append((node, float(v), note))
            return float(v), _constant(float(v))
        raise self.bad(node, "numbers, + - * / // **, table cells and the functions of sedrepro.claims")


def _constant(v: float) -> ast.AST:
    return ast.Constant(v) if math.isfinite(v) else ast.Name(str(v))  # unparse writes nan as (1e309-1e309)


def _round_constants(node: ast.AST) -> ast.AST:
    for sub in ast.walk(node):
        if isinstance(sub, ast.Constant) and isinstance(sub.value, float) and math.isfinite(sub.value):
            sub.value = float(fmt(sub.value)) if abs(sub.value) < 1e5 else sub.value
            if sub.value.is_integer():
                sub.value = int(sub.value)
    return node


@dataclass(frozen=True)
class Result:
    """One claim recomputed."""

    claim: Claim
    computed: float
    source: str  # one of SOURCES
    how: str  # the expression, with the values it read, and what each function found
    tolerance: float  # absolute, for the claimed number (for a range: of the bound missed)
    tolerance_text: str
    flagged: bool
    delta: float  # computed - claimed; for a range, the distance outside it (0 inside)
    cells: tuple[tuple[str, str, str, float], ...]  # table cells read, in order (for the first audit's format)


def _tolerance(claim: Claim, bound: float, text: str) -> tuple[float, str]:
    if claim.tolerance == "exact":
        return 0.0, "exact"
    if claim.tolerance == "rounded":
        half = _half_unit(text)
        return half, f"±{half:g} (rounding of the printed {text})"
    return CLAIM_TOLERANCE * abs(bound), f"±{CLAIM_TOLERANCE:.0%} ('about')"


def evaluate(claim: Claim, ctx: Context) -> Result:
    """Recompute one checkable claim and judge it against its relation and tolerance."""
    tree = ast.parse(claim.check, mode="eval")
    ev = _Evaluator(ctx, claim.line)
    value, substituted = ev.visit(tree)
    source = "dataset index" if "dataset index" in ev.sources else "tables" if ev.sources else "arithmetic"
    refs = [
        (n.value.id, n.slice.elts[0].value, n.slice.elts[1].value)
        for n in ast.walk(tree)
        if isinstance(n, ast.Subscript)
    ]
    cells = tuple((*ref, ctx.cell(*ref)) for ref in refs)
    shown = ast.unparse(_round_constants(substituted))
    if ev.notes and ev.notes[0][0] is tree.body:  # the whole check is one function: its finding says the rest
        how = f"{claim.check} = {fmt(value)} ({ev.notes[0][2]})"
    else:
        plain = shown in (fmt(value), ast.unparse(tree))  # a single reference, or nothing read
        how = claim.check + ("" if plain else f" = {shown}") + f" = {fmt(value)}"
        how += "".join(f"; {ast.get_source_segment(claim.check, n)} = {fmt(v)} ({note})" for n, v, note in ev.notes)
    lo, hi = claim.bounds
    lo_text, _, hi_text = claim.claimed.partition("..")
    rel = claim.relation
    if rel == "in":
        tol_lo, text_lo = _tolerance(claim, lo, lo_text)
        tol_hi, text_hi = _tolerance(claim, hi, hi_text)
        delta = value - lo if value < lo else value - hi if value > hi else 0.0
        flagged = not lo - tol_lo - EPS <= value <= hi + tol_hi + EPS
        tol, tol_text = (tol_lo if value < lo else tol_hi), text_lo if text_lo == text_hi else f"{text_lo} / {text_hi}"
    else:
        tol, tol_text = _tolerance(claim, lo, lo_text)
        delta = value - lo
        flagged = not {
            "=": abs(delta) <= tol + EPS * max(1.0, abs(lo)),
            "<": value < lo + tol,
            "<=": value <= lo + tol + EPS,
            ">": value > lo - tol,
            ">=": value >= lo - tol - EPS,
        }[rel]
    return Result(claim, value, source, how, tol, tol_text, flagged, delta, cells)


def legacy_detail(result: Result) -> tuple[str, float]:
    """(detail, value) of a value / ratio / reduction claim in the first audit's words."""
    claim, cells = result.claim, result.cells
    want = {"value": 1, "ratio": 2, "reduction": 2}[claim.kind]
    if len(cells) != want:
        raise fail(claim.line, f"{want} table cell(s) in the check of kind {claim.kind!r}", f"{len(cells)}")
    (_, num_row, num_col, a), *rest = cells
    if claim.kind == "value":
        value, how = a, f"{num_row} {num_col} = {a:g}"
    else:
        ((_, den_row, den_col, b),) = rest
        value = a / b if claim.kind == "ratio" else 100.0 * (1.0 - a / b)
        how = (
            f"{num_row} {num_col} / {den_row} {den_col} = {a:g} / {b:g} = {value:.2f}"
            if claim.kind == "ratio"
            else f"1 - {num_row} {num_col} / {den_row} {den_col} = 1 - {a:g} / {b:g} = {value:.1f} %"
        )
    if abs(value - result.computed) > 1e-9 * max(1.0, abs(value)):
        raise fail(claim.line, f"a check computing the {claim.kind} of its cells ({value:g})", f"{result.computed:g}")
    claimed = claim.bounds[0]
    off = abs(value - claimed) / claimed
    return (
        f"{how}; the text says {claimed:g}"
        + (" %" if claim.kind == "reduction" else "")
        + (f": off by {off:.0%}" if off > CLAIM_TOLERANCE else ": consistent")
    ), value


__all__ = [
    "Claim",
    "Context",
    "Result",
    "load_claims",
    "evaluate",
    "legacy_detail",
    "not_checkable",
    "datasets_needed",
    "fmt",
]
