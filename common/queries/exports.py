"""A query's result as CSV or XLSX, streamed: rows are read in chunks, never all at once.

Both hold the definition's columns in its order, with choice labels ("awaiting
deployment") rather than codes. XLSX keeps numbers as numbers (shares as %), dates as
dates; CSV is UTF-8 with a byte-order mark so spreadsheet programs read umlauts right.
"""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from django.conf import settings
from django.http import FileResponse, StreamingHttpResponse
from django.utils import timezone
from django.utils.text import slugify

from common.errors import DomainError
from common.queries.compiler import result_queryset
from common.queries.definition import QueryDefinition
from common.queries.registry import Column

CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EXPORT_FORMATS = ("csv", "xlsx")
XLSX_MAX_ROWS = 1_048_575  # a worksheet's limit, less the header


def export_max_rows() -> int:
    """At most this many rows per export (QUERIES_EXPORT_MAX_ROWS, default 1,000,000)."""
    return int(getattr(settings, "QUERIES_EXPORT_MAX_ROWS", 1_000_000))


def _columns(definition: QueryDefinition) -> list[Column]:
    return [definition.source.columns[name] for name in definition.columns]


def export_filename(name: str, extension: str) -> str:
    """`<name>-<YYYY-MM-DD>.<ext>`, safe for every file system."""
    stem = slugify(name)[:80] or "query"
    return f"{stem}-{timezone.localdate():%Y-%m-%d}.{extension}"


def export_rows(definition: QueryDefinition, *, user) -> tuple[list[str], Iterator[list[Any]]]:
    """The header and the rows (display values, in column order), read in chunks."""
    columns = _columns(definition)
    labels = [
        {str(value): label for value, label in column.choice_list()}
        if column.kind == "choice"
        else None
        for column in columns
    ]
    lookups = [column.lookup for column in columns]
    queryset = result_queryset(definition, user=user)
    count = queryset.count()
    limit = min(export_max_rows(), XLSX_MAX_ROWS)
    if count > limit:
        raise DomainError(
            f"the result has {count:,} rows; an export holds at most {limit:,}:"
            " narrow the query first",
            code="export_too_large",
        )

    def rows() -> Iterator[list[Any]]:
        for values in queryset.values_list(*lookups).iterator(chunk_size=2000):
            yield [
                choice.get(str(value), value) if choice is not None and value is not None else value
                for value, choice in zip(values, labels, strict=True)
            ]

    return [column.label for column in columns], rows()


class _Echo:
    """A file-like object whose write returns what it was given (for csv.writer)."""

    def write(self, value: str) -> str:
        return value


def _csv_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return ""
    return value


def csv_response(definition: QueryDefinition, *, user, name: str) -> StreamingHttpResponse:
    """The result as a streamed CSV download."""
    header, rows = export_rows(definition, user=user)
    writer = csv.writer(_Echo())

    def lines() -> Iterator[str]:
        yield "\ufeff" + writer.writerow(header)
        for row in rows:
            yield writer.writerow([_csv_value(value) for value in row])

    response = StreamingHttpResponse(lines(), content_type=CSV_CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{export_filename(name, "csv")}"'
    return response


def _xlsx_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return timezone.localtime(value).replace(tzinfo=None)
    return value


def xlsx_response(definition: QueryDefinition, *, user, name: str) -> FileResponse:
    """The result as an XLSX download, written row by row (openpyxl's write-only mode)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    columns = _columns(definition)
    header, rows = export_rows(definition, user=user)
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=(slugify(name)[:31] or "query"))
    sheet.freeze_panes = "A2"
    for index, column in enumerate(columns, start=1):
        width = max(len(column.label) + 2, 22 if column.kind in ("text", "datetime") else 12)
        sheet.column_dimensions[get_column_letter(index)].width = width
    bold = Font(bold=True)
    header_cells = []
    for label in header:
        cell = WriteOnlyCell(sheet, value=label)
        cell.font = bold
        header_cells.append(cell)
    sheet.append(header_cells)
    formats = [_xlsx_format(column) for column in columns]
    for row in rows:
        cells = []
        for value, number_format in zip(row, formats, strict=True):
            value = _xlsx_value(value)
            if number_format and value is not None:
                cell = WriteOnlyCell(sheet, value=value)
                cell.number_format = number_format
                cells.append(cell)
            else:
                cells.append(value)
        sheet.append(cells)
    # FileResponse streams the file and closes it when the response is done
    handle = tempfile.TemporaryFile()  # noqa: SIM115
    workbook.save(handle)
    handle.seek(0)
    return FileResponse(
        handle,
        as_attachment=True,
        filename=export_filename(name, "xlsx"),
        content_type=XLSX_CONTENT_TYPE,
    )


def _xlsx_format(column: Column) -> str | None:
    if column.percent:
        return "0.0%"
    if column.kind == "datetime":
        return "yyyy-mm-dd hh:mm"
    if column.kind == "date":
        return "yyyy-mm-dd"
    return None


def export_response(definition: QueryDefinition, *, user, name: str, export_format: str):
    """A CSV or XLSX download of the definition's result."""
    if export_format == "csv":
        return csv_response(definition, user=user, name=name)
    if export_format == "xlsx":
        return xlsx_response(definition, user=user, name=name)
    raise DomainError(f"unknown export format {export_format!r}; use csv or xlsx", field="export")
