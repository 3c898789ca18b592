"""Geometry at the edge: any input, its CRS honoured, validated with a reason a user can act on."""

import pytest
from django.contrib.gis.geos import GEOSGeometry, MultiPolygon, Point, Polygon

from common.errors import InvalidGeometry
from gis_core.geometry import (
    parse_geometry,
    parse_multipolygon,
    parse_point,
    point_lon_lat,
    srid_from_crs,
)

# Leopoldplatz-ish, lon 13.35 lat 52.55, in ETRS89 / UTM zone 33N (EPSG:25833).
UTM_EAST, UTM_NORTH = 388124.06, 5823492.67
LON, LAT = 13.35, 52.55
CM = 1e-6  # degrees; about 7 cm east-west and 11 cm north-south here
UTM_URN = "urn:ogc:def:crs:EPSG::25833"
OUT_OF_RANGE_HINT = (
    "lon must be within -180..180 and lat within -90..90; give the CRS if it is projected"
)
BOWTIE = "POLYGON((0 0, 1 1, 1 0, 0 1, 0 0))"


def _lon_lat(point: Point) -> tuple[float, float]:
    return point.x, point.y


def _invalid(value, **kwargs) -> InvalidGeometry:
    with pytest.raises(InvalidGeometry) as raised:
        parse_geometry(value, **kwargs)
    return raised.value


@pytest.mark.parametrize(
    ("crs", "srid"),
    [
        (None, 4326),
        ("", 4326),
        (25833, 25833),
        ("25833", 25833),
        ("EPSG:25833", 25833),
        ("epsg:3857", 3857),
        (UTM_URN, 25833),
        ("http://www.opengis.net/def/crs/EPSG/0/25833", 25833),
        ("urn:ogc:def:crs:OGC:1.3:CRS84", 4326),
        ("OGC:CRS84", 4326),
        ({"type": "name", "properties": {"name": UTM_URN}}, 25833),
    ],
)
def test_srid_from_crs_reads_every_usual_spelling(crs, srid):
    assert srid_from_crs(crs) == srid


def test_srid_from_crs_refuses_what_it_cannot_read():
    with pytest.raises(InvalidGeometry) as raised:
        srid_from_crs("Gauss-Krüger somewhere")
    assert raised.value.message == "unknown coordinate reference system 'Gauss-Krüger somewhere'"
    assert raised.value.field == "crs"


def test_geojson_in_lon_lat_is_kept_as_given():
    point = parse_geometry({"type": "Point", "coordinates": [LON, LAT]})

    assert point.srid == 4326
    assert _lon_lat(point) == (LON, LAT)


@pytest.mark.parametrize(
    "value",
    [
        f"POINT({LON} {LAT})",
        f"SRID=4326;POINT({LON} {LAT})",
        f'{{"type": "Point", "coordinates": [{LON}, {LAT}]}}',
        f"POINT({LON} {LAT})".encode(),
        {
            "type": "Feature",
            "properties": {},
            "geometry": {"type": "Point", "coordinates": [LON, LAT]},
        },
        GEOSGeometry(f"POINT({LON} {LAT})", srid=4326),
    ],
    ids=["wkt", "ewkt", "geojson-text", "bytes", "feature", "geos"],
)
def test_every_input_form_gives_the_same_point(value):
    point = parse_geometry(value)
    assert (point.geom_type, point.srid, _lon_lat(point)) == ("Point", 4326, (LON, LAT))


def test_ewkt_in_utm_33n_lands_at_the_right_lon_lat():
    point = parse_geometry(f"SRID=25833;POINT({UTM_EAST} {UTM_NORTH})")

    assert point.srid == 4326
    assert point.x == pytest.approx(LON, abs=CM)
    assert point.y == pytest.approx(LAT, abs=CM)


def test_geojson_with_a_crs_member_lands_at_the_right_lon_lat():
    point = parse_geometry(
        {
            "type": "Point",
            "coordinates": [UTM_EAST, UTM_NORTH],
            "crs": {"type": "name", "properties": {"name": UTM_URN}},
        }
    )

    assert point.srid == 4326
    assert point.x == pytest.approx(LON, abs=CM)
    assert point.y == pytest.approx(LAT, abs=CM)


def test_a_crs_given_by_the_caller_applies_to_plain_wkt():
    point = parse_geometry(f"POINT({UTM_EAST} {UTM_NORTH})", crs="EPSG:25833")

    assert point.x == pytest.approx(LON, abs=CM)
    assert point.y == pytest.approx(LAT, abs=CM)


def test_a_geos_input_is_not_changed_by_parsing():
    given = Point(UTM_EAST, UTM_NORTH, srid=25833)

    parse_geometry(given)

    assert (given.srid, given.x, given.y) == (25833, UTM_EAST, UTM_NORTH)


def test_projected_coordinates_without_a_crs_are_refused_with_the_range():
    error = _invalid(f"POINT({UTM_EAST} {UTM_NORTH})")

    assert error.message == (
        "coordinates out of range for EPSG:4326 (lon 388124..388124, lat 5.82349e+06..5.82349e+06):"
        f" {OUT_OF_RANGE_HINT}"
    )
    assert error.field == "geometry"
    assert error.code == "invalid_geometry"


