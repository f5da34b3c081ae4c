"""One page (a table with its notes, an audit, dataset statistics) as Markdown and as a standalone HTML document.

The stages build a page once as a list of blocks; `markdown` and `html` write the same blocks, so the two files can
never disagree. HTML tables are pandas' (DataFrame.to_html); text is escaped, and `code` spans become <code>.
"""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

ALIGN_MD = {"l": ":---", "r": "---:", "-": "---"}
LABEL_DIGITS = 2


@dataclass(frozen=True)
class Heading:
    level: int
    text: str


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Bullets:
    items: Sequence[str]


@dataclass(frozen=True)
class Table:
    header: Sequence[str]
    rows: Sequence[Sequence[str]]
    align: str  # one letter per column: l(eft), r(ight), - (Markdown's default: left)

    def __post_init__(self) -> None:
        if len(self.align) != len(self.header) or any(len(r) != len(self.header) for r in self.rows):
            raise ValueError(
                f"table of {len(self.header)} columns: align {self.align!r}, row lengths "
                f"{sorted({len(r) for r in self.rows})}"
            )


Block = Heading | Paragraph | Bullets | Table


def markdown(blocks: Sequence[Block]) -> str:
    out = []
    for block in blocks:
        if isinstance(block, Heading):
            out.append(f"{'#' * block.level} {block.text}")
        elif isinstance(block, Paragraph):
            out.append(block.text)
        elif isinstance(block, Bullets):
            out.append("\n".join(f"- {item}" for item in block.items))
        else:
            lines = ["| " + " | ".join(block.header) + " |", "|" + "|".join(ALIGN_MD[a] for a in block.align) + "|"]
            # a "|" inside a cell would end it: escaped (HTML shows the cell as it is)
            out.append(
                "\n".join(lines + ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in block.rows])
            )
    return "\n\n".join(out) + "\n"


def _inline(text: str) -> str:
    return re.sub(r"`([^`]*)`", r"<code>\1</code>", html_lib.escape(text, quote=False))


CSS = """body { font-family: system-ui, sans-serif; font-size: 14px; margin: 1.5em; color: #1e293b; }
table { border-collapse: collapse; margin: 0.5em 0 1em; }
th, td { border-bottom: 1px solid #cbd5e1; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #f1f5f9; }
tbody tr:nth-child(even) { background: #f8fafc; }
code { font-size: 90%; background: #f1f5f9; padding: 0 0.2em; }"""


def html(blocks: Sequence[Block], title: str) -> str:
    """A standalone HTML document (inline CSS, no scripts) with the blocks in order."""
    body, css = [], [CSS]
    n_tables = 0
    for block in blocks:
        if isinstance(block, Heading):
            body.append(f"<h{block.level}>{_inline(block.text)}</h{block.level}>")
        elif isinstance(block, Paragraph):
            body.append(f"<p>{_inline(block.text)}</p>")
        elif isinstance(block, Bullets):
            body.append("<ul>\n" + "\n".join(f"<li>{_inline(item)}</li>" for item in block.items) + "\n</ul>")
        else:
            n_tables += 1
            table_id = f"t{n_tables}"
            frame = pd.DataFrame(
                [[_inline(c) for c in row] for row in block.rows], columns=[_inline(h) for h in block.header]
            )
            body.append(frame.to_html(index=False, escape=False, border=0, table_id=table_id, justify="left"))
            css += [
                f"#{table_id} td:nth-child({i + 1}), #{table_id} th:nth-child({i + 1}) {{ text-align: right; }}"
                for i, a in enumerate(block.align)
                if a == "r"
            ]
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{_inline(title)}</title>\n<style>\n"
        + "\n".join(css)
        + "\n</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )


def number_label(name: str) -> str:
    """'figure4' -> 'Figure  4' (space-padded number): a label that a string sort puts before 'Figure 10'.

    Snakemake's report sorts its entries by their labels as strings (localeCompare), so figure10 would come before
    figure4. A space sorts before every digit, both by code point and in the browsers' collation, and HTML shows the
    two spaces as one.
    """
    m = re.fullmatch(r"([A-Za-z]+)(\d+)", name)
    if m is None:
        raise ValueError(f"expected a name like figure4 or table10, found {name!r}")
    return f"{m.group(1).capitalize()} {m.group(2).rjust(LABEL_DIGITS)}"


__all__ = ["Block", "Bullets", "Heading", "Paragraph", "Table", "html", "markdown", "number_label"]
