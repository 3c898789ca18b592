"""The area list as CSV and XLSX: the listing's rows, every page of them, in its order.

CSV is UTF-8 (with a byte-order mark, so spreadsheet programs read umlauts right) and
rates as fractions (0.4123); XLSX has real numbers, rates in a percentage format, a bold
frozen header with a filter, and column widths.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.utils import timezone
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from areas.listing import AreaListing
from areas.models import Area

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_CONTENT_TYPE = "text/csv; charset=utf-8"


@dataclass(frozen=True)
class ExportColumn:
    """A column of the export: heading, value, its spreadsheet number format and width."""

    heading: str
    value: Callable[[Area], Any]
    number_format: str = "General"
    width: int = 12


def _rate(value: Decimal) -> float:
    return float(value)


EXPORT_COLUMNS = [
    ExportColumn("Code", lambda area: area.code, width=14),
    ExportColumn("Name", lambda area: area.name, width=30),
    ExportColumn("Phase", lambda area: area.get_phase_display(), width=20),
    ExportColumn("Active", lambda area: "yes" if area.is_active else "no (split)", width=11),
    ExportColumn("Homes", lambda area: area.homes, "#,##0", width=10),
    ExportColumn("Addresses", lambda area: area.address_count, "#,##0", width=11),
    ExportColumn("Interests", lambda area: area.interests, "#,##0", width=11),
    ExportColumn("Orders", lambda area: area.orders, "#,##0", width=10),
    ExportColumn("Addresses with order", lambda area: area.addresses_with_order, "#,##0", 12),
    ExportColumn("Take rate", lambda area: _rate(area.take_rate), "0.0%", width=11),
    ExportColumn("Interest rate", lambda area: _rate(area.interest_rate), "0.0%", width=12),
    ExportColumn("Target", lambda area: _rate(area.target_take_rate), "0.0%", width=10),
    ExportColumn("Progress", lambda area: _rate(area.progress), "0%", width=10),
    ExportColumn("Ready to build", lambda area: "yes" if area.is_ready else "no", width=10),
]
HEADINGS = [column.heading for column in EXPORT_COLUMNS]


def export_rows(listing: AreaListing) -> Iterable[list[Any]]:
    """The listing's areas as rows of plain values, in its order."""
    for area in listing.areas.iterator(chunk_size=2000):
        yield [column.value(area) for column in EXPORT_COLUMNS]


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
    for row in export_rows(listing):
        writer.writerow([_csv_value(value) for value in row])
    return buffer.getvalue().encode("utf-8-sig")


def areas_xlsx(listing: AreaListing) -> bytes:
    """The listing as an Excel workbook: one sheet, a frozen header, real numbers."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Areas"
    sheet.append(HEADINGS)
    header_fill = PatternFill("solid", fgColor="F0F4F8")
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.fill = header_fill
        cell.alignment = Alignment(vertical="center", wrap_text=True)
    for row in export_rows(listing):
        sheet.append(row)
    for index, column in enumerate(EXPORT_COLUMNS, start=1):
        letter = get_column_letter(index)
        sheet.column_dimensions[letter].width = column.width
        if column.number_format != "General":
            for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
                cell.number_format = column.number_format
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = sheet.dimensions
    sheet.row_dimensions[1].height = 30
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
