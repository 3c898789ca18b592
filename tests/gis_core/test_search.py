"""Address search and nearest addresses, on real PostGIS: the demo town's real addresses,
typed the ways people type them, and the public API around them."""

import pytest
from django.core.cache import cache
from django.db import connection
from pyproj import Geod

from common.errors import DomainError
from gis_core.importing import import_addresses
from gis_core.lifecycle import PremisesType
from gis_core.models import StreetName
from gis_core.search import nearest_addresses, search_addresses, street_names_prune
from gis_core.services import address_update
from tests.conftest import DEMO_DATA
from tests.gis_core.factories import WEDDING_LAT, WEDDING_LON, AddressFactory

pytestmark = pytest.mark.django_db

FOHRER_10 = "Föhrer Straße 10, 13353 Berlin"
FEHMARNER_12A = "Fehmarner Straße 12a, 13353 Berlin"
GOTTHARD_RANGE = {"Gotthardstraße 23-25, 13407 Berlin", "Gotthardstraße 23 - 25, 13407 Berlin"}

# Typed input → the label(s) the first result must have (the demo town has some addresses
# twice, one per entrance: either counts).
QUALITY = [
    ("fohrer str 10", FOHRER_10),
    ("Föhrer Straße 10, 13353", FOHRER_10),
    ("FÖHRER STRASSE 10", FOHRER_10),
    ("föhrer strasse 10", FOHRER_10),
    ("Fohrer Strase 10", FOHRER_10),  # misspelt: the similar street
    ("Föhrerstr. 10", FOHRER_10),
    ("13353 Föhrer Str. 10", FOHRER_10),  # postcode first
    ("10 Föhrer Straße", FOHRER_10),  # number first
    ("Föhrer 13353 10", FOHRER_10),
    ("Föhrer Straße 10 II", "Föhrer Straße 10 II, 13353 Berlin"),
    ("Föhrer Straße 7", "Föhrer Straße 7, 13353 Berlin"),
    ("Fehmarner Straße 12a", FEHMARNER_12A),  # letter suffix
    ("Fehmarner Str 12 A", FEHMARNER_12A),
    ("fehmarner 12A", FEHMARNER_12A),
    ("Fehmarner Straße 12", "Fehmarner Straße 12, 13353 Berlin"),  # exact before 12a
    ("Corker Straße 34 b", "Corker Straße 34b, 13349 Berlin"),
    ("Luederitzstr. 20", "Lüderitzstraße 20, 13351 Berlin"),  # "ue" for "ü"
    ("Lüderitzstraße 20", "Lüderitzstraße 20, 13351 Berlin"),
    ("Gotthardstraße 24", GOTTHARD_RANGE),  # a range holding the number
    ("Kurt-Schumacher-Platz 7", "Kurt-Schumacher-Platz 1-15, 13405 Berlin"),
    ("Nordlichtstraße 27-31", "Nordlichtstraße 27-31, 13405 Berlin"),  # a typed range
    ("Nordlichtstr. 27 - 31", "Nordlichtstraße 27-31, 13405 Berlin"),
    ("Scharnweberstraße 17-20", "Scharnweberstraße 17-20, 13405 Berlin"),
    ("Kurt Schumacher Damm 30 f", "Kurt-Schumacher-Damm 30 f, 13405 Berlin"),
    ("Seestrase 92", "Seestraße 92, 13347 Berlin"),  # misspelt
    ("Muellerstrasse 56-58", "Müllerstraße 56-58, 13349 Berlin"),
]


@pytest.fixture
def demo_town(db):
    """The demo town's 3,006 real addresses (Berlin-Wedding, OpenStreetMap)."""
    import_addresses(DEMO_DATA / "addresses.geojson")


def first_labels(query: str, limit: int = 10) -> list[str]:
    return [match.label for match in search_addresses(query, limit=limit).matches]


def test_search_quality_on_the_demo_town(demo_town):
    # given the demo town; when each input is searched; then the expected address is first
    wrong = {}
    for query, expected in QUALITY:
        labels = first_labels(query)
        accepted = expected if isinstance(expected, set) else {expected}
        if not labels or labels[0] not in accepted:
            wrong[query] = labels[:3]
    assert wrong == {}


def test_a_typed_range_also_finds_the_addresses_at_its_ends(demo_town):
    labels = first_labels("Scharnweberstraße 17-20", limit=10)

    assert labels[0] == "Scharnweberstraße 17-20, 13405 Berlin"
    assert "Scharnweberstraße 17, 13405 Berlin" in labels
    assert "Scharnweberstraße 20, 13405 Berlin" in labels
    assert "Scharnweberstraße 18, 13405 Berlin" not in labels


def test_exact_number_comes_before_numbers_that_start_with_it(demo_town):
    numbers = [match.house_number for match in search_addresses("Fehmarner Straße 1").matches]

    assert numbers[0] == "1"
    assert all(number.startswith("1") for number in numbers)
    assert len(numbers) == 10


