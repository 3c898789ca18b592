"""The area pages: /areas/ (sort, filter, paginate, totals) and /areas/<id>/ with its actions."""

import html
import json
import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.roles import Role
from areas.lifecycle import AreaPhase
from areas.models import Area, AreaDailyFigures, AreaPhaseChange
from areas.services import area_split
from areas.views import demand_series
from tests.accounts.factories import UserFactory
from tests.areas.town import CODES, area_with_demand, build_many, build_town, row_codes

LIST = "/areas/"


@pytest.fixture
def town(db):
    return build_town()


@pytest.fixture
def planner_client(client, planner):
    client.force_login(planner)
    return client


@pytest.fixture
def finance(owner):
    return UserFactory(username="finance", organisation=owner, role=Role.FINANCE)


@pytest.fixture
def isp_user(db):
    return UserFactory(username="isp-user", isp=True)


def total(response, name: str) -> str:
    match = re.search(rf'data-total="{name}"[^>]*>([^<]*)<', response.text)
    return match.group(1).strip() if match else ""


def messages_of(response) -> list[str]:
    return [
        html.unescape(squash(text))
        for text in re.findall(r'<li class="message[^"]*">(.*?)</li>', response.text, re.S)
    ]


def squash(text: str) -> str:
    """Text with every run of white space made one space."""
    return re.sub(r"\s+", " ", text).strip()


# --- the list: sorting -----------------------------------------------------------

ASCENDING = {
    "code": CODES,
    "name": ["13349", "13351", "13347", "13353", "13405"],
    "phase": ["13347", "13349", "13351", "13353", "13405"],
    "homes": ["13353", "13351", "13405", "13349", "13347"],
    "interests": ["13353", "13405", "13347", "13351", "13349"],
    "orders": ["13347", "13351", "13405", "13353", "13349"],
    "take_rate": ["13347", "13351", "13405", "13349", "13353"],
    "target": ["13405", "13349", "13347", "13353", "13351"],
    "progress": ["13347", "13351", "13405", "13349", "13353"],
    "ready": ["13347", "13351", "13349", "13353", "13405"],
}
DESCENDING = {
    "code": CODES[::-1],
    "name": ["13405", "13353", "13347", "13351", "13349"],
    "phase": ["13405", "13353", "13349", "13351", "13347"],  # ties (two in demand) by code
    "homes": ["13347", "13349", "13405", "13351", "13353"],
    "interests": ["13349", "13351", "13347", "13405", "13353"],
    "orders": ["13349", "13353", "13405", "13351", "13347"],
    "take_rate": ["13353", "13349", "13405", "13351", "13347"],
    "target": ["13351", "13347", "13353", "13349", "13405"],  # 0.40 twice: by code
    "progress": ["13353", "13349", "13405", "13351", "13347"],
    "ready": ["13349", "13353", "13405", "13347", "13351"],
}


@pytest.mark.parametrize("column", list(ASCENDING))
def test_the_list_sorts_by_every_column_both_ways(town, planner_client, column):
    ascending = planner_client.get(LIST, {"sort": column})
    descending = planner_client.get(LIST, {"sort": f"-{column}"})

    assert ascending.status_code == 200
    assert row_codes(ascending) == ASCENDING[column]
    assert row_codes(descending) == DESCENDING[column]


def test_the_list_is_sorted_by_code_by_default_and_ignores_unknown_sorts(town, planner_client):
    assert row_codes(planner_client.get(LIST)) == CODES
    assert row_codes(planner_client.get(LIST, {"sort": "boundary"})) == CODES


def test_a_column_heading_links_to_its_first_direction_then_the_reverse(town, planner_client):
    # numbers sort largest first on the first click, text A→Z
    page = planner_client.get(LIST, {"phase": "live"})
    assert 'href="?phase=live&amp;sort=-take_rate"' in page.text
    assert 'href="?phase=live&amp;sort=name"' in page.text

    # once sorted by take rate (largest first), its heading turns the order round
    sorted_page = planner_client.get(LIST, {"phase": "live", "sort": "-take_rate"})
    assert 'href="?phase=live&amp;sort=take_rate"' in sorted_page.text
    assert 'aria-sort="descending"' in sorted_page.text


