"""The address→area link on the demo town, checked against a brute-force answer from shapely."""

import json
from contextlib import contextmanager

import shapely
from django.contrib.gis.geos import GEOSGeometry

from areas.importing import import_areas
from areas.models import Area
from areas.services import area_reshape
from common.events import handler_named, subscribe, unsubscribe
from common.models import DomainEvent
from gis_core.importing import import_addresses
from gis_core.models import Address
from gis_core.services import address_update
from tests.conftest import DEMO_DATA

POSTCODES = "kind = 'postcode'"
# shapely bundles a newer GEOS than PostGIS: a point this close to a boundary may fall
# either side of it, so there any area whose boundary touches it is a right answer.
BOUNDARY_TOLERANCE = 1e-9


def stored_links() -> dict[int, int | None]:
    return dict(Address.objects.values_list("pk", "area_id"))


def brute_force_links() -> tuple[dict[int, int | None], dict[int, set[int]]]:
    """For every address, the oldest active area covering it (boundary included), by shapely;
    and for points on a boundary, every area that could rightly claim them."""
    areas = [
        (pk, shapely.from_wkb(bytes(boundary.wkb)))
        for pk, boundary in Area.objects.filter(is_active=True)
        .order_by("pk")
        .values_list("pk", "boundary")
    ]
    rows = list(Address.objects.values_list("pk", "location"))
    points = shapely.points([location.coords for _, location in rows])
    covered = {pk: shapely.covers(polygon, points) for pk, polygon in areas}
    touching = {
        pk: shapely.dwithin(polygon.boundary, points, BOUNDARY_TOLERANCE) for pk, polygon in areas
    }
    expected, on_boundary = {}, {}
    for index, (address_pk, _) in enumerate(rows):
        covering = [pk for pk, _ in areas if covered[pk][index]]
        expected[address_pk] = covering[0] if covering else None
        near = {pk for pk, _ in areas if touching[pk][index]}
        if near:
            on_boundary[address_pk] = near | {expected[address_pk]} | {None}
    return expected, on_boundary


def assert_links_match_brute_force() -> int:
    """Every stored link equals shapely's answer; returns how many addresses have an area."""
    stored = stored_links()
    expected, on_boundary = brute_force_links()
    assert stored.keys() == expected.keys()
    wrong = {
        pk: (stored[pk], expected[pk])
        for pk in stored
        if stored[pk] != expected[pk] and stored[pk] not in on_boundary.get(pk, ())
    }
    assert wrong == {}
    return sum(1 for area_id in stored.values() if area_id is not None)


def test_imported_addresses_join_the_postcode_area_that_contains_them(db):
    # given the 8 postcode areas of the demo town
    import_areas(DEMO_DATA / "areas.geojson", where=POSTCODES)

    # when the demo town's addresses are imported
    import_addresses(DEMO_DATA / "addresses.geojson")

    # then each address is linked to the area shapely finds around it (all lie in one)
    assert assert_links_match_brute_force() == 3006


def test_imported_areas_take_in_the_addresses_already_there(db):
    # given the demo town's addresses, with no areas yet
    import_addresses(DEMO_DATA / "addresses.geojson")
    assert Address.objects.exclude(area=None).count() == 0

    # when the postcode areas are imported
    import_areas(DEMO_DATA / "areas.geojson", where=POSTCODES)

    # then each address is linked to the area shapely finds around it (all lie in one)
    assert assert_links_match_brute_force() == 3006


def test_the_postcode_area_of_an_address_mostly_matches_its_postcode(db):
    # given the demo town with its postcode areas
    import_areas(DEMO_DATA / "areas.geojson", where=POSTCODES)
    import_addresses(DEMO_DATA / "addresses.geojson")

    # when the area of each address with a postcode is compared with that postcode
    pairs = list(Address.objects.exclude(postcode="").values_list("postcode", "area__code"))
    agreeing = sum(1 for postcode, code in pairs if postcode == code)

    # then they agree for all but 2 of the 2,960 (the data's README: 98-100 % per area)
    assert (agreeing, len(pairs)) == (2958, 2960)


