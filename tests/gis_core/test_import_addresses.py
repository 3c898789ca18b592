"""import_addresses: any GDAL-readable file → addresses, upserted by external reference."""

import csv
import io
import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from pyproj import Transformer

from common.models import DomainEvent
from gis_core.importing import import_addresses
from gis_core.models import Address, ExternalReference
from gis_core.staging import (
    STAGING_SCHEMA,
    ImportFailed,
    Rejection,
    drop_stale_staging_tables,
)
from tests.conftest import DEMO_DATA, REPO

DEMO_ADDRESSES = DEMO_DATA / "addresses.geojson"
BROKEN = REPO / "tests" / "data" / "addresses_broken.geojson"
CRS84 = {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}}


def demo_features(count: int | None = None) -> list[dict]:
    features = json.loads(DEMO_ADDRESSES.read_text())["features"]
    return features if count is None else features[:count]


def write_geojson(path: Path, features: list[dict], crs: dict = CRS84) -> Path:
    path.write_text(json.dumps({"type": "FeatureCollection", "crs": crs, "features": features}))
    return path


def staging_tables() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", [STAGING_SCHEMA])
        return {row[0] for row in cursor.fetchall()}


def snapshot() -> dict[int, tuple]:
    """Every stored address as (external id, label, location, updated_at, last import)."""
    return {
        address.pk: (
            address.external_refs.get().external_id,
            address.label,
            address.location.coords,
            address.updated_at,
            address.last_import_id,
        )
        for address in Address.objects.prefetch_related("external_refs")
    }


def test_importing_the_demo_town_stores_every_address(db):
    # given the demo town's 3,006 OSM addresses, all with an id, a street and a point
    features = demo_features()

    # when they are imported with no options
    report = import_addresses(DEMO_ADDRESSES)

    # then every one is stored once, keyed by its OSM id
    assert (report.read, report.created, report.updated, report.unchanged) == (3006, 3006, 0, 0)
    assert report.rejected == []
    assert Address.objects.count() == 3006
    assert set(ExternalReference.objects.values_list("system", "external_id")) == {
        ("osm", feature["properties"]["id"]) for feature in features
    }
    first = Address.objects.get(external_refs__system="osm", external_refs__external_id="n30302038")
    assert (first.street, first.house_number, first.postcode, first.city, first.country) == (
        "Föhrer Straße",
        "10",
        "13353",
        "Berlin",
        "DE",
    )
    assert first.label == "Föhrer Straße 10, 13353 Berlin"
    assert first.location.coords == (13.3487766, 52.5415883)
    assert (first.premises_type, first.units, first.unit, first.status) == (
        "single_family",
        1,
        "",
        "planned",
    )
    assert first.attributes == {"osm_id": "30302038", "osm_type": "node", "suburb": "Wedding"}
    assert str(first.last_import_id) == report.import_id
    # and the run told higher layers before writing (staged) and after (imported); with no
    # areas, no address has one and no area was touched
    assert list(DomainEvent.objects.order_by("occurred_at").values_list("topic", "payload")) == [
        (
            "addresses.staged",
            {
                "import_id": report.import_id,
                "work_table": "pg_temp.oanm_address_import",
                "area_table": "pg_temp.oanm_address_import_area",
            },
        ),
        (
            "addresses.imported",
            {
                "import_id": report.import_id,
                "created": 3006,
                "updated": 0,
                "moved": 0,
                "area_ids": [],
            },
        ),
    ]
    assert Address.objects.exclude(area=None).count() == 0


def test_importing_the_demo_town_twice_adds_nothing_and_changes_nothing(db):
    # given the demo town imported once
    import_addresses(DEMO_ADDRESSES)
    before = snapshot()

    # when the same file is imported again
    report = import_addresses(DEMO_ADDRESSES)

    # then nothing is created or written: no duplicates, no timestamps touched, no new event
    assert (report.created, report.updated, report.unchanged, report.rejected) == (0, 0, 3006, [])
    assert snapshot() == before
    assert ExternalReference.objects.count() == 3006
    assert DomainEvent.objects.count() == 2  # the first run's staged and imported