# --- the list: filters ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "codes"),
    [
        ({"phase": "demand_aggregation"}, ["13349", "13351"]),
        ({"phase": ["demand_aggregation", "live"]}, ["13349", "13351", "13405"]),
        ({"q": "kiez"}, ["13351"]),
        ({"q": "1340"}, ["13405"]),
        ({"q": "  LEOPOLD "}, ["13353"]),
        ({"take_rate_min": "30"}, ["13349", "13353", "13405"]),
        ({"take_rate_max": "30"}, ["13347", "13351"]),
        ({"take_rate_min": "20", "take_rate_max": "50"}, ["13349", "13351", "13405"]),
        ({"ready": "on"}, ["13349", "13353", "13405"]),
        ({"phase": "demand_aggregation", "ready": "on"}, ["13349"]),
        ({"q": "nowhere"}, []),
    ],
)
def test_the_list_filters(town, planner_client, query, codes):
    response = planner_client.get(LIST, query)

    assert response.status_code == 200
    assert row_codes(response) == codes


def test_filters_and_sort_combine(town, planner_client):
    response = planner_client.get(
        LIST, {"phase": ["demand_aggregation", "live"], "sort": "-take_rate"}
    )

    assert row_codes(response) == ["13349", "13405", "13351"]


def test_a_bad_filter_value_is_explained_and_left_out(town, planner_client):
    response = planner_client.get(LIST, {"take_rate_min": "lots", "phase": "live"})

    assert row_codes(response) == ["13405"]
    assert "Take rate from (%): Enter a number." in response.text


def test_a_take_rate_range_upside_down_is_explained_and_left_out(town, planner_client):
    response = planner_client.get(LIST, {"take_rate_min": "50", "take_rate_max": "20"})

    assert row_codes(response) == CODES
    assert "the upper take rate (20 %) is below the lower one (50 %)" in response.text


def test_an_empty_selection_says_so(town, planner_client):
    response = planner_client.get(LIST, {"q": "nowhere"})

    assert "No area matches these filters." in response.text
    assert 'data-total="homes"' not in response.text


# --- the list: totals --------------------------------------------------------------


def test_the_totals_row_adds_up_the_listed_areas(town, planner_client):
    response = planner_client.get(LIST)

    assert total(response, "homes") == "33"
    assert total(response, "interests") == "11"
    assert total(response, "orders") == "10"
    assert total(response, "take_rate") == "30.3 %"  # 10 addresses with an order ÷ 33 homes
    assert total(response, "target") == "38 %"  # targets weighted by homes: 12.7 ÷ 33
    assert total(response, "ready") == "3 at target"
    assert "5 areas · 33 homes · 10 orders · take rate 30.3 %" in squash(response.text)


def test_the_totals_follow_the_filter(town, planner_client):
    response = planner_client.get(LIST, {"phase": "demand_aggregation"})

    assert total(response, "homes") == "13"
    assert total(response, "orders") == "5"
    assert total(response, "take_rate") == "38.5 %"
    assert total(response, "ready") == "1 at target"
    assert "2 areas match the filter" in squash(response.text)


# --- the list: pagination ------------------------------------------------------------


def test_the_list_pages_and_its_page_links_keep_filters_and_sort(db, planner_client):
    build_many(30)

    first = planner_client.get(LIST, {"q": "block", "sort": "-code", "per_page": "25"})
    second = planner_client.get(
        LIST, {"q": "block", "sort": "-code", "per_page": "25", "page": "2"}
    )

    assert row_codes(first) == [f"z{n:03d}" for n in range(29, 4, -1)]
    assert row_codes(second) == ["z004", "z003", "z002", "z001", "z000"]
    assert 'href="?q=block&amp;sort=-code&amp;per_page=25&amp;page=2"' in first.text
    assert 'rel="next"' in first.text
    assert 'href="?q=block&amp;sort=-code&amp;per_page=25&amp;page=1"' in second.text
    assert "26–30 of 30" in second.text
    # the totals are over every page, not just this one
    assert total(second, "homes") == "30"


