"""import_address_rows: features held in memory → addresses, through the file import's checks
and upsert (staged with COPY instead of ogr2ogr): the same results as the file on the same
input."""

import json

import pytest
from django.db import connection
from pyproj import Transformer

from common.models import DomainEvent
from gis_core.importing import import_address_rows, import_addresses
from gis_core.models import Address
from gis_core.staging import ImportFailed
from tests.gis_core.test_import_addresses import BROKEN, demo_features, write_geojson


def stored(system: str) -> dict[str, tuple]:
    """Every address of `system` by external id: what an import decides about it."""
    return {
        address.external_refs.get(system=system).external_id: (
            address.label,
            address.location.coords,
            address.attributes,
            address.premises_type,
            address.units,
            address.country,
        )
        for address in Address.objects.filter(external_refs__system=system)
    }


def temporary_tables() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname FROM pg_class WHERE relpersistence = 't' AND relkind = 'r'"
            " AND pg_table_is_visible(oid)"
        )
        return {row[0] for row in cursor.fetchall()}


def test_the_rows_give_what_the_file_gives_on_the_demo_town(db, tmp_path):
    # given the demo town's first 300 addresses, as a file and as rows in memory
    features = demo_features(300)
    path = write_geojson(tmp_path / "town.geojson", features)

    # when both are imported, each under its own system
    from_file = import_addresses(path, system="file")
    from_rows = import_address_rows(features, system="rows")

    # then the rows path stores the same addresses, field for field, attributes included
    assert (from_file.created, from_file.rejected) == (300, [])
    assert (from_rows.read, from_rows.created, from_rows.rejected) == (300, 300, [])
    assert stored("rows") == stored("file")
    # and, like the file, it told higher layers before and after writing
    for topic in ("addresses.staged", "addresses.imported"):
        assert DomainEvent.objects.filter(
            topic=topic, payload__import_id=from_rows.import_id
        ).exists()


def test_bad_rows_are_rejected_with_the_reasons_the_file_gives(db):
    # given the broken file (no geometry, out of range, a line, duplicates, bad fields …)
    features = json.loads(BROKEN.read_text())["features"]

    # when it is imported from the file and from the same features in memory
    from_file = import_addresses(BROKEN, system="file")
    from_rows = import_address_rows(features, system="rows")

    # then every row gets the same verdict, with the same reason, and the same rows are stored
    assert from_rows.rejected == from_file.rejected
    assert len(from_rows.rejected) == 11
    assert (from_rows.created, from_rows.updated) == (from_file.created, 0) == (3, 0)
    assert stored("rows") == stored("file")


def test_geometries_that_cannot_be_an_address_location_are_rejected_with_a_reason(db):
    # given rows whose geometry is missing, unreadable, empty, not a point or out of range
    def row(external_id, geometry):
        return {"geometry": geometry, "properties": {"id": external_id, "street": "Weg"}}

    rows = [
        row("ok", {"type": "Point", "coordinates": [13.35, 52.55, 34.0]}),
        row("none", None),
        row("words", {"type": "Point", "coordinates": ["13.35", "north"]}),
        row("garbage", {"type": "Nonsense", "coordinates": 7}),
        row("empty", {"type": "Point", "coordinates": []}),
        row("polygon", {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}),
        row("far", {"type": "Point", "coordinates": [13.35, 152.55]}),
    ]

    # when they are imported
    report = import_address_rows(rows, system="test")

    # then only the good one is stored (its Z dropped) and each other has its reason
    assert report.created == 1
    assert Address.objects.get().location.coords == (13.35, 52.55)
    reasons = {rejection.external_id: rejection.reason for rejection in report.rejected}
    assert reasons == {
        "none": "no geometry",
        "words": "no geometry",
        "garbage": "no geometry",
        "empty": "empty geometry",
        "polygon": "not a point: expected a Point, got a Polygon",
        "far": (
            "coordinates out of range (lon 13.35, lat 152.55): lon must be within -180..180"
            " and lat within -90..90; if the file is projected, give its CRS with --srs"
        ),
    }
    assert [r.row for r in report.rejected] == [2, 3, 4, 5, 6, 7]


def test_rows_in_a_projected_crs_are_transformed_and_a_rerun_changes_nothing(db):
    # given three demo addresses in EPSG:25833, with an extra property
    to_utm = Transformer.from_crs(4326, 25833, always_xy=True)
    originals = demo_features(3)
    rows = []
    for feature in originals:
        x, y = to_utm.transform(*feature["geometry"]["coordinates"])
        properties = {**feature["properties"], "floors": 4, "listed": True}
        point = {"type": "Point", "coordinates": [x, y]}
        rows.append({"geometry": point, "properties": properties})

    # when they are imported twice
    first = import_address_rows(rows, system="utm", srid=25833)
    again = import_address_rows(rows, system="utm", srid=25833)

    # then they land where the lon/lat originals are, the extras become text attributes,
    # and the second run changes nothing
    assert first.created == 3 and (again.created, again.updated, again.unchanged) == (0, 0, 3)
    for feature in originals:
        address = Address.objects.get(external_refs__external_id=feature["properties"]["id"])
        assert address.location.coords == pytest.approx(feature["geometry"]["coordinates"])
        assert address.attributes["floors"] == "4" and address.attributes["listed"] == "true"
    # and the staging table is gone
    assert "oanm_staged_rows" not in temporary_tables()


def test_rows_that_cannot_be_mapped_are_refused_and_nothing_changes(db):
    point = {"type": "Point", "coordinates": [13.35, 52.55]}
    with pytest.raises(ImportFailed, match="no column for street"):
        import_address_rows([{"geometry": point, "properties": {"id": "a"}}], system="test")
    with pytest.raises(ImportFailed, match="may not be named geom"):
        import_address_rows(
            [{"geometry": point, "properties": {"id": "a", "street": "Weg", "geom": "x"}}],
            system="test",
        )
    with pytest.raises(ImportFailed, match="short slug"):
        import_address_rows([], system="not a slug")
    assert Address.objects.count() == 0 and DomainEvent.objects.count() == 0


def test_no_rows_is_an_empty_report(db):
    report = import_address_rows([], system="test")
    assert (report.read, report.created, report.rejected) == (0, 0, [])
    assert DomainEvent.objects.count() == 0
