"""The health endpoint load balancers poll."""

from django.db import connection


def test_health_reports_ok_with_the_postgis_version(db, client):
    with connection.cursor() as cursor:
        cursor.execute("SELECT postgis_lib_version()")
        version = cursor.fetchone()[0]

    response = client.get("/health/")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "postgis": version}


def test_health_answers_only_get(db, client):
    assert client.post("/health/").status_code == 405
