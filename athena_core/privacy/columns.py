"""The header of a table's column: what names a cell of a CSV or TSV export or of a
Markdown table, or a value of SQL's ``INSERT`` with a column list.

A value in a row of ``id,name,db_password,created`` is named by the header above it, not
by anything on its own line. :func:`column_header` finds that header for the detectors.
"""

from __future__ import annotations

import re

__all__ = ["INSERT_ANCHOR", "column_header", "inserted_values"]

#: A header's cell: a name (letters first), optionally quoted; empty cells are allowed.
_HEADER_CELL = re.compile(r"[ \t]*\"?(?:[A-Za-z_][\w .#/()'-]{0,60})?\"?[ \t]*")
#: A cell that is a name without digits: a row of them is a header.
_NAME_CELL = re.compile(r"[ \t]*\"?[A-Za-z_][A-Za-z_ .#/()'-]{0,60}\"?[ \t]*|[ \t]*")
#: How far above a row its header may be, in lines.
_REACH = 30


def column_header(text: str, at: int, delimiter: str) -> str | None:
    """The header of the column that the cell starting right after the ``delimiter`` at
    ``at`` is in: the nearest line above with as many delimiters whose cells are all
    names, at least half of them filled in (no line between blank, at most 30 lines up),
    or ``None`` (also when the cell's own line is a header: names without digits)."""
    line_start = text.rfind("\n", 0, at) + 1
    if not line_start:
        return None
    line_end = text.find("\n", at)
    row = text[line_start:len(text) if line_end < 0 else line_end]
    if all(_NAME_CELL.fullmatch(cell) for cell in row.split(delimiter)):
        return None  # a header itself (``id,name,ip_address``), not a row of values
    count = row.count(delimiter)
    index = text.count(delimiter, line_start, at + 1)
    end = line_start - 1
    for _ in range(_REACH):
        if end <= 0:
            return None
        start = text.rfind("\n", 0, end) + 1
        line = text[start:end]
        if not line.strip():
            return None
        if line.count(delimiter) == count:
            cells = line.split(delimiter)
            named = sum(any(c.isalpha() for c in cell) for cell in cells)
            if all(_HEADER_CELL.fullmatch(cell) for cell in cells) and named * 2 >= len(cells):
                return cells[index].strip(" \t\"")
        end = start - 1
    return None


#: Where an ``INSERT`` starts, in lower-cased text: the rules of :func:`inserted_values`
#: are tried only there.
INSERT_ANCHOR = re.compile(r"\binsert[ \t]+into\b")
#: A column of an ``INSERT``'s list, and a value of its ``VALUES``.
_INSERT_COLUMN = r"[ \t]*[\"`\[]?[\w.]+[\"`\]]?[ \t]*"
_INSERT_VALUE = r"[ \t]*(?:'[^'\n]*'|[^,()'\n]+)[ \t]*"


def inserted_values(column: str, value: str = r"[^'\n]{1,200}",
                    places: int = 8) -> tuple[re.Pattern[str], ...]:
    """Patterns for the quoted ``value`` (group ``quoted``) that ``INSERT INTO t (a, b,
    ...) VALUES (...)`` gives a column whose name matches ``column``: one pattern per
    place in the list, the first ``places`` (a regular expression cannot count places
    itself)."""
    return tuple(re.compile(
        rf"(?i)\binsert[ \t]+into[ \t]+[\w.\"`\[\]]+[ \t]*\((?:{_INSERT_COLUMN},){{{place}}}"
        rf"[ \t]*[\"`\[]?{column}[\"`\]]?[ \t]*(?:,[^()\n]*)?\)[ \t]*"
        rf"values[ \t]*\((?:{_INSERT_VALUE},){{{place}}}[ \t]*'(?P<quoted>{value})'")
        for place in range(places))