def test_the_list_shows_50_a_page_by_default_and_a_page_past_the_end_shows_the_last(
    db, planner_client
):
    build_many(51)

    assert len(row_codes(planner_client.get(LIST))) == 50
    assert row_codes(planner_client.get(LIST, {"page": "9"})) == ["z050"]
    assert row_codes(planner_client.get(LIST, {"page": "x"}))[0] == "z000"


def test_the_list_reads_a_constant_number_of_queries(db, planner_client):
    build_many(3)
    with CaptureQueriesContext(connection) as three:
        assert planner_client.get(LIST).status_code == 200
    build_many(27, start=3)
    with CaptureQueriesContext(connection) as thirty:
        assert len(row_codes(planner_client.get(LIST))) == 30

    assert len(three) == len(thirty)


def test_the_list_needs_at_most_eight_queries(db, planner_client, django_assert_max_num_queries):
    build_many(30)
    # session, user, membership + organisation (the door), totals, the page's rows
    with django_assert_max_num_queries(8):
        planner_client.get(LIST, {"sort": "-take_rate", "phase": "planning"})


# --- who may see and do what -------------------------------------------------------------


def _doors(area: Area) -> list[tuple[str, str]]:
    return [
        ("get", LIST),
        ("get", "/areas/export.csv"),
        ("get", "/areas/export.xlsx"),
        ("get", f"/areas/{area.pk}/"),
        ("post", f"/areas/{area.pk}/phase/"),
        ("post", f"/areas/{area.pk}/settings/"),
        ("post", f"/areas/{area.pk}/delete/"),
    ]


def test_anonymous_visitors_are_sent_to_sign_in_everywhere(town, client):
    area = town["13349"]
    for method, url in _doors(area):
        response = getattr(client, method)(url, {"to": "in_deployment"} if method == "post" else {})
        assert response.status_code == 302, url
        assert response["Location"].startswith("/accounts/login/?next="), url
    assert Area.objects.get(pk=area.pk).phase == AreaPhase.DEMAND_AGGREGATION


def test_isp_users_are_refused_everywhere(town, client, isp_user):
    client.force_login(isp_user)
    area = town["13349"]
    for method, url in _doors(area):
        response = getattr(client, method)(url, {"to": "in_deployment"} if method == "post" else {})
        assert response.status_code == 403, url
    assert Area.objects.get(pk=area.pk).phase == AreaPhase.DEMAND_AGGREGATION


def test_finance_reads_the_pages_but_may_not_change_anything(town, client, finance):
    client.force_login(finance)
    area = town["13349"]

    for method, url in _doors(area):
        if method == "get":
            assert client.get(url).status_code == 200, url
    page = client.get(f"/areas/{area.pk}/")
    assert 'id="phase-form"' not in page.text
    assert 'id="settings-form"' not in page.text
    assert "Split on the map" not in page.text

    assert client.post(f"/areas/{area.pk}/phase/", {"to": "in_deployment"}).status_code == 403
    planning = town["13347"]
    assert 'id="delete-form"' not in client.get(f"/areas/{planning.pk}/").text
    assert client.post(f"/areas/{planning.pk}/delete/").status_code == 403
    assert Area.objects.get(pk=planning.pk).deleted_at is None
    assert (
        client.post(
            f"/areas/{area.pk}/settings/", {"name": "x", "target_percent": "10"}
        ).status_code
        == 403
    )
    stored = Area.objects.get(pk=area.pk)
    assert (stored.phase, stored.name, stored.target_take_rate) == (
        AreaPhase.DEMAND_AGGREGATION,
        "Afrikanisches Viertel",
        Decimal("0.3500"),
    )


def test_planners_get_the_actions(town, planner_client):
    area = town["13349"]
    page = planner_client.get(f"/areas/{area.pk}/")

    assert 'id="phase-form"' in page.text
    assert 'id="settings-form"' in page.text
    assert f'href="/map/?area={area.pk}&amp;split=1"' in page.text
    # the moves the lifecycle allows from demand aggregation, forward first
    assert re.findall(r'data-phase-to="([a-z_]+)"', page.text) == ["in_deployment", "planning"]
    # going back is the quiet button
    assert re.findall(r'value="([a-z_]+)" class="([a-z]+)"', page.text) == [
        ("in_deployment", "primary"),
        ("planning", "subtle"),
    ]