def test_broken_rows_are_rejected_with_their_reason_and_the_good_ones_stored(db):
    # given a file of good rows mixed with broken ones
    # when it is imported
    report = import_addresses(BROKEN, system="test")

    # then each broken row is named with its specific reason (the first of a duplicate id wins)
    assert report.rejected == [
        (2, "t2", "no geometry"),
        (
            3,
            "t3",
            "coordinates out of range (lon 213.3476669, lat 52.5438448): lon must be within"
            " -180..180 and lat within -90..90; if the file is projected, give its CRS with --srs",
        ),
        (4, "t4", "missing street"),
        (5, "t1", "duplicate external id (first in row 1)"),
        (6, "t6", "not a point: expected a Point, got a LineString"),
        (8, "", "missing external id"),
        (9, "t9", "country must be a two-letter ISO code, not 'GERMANY'"),
        (
            10,
            "t10",
            "coordinates out of range (lon 13.3479, lat 95): lon must be within -180..180 and"
            " lat within -90..90; if the file is projected, give its CRS with --srs",
        ),
        (11, "t11", "units must be a whole number of at least 1, not 'three'"),
        (12, "t12", "unknown premises type 'castle' (one of single_family, mdu_flat, business)"),
        (13, "t13", "a single-family home has exactly one unit, not 3"),
    ]
    # and the good ones are stored, normalised
    assert (report.created, report.updated, report.unchanged) == (3, 0, 0)
    stored = {
        address.external_refs.get().external_id: (
            address.label,
            address.country,
            address.premises_type,
            address.units,
        )
        for address in Address.objects.all()
    }
    assert stored == {
        "t1": ("Föhrer Straße 10, 13353 Berlin", "DE", "single_family", 1),
        "t7": ("Ostender Straße 30, 13353 Berlin", "DE", "single_family", 1),
        "t14": ("Ostender Straße 40, 13353 Berlin", "DE", "mdu_flat", 12),
    }


def test_a_rejected_row_changes_nothing_stored(db, tmp_path):
    # given an address imported from a good row
    good = demo_features(1)
    import_addresses(write_geojson(tmp_path / "good.geojson", good))
    before = snapshot()

    # when a later file has the same id with no street and a new place
    broken = json.loads(json.dumps(good))
    broken[0]["properties"]["street"] = None
    broken[0]["geometry"]["coordinates"] = [13.35, 52.55]
    report = import_addresses(write_geojson(tmp_path / "broken.geojson", broken))

    # then that row is rejected and the stored address is as it was
    assert report.rejected == [Rejection(1, "n30302038", "missing street")]
    assert (report.created, report.updated, report.unchanged) == (0, 0, 0)
    assert snapshot() == before


def test_a_changed_file_updates_only_the_changed_rows(db, tmp_path):
    # given 20 demo addresses imported
    features = demo_features(20)
    first = import_addresses(write_geojson(tmp_path / "v1.geojson", features))
    before = snapshot()

    # when the file comes back with one house number changed and one address moved
    changed = json.loads(json.dumps(features))
    changed[3]["properties"]["housenumber"] = "99b"
    changed[7]["geometry"]["coordinates"] = [13.3401, 52.5501]
    second = import_addresses(write_geojson(tmp_path / "v2.geojson", changed))

    # then exactly those two are written (one of them moved); the others are untouched
    assert (second.created, second.updated, second.moved, second.unchanged) == (0, 2, 1, 18)
    after = snapshot()
    written = {pk for pk in after if after[pk] != before[pk]}
    ids = {after[pk][0]: pk for pk in after}
    assert written == {ids[changed[3]["properties"]["id"]], ids[changed[7]["properties"]["id"]]}
    renumbered = Address.objects.get(pk=ids[changed[3]["properties"]["id"]])
    assert renumbered.house_number == "99b"
    assert str(renumbered.last_import_id) == second.import_id
    moved = Address.objects.get(pk=ids[changed[7]["properties"]["id"]])
    assert moved.location.coords == (13.3401, 52.5501)
    unchanged = Address.objects.exclude(pk__in=written)
    assert {str(address.last_import_id) for address in unchanged} == {first.import_id}
    assert DomainEvent.objects.filter(topic="addresses.imported").count() == 2
    assert DomainEvent.objects.filter(topic="addresses.staged").count() == 2
    assert DomainEvent.objects.filter(topic="addresses.imported").latest("occurred_at").payload == {
        "import_id": second.import_id,
        "created": 0,
        "updated": 2,
        "moved": 1,
        "area_ids": [],
    }


