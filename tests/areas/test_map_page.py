"""The area map page (/map/): who may open it and the configuration it hands the browser."""

import json
import re

import pytest
from django.contrib.staticfiles import finders
from django.urls import reverse

from accounts.roles import Role
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db


def page_config(response) -> dict:
    match = re.search(
        r'<script id="map-config" type="application/json">(.*?)</script>',
        response.content.decode(),
        re.S,
    )
    assert match, "the page carries its configuration as JSON"
    return json.loads(match.group(1))


def test_the_map_lives_at_slash_map():
    assert reverse("areas:map") == "/map/"


def test_anonymous_users_are_sent_to_sign_in(client):
    response = client.get("/map/")
    assert response.status_code == 302
    assert response.url == "/accounts/login/?next=/map/"


def test_isp_users_may_not_open_the_map(client):
    client.force_login(UserFactory(isp=True))
    response = client.get("/map/")
    assert response.status_code == 403


def test_contractors_may_not_open_the_map(client):
    client.force_login(UserFactory(contractor=True))
    response = client.get("/map/")
    assert response.status_code == 403


def test_a_planner_gets_the_map_with_its_configuration(client, planner, settings):
    settings.MAP_TILE_URL = ""
    client.force_login(planner)
    response = client.get("/map/")
    assert response.status_code == 200
    assert response.templates[0].name == "areas/map.html"
    config = page_config(response)
    assert config["urls"] == {
        "areas": "/api/areas/",
        "area": "/api/areas/{id}/",
        "split": "/api/areas/{id}/split/",
        "phase": "/api/areas/{id}/phase/",
        "areaPage": "/areas/{id}/",
        "addressTiles": "/tiles/addresses/{z}/{x}/{y}.pbf",
        "areaTiles": "/tiles/areas/{z}/{x}/{y}.pbf",
        "demandTiles": "/tiles/demand/{z}/{x}/{y}.pbf",
    }
    assert config["baseMap"] is None
    assert config["isOperator"] is True
    assert config["addressPointsFromZoom"] == 14
    assert config["demandPointsFromZoom"] == 13


def test_the_page_knows_the_phases_and_their_allowed_moves(client, planner):
    client.force_login(planner)
    config = page_config(client.get("/map/"))
    assert config["phases"] == [
        {"value": "planning", "label": "planning"},
        {"value": "demand_aggregation", "label": "demand aggregation"},
        {"value": "in_deployment", "label": "in deployment"},
        {"value": "live", "label": "live"},
    ]
    assert config["transitions"] == {
        "planning": ["demand_aggregation"],
        "demand_aggregation": ["in_deployment", "planning"],
        "in_deployment": ["live"],
        "live": [],
    }
    assert [status["value"] for status in config["addressStatuses"]] == [
        "planned",
        "awaiting_deployment",
        "in_deployment",
        "connected",
        "activated",
    ]


def test_owner_staff_who_are_not_operators_see_the_map_without_the_buttons(client, owner):
    finance = UserFactory(organisation=owner, role=Role.FINANCE)
    client.force_login(finance)
    response = client.get("/map/")
    assert response.status_code == 200
    assert page_config(response)["isOperator"] is False


def test_the_base_map_comes_from_the_settings(client, planner, settings):
    settings.MAP_TILE_URL = "https://tiles.example.org/{z}/{x}/{y}.png"
    settings.MAP_TILE_ATTRIBUTION = "© Example"
    client.force_login(planner)
    config = page_config(client.get("/map/"))
    assert config["baseMap"] == {
        "url": "https://tiles.example.org/{z}/{x}/{y}.png",
        "attribution": "© Example",
    }


def test_every_script_and_stylesheet_is_served_from_our_static_files(client, planner, settings):
    settings.MAP_TILE_URL = ""
    client.force_login(planner)
    html = client.get("/map/").content.decode()
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
    assert sorted(assets) == [
        "/static/oanm/areas-layer.js",
        "/static/oanm/map.css",
        "/static/oanm/map.js",
        "/static/oanm/oanm.css",
        "/static/vendor/leaflet-draw/leaflet.draw.css",
        "/static/vendor/leaflet-draw/leaflet.draw.js",
        "/static/vendor/leaflet-heat/leaflet-heat.js",
        "/static/vendor/leaflet-vectorgrid/Leaflet.VectorGrid.bundled.min.js",
        "/static/vendor/leaflet/leaflet.css",
        "/static/vendor/leaflet/leaflet.js",
    ]
    for asset in assets:
        assert finders.find(asset.removeprefix("/static/")), asset
    assert re.findall(r'(?:src|href)="(https?:[^"]+)"', html) == []