def test_an_unknown_area_is_404(db, planner_client):
    assert planner_client.get("/areas/999999/").status_code == 404
    assert planner_client.post("/areas/999999/phase/", {"to": "live"}).status_code == 404


def test_the_action_doors_take_only_post(town, planner_client):
    area = town["13349"]
    assert planner_client.get(f"/areas/{area.pk}/phase/").status_code == 405
    assert planner_client.get(f"/areas/{area.pk}/settings/").status_code == 405
    assert planner_client.get(f"/areas/{area.pk}/delete/").status_code == 405


# --- the area page -----------------------------------------------------------------


def test_the_area_page_shows_its_figures_and_history(town, planner_client, planner):
    area = town["13349"]

    page = planner_client.get(f"/areas/{area.pk}/")

    assert page.status_code == 200
    text = page.text
    assert '<span class="area-code">13349</span>' in text
    assert '<span class="area-name">Afrikanisches Viertel</span>' in text
    assert 'data-phase="demand_aggregation"' in text
    assert "ready to build</span>" in text
    figures = dict(re.findall(r'data-figure="([a-z_]+)">([^<]*)<', text))
    assert figures == {
        "homes": "8",
        "addresses": "8",
        "interests": "5",
        "orders": "4",
        "take_rate": "50.0 %",
        "interest_rate": "62.5 %",
    }
    assert "Target reached (143 % of it)" in text
    # history, newest first: two phase moves by the set-up, then the creation
    assert re.findall(r'<li class="event ([a-z_]+)">', text) == ["phase", "created"]
    assert "“town set-up”" in text or "<q>town set-up</q>" in text


def test_the_area_page_says_how_many_orders_are_missing(town, planner_client):
    page = planner_client.get(f"/areas/{town['13351'].pk}/")

    # 5 homes × 50 % = 3 addresses with an order needed; 1 has one
    assert "40 % of the target · 2 more orders to reach it" in page.text


def test_the_area_page_embeds_its_boundary_and_demand_series(town, planner_client):
    area = town["13353"]

    page = planner_client.get(f"/areas/{area.pk}/")

    config = json.loads(
        re.search(
            r'<script id="area-page-config" type="application/json">(.*?)</script>',
            page.text,
            re.S,
        ).group(1)
    )
    assert config["areaId"] == area.pk
    assert config["boundary"]["type"] == "MultiPolygon"
    assert config["boundary"]["coordinates"][0][0][0] == [13.315, 52.54]
    assert config["series"]["orders"] == [3]
    assert config["series"]["interests"] == [0]
    assert config["series"]["takeRate"] == [75.0]
    assert config["series"]["target"] == 40.0
    assert config["phase"] == "in_deployment"


def test_the_demand_series_carries_values_over_days_without_a_row(db):
    area = area_with_demand(code="c1", name="c1", column=0, homes=4, orders=1, interests=2)
    AreaDailyFigures.objects.filter(area=area).delete()
    first = date(2026, 3, 1)
    for day, interests, orders, take_rate in [
        (first, 1, 0, "0"),
        (first + timedelta(days=3), 2, 1, "0.25"),
    ]:
        AreaDailyFigures.objects.create(
            area=area,
            day=day,
            homes=4,
            interests=interests,
            orders=orders,
            addresses_with_order=orders,
            take_rate=Decimal(take_rate),
            interest_rate=Decimal(interests) / 4,
        )

    series = demand_series(area, today=first + timedelta(days=5))

    assert series["days"] == [f"2026-03-0{d}" for d in range(1, 7)]
    assert series["interests"] == [1, 1, 1, 2, 2, 2]
    assert series["orders"] == [0, 0, 0, 1, 1, 1]
    assert series["takeRate"] == [0.0, 0.0, 0.0, 25.0, 25.0, 25.0]
    assert series["target"] == 40.0


def test_an_area_without_a_daily_row_has_an_empty_series(db):
    area = area_with_demand(code="c2", name="c2", column=0, homes=1)
    AreaDailyFigures.objects.filter(area=area).delete()

    assert demand_series(area)["days"] == []


