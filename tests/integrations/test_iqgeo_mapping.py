"""IQGeo address features → oanm rows, on a recorded vendor-shaped page (EPSG:25833)."""

import pytest

from integrations.iqgeo.mapping import Rejected, house_number, map_feature, map_features
from tests.integrations.iqgeo_fixtures import recorded

PAGE = recorded("iqgeo_address_page.json")


def test_a_recorded_page_maps_fields_transforms_to_4326_and_rejects_with_reasons():
    rows, rejected = map_features(
        PAGE["features"], crs=PAGE["crs"], extra_properties=("buildingType",)
    )

    first, second = rows
    assert first["properties"] == {
        "external_id": "1001",
        "street": "Föhrer Straße",
        "house_number": "10a",
        "unit": "",
        "postcode": "13353",
        "city": "Berlin",
        "country": "DE",
        "circuit_ref": "",
        "circuit_name": "",
        "buildingType": "MDU",
    }
    lon, lat = first["geometry"]["coordinates"]
    assert lon == pytest.approx(13.3487766, abs=1e-6) and lat == pytest.approx(52.5415883, abs=1e-6)
    assert second["properties"]["street"] == "Ostender Straße"
    assert second["properties"]["house_number"] == "40-42b"
    assert second["properties"]["unit"] == "3. OG"
    assert second["properties"]["buildingType"] is None  # absent: the stored key goes
    assert rejected == [
        Rejected("1003", "not a point: expected a Point, got a LineString"),
        Rejected("1004", "missing street (streetName)"),
    ]


@pytest.mark.parametrize(
    ("feature", "reason"),
    [
        ({"geometry": {"type": "Point", "coordinates": [1, 2]}}, "missing feature id"),
        ({"id": 7, "geometry": None}, "no geometry"),
        ({"id": 7, "geometry": {"type": "Point", "coordinates": [52.5, 213.3]}}, "out of range"),
    ],
)
def test_bad_features_are_rejected_with_a_reason(feature, reason):
    mapped = map_feature({"properties": {"streetName": "A"}, **feature})
    assert isinstance(mapped, Rejected) and reason in mapped.reason


def test_extra_properties_never_pose_as_address_fields():
    feature = {
        "id": 1,
        "geometry": {"type": "Point", "coordinates": [13.3, 52.5]},
        "properties": {"streetName": "A", "city": "Berlin", "units": "9"},
    }
    row = map_feature(feature, extra_properties=("city", "units"))["properties"]
    assert row["city"] == "Berlin" and "units" not in row


def test_house_number_ranges():
    assert house_number({"streetNr": "3"}) == "3"
    assert house_number({"streetNr": "3", "streetNrLast": "5"}) == "3-5"
    assert house_number({}) == ""
