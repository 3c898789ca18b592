"""The IQGeo client's pager fetches the next page while the caller works on this one: the
same pages and requests as one page at a time, failures raised at the page that failed,
nothing left running when the caller stops."""

import threading

import pytest

from integrations.iqgeo.client import IQGeoClient, IQGeoUnavailable
from tests.integrations.iqgeo_fixtures import (
    iqgeo_server,  # noqa: F401  (the fixture "iqgeo")
    town_seed,
)


def _client(*, prefetch: bool) -> IQGeoClient:
    client = IQGeoClient.from_settings()
    client.prefetch = prefetch
    return client


def _pager_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name.startswith("iqgeo-pages")]


def test_prefetching_gives_the_same_pages_and_requests_as_one_at_a_time(iqgeo, settings):
    sim = iqgeo(town_seed(45))
    paged = {}
    for prefetch in (False, True):
        sim.log.clear()
        pages = list(_client(prefetch=prefetch).pages(limit=10))
        paged[prefetch] = (
            [(page.offset, page.next_offset, [f["id"] for f in page.features]) for page in pages],
            [path for _, path, _ in sim.log],
        )
    assert paged[True] == paged[False]
    assert [offset for offset, _, _ in paged[True][0]] == [0, 10, 20, 30, 40]
    assert not _pager_threads()


def test_a_failing_page_is_raised_when_the_caller_asks_for_it(iqgeo, settings):
    sim = iqgeo(town_seed(30))
    sim.fail("error", 100, after=2)  # the login and the first page go through
    pages = _client(prefetch=True).pages(limit=10)

    first = next(pages)  # the second page is being fetched (and failing) meanwhile

    assert first.offset == 0 and len(first.features) == 10
    with pytest.raises(IQGeoUnavailable):
        next(pages)
    assert not _pager_threads()


def test_a_caller_that_stops_early_leaves_no_fetch_running(iqgeo, settings):
    sim = iqgeo(town_seed(50))
    pages = _client(prefetch=True).pages(limit=10)

    for page in pages:
        if page.offset == 10:
            break
    pages.close()

    # the page fetched ahead (offset 20) was fetched to the end; nothing after it
    requested = [path for _, path, _ in sim.log if path.startswith("/feature/")]
    assert requested == [f"/feature/address?limit=10&offset={n}" for n in (0, 10, 20)]
    assert not _pager_threads()