def test_type_ahead_finds_the_street_while_it_is_typed(demo_town):
    for typed in ("Föh", "fohrer", "Föhrer Str", "föhrer straße 1"):
        matches = search_addresses(typed).matches
        assert matches, typed
        assert {match.street for match in matches} == {"Föhrer Straße"}, typed


def test_a_misspelt_street_offers_what_it_found_as_did_you_mean(demo_town):
    result = search_addresses("Fohrer Strase 10")

    assert result.matches[0].label == FOHRER_10
    assert result.did_you_mean[0] == "Föhrer Straße 10"


def test_a_number_the_street_does_not_have_gives_no_match_and_the_street(demo_town):
    result = search_addresses("Fohrer Strase 99")

    assert result.matches == []
    assert result.did_you_mean[0] == "Föhrer Straße"


def test_nothing_like_any_address_gives_nothing(demo_town):
    result = search_addresses("Xyzzyqvx 5")

    assert (result.matches, result.did_you_mean) == ([], [])


def test_limit_bounds_the_matches(demo_town):
    assert len(search_addresses("Müllerstraße", limit=3).matches) == 3
    assert len(search_addresses("Müllerstraße", limit=25).matches) == 25


def test_flats_of_an_mdu_are_found_by_their_unit(db):
    # given a building and four of its flats
    AddressFactory(house_number="5", premises_type=PremisesType.MDU_FLAT, units=8)
    for unit in ("Whg 1", "Whg. 3", "3. OG links", "3. OG rechts"):
        AddressFactory(house_number="5", unit=unit, premises_type=PremisesType.MDU_FLAT)
    AddressFactory(house_number="50")

    # then each flat comes first for its own unit, and the building for the bare address
    assert first_labels("Müllerstraße 5, Whg 3")[0] == "Müllerstraße 5, Whg. 3, 13353 Berlin"
    assert first_labels("Müllerstraße 5 3.OG links")[0] == (
        "Müllerstraße 5, 3. OG links, 13353 Berlin"
    )
    assert first_labels("Muellerstr 5 3 og rechts")[0] == (
        "Müllerstraße 5, 3. OG rechts, 13353 Berlin"
    )
    assert first_labels("Müllerstraße 5")[0] == "Müllerstraße 5, 13353 Berlin"
    assert first_labels("Müllerstraße 5")[-1] == "Müllerstraße 50, 13353 Berlin"


def test_matches_carry_address_fields_location_and_a_score(db):
    address = AddressFactory(street="Föhrer Straße", house_number="12 A")

    [match] = search_addresses("Föhrer Straße 12a").matches

    assert (match.id, match.label, match.street, match.house_number, match.unit) == (
        address.pk,
        "Föhrer Straße 12 A, 13353 Berlin",
        "Föhrer Straße",
        "12 A",
        "",
    )
    assert (match.postcode, match.city) == ("13353", "Berlin")
    assert (match.lon, match.lat) == pytest.approx((address.location.x, address.location.y))
    assert match.score > 30
    assert match.distance_m is None


@pytest.mark.parametrize(
    ("query", "field"),
    [("", "q"), ("a", "q"), ("  a  ", "q"), ("x" * 201, "q"), (None, "q")],
)
def test_search_refuses_too_short_or_too_long_queries(db, query, field):
    with pytest.raises(DomainError) as refused:
        search_addresses(query)
    assert refused.value.field == field


@pytest.mark.parametrize("limit", [0, 26, "5", True])
def test_search_refuses_a_bad_limit(db, limit):
    with pytest.raises(DomainError) as refused:
        search_addresses("Müllerstraße", limit=limit)
    assert refused.value.field == "limit"


# --- the street lexicon ---------------------------------------------------------------


def test_every_writer_keeps_the_street_lexicon(db):
    # given an address created, and another renamed
    AddressFactory(street="Föhrer Straße")
    renamed = AddressFactory(street="Amrumer Straße")
    address_update(address=renamed, street="Sylter Str.")

    # then every spelling is there once, normalised
    names = dict(StreetName.objects.values_list("name_normalised", "name"))
    assert names == {
        "fohrer strasse": "Föhrer Straße",
        "amrumer strasse": "Amrumer Straße",
        "sylter strasse": "Sylter Str.",
    }

    # and pruning forgets the names no address uses any more
    assert street_names_prune() == 1
    assert set(StreetName.objects.values_list("name", flat=True)) == {
        "Föhrer Straße",
        "Sylter Str.",
    }


def test_the_bulk_importer_fills_the_lexicon(demo_town):
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(DISTINCT oanm_search_normalise(street)) FROM gis_core_address")
        spellings = cursor.fetchone()[0]
    assert StreetName.objects.count() == spellings > 100
    assert StreetName.objects.get(name_normalised="fohrer strasse").name == "Föhrer Straße"


# --- nearest addresses ------------------------------------------------------------------


