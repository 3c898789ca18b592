"""Every JSON API is described by OpenAPI at /api/schema/ with docs at /api/docs/."""

import pytest

pytestmark = pytest.mark.django_db


def test_openapi_schema_is_served_and_valid(client, admin_user):
    client.force_login(admin_user)
    response = client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "oanm API"


def test_api_docs_page_uses_local_assets_only(client, admin_user):
    client.force_login(admin_user)
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    assert "cdn." not in html and "unpkg.com" not in html
