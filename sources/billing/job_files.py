"""Reads the row key of the first row of a dlt load job file, in the formats dlt writes."""

import csv
import gzip
import json
from collections.abc import Callable
from typing import IO, Any

from dlt.common.schema.typing import C_DLT_ID
from dlt.common.storages.load_package import ParsedLoadJobFileName

# an insert-values file's first row lies within its first rows of text; a row longer than
# this is left unread rather than the whole file loaded
MAX_READ = 1 << 20


def first_row_id(path: str) -> str | None:
    """The `_dlt_id` of the first row of a parquet, JSON lines, CSV or insert-values job
    file; None for an empty file or another format."""
    file_format = ParsedLoadJobFileName.parse(path).file_format
    if file_format == "parquet":
        import pyarrow.parquet as pq

        first_rows = next(pq.ParquetFile(path).iter_batches(batch_size=1, columns=[C_DLT_ID]), None)
        return None if first_rows is None else str(first_rows.column(0)[0].as_py())
    if file_format == "jsonl":
        with _open_text(path) as rows:
            first = rows.readline()
        return str(json.loads(first)[C_DLT_ID]) if first.strip() else None
    if file_format == "csv":  # as dlt writes arrow tables for PostgreSQL: a header, then rows
        with _open_text(path) as table:
            header_row = next(csv.DictReader(table), None)
        return None if header_row is None else header_row.get(C_DLT_ID)
    if file_format == "insert_values":
        with _open_text(path) as statement:
            text = statement.read(MAX_READ)
        return first_inserted_row(text).get(C_DLT_ID)
    return None


def _open_text(path: str) -> IO[str]:
    """Opens a job file as text, gzipped (dlt's default) or not."""
    with open(path, "rb") as raw:
        gzipped = raw.read(2) == b"\x1f\x8b"
    opener: Callable[..., Any] = gzip.open if gzipped else open
    return opener(path, "rt", encoding="utf-8")  # type: ignore[no-any-return]


def first_inserted_row(text: str) -> dict[str, str | None]:
    """The first row of dlt's `INSERT INTO {}("a","b")\\nVALUES\\n(1,E'x'),...` text, by
    column: strings unquoted (`'..'` and `E'..'`, with `''` and backslash escapes), other
    values as written, NULL as None. An empty dict where the text holds no whole row."""
    header, found, rows = text.partition("\nVALUES\n(")
    if not found or "(" not in header:
        return {}
    columns = [name.replace('""', '"') for name in _quoted_names(header[header.index("(") :])]
    values: list[str | None] = []
    at = 0
    try:
        while True:
            value, at = _value(rows, at)
            values.append(value)
            if rows[at] == ")":
                break
            at += 1  # the comma
    except IndexError:
        return {}  # the row goes on past what was read
    return dict(zip(columns, values, strict=False))


def _quoted_names(text: str) -> list[str]:
    names, at = [], text.find('"')
    while at >= 0:
        end = at + 1
        while not (text[end] == '"' and text[end + 1 : end + 2] != '"'):
            end += 2 if text[end] == '"' else 1
        names.append(text[at + 1 : end])
        at = text.find('"', end + 1)
    return names


def _value(rows: str, at: int) -> tuple[str | None, int]:
    """Reads one value from `at`; returns it and where the next comma or `)` is."""
    escaped = rows[at] in "Ee" and rows[at + 1] == "'"
    if not escaped and rows[at] != "'":
        end = at
        while rows[end] not in ",)":
            end += 1
        bare = rows[at:end].strip()
        return (None if bare.upper() == "NULL" else bare), end
    at += 2 if escaped else 1
    chars = []
    while True:
        char = rows[at]
        if escaped and char == "\\":
            chars.append(rows[at + 1])
            at += 2
        elif char == "'" and rows[at + 1] == "'":
            chars.append("'")
            at += 2
        elif char == "'":
            return "".join(chars), at + 1
        else:
            chars.append(char)
            at += 1