def test_nearest_addresses_come_nearest_first_with_their_distance_in_metres(db):
    # given thirty addresses on a grid of ~10 m north-east of Wedding's origin
    addresses = [AddressFactory(house_number=str(n)) for n in range(30)]

    matches = nearest_addresses(lon=WEDDING_LON, lat=WEDDING_LAT, limit=5)

    geod = Geod(ellps="WGS84")
    expected = sorted(
        (geod.inv(WEDDING_LON, WEDDING_LAT, a.location.x, a.location.y)[2], a.pk) for a in addresses
    )[:5]
    assert [match.id for match in matches] == [pk for _, pk in expected]
    assert [match.distance_m for match in matches] == pytest.approx(
        [metres for metres, _ in expected], abs=0.2
    )


def test_nearest_addresses_use_the_knn_index_on_the_stored_3857_location(db):
    AddressFactory()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(
            "EXPLAIN SELECT id FROM gis_core_address ORDER BY location_3857 <->"
            " ST_Transform(ST_SetSRID(ST_MakePoint(13.35, 52.54), 4326), 3857) LIMIT 5"
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Index Scan using address_location_3857" in plan
    assert "Order By: (location_3857 <->" in plan


@pytest.mark.parametrize(
    ("lon", "lat", "field"), [(181, 52, "lon"), (13, -90.5, "lat"), ("x", 52, "lon")]
)
def test_nearest_refuses_coordinates_out_of_range(db, lon, lat, field):
    with pytest.raises(DomainError) as refused:
        nearest_addresses(lon=lon, lat=lat)
    assert refused.value.field == field


# --- the public API -----------------------------------------------------------------------

ADDRESS_KEYS = {
    "id", "label", "street", "house_number", "unit", "postcode", "city", "location", "score",
    "distance_m",
}  # fmt: skip


@pytest.fixture(autouse=True)
def _fresh_throttle():
    cache.clear()  # the throttle counts per client in the cache


def test_anyone_may_search_and_gets_address_fields_only(client, db):
    address = AddressFactory(street="Föhrer Straße", house_number="10")

    response = client.get("/api/addresses/search", {"q": "fohrer str 10"})

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"query", "results", "did_you_mean"}
    assert body["query"] == "fohrer str 10"
    assert body["did_you_mean"] == []
    [result] = body["results"]
    assert set(result) == ADDRESS_KEYS
    assert result["id"] == address.pk
    assert result["label"] == "Föhrer Straße 10, 13353 Berlin"
    # the stored point comes back through ST_X/ST_Y: equal to the last bit is not promised
    assert result["location"] == {
        "lon": pytest.approx(address.location.x, abs=1e-9),
        "lat": pytest.approx(address.location.y, abs=1e-9),
    }
    assert result["distance_m"] is None


def test_the_search_api_says_did_you_mean(client, demo_town):
    body = client.get("/api/addresses/search", {"q": "Fohrer Strase 99"}).json()

    assert body["results"] == []
    assert body["did_you_mean"][0] == "Föhrer Straße"


def test_anyone_may_ask_for_the_nearest_addresses(client, db):
    near = AddressFactory(house_number="1")
    AddressFactory(house_number="2")

    response = client.get(
        "/api/addresses/nearest", {"lon": near.location.x, "lat": near.location.y, "limit": 1}
    )

    assert response.status_code == 200
    [result] = response.json()["results"]
    assert set(result) == ADDRESS_KEYS
    assert (result["id"], result["distance_m"]) == (near.pk, 0.0)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "q"),
        ({"q": ""}, "q"),
        ({"q": "a"}, "q"),
        ({"q": " a "}, "q"),
        ({"q": "x" * 201}, "q"),
        ({"q": "Föhrer", "limit": "0"}, "limit"),
        ({"q": "Föhrer", "limit": "26"}, "limit"),
        ({"q": "Föhrer", "limit": "ten"}, "limit"),
    ],
)
def test_the_search_api_refuses_bad_parameters(client, db, params, field):
    response = client.get("/api/addresses/search", params)

    assert response.status_code == 400
    body = response.json()
    assert (body["code"], body["field"]) == ("invalid", field)
    assert body["detail"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"lat": 52.5}, "lon"),
        ({"lon": 13.3}, "lat"),
        ({"lon": 13.3, "lat": 91}, "lat"),
        ({"lon": -181, "lat": 52.5}, "lon"),
        ({"lon": "east", "lat": 52.5}, "lon"),
        ({"lon": "nan", "lat": 52.5}, "lon"),
        ({"lon": 13.3, "lat": 52.5, "limit": 50}, "limit"),
    ],
)
def test_the_nearest_api_refuses_bad_coordinates(client, db, params, field):
    response = client.get("/api/addresses/nearest", params)

    assert response.status_code == 400
    assert (response.json()["code"], response.json()["field"]) == ("invalid", field)


def test_the_lookup_endpoints_are_in_the_openapi_schema(client, admin_user):
    client.force_login(admin_user)
    paths = client.get("/api/schema/", {"format": "json"}).json()["paths"]

    assert set(paths["/api/addresses/search"]) == {"get"}
    assert set(paths["/api/addresses/nearest"]) == {"get"}
    parameters = {p["name"] for p in paths["/api/addresses/search"]["get"]["parameters"]}
    assert parameters == {"q", "limit"}