def test_the_area_page_reads_a_constant_number_of_queries(db, planner_client):
    quiet = area_with_demand(code="q1", name="q1", column=0, homes=2)
    busy = area_with_demand(code="q2", name="q2", column=1, homes=5, orders=3, phase=AreaPhase.LIVE)
    with CaptureQueriesContext(connection) as quiet_page:
        planner_client.get(f"/areas/{quiet.pk}/")
    with CaptureQueriesContext(connection) as busy_page:
        planner_client.get(f"/areas/{busy.pk}/")

    assert len(quiet_page) == len(busy_page)


# --- phase changes from the page ---------------------------------------------------------


def test_a_planner_moves_an_area_to_an_allowed_phase(town, planner_client, planner):
    area = town["13349"]

    response = planner_client.post(
        f"/areas/{area.pk}/phase/",
        {"to": "in_deployment", "reason": "target reached in the north"},
        follow=True,
    )

    assert response.redirect_chain == [(f"/areas/{area.pk}/", 302)]
    assert messages_of(response) == ["13349 is now in phase in deployment."]
    assert Area.objects.get(pk=area.pk).phase == AreaPhase.IN_DEPLOYMENT
    change = AreaPhaseChange.objects.filter(area=area).latest("changed_at", "id")
    assert (change.from_phase, change.to_phase, change.actor, change.reason) == (
        AreaPhase.DEMAND_AGGREGATION,
        AreaPhase.IN_DEPLOYMENT,
        planner,
        "target reached in the north",
    )
    assert 'data-phase="in_deployment"' in response.text


def test_a_move_the_lifecycle_forbids_is_refused_with_a_message(town, planner_client):
    area = town["13347"]
    history = AreaPhaseChange.objects.filter(area=area).count()

    response = planner_client.post(f"/areas/{area.pk}/phase/", {"to": "live"}, follow=True)

    assert messages_of(response) == [
        "area cannot move from planning to live (allowed from planning: demand_aggregation). "
        "Nothing changed."
    ]
    assert Area.objects.get(pk=area.pk).phase == AreaPhase.PLANNING
    assert AreaPhaseChange.objects.filter(area=area).count() == history


def test_an_unknown_phase_is_refused_with_a_message(town, planner_client):
    area = town["13347"]

    response = planner_client.post(f"/areas/{area.pk}/phase/", {"to": "built"}, follow=True)

    assert messages_of(response) == ["Unknown phase 'built'; nothing changed."]
    assert Area.objects.get(pk=area.pk).phase == AreaPhase.PLANNING


def test_a_live_area_offers_no_moves(town, planner_client):
    page = planner_client.get(f"/areas/{town['13405'].pk}/")

    assert 'data-phase-to="' not in page.text
    assert "Live is the last phase." in page.text


# --- settings from the page --------------------------------------------------------------


def test_a_planner_changes_the_settings(town, planner_client):
    area = town["13347"]

    response = planner_client.post(
        f"/areas/{area.pk}/settings/",
        {"name": "Gesundbrunnen Nord", "target_percent": "37.5", "deploys_at_target": "on"},
        follow=True,
    )

    assert messages_of(response) == ["Settings of 13347 saved."]
    stored = Area.objects.get(pk=area.pk)
    assert (stored.name, stored.target_take_rate, stored.deploys_at_target) == (
        "Gesundbrunnen Nord",
        Decimal("0.3750"),
        True,
    )
    assert 'name="target_percent" value="37.5"' in response.text


@pytest.mark.parametrize(
    ("target", "problem"),
    [
        ("150", "Target take rate (%): must be between 0 % and 100 %"),
        ("-1", "Target take rate (%): must be between 0 % and 100 %"),
        ("forty", "Target take rate (%): Enter a number."),
        ("", "Target take rate (%): This field is required."),
    ],
)
def test_a_bad_target_is_refused_with_a_message_and_nothing_changes(
    town, planner_client, target, problem
):
    area = town["13347"]

    response = planner_client.post(
        f"/areas/{area.pk}/settings/",
        {"name": "Renamed", "target_percent": target, "deploys_at_target": "on"},
        follow=True,
    )

    assert messages_of(response) == [f"Settings not saved — {problem}."]
    stored = Area.objects.get(pk=area.pk)
    assert (stored.name, stored.target_take_rate, stored.deploys_at_target) == (
        "Gesundbrunnen",
        Decimal("0.4000"),
        False,
    )


