"""The area list's exports: CSV and XLSX hold exactly the page's rows, in its order."""

import csv
import io
import re

import pytest
from openpyxl import load_workbook

from tests.areas.town import build_many, build_town, row_codes

HEADINGS = [
    "Code",
    "Name",
    "Phase",
    "Active",
    "Homes",
    "Addresses",
    "Interests",
    "Orders",
    "Addresses with order",
    "Take rate",
    "Interest rate",
    "Target",
    "Progress",
    "Ready to build",
]


@pytest.fixture
def town(db):
    return build_town()


@pytest.fixture
def planner_client(client, planner):
    client.force_login(planner)
    return client


def read_csv(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def read_xlsx(response):
    return load_workbook(io.BytesIO(response.content)).active


def test_the_csv_is_utf8_with_a_header_and_the_areas_figures(town, planner_client):
    response = planner_client.get("/areas/export.csv")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert re.fullmatch(
        r'attachment; filename="areas-\d{4}-\d{2}-\d{2}\.csv"', response["Content-Disposition"]
    )
    assert response.content.startswith(b"\xef\xbb\xbf")  # BOM: spreadsheets read ü right
    rows = read_csv(response)
    assert rows[0] == HEADINGS
    assert rows[1:] == [
        ["13347", "Gesundbrunnen", "planning", "yes", "10", "10", "2", "0", "0",
         "0.0000", "0.2000", "0.4000", "0.0000", "no"],
        ["13349", "Afrikanisches Viertel", "demand aggregation", "yes", "8", "8", "5", "4", "4",
         "0.5000", "0.6250", "0.3500", "1.4286", "yes"],
        ["13351", "Brüsseler Kiez", "demand aggregation", "yes", "5", "5", "3", "1", "1",
         "0.2000", "0.6000", "0.5000", "0.4000", "no"],
        ["13353", "Leopoldplatz", "in deployment", "yes", "4", "4", "0", "3", "3",
         "0.7500", "0.0000", "0.4000", "1.8750", "yes"],
        ["13405", "Schillerpark", "live", "yes", "6", "6", "1", "2", "2",
         "0.3333", "0.1667", "0.3000", "1.1110", "yes"],
    ]  # fmt: skip


def test_the_xlsx_has_real_numbers_percent_formats_a_frozen_header_and_widths(town, planner_client):
    response = planner_client.get("/areas/export.xlsx")

    assert response.status_code == 200
    assert (
        response["Content-Type"]
        == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert re.fullmatch(
        r'attachment; filename="areas-\d{4}-\d{2}-\d{2}\.xlsx"', response["Content-Disposition"]
    )
    sheet = read_xlsx(response)
    assert sheet.title == "Areas"
    assert [cell.value for cell in sheet[1]] == HEADINGS
    assert all(cell.font.bold for cell in sheet[1])
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:N6"
    assert sheet.column_dimensions["B"].width == 30
    assert sheet.column_dimensions["J"].width == 11

    row = [cell.value for cell in sheet[3]]
    assert row == [
        "13349", "Afrikanisches Viertel", "demand aggregation", "yes", 8, 8, 5, 4, 4,
        0.5, 0.625, 0.35, 1.4286, "yes",
    ]  # fmt: skip
    formats = [cell.number_format for cell in sheet[3]]
    assert formats == [
        "General", "General", "General", "General", "#,##0", "#,##0", "#,##0", "#,##0",
        "#,##0", "0.0%", "0.0%", "0.0%", "0%", "General",
    ]  # fmt: skip


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"sort": "-take_rate"},
        {"sort": "phase"},
        {"phase": ["demand_aggregation", "live"], "sort": "-progress"},
        {"q": "er", "sort": "name"},
        {"take_rate_min": "20", "take_rate_max": "60", "sort": "-homes"},
        {"ready": "on", "sort": "target"},
    ],
)
def test_both_exports_hold_the_pages_rows_in_its_order(town, planner_client, query):
    page_codes = row_codes(planner_client.get("/areas/", query))

    csv_rows = read_csv(planner_client.get("/areas/export.csv", query))
    sheet = read_xlsx(planner_client.get("/areas/export.xlsx", query))

    assert [row[0] for row in csv_rows[1:]] == page_codes
    assert [row[0].value for row in sheet.iter_rows(min_row=2)] == page_codes


def test_the_page_links_its_exports_with_its_filters_and_sort(town, planner_client):
    page = planner_client.get("/areas/", {"phase": "live", "sort": "-orders", "page": "1"})

    assert 'href="/areas/export.csv?phase=live&amp;sort=-orders"' in page.text
    assert 'href="/areas/export.xlsx?phase=live&amp;sort=-orders"' in page.text


def test_an_export_holds_every_page_of_the_list(db, planner_client):
    build_many(30)

    page = planner_client.get("/areas/", {"per_page": "25", "sort": "-code"})
    rows = read_csv(planner_client.get("/areas/export.csv", {"per_page": "25", "sort": "-code"}))

    assert len(row_codes(page)) == 25
    assert [row[0] for row in rows[1:]] == [f"z{n:03d}" for n in range(29, -1, -1)]


def test_an_empty_selection_exports_just_the_header(town, planner_client):
    assert read_csv(planner_client.get("/areas/export.csv", {"q": "nowhere"})) == [HEADINGS]
    sheet = read_xlsx(planner_client.get("/areas/export.xlsx", {"q": "nowhere"}))
    assert [[cell.value for cell in row] for row in sheet.iter_rows()] == [HEADINGS]


def test_other_formats_are_not_served(town, planner_client):
    assert planner_client.get("/areas/export.pdf").status_code == 404


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_exports_read_a_constant_number_of_queries(
    db, planner_client, fmt, django_assert_max_num_queries
):
    build_many(30)
    # session, user, membership + organisation (the door), the rows
    with django_assert_max_num_queries(6):
        response = planner_client.get(f"/areas/export.{fmt}")
    assert response.status_code == 200
