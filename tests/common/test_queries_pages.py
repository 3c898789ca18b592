"""The saved-query pages: the list, the builder, links, stars and deletion, and who may see them."""

import json

import pytest

from accounts.roles import Role
from accounts.services import user_create
from common.models import SavedQuery, SavedQueryFavourite
from common.queries.services import (
    saved_query_create,
    saved_query_favourite,
    saved_query_share,
    saved_query_share_link,
)
from tests.common.queries_town import build_town

pytestmark = pytest.mark.django_db

AREAS_BEHIND = {
    "version": 1,
    "source": "areas",
    "where": {
        "op": "and",
        "conditions": [{"field": "take_rate", "operator": "lt", "value": 0.4}],
    },
}


@pytest.fixture
def town(owner):
    return build_town(owner)


@pytest.fixture
def colleague(owner):
    return user_create(
        username="colleague",
        organisation=owner,
        role=Role.PLANNER,
        first_name="Carla",
        last_name="Kollegin",
    )


@pytest.fixture
def saved(town, planner):
    return saved_query_create(
        owner=planner, name="Areas behind", description="Below target", definition=AREAS_BEHIND
    )


def page_config(response) -> dict:
    html = response.content.decode()
    start = html.index('<script id="query-config" type="application/json">') + len(
        '<script id="query-config" type="application/json">'
    )
    return json.loads(html[start : html.index("</script>", start)])


def test_the_list_shows_mine_shared_and_favourites(client, town, planner, colleague, saved):
    theirs = saved_query_create(
        owner=colleague, name="Carla's orders", definition={"source": "orders"}
    )
    saved_query_share(saved_query=theirs, actor=colleague, user=planner)
    saved_query_favourite(saved_query=theirs, actor=planner)
    client.force_login(planner)
    response = client.get("/queries/")
    assert response.status_code == 200
    assert [q.name for q in response.context["mine"]] == ["Areas behind"]
    assert [q.name for q in response.context["shared"]] == ["Carla's orders"]
    assert [q.name for q in response.context["favourites"]] == ["Carla's orders"]
    html = response.content.decode()
    assert 'href="/queries/new/?source=addresses"' in html
    assert f'href="/queries/{saved.pk}/"' in html
    assert f'href="/api/queries/{saved.pk}/results/?export=xlsx"' in html
    assert "Carla Kollegin" in html
    assert '<a href="/queries/" aria-current="page">Queries</a>' in html


def test_the_list_takes_a_constant_number_of_queries(
    client, town, planner, colleague, django_assert_max_num_queries
):
    client.force_login(planner)
    for index in range(2):
        query = saved_query_create(owner=planner, name=f"A{index}", definition=AREAS_BEHIND)
        saved_query_share(saved_query=query, actor=planner, user=colleague)
    with django_assert_max_num_queries(12) as few:
        client.get("/queries/")
    for index in range(10):
        query = saved_query_create(owner=planner, name=f"B{index}", definition=AREAS_BEHIND)
        saved_query_share(saved_query=query, actor=planner, user=colleague)
        saved_query_favourite(saved_query=query, actor=planner)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get("/queries/")
    assert len(response.context["mine"]) == 12


def test_the_builder_starts_a_new_query_on_a_source(client, town, planner):
    client.force_login(planner)
    response = client.get("/queries/new/?source=orders")
    assert response.status_code == 200
    config = page_config(response)
    assert config["source"] == "orders"
    assert config["query"] is None
    assert config["definition"] == {
        "version": 1,
        "source": "orders",
        "where": {"op": "and", "conditions": []},
        "order_by": ["-placed_at"],
        "columns": ["reference", "status", "isp_name", "placed_at", "address", "area_code"],
    }
    assert [source["key"] for source in config["sources"]] == ["addresses", "areas", "orders"]
    assert config["urls"] == {
        "list": "/queries/",
        "new": "/queries/new/",
        "run": "/api/queries/run/",
        "queries": "/api/queries/",
    }
    assert config["tiles"]["url"] == ""
    html = response.content.decode()
    assert "/static/oanm/queries.js" in html
    assert "/static/vendor/leaflet-draw/leaflet.draw.js" in html
    assert "unpkg.com" not in html and "cdn." not in html


def test_an_unknown_source_goes_back_to_the_list_with_a_message(client, town, planner):
    client.force_login(planner)
    response = client.get("/queries/new/?source=invoices", follow=True)
    assert response.redirect_chain == [("/queries/", 302)]
    assert [str(m) for m in response.context["messages"]] == [
        "unknown source 'invoices'; choose from addresses, areas, orders"
    ]


def test_the_owner_opens_a_saved_query_with_sharing(client, town, planner, colleague, saved):
    client.force_login(planner)
    response = client.get(f"/queries/{saved.pk}/")
    assert response.status_code == 200
    config = page_config(response)
    assert config["query"]["name"] == "Areas behind"
    assert config["query"]["can_edit"] is True
    assert config["definition"] == saved.definition
    assert config["shareToken"] is None
    assert [person["username"] for person in config["colleagues"]] == ["colleague"]
    assert config["organisation"] == "Wedding Fibre Netz"


def test_a_colleague_it_is_shared_with_opens_it_without_sharing_controls(
    client, town, planner, colleague, saved
):
    saved_query_share(saved_query=saved, actor=planner, user=colleague)
    client.force_login(colleague)
    config = page_config(client.get(f"/queries/{saved.pk}/"))
    assert config["query"]["can_edit"] is False
    assert config["colleagues"] == []
    assert config["query"]["shared_with"] == []