def test_a_file_in_epsg_25833_lands_where_the_lon_lat_originals_are(db, tmp_path):
    # given 50 demo points transformed to ETRS89 / UTM 33N, the file saying so
    features = demo_features(50)
    to_utm = Transformer.from_crs(4326, 25833, always_xy=True)
    projected = json.loads(json.dumps(features))
    for feature in projected:
        feature["geometry"]["coordinates"] = list(
            to_utm.transform(*feature["geometry"]["coordinates"])
        )
    # and one point far outside the projection's domain
    outside = json.loads(json.dumps(projected[0]))
    outside["properties"]["id"] = "far-away"
    outside["geometry"]["coordinates"] = [1e20, 1e20]
    crs = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::25833"}}
    path = write_geojson(tmp_path / "utm.geojson", [*projected, outside], crs=crs)

    # when it is imported
    report = import_addresses(path)

    # then every address lies where its lon/lat original does, and the far one is refused
    assert report.created == 50
    assert report.rejected == [
        (
            51,
            "far-away",
            "cannot transform (1e+20 1e+20) from EPSG:25833 to EPSG:4326:"
            " outside the projection's domain",
        )
    ]
    stored = {ref.external_id: ref.address.location for ref in ExternalReference.objects.all()}
    for feature in features:
        location = stored[feature["properties"]["id"]]
        lon, lat = feature["geometry"]["coordinates"]
        assert location.srid == 4326
        assert abs(location.x - lon) < 1e-6
        assert abs(location.y - lat) < 1e-6
    # and importing it again finds the same points: nothing changes
    again = import_addresses(path)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 50)


def test_a_csv_with_lon_lat_columns_imports(db, tmp_path):
    # given a CSV with the coordinates in lon and lat columns
    features = demo_features(10)
    path = tmp_path / "addresses.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "street", "housenumber", "postcode", "city", "lon", "lat"])
        for feature in features:
            p = feature["properties"]
            writer.writerow(
                [p["id"], p["street"], p["housenumber"], p["postcode"], p["city"]]
                + feature["geometry"]["coordinates"]
            )

    # when it is imported
    report = import_addresses(path)

    # then the rows are points at those coordinates, and lon/lat are not kept as attributes
    assert (report.created, report.rejected) == (10, [])
    for feature in features:
        address = Address.objects.get(external_refs__external_id=feature["properties"]["id"])
        assert address.location.coords == tuple(feature["geometry"]["coordinates"])
        assert address.street == feature["properties"]["street"]
        assert address.attributes == {}


def test_a_csv_in_a_projected_crs_imports_with_srs(db, tmp_path):
    # given a CSV with x/y in EPSG:25833, which a CSV cannot say itself
    features = demo_features(5)
    to_utm = Transformer.from_crs(4326, 25833, always_xy=True)
    path = tmp_path / "addresses.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "street", "x", "y"])
        for feature in features:
            x, y = to_utm.transform(*feature["geometry"]["coordinates"])
            writer.writerow([feature["properties"]["id"], feature["properties"]["street"], x, y])

    # when it is imported without --srs, the rows are rejected as out of range
    unprojected = import_addresses(path)
    assert unprojected.rejected[0].reason.startswith("coordinates out of range (lon 3")
    assert unprojected.created == 0

    # and with --srs EPSG:25833 they land at their lon/lat originals
    report = import_addresses(path, srs="EPSG:25833")
    assert (report.created, report.rejected) == (5, [])
    for feature in features:
        location = Address.objects.get(
            external_refs__external_id=feature["properties"]["id"]
        ).location
        lon, lat = feature["geometry"]["coordinates"]
        assert abs(location.x - lon) < 1e-6
        assert abs(location.y - lat) < 1e-6


