"""The area list as CSV and XLSX: the listing's rows, every page of them, in its order.

CSV is UTF-8 (with a byte-order mark, so spreadsheet programs read umlauts right) and
rates as fractions (0.4123); XLSX has real numbers, rates in a percentage format, a bold
frozen header with a filter, and column widths. Rows are read as plain values (no model
instances, no geometry) and the workbook is written in openpyxl's streaming mode.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.utils import timezone
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from areas.lifecycle import AreaPhase
from areas.listing import AreaListing

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_CONTENT_TYPE = "text/csv; charset=utf-8"

# What an export reads of each listed area (model fields and the listing's annotations).
FIELDS = [
    "code",
    "name",
    "phase",
    "is_active",
    "homes",
    "address_count",
    "interests",
    "orders",
    "addresses_with_order",
    "take_rate",
    "interest_rate",
    "target_take_rate",
    "progress",
    "is_ready",
]
PHASE_LABELS = dict(AreaPhase.choices)
Row = dict[str, Any]


@dataclass(frozen=True)
class ExportColumn:
    """A column of the export: heading, value, its spreadsheet number format and width."""

    heading: str
    value: Callable[[Row], Any]
    number_format: str = "General"
    width: int = 12


def _field(name: str) -> Callable[[Row], Any]:
    return lambda row: row[name]


def _rate(name: str) -> Callable[[Row], float]:
    return lambda row: float(row[name])


EXPORT_COLUMNS = [
    ExportColumn("Code", _field("code"), width=14),
    ExportColumn("Name", _field("name"), width=30),
    ExportColumn("Phase", lambda row: PHASE_LABELS.get(row["phase"], row["phase"]), width=20),
    ExportColumn("Active", lambda row: "yes" if row["is_active"] else "no (split)", width=11),
    ExportColumn("Homes", _field("homes"), "#,##0", width=10),
    ExportColumn("Addresses", _field("address_count"), "#,##0", width=11),
    ExportColumn("Interests", _field("interests"), "#,##0", width=11),
    ExportColumn("Orders", _field("orders"), "#,##0", width=10),
    ExportColumn("Addresses with order", _field("addresses_with_order"), "#,##0", width=12),
    ExportColumn("Take rate", _rate("take_rate"), "0.0%", width=11),
    ExportColumn("Interest rate", _rate("interest_rate"), "0.0%", width=12),
    ExportColumn("Target", _rate("target_take_rate"), "0.0%", width=10),
    ExportColumn("Progress", _rate("progress"), "0%", width=10),
    ExportColumn("Ready to build", lambda row: "yes" if row["is_ready"] else "no", width=10),
]
HEADINGS = [column.heading for column in EXPORT_COLUMNS]


def export_rows(listing: AreaListing) -> Iterable[list[Any]]:
    """The listing's areas as rows of plain values, in its order."""
    for row in listing.areas.values(*FIELDS).iterator(chunk_size=2000):
        yield [column.value(row) for column in EXPORT_COLUMNS]


def export_filename(extension: str) -> str:
    return f"areas-{timezone.localtime():%Y-%m-%d}.{extension}"


def _csv_value(value: Any) -> Any:
    # Rates as fractions with the precision they are kept at (no float noise).
    return f"{value:.4f}" if isinstance(value, float) else value


def areas_csv(listing: AreaListing) -> bytes:
    """The listing as UTF-8 CSV with a header row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADINGS)
    writer.writerows([_csv_value(value) for value in row] for row in export_rows(listing))
    return buffer.getvalue().encode("utf-8-sig")


def areas_xlsx(listing: AreaListing) -> bytes:
    """The listing as an Excel workbook: one sheet, a frozen header, real numbers."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Areas")
    for index, column in enumerate(EXPORT_COLUMNS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = column.width
    sheet.freeze_panes = "A2"
    header_font, header_fill = Font(bold=True), PatternFill("solid", fgColor="F0F4F8")
    header_alignment = Alignment(vertical="center", wrap_text=True)
    header = []
    for heading in HEADINGS:
        cell = WriteOnlyCell(sheet, value=heading)
        cell.font, cell.fill, cell.alignment = header_font, header_fill, header_alignment
        header.append(cell)
    sheet.append(header)
    count = 0
    formats = [column.number_format for column in EXPORT_COLUMNS]
    for row in export_rows(listing):
        cells = []
        for value, number_format in zip(row, formats, strict=True):
            if number_format == "General":
                cells.append(value)
            else:
                cell = WriteOnlyCell(sheet, value=value)
                cell.number_format = number_format
                cells.append(cell)
        sheet.append(cells)
        count += 1
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(HEADINGS))}{count + 1}"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