def test_a_latitude_beyond_the_pole_is_refused():
    error = _invalid(f"POINT({LON} 95)")
    assert error.message == (
        "coordinates out of range for EPSG:4326 (lon 13.35..13.35, lat 95..95):"
        f" {OUT_OF_RANGE_HINT}"
    )


def test_a_self_intersecting_polygon_is_refused_with_the_reason():
    error = _invalid(BOWTIE)
    assert error.message == "invalid geometry: Self-intersection[0.5 0.5]"
    assert error.field == "geometry"


def test_a_hole_outside_its_shell_is_refused_with_the_reason():
    error = _invalid("POLYGON((0 0, 2 0, 2 2, 0 2, 0 0), (3 3, 4 3, 4 4, 3 4, 3 3))")
    assert error.message == "invalid geometry: Hole lies outside shell[3 3]"


@pytest.mark.parametrize("value", ["POINT EMPTY", "POLYGON EMPTY", "GEOMETRYCOLLECTION EMPTY"])
def test_an_empty_geometry_is_refused(value):
    assert _invalid(value).message == "the geometry is empty"


def test_garbage_text_is_refused_as_unreadable():
    error = _invalid("the corner by the bakery")
    assert error.message == (
        "unreadable geometry: String input unrecognized as WKT EWKT, and HEXEWKB."
    )
    assert error.field == "geometry"


def test_broken_json_is_refused_as_unreadable():
    error = _invalid('{"type": "Point", "coordinates": ')
    assert error.message.startswith("unreadable geometry: Expecting value")


def test_a_feature_without_geometry_is_refused():
    error = _invalid({"type": "Feature", "properties": {}, "geometry": None})
    assert error.message == "the feature has no geometry"


def test_an_unsupported_input_type_is_refused():
    assert _invalid(42).message == "unsupported geometry input of type int"


def test_an_unknown_epsg_code_is_refused():
    error = _invalid("POINT(1 2)", crs="EPSG:999999")
    assert error.message == "cannot transform from EPSG:999999: OGR failure."
    assert error.field == "crs"


def test_parse_point_refuses_a_polygon():
    with pytest.raises(InvalidGeometry) as raised:
        parse_point("POLYGON((13.33 52.55, 13.34 52.55, 13.34 52.56, 13.33 52.55))")
    assert raised.value.message == "expected a Point, got a Polygon"


@pytest.mark.parametrize(
    ("value", "crs"),
    [
        ({"type": "Point", "coordinates": [LON, LAT]}, None),
        ({"type": "Point", "coordinates": [13, 52, 34.5]}, "EPSG:4326"),
        ({"type": "Point", "coordinates": [UTM_EAST, UTM_NORTH]}, UTM_URN),
        ("POINT(13.35 52.55)", None),
    ],
)
def test_point_lon_lat_is_what_parse_point_gives(value, crs):
    point = parse_point(value, crs=crs)
    assert point_lon_lat(value, crs=crs) == (point.x, point.y)


@pytest.mark.parametrize(
    "coordinates", [[213.35, 52.55], [13.35, float("nan")], [13.35, 95], ["13.35", "52.55"]]
)
def test_point_lon_lat_refuses_what_parse_point_refuses_with_its_reason(coordinates):
    value = {"type": "Point", "coordinates": coordinates}
    with pytest.raises(InvalidGeometry) as expected:
        parse_point(value)
    with pytest.raises(InvalidGeometry) as raised:
        point_lon_lat(value)
    assert raised.value.message == expected.value.message


def test_parse_multipolygon_promotes_a_polygon():
    boundary = parse_multipolygon(
        {
            "type": "Polygon",
            "coordinates": [[[13.33, 52.55], [13.34, 52.55], [13.34, 52.56], [13.33, 52.55]]],
        }
    )

    assert isinstance(boundary, MultiPolygon)
    assert boundary.srid == 4326
    assert len(boundary) == 1
    assert boundary[0].equals(
        Polygon(((13.33, 52.55), (13.34, 52.55), (13.34, 52.56), (13.33, 52.55)))
    )


def test_parse_multipolygon_keeps_a_multipolygon_and_transforms_it():
    boundary = parse_multipolygon(
        f"MULTIPOLYGON((({UTM_EAST} {UTM_NORTH}, {UTM_EAST + 100} {UTM_NORTH},"
        f" {UTM_EAST + 100} {UTM_NORTH + 100}, {UTM_EAST} {UTM_NORTH})))",
        crs=25833,
    )

    assert (boundary.geom_type, boundary.srid, len(boundary)) == ("MultiPolygon", 4326, 1)
    xmin, ymin, _, _ = boundary.extent
    assert xmin == pytest.approx(LON, abs=CM)
    assert ymin == pytest.approx(LAT, abs=CM)


def test_parse_multipolygon_refuses_a_point():
    with pytest.raises(InvalidGeometry) as raised:
        parse_multipolygon(f"POINT({LON} {LAT})")
    assert raised.value.message == "expected a Polygon or MultiPolygon, got a Point"


def test_parse_multipolygon_refuses_a_self_intersecting_polygon():
    with pytest.raises(InvalidGeometry) as raised:
        parse_multipolygon(BOWTIE)
    assert raised.value.message == "invalid geometry: Self-intersection[0.5 0.5]"