def test_moving_an_address_moves_its_area(db):
    # given the demo town with its postcode areas, and an address in 13353
    import_areas(DEMO_DATA / "areas.geojson", where=POSTCODES)
    import_addresses(DEMO_DATA / "addresses.geojson")
    address = Address.objects.get(external_refs__external_id="n30302038")
    assert address.area.code == "13353"
    target = Area.objects.get(code="13347").boundary.point_on_surface

    # when it is moved into 13347
    moved = address_update(address=address, location=target)

    # then its area is 13347, and outside every area it has none
    assert moved.area.code == "13347"
    assert address_update(address=moved, location="POINT (13.0 52.0)").area is None


def test_an_address_moved_by_a_reimport_moves_its_area(db, tmp_path):
    # given the demo town with its postcode areas
    import_areas(DEMO_DATA / "areas.geojson", where=POSTCODES)
    features = json.loads((DEMO_DATA / "addresses.geojson").read_text())["features"]
    import_addresses(DEMO_DATA / "addresses.geojson")
    target = Area.objects.get(code="13347").boundary.point_on_surface

    # when the file comes back with n30302038 (in 13353) moved into 13347
    for feature in features:
        if feature["properties"]["id"] == "n30302038":
            feature["geometry"]["coordinates"] = list(target.coords)
    path = tmp_path / "moved.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    report = import_addresses(path)

    # then that one address is updated and now in 13347; every link still matches
    assert (report.updated, report.moved, report.unchanged) == (1, 1, 3005)
    assert Address.objects.get(external_refs__external_id="n30302038").area.code == "13347"
    assert_links_match_brute_force()


def test_reshaping_an_area_relinks_exactly_the_affected_addresses(db):
    # given the demo town with its postcode areas
    import_areas(DEMO_DATA / "areas.geojson", where=POSTCODES)
    import_addresses(DEMO_DATA / "addresses.geojson")
    area = Area.objects.get(code="13353")
    before = stored_links()
    old = shapely.from_wkb(bytes(area.boundary.wkb))
    xmin, ymin, xmax, ymax = old.bounds
    west_half = shapely.box(xmin, ymin, (xmin + xmax) / 2, ymax)
    new = shapely.multipolygons([old.intersection(west_half)])
    leaving = {
        pk
        for pk, location in Address.objects.filter(area=area).values_list("pk", "location")
        if not new.covers(shapely.Point(location.coords))
    }
    assert len(leaving) > 100

    # when 13353 is cut down to its western half
    area_reshape(area=area, boundary=GEOSGeometry(new.wkt, srid=4326))

    # then exactly the addresses of its eastern half lost their link, and nothing else moved
    after = stored_links()
    changed = {pk for pk in after if after[pk] != before[pk]}
    assert changed == leaving
    assert {after[pk] for pk in changed} == {None}
    assert_links_match_brute_force()
    assert DomainEvent.objects.get(topic="area.reshaped").payload == {
        "area_id": area.pk,
        "addresses_reassigned": len(leaving),
        "areas_touched": [area.pk],
    }


def demo_feature_in(postcode: str, *, skip: int = 0) -> dict:
    """A demo address whose postcode area contains it (2 of the 2,960 lie just outside)."""
    features = json.loads((DEMO_DATA / "addresses.geojson").read_text())["features"]
    candidates = [f for f in features if f["properties"]["postcode"] == postcode]
    return json.loads(json.dumps(candidates[skip]))


def write_features(path, features: list[dict]):
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def area_of(external_id: str) -> str | None:
    address = Address.objects.select_related("area").get(external_refs__external_id=external_id)
    return address.area.code if address.area else None


def area_ids(*codes: str) -> list[int]:
    return sorted(Area.objects.filter(code__in=codes).values_list("pk", flat=True))


