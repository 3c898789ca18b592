"""VETRO service locations ⇄ oanm, both ways, on a recorded vendor-shaped answer."""

import pytest

from integrations.vetro.mapping import (
    CommercialState,
    FieldProgress,
    Rejected,
    commercial_properties,
    is_yes,
    map_feature,
    map_features,
    parse_full_address,
)
from tests.integrations.vetro_fixtures import recorded

ANSWER = recorded("vetro_service_locations.json")
FEATURES = ANSWER["result"]["features"]
ID = "6f1c2a4e-0b7d-4c1e-9a55-2d8e3c1f0a0{}".format


def test_a_recorded_page_maps_fields_progress_and_rejects_with_reasons():
    rows, progress, rejected = map_features(FEATURES, extra_properties=("Building Type",))

    first, second, third = rows
    assert first["properties"] == {
        "external_id": ID(1),
        "street": "Föhrer Straße",
        "house_number": "10a",
        "unit": "",
        "postcode": "13353",
        "city": "Berlin",
        "country": "DE",
        "Building Type": "MDU",
    }
    assert first["geometry"] == {"type": "Point", "coordinates": [13.3487766, 52.5415883]}
    # no Street field: the full address is parsed
    assert {k: second["properties"][k] for k in ("street", "house_number", "postcode", "city")} == {
        "street": "Ostender Straße",
        "house_number": "40-42b",
        "postcode": "13353",
        "city": "Berlin",
    }
    assert second["properties"]["unit"] == "3. OG"
    assert third["properties"]["Building Type"] is None  # absent: the stored key goes
    assert progress == [
        FieldProgress(ID(1), drop_installed=False, ont_installed=False),
        FieldProgress(ID(2), drop_installed=True, ont_installed=False),
        FieldProgress(ID(3), drop_installed=True, ont_installed=True),
    ]
    assert rejected == [
        Rejected(ID(4), "not a point: expected a Point, got a LineString"),
        Rejected(ID(5), "missing street ('Street' or 'Address')"),
        Rejected("", "missing x-vetro.vetro_id"),
    ]


def test_the_customers_field_labels_come_from_configuration(settings):
    settings.VETRO_FIELDS = {"street": "Strasse", "drop_installed": "Hausanschluss"}
    feature = {
        "x-vetro": {"vetro_id": "a"},
        "geometry": {"type": "Point", "coordinates": [13.3, 52.5]},
        "properties": {"Strasse": "Seestraße", "Hausanschluss": "ja", "Drop Installed": "Yes"},
    }
    row, progress = map_feature(feature)
    assert row["properties"]["street"] == "Seestraße"
    # read from "Hausanschluss" ("ja" is no yes it knows), no longer from "Drop Installed"
    assert progress.drop_installed is False


@pytest.mark.parametrize(
    ("feature", "reason"),
    [
        ({"geometry": {"type": "Point", "coordinates": [1, 2]}}, "missing x-vetro.vetro_id"),
        ({"x-vetro": {"vetro_id": "a"}, "geometry": None}, "no geometry"),
        (
            {"x-vetro": {"vetro_id": "a"}, "geometry": {"type": "Point", "coordinates": [52, 213]}},
            "out of range",
        ),
    ],
)
def test_bad_features_are_rejected_with_a_reason(feature, reason):
    mapped = map_feature({"properties": {"Street": "A"}, **feature})
    assert isinstance(mapped, Rejected) and reason in mapped.reason


def test_full_addresses_and_yes_values():
    assert parse_full_address("Seestraße 5, 13353 Berlin") == {
        "street": "Seestraße",
        "house_number": "5",
        "postcode": "13353",
        "city": "Berlin",
    }
    assert parse_full_address("Am Park") == {"street": "Am Park"}
    assert parse_full_address("") == {}
    assert [is_yes(v) for v in ("Yes", "TRUE", 1, True, "installed")] == [True] * 5
    assert [is_yes(v) for v in ("No", "", None, False, 0)] == [False] * 5


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (CommercialState("planned"), ("Not Installed", "Inactive", "")),
        (CommercialState("awaiting_deployment"), ("Ordered", "Inactive", "")),
        (CommercialState("in_deployment"), ("In Deployment", "Inactive", "")),
        (
            CommercialState("connected", awaiting_activation=True),
            ("Installed", "Awaiting activation", ""),
        ),
        (CommercialState("connected"), ("Installed", "Inactive", "")),
        (
            CommercialState("activated", services=("Fibre 1000", "Fibre 250", "Fibre 1000")),
            ("Installed", "Active", "Fibre 1000; Fibre 250"),
        ),
    ],
)
def test_commercial_state_to_vetro_properties(state, expected):
    assert commercial_properties(state) == dict(
        zip(("Installation Status", "Service Status", "Service Type"), expected, strict=True)
    )


def test_written_properties_follow_the_configured_labels(settings):
    settings.VETRO_FIELDS = {"service_status": "Servicestatus"}
    assert "Servicestatus" in commercial_properties(CommercialState("activated", ("X",)))