def test_a_geopackage_imports(db, tmp_path):
    # given the demo town written to a GeoPackage by ogr2ogr
    path = tmp_path / "addresses.gpkg"
    subprocess.run(["ogr2ogr", "-f", "GPKG", str(path), str(DEMO_ADDRESSES)], check=True)

    # when it is imported
    report = import_addresses(path)

    # then it is the same town
    assert (report.created, report.rejected) == (3006, [])
    first = Address.objects.get(external_refs__external_id="n30302038")
    assert (first.label, first.location.coords) == (
        "Föhrer Straße 10, 13353 Berlin",
        (13.3487766, 52.5415883),
    )


def test_a_file_with_several_layers_needs_the_layer_named(db, tmp_path):
    # given a GeoPackage with an areas layer and an addresses layer
    path = tmp_path / "town.gpkg"
    subprocess.run(
        ["ogr2ogr", "-f", "GPKG", str(path), str(DEMO_DATA / "areas.geojson")], check=True
    )
    subprocess.run(["ogr2ogr", "-update", "-f", "GPKG", str(path), str(DEMO_ADDRESSES)], check=True)

    # when it is imported without --layer, it is refused and nothing changes
    with pytest.raises(ImportFailed) as refused:
        import_addresses(path)
    assert refused.value.message == (
        f"{path} has 2 layers (areas, addresses): choose one with --layer"
    )
    assert Address.objects.count() == 0

    # and with the layer named, that layer is imported
    report = import_addresses(path, layer="addresses")
    assert (report.created, report.rejected) == (3006, [])


def test_field_mapping_reads_the_named_properties(db, tmp_path):
    # given a file whose properties have other names
    feature = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [13.3487766, 52.5415883]},
        "properties": {
            "ref": "A-17",
            "strasse": "Föhrer Straße",
            "hnr": "10 B",
            "plz": "13353",
            "ort": "Berlin",
            "art": "business",
            "street": "not this one",
        },
    }
    path = write_geojson(tmp_path / "mapped.geojson", [feature])

    # when it is imported with a mapping
    report = import_addresses(
        path,
        system="iqgeo",
        mapping={
            "external_id": "ref",
            "street": "strasse",
            "house_number": "hnr",
            "postcode": "plz",
            "city": "ort",
            "premises_type": "art",
        },
    )

    # then the named properties fill the fields and the rest become attributes
    assert (report.created, report.rejected) == (1, [])
    address = Address.objects.get()
    assert address.label == "Föhrer Straße 10 B, 13353 Berlin"
    assert address.house_number_normalised == "10b"
    assert address.premises_type == "business"
    assert address.attributes == {"street": "not this one"}
    assert list(address.external_refs.values_list("system", "external_id")) == [("iqgeo", "A-17")]


def test_a_mapping_to_a_missing_property_is_refused_and_nothing_changes(db, tmp_path):
    # given the demo file, and a mapping naming a property it does not have
    # when it is imported, the run is refused with the properties it does have
    with pytest.raises(ImportFailed) as refused:
        import_addresses(DEMO_ADDRESSES, mapping={"street": "addr_street"})

    # then nothing changed
    assert refused.value.message == (
        "--map street=addr_street: the file has no property 'addr_street' (it has: id, osm_type,"
        " osm_id, street, housenumber, postcode, city, suburb, country, unit, building_id,"
        " building)"
    )
    assert Address.objects.count() == 0
    assert DomainEvent.objects.count() == 0


def test_the_where_filter_is_passed_to_gdal(db):
    # given the demo town, of which some addresses are in postcode 13353
    expected = {
        feature["properties"]["id"]
        for feature in demo_features()
        if feature["properties"]["postcode"] == "13353"
    }

    # when it is imported with an attribute filter
    report = import_addresses(DEMO_ADDRESSES, where="postcode = '13353'")

    # then only those are imported
    assert report.created == len(expected)
    assert set(ExternalReference.objects.values_list("external_id", flat=True)) == expected


def test_a_file_that_cannot_be_opened_is_refused_and_nothing_changes(db, tmp_path):
    # given a file that is no GIS format, and a path that does not exist
    garbage = tmp_path / "garbage.geojson"
    garbage.write_text("this is not json")

    # when they are imported, each is refused with what is wrong
    with pytest.raises(CommandError) as unreadable:
        call_command("import_addresses", str(garbage), "--no-progress")
    with pytest.raises(CommandError) as missing:
        call_command("import_addresses", str(tmp_path / "nowhere.geojson"), "--no-progress")

    # then nothing changed
    assert str(unreadable.value) == (
        f"cannot open {garbage}: GDAL has no driver that reads it (is it a GIS file?)"
    )
    assert str(missing.value) == f"cannot open {tmp_path / 'nowhere.geojson'}: no such file"
    assert Address.objects.count() == 0
    assert DomainEvent.objects.count() == 0


