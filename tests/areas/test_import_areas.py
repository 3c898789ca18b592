"""import_areas: planning areas from any GDAL-readable file, upserted by their code."""

import io
import json
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from areas.importing import import_areas
from areas.models import Area
from common.models import DomainEvent
from gis_core.importing import import_addresses
from gis_core.models import Address
from gis_core.staging import ImportFailed
from tests.conftest import DEMO_DATA, REPO

DEMO_AREAS = DEMO_DATA / "areas.geojson"
POSTCODES = "kind = 'postcode'"
BROKEN = REPO / "tests" / "data" / "areas_broken.geojson"
POSTCODE_CODES = {"13347", "13349", "13351", "13353", "13403", "13405", "13407", "13627"}
BOW_TIE = "invalid polygon: Self-intersection[13.335 52.545]"


def snapshot() -> dict[str, tuple]:
    return {
        area.code: (area.name, area.boundary.wkb.hex(), area.target_take_rate, area.updated_at)
        for area in Area.objects.all()
    }


def test_importing_the_postcode_areas_creates_the_8_areas_coded_by_postcode(db):
    # given the demo town's 16 areas in three kinds
    # when the postcode ones are imported
    report = import_areas(DEMO_AREAS, where=POSTCODES)

    # then there are 8 areas, each named and coded by its postcode, in planning
    assert (report.read, report.created, report.updated, report.unchanged) == (8, 8, 0, 0)
    assert report.rejected == []
    assert set(Area.objects.values_list("code", flat=True)) == POSTCODE_CODES
    area = Area.objects.get(code="13353")
    assert (area.name, area.phase, area.target_take_rate, area.is_active) == (
        "13353",
        "planning",
        Decimal("0.4000"),
        True,
    )
    assert area.boundary.geom_type == "MultiPolygon"
    assert area.boundary.srid == 4326
    # every other property (nulls left out) is kept as an attribute
    assert area.attributes == {
        "id": "r1405639",
        "kind": "postcode",
        "osm_id": "1405639",
        "osm_type": "relation",
        "clipped_to_extract_bbox": "1",
    }
    created = DomainEvent.objects.filter(topic="area.created")
    assert sorted(event.payload["code"] for event in created) == sorted(POSTCODE_CODES)


def test_importing_the_postcode_areas_twice_changes_nothing(db):
    # given the postcode areas imported once
    import_areas(DEMO_AREAS, where=POSTCODES)
    before = snapshot()
    events = DomainEvent.objects.count()

    # when the same file is imported again
    report = import_areas(DEMO_AREAS, where=POSTCODES)

    # then nothing is created or written
    assert (report.created, report.updated, report.unchanged, report.rejected) == (0, 0, 8, [])
    assert snapshot() == before
    assert DomainEvent.objects.count() == events


def test_broken_area_rows_are_rejected_with_their_reason_and_the_good_ones_stored(db):
    # given a file of good areas mixed with broken ones
    # when it is imported
    report = import_areas(BROKEN)

    # then each broken row is named with its reason (an invalid one with ST_IsValidReason)
    assert report.rejected == [
        (2, "A2", BOW_TIE),
        (3, "A3", "no geometry"),
        (4, "A4", "not a polygon: expected a Polygon or MultiPolygon, got a Point"),
        (5, "", "missing code"),
        (6, "A1", "duplicate code (first in row 1)"),
        (7, "A7", "target take rate must be between 0 and 1 (e.g. 0.4 for 40%), not '40'"),
        (9, "A 9", "code must be a slug (letters, digits, - and _), not 'A 9'"),
    ]
    assert report.repaired == []
    # and the good ones are stored, a Polygon promoted to a MultiPolygon
    assert (report.created, report.updated, report.unchanged) == (2, 0, 0)
    stored = {
        area.code: (area.name, area.boundary.geom_type, area.target_take_rate)
        for area in Area.objects.all()
    }
    assert stored == {
        "A1": ("Good square", "MultiPolygon", Decimal("0.4000")),
        "A8": ("Quarter take rate", "MultiPolygon", Decimal("0.2500")),
    }


def test_make_valid_repairs_an_invalid_polygon_and_says_so(db):
    # given the file with a bow-tie polygon
    # when it is imported with make_valid
    report = import_areas(BROKEN, make_valid=True)

    # then the bow tie is stored as a valid MultiPolygon of its two triangles, and listed
    assert report.repaired == [(2, "A2", "Self-intersection[13.335 52.545]")]
    assert BOW_TIE not in [reason for _, _, reason in report.rejected]
    assert report.created == 3
    bow_tie = Area.objects.get(code="A2")
    assert bow_tie.boundary.valid
    assert bow_tie.boundary.num_geom == 2
    assert abs(bow_tie.boundary.area - 0.00005) < 1e-12
    # and repairing it again gives the same shape: nothing changes
    again = import_areas(BROKEN, make_valid=True)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)


