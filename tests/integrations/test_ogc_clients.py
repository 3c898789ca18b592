"""Real OGC clients against a live oanm: GDAL's OAPIF driver (ogrinfo, ogr2ogr to a
GeoPackage and back) and OWSLib, authenticated with an API token."""

import os
import shutil
import subprocess

import pytest

from tests.integrations.ogc_town import ADDRESSES, build_town

pytestmark = pytest.mark.django_db(transaction=True)
needs_gdal = pytest.mark.skipif(shutil.which("ogrinfo") is None, reason="GDAL is not installed")


@pytest.fixture
def town(owner):
    return build_town(owner)


def gdal(town, *args, scope="read"):
    """Run a GDAL command with the token's header; returns its stdout (fails on an error)."""
    env = {**os.environ, "GDAL_HTTP_HEADERS": f"Authorization: Bearer {town.tokens[scope]}"}
    for proxy in ("http_proxy", "HTTP_PROXY"):  # loopback only
        env.pop(proxy, None)
    result = subprocess.run(
        list(args),
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@needs_gdal
def test_ogrinfo_lists_both_layers(live_server, town):
    out = gdal(town, "ogrinfo", "-ro", "-q", f"OAPIF:{live_server.url}/ogc/")
    assert "addresses" in out and "areas" in out


@needs_gdal
def test_ogrinfo_without_a_token_is_refused(live_server, town):
    result = subprocess.run(
        ["ogrinfo", "-ro", "-q", f"OAPIF:{live_server.url}/ogc/"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "401" in result.stderr


@needs_gdal
def test_ogr2ogr_copies_every_address_with_its_attributes(live_server, town, tmp_path):
    target = tmp_path / "out.gpkg"
    gdal(
        town,
        "ogr2ogr",
        "-f",
        "GPKG",
        str(target),
        f"OAPIF:{live_server.url}/ogc/",
        "addresses",
        "-oo",
        "PAGE_SIZE=4",  # pages of 4: GDAL follows `next` to the end
        scope="sync",
    )
    summary = subprocess.run(
        ["ogrinfo", "-ro", "-so", str(target), "addresses"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f"Feature Count: {ADDRESSES}" in summary
    for attribute in ("status", "area_code", "premises_type", "label"):
        assert f"{attribute}:" in summary
    rows = subprocess.run(
        [
            "ogrinfo",
            "-ro",
            "-q",
            str(target),
            "-sql",
            "SELECT area_code, count(*) AS n FROM addresses GROUP BY area_code ORDER BY area_code",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "area_code (String) = east" in rows and "n (Integer) = 3" in rows
    assert "area_code (String) = north" in rows and "n (Integer) = 12" in rows
    point = subprocess.run(
        [
            "ogrinfo",
            "-ro",
            "-q",
            str(target),
            "-sql",
            "SELECT * FROM addresses WHERE street = 'Müllerstraße' AND house_number = '1'",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "POINT (13.3301 52.5505)" in point


@needs_gdal
def test_ogr2ogr_reads_the_areas_in_a_bbox(live_server, town, tmp_path):
    target = tmp_path / "areas.gpkg"
    gdal(
        town,
        "ogr2ogr",
        "-f",
        "GPKG",
        str(target),
        f"OAPIF:{live_server.url}/ogc/",
        "areas",
        "-spat",
        "13.3395",
        "52.5595",
        "13.3401",
        "52.5601",
    )
    out = subprocess.run(
        ["ogrinfo", "-ro", "-q", str(target), "areas"], capture_output=True, text=True, check=True
    ).stdout
    assert "code (String) = east" in out and "north" not in out
    assert "MULTIPOLYGON" in out


def test_owslib_reads_collections_and_items(live_server, town):
    from owslib.ogcapi.features import Features

    api = Features(f"{live_server.url}/ogc/", headers=town.auth("read"))
    assert [c["id"] for c in api.collections()["collections"]] == ["addresses", "areas"]
    assert (
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core"
        in (api.conformance()["conformsTo"])
    )
    page = api.collection_items("addresses", limit=5, area_code="east")
    assert page["numberMatched"] == 3
    assert sorted(f["properties"]["house_number"] for f in page["features"]) == ["1", "2", "3"]
    area = api.collection_item("areas", str(town.north.pk))
    assert area["properties"]["code"] == "north"
    queryables = api.collection_queryables("addresses")
    assert "status" in queryables["properties"]


def test_owslib_deletes_a_planning_area(live_server, town):
    from owslib.ogcapi.features import Features

    reader = Features(f"{live_server.url}/ogc/", headers=town.auth("read"))
    assert (
        "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete"
        in reader.conformance()["conformsTo"]
    )
    editor = Features(f"{live_server.url}/ogc/", headers=town.auth("write"))
    assert editor.collection_item_delete("areas", str(town.east.pk))
    assert [f["properties"]["code"] for f in reader.collection_items("areas")["features"]] == [
        "north"
    ]


@needs_gdal
def test_areas_go_to_a_geopackage_and_back(live_server, town, tmp_path):
    from areas.importing import import_areas
    from areas.models import Area

    target = tmp_path / "areas.gpkg"
    gdal(town, "ogr2ogr", "-f", "GPKG", str(target), f"OAPIF:{live_server.url}/ogc/", "areas")
    # Edited outside oanm (as in QGIS): one area renamed.
    subprocess.run(
        [
            "ogrinfo",
            str(target),
            "-sql",
            "UPDATE areas SET name = 'Nord (QGIS)' WHERE code = 'north'",
        ],
        capture_output=True,
        check=True,
    )
    report = import_areas(target, layer="areas")
    assert (report.created, report.updated, report.unchanged) == (0, 1, 1)
    assert Area.objects.get(code="north").name == "Nord (QGIS)"
    assert Area.objects.get(code="east").name == "Ost"
    assert import_areas(target, layer="areas").updated == 0  # the same file again: nothing