def test_the_command_prints_the_rejects_and_writes_them_all_to_csv(db, tmp_path):
    # given the file of broken rows
    rejects = tmp_path / "rejects.csv"
    out = io.StringIO()

    # when the command imports it with --rejects
    call_command(
        "import_addresses",
        str(BROKEN),
        "--system",
        "test",
        "--rejects",
        str(rejects),
        "--no-progress",
        stdout=out,
    )

    # then the console lists each rejected row and the summary, and the CSV holds them all
    lines = out.getvalue().splitlines()
    assert lines[0] == "Rejected 11 rows:"
    assert lines[1] == "  row 2  external_id t2: no geometry"
    assert lines[6] == "  row 8  external_id -: missing external id"
    assert lines[12] == f"11 rejected rows written to {rejects}"
    assert lines[13] == "Created 3, updated 0, unchanged 0, rejected 11"
    assert lines[14].startswith("14 rows in ")
    with rejects.open() as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["row", "external_id", "reason"]
    assert [row[:2] for row in rows[1:]] == [
        ["2", "t2"],
        ["3", "t3"],
        ["4", "t4"],
        ["5", "t1"],
        ["6", "t6"],
        ["8", ""],
        ["9", "t9"],
        ["10", "t10"],
        ["11", "t11"],
        ["12", "t12"],
        ["13", "t13"],
    ]
    assert rows[4] == ["5", "t1", "duplicate external id (first in row 1)"]


def test_the_console_shows_the_first_20_rejects(db, tmp_path):
    # given 25 rows without a street
    features = demo_features(25)
    for feature in features:
        feature["properties"]["street"] = ""
    path = write_geojson(tmp_path / "streetless.geojson", features)
    out = io.StringIO()

    # when the command imports it without --rejects
    call_command("import_addresses", str(path), "--no-progress", stdout=out)

    # then 20 are listed and the rest are counted
    lines = out.getvalue().splitlines()
    assert lines[0] == "Rejected 25 rows:"
    assert len([line for line in lines if line.startswith("  row ")]) == 20
    assert lines[21] == "  … and 5 more: --rejects FILE writes them all"
    assert Address.objects.count() == 0


def test_progress_goes_through_the_stages_and_the_staging_table_is_dropped(db):
    # given the tables in the staging schema before the run
    before = staging_tables()
    calls = []

    # when the demo town is imported with a progress callback
    import_addresses(DEMO_ADDRESSES, progress=lambda *call: calls.append(call))

    # then it hears each stage in order, loading up to 100 %
    stages = list(dict.fromkeys(stage for stage, _, _ in calls))
    assert stages == ["loading", "validating", "linking", "upserting"]
    assert ("loading", 100, 100) in calls
    assert calls[-1] == ("upserting", 4, 4)
    # and the run's staging table is gone
    assert staging_tables() - before == set()


def test_a_system_that_is_not_a_slug_is_refused(db):
    # when the external system is not a short slug, the import is refused before reading
    with pytest.raises(ImportFailed) as refused:
        import_addresses(DEMO_ADDRESSES, system="OSM data!")

    # then nothing changed
    assert refused.value.message == (
        "system must be a short slug such as osm or iqgeo, not 'OSM data!'"
    )
    assert Address.objects.count() == 0


def test_a_shapefile_imports_with_its_field_names_cut_to_10_characters(db, tmp_path):
    # given the demo town as a Shapefile, where housenumber became housenumbe
    path = tmp_path / "addresses.shp"
    subprocess.run(
        [
            "ogr2ogr",
            "-f",
            "ESRI Shapefile",
            "-lco",
            "ENCODING=UTF-8",
            str(path),
            str(DEMO_ADDRESSES),
        ],
        check=True,
        capture_output=True,
    )

    # when it is imported with no options
    report = import_addresses(path)

    # then the cut names still find their fields
    assert (report.created, report.rejected) == (3006, [])
    first = Address.objects.get(external_refs__external_id="n30302038")
    assert first.label == "Föhrer Straße 10, 13353 Berlin"
    assert first.attributes == {
        "osm_id": "30302038",
        "osm_type": "node",
        "suburb": "Wedding",
    }