def test_the_command_reports_repairs_and_rejects(db):
    # when the command imports the broken file with --make-valid
    out = io.StringIO()
    call_command("import_areas", str(BROKEN), "--make-valid", "--no-progress", stdout=out)

    # then the repair and the rejects are listed, then the counts
    lines = out.getvalue().splitlines()
    assert lines[:3] == [
        "Repaired 1 invalid geometries (--make-valid):",
        "  row 2  code A2: Self-intersection[13.335 52.545]",
        "Rejected 6 rows:",
    ]
    assert lines[-2] == "Created 3, updated 0, unchanged 0, rejected 6"


def test_a_reshaped_area_in_the_file_is_updated_and_its_addresses_follow(db, tmp_path):
    # given two side-by-side areas and an address in each
    square = {
        "type": "Feature",
        "properties": {"code": "west", "name": "West"},
        "geometry": {
            "type": "Polygon",
            "coordinates": [
                [[13.30, 52.54], [13.32, 52.54], [13.32, 52.56], [13.30, 52.56], [13.30, 52.54]]
            ],
        },
    }
    east = json.loads(json.dumps(square))
    east["properties"] = {"code": "east", "name": "East"}
    east["geometry"]["coordinates"] = [
        [[13.32, 52.54], [13.34, 52.54], [13.34, 52.56], [13.32, 52.56], [13.32, 52.54]]
    ]
    path = tmp_path / "areas.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [square, east]}))
    import_areas(path)
    addresses = tmp_path / "addresses.geojson"
    addresses.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"id": "w", "street": "Weststraße"},
                        "geometry": {"type": "Point", "coordinates": [13.315, 52.55]},
                    },
                    {
                        "type": "Feature",
                        "properties": {"id": "e", "street": "Oststraße"},
                        "geometry": {"type": "Point", "coordinates": [13.33, 52.55]},
                    },
                ],
            }
        )
    )
    import_addresses(addresses)
    assert dict(Address.objects.values_list("street", "area__code")) == {
        "Weststraße": "west",
        "Oststraße": "east",
    }
    untouched = Area.objects.get(code="east").updated_at

    # when the file comes back with west grown over the east one's address, and renamed
    square["properties"]["name"] = "Greater West"
    square["geometry"]["coordinates"] = [
        [[13.30, 52.54], [13.335, 52.54], [13.335, 52.56], [13.30, 52.56], [13.30, 52.54]]
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [square, east]}))
    report = import_areas(path)

    # then west is updated and reshaped, east unchanged, and the overlap goes to the older area
    assert (report.created, report.updated, report.moved, report.unchanged) == (0, 1, 1, 1)
    west = Area.objects.get(code="west")
    assert west.name == "Greater West"
    assert west.boundary.extent == (13.30, 52.54, 13.335, 52.56)
    assert Area.objects.get(code="east").updated_at == untouched
    assert dict(Address.objects.values_list("street", "area__code")) == {
        "Weststraße": "west",
        "Oststraße": "west",
    }
    reshaped = DomainEvent.objects.get(topic="area.reshaped")
    east = Area.objects.get(code="east")
    assert reshaped.payload == {
        "area_id": west.pk,
        "addresses_reassigned": 1,
        "areas_touched": sorted([west.pk, east.pk]),
    }


def test_a_mapping_picks_the_code_column(db):
    # when the demo's Ortsteile are imported with their OSM id as the code
    report = import_areas(DEMO_AREAS, where="kind = 'ortsteil'", mapping={"code": "id"})

    # then the areas are keyed by that property, and the file's code is an attribute
    assert (report.created, report.rejected) == (5, [])
    assert dict(Area.objects.values_list("code", "name")) == {
        "r55747": "Tegel",
        "r16328": "Reinickendorf",
        "r28267": "Wedding",
        "r16346": "Charlottenburg-Nord",
        "r28339": "Moabit",
    }
    assert Area.objects.get(code="r28267").attributes["code"] == "0105"


def test_a_file_that_cannot_be_opened_is_refused_and_nothing_changes(db, tmp_path):
    # given a file that is no GIS format
    garbage = tmp_path / "areas.gpkg"
    garbage.write_bytes(b"\x00\x01 not a geopackage")

    # when it is imported, the command says what is wrong
    with pytest.raises(CommandError) as refused:
        call_command("import_areas", str(garbage), "--no-progress")

    # then nothing changed
    assert str(refused.value).startswith(f"cannot open {garbage}")
    assert Area.objects.count() == 0
    assert DomainEvent.objects.count() == 0


def test_an_unknown_mapping_target_is_refused(db):
    with pytest.raises(ImportFailed) as refused:
        import_areas(DEMO_AREAS, mapping={"colour": "kind"})

    assert refused.value.message == "cannot map colour: the fields are code, name, target_take_rate"
    assert Area.objects.count() == 0
