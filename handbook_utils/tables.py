"""Tables that read as tables: HTML in the book and in JupyterLab, aligned text everywhere else.

A chapter ends a cell with a :class:`Table` and Jupyter shows its ``_repr_html_``: a real ``<table>``
with a caption and header cells that screen readers announce with each value (``scope`` on every
``<th>``). nbval compares the plain-text form, which is the same table aligned in columns, so a
reference notebook diff shows the numbers and not markup.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

from . import checks


@dataclass(frozen=True)
class Table:
    """``headers`` name the columns; the first column of each row names the row (a row header)."""

    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    caption: str = ""

    def __post_init__(self):
        headers = tuple(checks.non_empty_list("headers", [str(h) for h in self.headers], str))
        rows = tuple(tuple(str(cell) for cell in row) for row in self.rows)
        for i, row in enumerate(rows):
            if len(row) != len(headers):
                raise ValueError(f"rows[{i}] has {len(row)} cells, but there are {len(headers)} headers")
        object.__setattr__(self, "headers", headers)
        object.__setattr__(self, "rows", rows)

    @classmethod
    def of(cls, headers: Sequence, rows: Sequence[Sequence], caption: str = "") -> Table:
        return cls(tuple(headers), tuple(tuple(r) for r in rows), caption)

    def __str__(self) -> str:
        widths = [max(len(h), *(len(r[i]) for r in self.rows)) if self.rows else len(h)
                  for i, h in enumerate(self.headers)]
        def line(cells):
            return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))
        out = [self.caption] if self.caption else []
        out += [line(self.headers), "  ".join("-" * w for w in widths)]
        out += [line(r) for r in self.rows]
        return "\n".join(s.rstrip() for s in out)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        esc = html.escape
        head = "".join(f'<th scope="col">{esc(h)}</th>' for h in self.headers)
        body = "".join(
            "<tr>" + f'<th scope="row">{esc(r[0])}</th>' + "".join(f"<td>{esc(c)}</td>" for c in r[1:]) + "</tr>"
            for r in self.rows
        )
        caption = f"<caption>{esc(self.caption)}</caption>" if self.caption else ""
        return (f'<table class="handbook-table">{caption}<thead><tr>{head}</tr></thead>'
                f"<tbody>{body}</tbody></table>")