def test_opting_in_at_a_reached_target_moves_the_area_into_deployment(town, planner_client):
    # 13351 gathers demand at a 20 % take rate; its target drops to 20 % with the opt-in
    area = town["13351"]

    response = planner_client.post(
        f"/areas/{area.pk}/settings/",
        {"name": "Brüsseler Kiez", "target_percent": "20", "deploys_at_target": "on"},
        follow=True,
    )

    assert messages_of(response) == [
        "Settings of 13351 saved.",
        "The take rate has reached the target: 13351 moved into in deployment.",
    ]
    assert Area.objects.get(pk=area.pk).phase == AreaPhase.IN_DEPLOYMENT


# --- split areas -------------------------------------------------------------------------


@pytest.fixture
def split_town(town, planner):
    """The town with 13349 split in halves, north and south."""
    result = area_split(
        area=town["13349"], mode="half", axis="north-south", actor=planner, reason="north first"
    )
    return town, result


def test_split_areas_leave_the_list_and_come_back_on_request(split_town, planner_client):
    _, result = split_town
    first, second = (child.code for child in result.children)

    listed = row_codes(planner_client.get(LIST))
    with_retired = planner_client.get(LIST, {"retired": "on"})

    assert listed == sorted(["13347", "13351", "13353", "13405", first, second])
    assert row_codes(with_retired) == sorted([*listed, "13349"])
    retired_row = re.search(
        r'<tr [^>]*data-code="13349" class="retired">.*?</tr>', with_retired.text, re.S
    )
    assert '<span class="badge retired">split</span>' in retired_row.group(0)
    # the parent's homes are its parts' now: the totals count them once
    assert total(with_retired, "homes") == "33"
    assert "(6 active areas; split areas not counted)" in squash(with_retired.text)


def test_a_split_areas_page_links_its_parts_and_shows_no_actions(split_town, planner_client):
    town, result = split_town
    first, second = result.children

    page = planner_client.get(f"/areas/{town['13349'].pk}/")

    text = squash(page.text)
    assert '<span class="badge retired">split</span>' in text
    assert f'href="/areas/{first.pk}/" data-link="child">{first.code}</a> and' in text
    assert f'href="/areas/{second.pk}/" data-link="child">{second.code}</a>' in text
    assert "and stays here as history" in text
    assert 'id="phase-form"' not in text
    assert 'id="settings-form"' not in text
    assert re.findall(r'<li class="event ([a-z_]+)">', page.text) == [
        "split",
        "phase",
        "created",
    ]
    assert "(in halves)" in text
    assert "<q>north first</q>" in text


def test_a_part_of_a_split_links_its_parent_and_says_it_inherited_the_phase(
    split_town, planner_client
):
    town, result = split_town
    child = result.children[0]

    page = planner_client.get(f"/areas/{child.pk}/")

    text = squash(page.text)
    assert f'Split from <a href="/areas/{town["13349"].pk}/" data-link="parent">13349</a>' in text
    assert re.findall(r'<li class="event ([a-z_]+)">', page.text) == ["split_from"]
    parent = town["13349"].pk
    assert (
        f'by splitting <a href="/areas/{parent}/">13349</a> '
        '<span class="muted">(in halves)</span>, in phase '
        '<span class="badge phase-demand_aggregation">demand aggregation</span>'
    ) in text
    assert 'id="phase-form"' in text


def test_ready_to_build_is_flagged_only_before_the_decision_to_build(town, planner_client):
    listed = planner_client.get(LIST, {"ready": "on"})
    deploying = planner_client.get(f"/areas/{town['13353'].pk}/")

    flags = dict(
        re.findall(
            r'data-code="(\d+)".*?<td class="num">(?:<span class="badge (ready|reached)")',
            squash(listed.text),
        )
    )
    assert flags == {"13349": "ready", "13353": "reached", "13405": "reached"}
    assert "ready to build</span>" not in deploying.text
    assert "Target reached (188 % of it)" in deploying.text
    # the opt-in to deploy at the target is kept, not offered, once the area is building
    assert '<input type="hidden" name="deploys_at_target" value="False">' in deploying.text


