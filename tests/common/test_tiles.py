"""The tile plumbing every endpoint shares: tile addresses, the query, the HTTP answer."""

import pytest
from django.db import connection
from django.test import RequestFactory

from common.tiles import (
    CONTENT_TYPE,
    TileOutOfRange,
    check_tile,
    tile_query,
    tile_response,
    tile_size,
)

SETTING_AS_BYTES = (
    "SELECT convert_to(current_setting('max_parallel_workers_per_gather'), 'UTF8') WHERE %(z)s >= 0"
)


@pytest.mark.parametrize(("z", "x", "y"), [(0, 0, 0), (1, 1, 1), (22, 2**22 - 1, 0)])
def test_every_tile_of_the_pyramid_is_accepted(z, x, y):
    check_tile(z, x, y)


@pytest.mark.parametrize(
    ("z", "x", "y", "message"),
    [
        (-1, 0, 0, "zoom -1 is outside 0–22"),
        (23, 0, 0, "zoom 23 is outside 0–22"),
        (2, 4, 0, "x 4 is outside 0–3 at zoom 2"),
        (2, 0, -1, "y -1 is outside 0–3 at zoom 2"),
    ],
)
def test_a_tile_outside_the_pyramid_is_refused_with_the_reason(z, x, y, message):
    with pytest.raises(TileOutOfRange) as refused:
        check_tile(z, x, y)

    assert refused.value.message == message
    assert (refused.value.code, refused.value.status_code) == ("tile_out_of_range", 404)


def test_a_tile_is_the_world_divided_by_two_to_the_zoom():
    assert tile_size(0) == pytest.approx(40075016.685578488)
    assert tile_size(14) == pytest.approx(40075016.685578488 / 16384)


@pytest.mark.django_db(transaction=True)
def test_the_tile_query_runs_without_parallel_workers_and_leaves_the_session_alone():
    with connection.cursor() as cursor:
        cursor.execute("SHOW max_parallel_workers_per_gather")
        default = cursor.fetchone()[0]
    assert default != "0"

    assert tile_query(SETTING_AS_BYTES, {"z": 3}) == b"0"

    with connection.cursor() as cursor:
        cursor.execute("SHOW max_parallel_workers_per_gather")
        assert cursor.fetchone()[0] == default


@pytest.mark.django_db
def test_a_query_that_finds_nothing_is_an_empty_tile():
    assert tile_query("SELECT NULL::bytea WHERE %(z)s >= 0", {"z": 1}) == b""


def test_an_empty_tile_is_204_without_a_content_type():
    response = tile_response(RequestFactory().get("/"), b"")

    assert response.status_code == 204
    assert not response.has_header("Content-Type")
    assert response["Cache-Control"] == "private, max-age=60"


def test_the_etag_is_the_same_for_the_same_bytes_and_differs_otherwise():
    request = RequestFactory().get("/")

    first = tile_response(request, b"\x1a\x02ab")
    same = tile_response(request, b"\x1a\x02ab")
    other = tile_response(request, b"\x1a\x02ac")

    assert first["Content-Type"] == CONTENT_TYPE
    assert first["ETag"] == same["ETag"] != other["ETag"]
    assert first.content == b"\x1a\x02ab"


def test_an_unrelated_if_none_match_gets_the_whole_tile():
    request = RequestFactory().get("/", headers={"if-none-match": '"something-else"'})

    response = tile_response(request, b"\x1a\x02ab")

    assert (response.status_code, response.content) == (200, b"\x1a\x02ab")