def test_an_import_links_new_moved_and_departed_rows_and_names_the_areas_it_touched(db, tmp_path):
    # given the postcode areas and five addresses imported, each in its postcode's area
    import_areas(DEMO_DATA / "areas.geojson", where=POSTCODES)
    renumbered, moved, departed, stale, untouched = (
        demo_feature_in(code) for code in ("13351", "13353", "13349", "13405", "13627")
    )
    first = [renumbered, moved, departed, stale, untouched]
    import_addresses(write_features(tmp_path / "v1.geojson", first))
    ids = {
        name: feature["properties"]["id"]
        for name, feature in zip(
            ("renumbered", "moved", "departed", "stale", "untouched"), first, strict=True
        )
    }
    assert {name: area_of(ids[name]) for name in ids} == {
        "renumbered": "13351",
        "moved": "13353",
        "departed": "13349",
        "stale": "13405",
        "untouched": "13627",
    }
    # and one link gone stale, as if the areas had changed without a relink
    Address.objects.filter(external_refs__external_id=ids["stale"]).update(area=None)

    # when the file comes back with a house number changed, one address moved into 13347,
    # one moved out of every area, a new address in 13407 and the rest as they were
    renumbered["properties"]["housenumber"] = "99b"
    moved["geometry"]["coordinates"] = list(
        Area.objects.get(code="13347").boundary.point_on_surface.coords
    )
    departed["geometry"]["coordinates"] = [13.0, 52.0]
    new = demo_feature_in("13407")
    report = import_addresses(write_features(tmp_path / "v2.geojson", [*first, new]))

    # then the written rows are linked to the area around their new place (or to none)
    assert (report.created, report.updated, report.moved, report.unchanged) == (1, 3, 2, 2)
    assert {name: area_of(ids[name]) for name in ids} | {
        "new": area_of(new["properties"]["id"])
    } == {
        "renumbered": "13351",
        "moved": "13347",
        "departed": None,
        "stale": None,  # not written: not the import's business
        "untouched": "13627",
        "new": "13407",
    }
    # and the event names every area the written rows left or joined, and no other
    event = DomainEvent.objects.filter(topic="addresses.imported").latest("occurred_at")
    assert event.payload == {
        "import_id": report.import_id,
        "created": 1,
        "updated": 3,
        "moved": 2,
        "area_ids": area_ids("13351", "13353", "13347", "13349", "13407"),
    }


def test_an_import_of_the_demo_town_names_every_area_its_addresses_joined(db):
    # given the postcode areas
    import_areas(DEMO_DATA / "areas.geojson", where=POSTCODES)

    # when the demo town is imported
    report = import_addresses(DEMO_DATA / "addresses.geojson")

    # then the event names exactly the areas that now hold addresses
    event = DomainEvent.objects.get(topic="addresses.imported")
    assert event.payload["import_id"] == report.import_id
    assert event.payload["area_ids"] == sorted(
        set(Address.objects.exclude(area=None).values_list("area_id", flat=True))
    )
    assert len(event.payload["area_ids"]) == 8


@contextmanager
def handler_removed(name: str):
    """A registered event handler unsubscribed for the block, then subscribed again."""
    handler = handler_named(name)
    unsubscribe(name)
    try:
        yield
    finally:
        subscribe(handler.topic, kind=handler.kind, name=handler.name)(handler.func)


def test_with_no_staged_handler_a_rewritten_address_keeps_its_area(db, tmp_path):
    # given an address imported into 13351 (the areas app linked it)
    import_areas(DEMO_DATA / "areas.geojson", where=POSTCODES)
    feature = demo_feature_in("13351")
    import_addresses(write_features(tmp_path / "v1.geojson", [feature]))
    assert area_of(feature["properties"]["id"]) == "13351"

    # when the file comes back with its house number changed and nobody links areas
    feature["properties"]["housenumber"] = "99b"
    with handler_removed("areas.assign_staged_addresses"):
        report = import_addresses(write_features(tmp_path / "v2.geojson", [feature]))

    # then the address is written and keeps the area it had
    assert report.updated == 1
    assert Address.objects.get().house_number == "99b"
    assert area_of(feature["properties"]["id"]) == "13351"