def test_settings_of_a_building_area_keep_its_opt_in(town, planner_client):
    area = town["13353"]

    planner_client.post(
        f"/areas/{area.pk}/settings/",
        {"name": "Leopoldplatz", "target_percent": "45", "deploys_at_target": "False"},
    )

    stored = Area.objects.get(pk=area.pk)
    assert (stored.target_take_rate, stored.deploys_at_target, stored.phase) == (
        Decimal("0.4500"),
        False,
        AreaPhase.IN_DEPLOYMENT,
    )


def test_a_phase_move_posted_for_a_split_area_is_refused_with_a_message(split_town, planner_client):
    town, _ = split_town
    parent = town["13349"]

    response = planner_client.post(
        f"/areas/{parent.pk}/phase/", {"to": "in_deployment"}, follow=True
    )

    assert messages_of(response) == [
        "area 13349 was split; change the phase of its parts. Nothing changed."
    ]
    stored = Area.objects.get(pk=parent.pk)
    assert (stored.phase, stored.is_active) == (AreaPhase.DEMAND_AGGREGATION, False)


# --- deleting an area from its page ----------------------------------------------------------


def test_only_an_area_in_planning_offers_delete_with_a_confirm(town, planner_client):
    planning = planner_client.get(f"/areas/{town['13347'].pk}/")
    gathering = planner_client.get(f"/areas/{town['13349'].pk}/")

    form = re.search(r'<form [^>]*id="delete-form"[^>]*>', planning.text).group(0)
    assert f'action="/areas/{town["13347"].pk}/delete/"' in form
    assert 'data-confirm="Delete area 13347? It goes off the map and the lists' in form
    assert 'id="delete-form"' not in gathering.text


def test_a_planner_deletes_an_area_in_planning_and_its_page_stays_as_history(town, planner_client):
    area = town["13347"]

    response = planner_client.post(f"/areas/{area.pk}/delete/", follow=True)

    assert response.redirect_chain[-1][0] == LIST
    assert messages_of(response) == ["Area 13347 was deleted; its page stays as history."]
    stored = Area.objects.get(pk=area.pk)
    assert stored.is_active is False and stored.deleted_at is not None
    assert "13347" not in row_codes(planner_client.get(LIST))
    listed = planner_client.get(LIST, {"retired": "on"})
    row = re.search(r'<tr [^>]*data-code="13347" class="retired">.*?</tr>', listed.text, re.S)
    assert '<span class="badge retired">deleted</span>' in row.group(0)
    page = planner_client.get(f"/areas/{area.pk}/")
    text = squash(page.text)
    assert '<span class="badge retired">deleted</span>' in text
    assert "This area was deleted on" in text and "stays here as history" in text
    assert "This area was split" not in text
    assert re.findall(r'<li class="event ([a-z_]+)">', page.text) == ["deleted", "created"]
    for form in ("phase-form", "settings-form", "delete-form"):
        assert f'id="{form}"' not in page.text


def test_a_refused_delete_is_a_message_and_changes_nothing(town, planner_client):
    standing = area_with_demand(code="13359", name="Humboldthain", column=6, homes=3, orders=1)

    with_signup = planner_client.post(f"/areas/{standing.pk}/delete/", follow=True)
    gathering = planner_client.post(f"/areas/{town['13349'].pk}/delete/", follow=True)

    assert with_signup.redirect_chain[-1][0] == f"/areas/{standing.pk}/"
    assert messages_of(with_signup) == [
        "Area 13359 has 1 standing signup; it cannot be deleted while they stand. Nothing changed."
    ]
    assert messages_of(gathering) == [
        "Area 13349 is demand aggregation: only an area still in planning can be deleted."
        " Nothing changed."
    ]
    assert not Area.objects.filter(deleted_at__isnull=False).exists()
    assert Area.objects.filter(is_active=True).count() == 6