def test_a_staging_table_left_by_a_dead_run_is_dropped_by_a_later_one(db):
    # given a staging table from a run seven hours ago and one from a run still going
    old = (datetime.now(UTC) - timedelta(hours=7)).strftime("%Y%m%d%H%M%S")
    new = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {STAGING_SCHEMA}")
        cursor.execute(f"CREATE TABLE {STAGING_SCHEMA}.addresses_{old}_0badc0de (x int)")
        cursor.execute(f"CREATE TABLE {STAGING_SCHEMA}.addresses_{new}_00c0ffee (x int)")

    # when the sweep that starts every run looks at them
    dropped = drop_stale_staging_tables()

    # then only the old one is dropped
    assert dropped == [f"addresses_{old}_0badc0de"]
    assert f"addresses_{new}_00c0ffee" in staging_tables()
    assert f"addresses_{old}_0badc0de" not in staging_tables()


def address_indexes() -> dict[str, tuple[int, str]]:
    """The address table's indexes and the constraints of the references: name → (oid,
    definition)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT indexrelid::regclass::text, indexrelid::oid::int, pg_get_indexdef(indexrelid)
              FROM pg_index WHERE indrelid = 'gis_core_address'::regclass
             UNION ALL
            SELECT conname, oid::int, pg_get_constraintdef(oid)
              FROM pg_constraint WHERE conrelid = 'gis_core_externalreference'::regclass
            """
        )
        return {name: (oid, definition) for name, oid, definition in cursor.fetchall()}


def test_a_bulk_load_builds_its_indexes_and_foreign_key_again_as_they_were(db, settings):
    # given an empty address table, and bulk loads counted from 1,000 rows
    settings.IMPORT_BULK_LOAD_MIN_ROWS = 1000
    before = address_indexes()

    # when the demo town (3,006 rows) is imported
    report = import_addresses(DEMO_ADDRESSES)

    # then the address table's secondary indexes and the references' foreign key are new
    # ones with the same definitions, the keys and unique constraints the same ones, and
    # every address is stored and found through the location index
    after = address_indexes()
    assert {name: definition for name, (_, definition) in after.items()} == {
        name: definition for name, (_, definition) in before.items()
    }
    renewed = {name for name in after if after[name][0] != before[name][0]}
    assert renewed == {
        "address_location_3857",
        "address_postcode_street",
        "address_live",
        "address_retired",
        "address_search_prefix",
        "address_search_trgm",
        "address_status",
        "gis_core_address_area_id_7fe81d5c",
        "gis_core_address_location_fdae6616_id",
        "gis_core_externalref_address_id_7649f668_fk_gis_core_",
    }
    assert ExternalReference.objects.count() == 3006
    assert report.created == Address.objects.count() == 3006
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        assert (
            Address.objects.filter(
                location__intersects="POLYGON ((13 52, 14 52, 14 53, 13 53, 13 52))"
            ).count()
            == 3006
        )


def test_a_bulk_load_keeps_the_indexes_when_the_table_is_in_use(db, settings):
    # given bulk loads counted from 1,000 rows, and another session reading the address table
    settings.IMPORT_BULK_LOAD_MIN_ROWS = 1000
    before = address_indexes()
    dsn = connection.settings_dict
    with psycopg.connect(
        dbname=dsn["NAME"],
        host=dsn["HOST"],
        port=dsn["PORT"],
        user=dsn["USER"],
        password=dsn["PASSWORD"] or None,
    ) as reader:
        reader.execute("SELECT count(*) FROM gis_core_address").fetchone()  # holds its lock

        # when the demo town is imported
        report = import_addresses(DEMO_ADDRESSES)

    # then it does not wait for the reader: the same indexes stay, the rows are all stored
    assert address_indexes() == before
    assert report.created == Address.objects.count() == 3006
    with connection.cursor() as cursor:
        cursor.execute("SHOW lock_timeout")
        assert cursor.fetchone()[0] == "0"