def test_another_planner_gets_not_found(client, town, colleague, saved):
    client.force_login(colleague)
    assert client.get(f"/queries/{saved.pk}/").status_code == 404
    assert client.post(f"/queries/{saved.pk}/favourite/", {"is_favourite": "1"}).status_code == (
        404
    )
    assert client.post(f"/queries/{saved.pk}/delete/").status_code == 404
    assert SavedQuery.objects.filter(pk=saved.pk).exists()
    assert SavedQueryFavourite.objects.count() == 0


def test_a_link_opens_it_for_the_owners_staff(client, town, planner, colleague, saved):
    saved_query_share_link(saved_query=saved, actor=planner, enabled=True)
    saved.refresh_from_db()
    client.force_login(colleague)
    response = client.get(f"/queries/shared/{saved.share_token}/")
    assert response.status_code == 200
    config = page_config(response)
    assert config["shareToken"] == str(saved.share_token)
    assert config["query"]["can_edit"] is False
    assert client.get(f"/queries/{saved.pk}/?share={saved.share_token}").status_code == 200
    saved_query_share_link(saved_query=saved, actor=planner, enabled=False)
    assert client.get(f"/queries/shared/{saved.share_token}/").status_code == 404


def test_the_star_button_toggles_and_comes_back(client, town, planner, saved):
    client.force_login(planner)
    response = client.post(
        f"/queries/{saved.pk}/favourite/", {"is_favourite": "1", "next": "/queries/#mine"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/queries/#mine"
    assert SavedQueryFavourite.objects.filter(saved_query=saved, user=planner).exists()
    response = client.post(
        f"/queries/{saved.pk}/favourite/", {"is_favourite": "0", "next": "https://evil.example/"}
    )
    assert response["Location"] == "/queries/"
    assert not SavedQueryFavourite.objects.exists()


def test_the_owner_deletes_from_the_page(client, town, planner, saved):
    client.force_login(planner)
    response = client.post(f"/queries/{saved.pk}/delete/", follow=True)
    assert response.redirect_chain == [("/queries/", 302)]
    assert [str(m) for m in response.context["messages"]] == ["Deleted the query “Areas behind”."]
    assert not SavedQuery.objects.exists()


def test_a_shared_colleague_cannot_delete(client, town, planner, colleague, saved):
    saved_query_share(saved_query=saved, actor=planner, user=colleague)
    client.force_login(colleague)
    assert client.post(f"/queries/{saved.pk}/delete/").status_code == 403
    assert SavedQuery.objects.filter(pk=saved.pk).exists()


def test_pages_only_answer_post_where_they_change_things(client, town, planner, saved):
    client.force_login(planner)
    assert client.get(f"/queries/{saved.pk}/delete/").status_code == 405
    assert client.get(f"/queries/{saved.pk}/favourite/").status_code == 405
    assert client.post("/queries/").status_code == 405


def page_urls(saved) -> list[tuple[str, str]]:
    saved_query_share_link(saved_query=saved, actor=saved.owner, enabled=True)
    saved.refresh_from_db()
    return [
        ("get", "/queries/"),
        ("get", "/queries/new/?source=addresses"),
        ("get", f"/queries/{saved.pk}/"),
        ("get", f"/queries/{saved.pk}/?share={saved.share_token}"),
        ("get", f"/queries/shared/{saved.share_token}/"),
        ("post", f"/queries/{saved.pk}/favourite/"),
        ("post", f"/queries/{saved.pk}/delete/"),
    ]


def test_isp_users_are_refused_every_page(client, town, saved):
    client.force_login(town.isp_user)
    for method, url in page_urls(saved):
        response = getattr(client, method)(url, {"is_favourite": "1"})
        assert response.status_code == 403, url
    assert SavedQuery.objects.count() == 1
    assert SavedQueryFavourite.objects.count() == 0


def test_anonymous_visitors_are_sent_to_sign_in(client, town, saved):
    for method, url in page_urls(saved):
        response = getattr(client, method)(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/accounts/login/?next=")
    assert SavedQuery.objects.count() == 1


def test_finance_staff_may_use_queries_too(client, town, owner):
    finance = user_create(username="finance", organisation=owner, role=Role.FINANCE)
    client.force_login(finance)
    assert client.get("/queries/").status_code == 200


def test_a_query_whose_field_went_away_opens_with_the_reason(client, town, planner, saved):
    SavedQuery.objects.filter(pk=saved.pk).update(
        definition={
            **saved.definition,
            "where": {
                "op": "and",
                "conditions": [{"field": "colour", "operator": "eq", "value": "red"}],
            },
        }
    )
    client.force_login(planner)
    config = page_config(client.get(f"/queries/{saved.pk}/"))
    assert config["definitionError"] == {
        "code": "invalid_query",
        "detail": "unknown field 'colour' for areas",
        "field": "where.conditions[0].field",
    }


def test_a_query_whose_source_went_away_goes_back_to_the_list(client, town, planner, saved):
    SavedQuery.objects.filter(pk=saved.pk).update(source="invoices")
    client.force_login(planner)
    response = client.get(f"/queries/{saved.pk}/", follow=True)
    assert response.redirect_chain == [("/queries/", 302)]
    assert [str(m) for m in response.context["messages"]] == [
        "“Areas behind” queries 'invoices', which is gone."
    ]
