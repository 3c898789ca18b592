"""The saved-query pages: /queries/ (list), /queries/new/ and /queries/<id>/ (the builder).

The builder is `static/oanm/queries.js` over the saved-queries API (common.query_api);
these views only find the query, check who may open it and hand the page its start state.
"""

from __future__ import annotations

from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from common.errors import DomainError, NotFound
from common.queries import services
from common.queries.access import colleagues, may_use
from common.queries.definition import empty_definition, parse_definition
from common.queries.errors import InvalidQuery
from common.queries.registry import get_source, sources
from common.queries.selectors import (
    USE_REFUSED,
    may_edit,
    saved_queries_listed,
    saved_query_by_token,
    saved_query_get,
)
from common.query_api import SavedQuerySerializer, UserBriefSerializer, source_json


def queries_required(view):
    """Sign-in first, then 403 for anyone who may not use saved queries."""

    @wraps(view)
    def guarded(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not may_use(request.user):
            raise PermissionDenied(USE_REFUSED)
        return view(request, *args, **kwargs)

    return guarded


@require_GET
@queries_required
def query_list(request):
    """My queries, those shared with me, and my favourites (starred)."""
    listed = list(saved_queries_listed(request.user))
    labels = {source.key: source.label for source in sources()}
    for query in listed:
        query.source_label = labels.get(query.source, query.source)
    user = request.user
    return render(
        request,
        "queries/list.html",
        {
            "favourites": [query for query in listed if query.is_favourite],
            "mine": [query for query in listed if query.owner_id == user.pk],
            "shared": [
                query for query in listed if query.owner_id != user.pk and query.is_shared_with_me
            ],
            "sources": sources(),
        },
    )


def _builder(request, *, source_key: str, definition: dict, saved_query=None, share_token=None):
    try:
        source = get_source(source_key)
    except InvalidQuery:
        messages.error(request, f"“{saved_query}” queries {source_key!r}, which is gone.")
        return redirect("queries:list")
    problem = None
    try:
        parse_definition(definition)
    except InvalidQuery as exc:  # saved before a field went away: say so, let them fix it
        problem = exc.as_dict()
    query = None
    people = []
    if saved_query is not None:
        query = SavedQuerySerializer(saved_query, context={"request": request}).data
        if may_edit(request.user, saved_query):
            people = UserBriefSerializer(
                colleagues(request.user).exclude(pk=saved_query.owner_id), many=True
            ).data
    config = {
        "source": source_key,
        "definition": definition,
        "definitionError": problem,
        "query": query,
        "shareToken": str(share_token) if share_token else None,
        "colleagues": people,
        "organisation": str(getattr(request.user, "organisation", "") or "your organisation"),
        "sources": [source_json(source) for source in sources()],
        "urls": {
            "list": reverse("queries:list"),
            "new": reverse("queries:new"),
            "run": reverse("saved-query-run"),
            "queries": reverse("saved-query-list"),
        },
        "tiles": {"url": settings.MAP_TILE_URL, "attribution": settings.MAP_TILE_ATTRIBUTION},
    }
    title = query["name"] if query else f"New query on {source.label.lower()}"
    return render(request, "queries/detail.html", {"config": config, "title": title})


@require_GET
@queries_required
def query_new(request):
    """The builder for a new query on `?source=` (addresses by default)."""
    key = request.GET.get("source") or "addresses"
    try:
        definition = empty_definition(key)
    except InvalidQuery as exc:
        messages.error(request, exc.message)
        return redirect("queries:list")
    return _builder(request, source_key=key, definition=definition)


@require_GET
@queries_required
def query_detail(request, pk: int):
    """A saved query in the builder: run it, change it (owner), share, star, export."""
    share_token = request.GET.get("share")
    try:
        saved_query = saved_query_get(user=request.user, pk=pk, share_token=share_token)
    except NotFound as exc:
        raise Http404(exc.message) from None
    return _builder(
        request,
        source_key=saved_query.source,
        definition=saved_query.definition,
        saved_query=saved_query,
        share_token=share_token if saved_query.share_token else None,
    )


@require_GET
@queries_required
def query_shared(request, token):
    """A query opened through its link (anyone of the owner's staff who has it)."""
    try:
        saved_query = saved_query_by_token(user=request.user, share_token=token)
    except NotFound as exc:
        raise Http404(exc.message) from None
    return _builder(
        request,
        source_key=saved_query.source,
        definition=saved_query.definition,
        saved_query=saved_query,
        share_token=token,
    )


def _back(request, default: str):
    target = request.POST.get("next") or default
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}):
        target = default
    return redirect(target)


@require_POST
@queries_required
def query_favourite(request, pk: int):
    """Star or unstar a query (the list's star buttons, without JavaScript)."""
    share_token = request.POST.get("share")
    try:
        saved_query = saved_query_get(user=request.user, pk=pk, share_token=share_token)
        services.saved_query_favourite(
            saved_query=saved_query,
            actor=request.user,
            is_favourite=request.POST.get("is_favourite") == "1",
            share_token=share_token,
        )
    except NotFound as exc:
        raise Http404(exc.message) from None
    return _back(request, reverse("queries:list"))


@require_POST
@queries_required
def query_delete(request, pk: int):
    """Delete a query (its owner or an operator admin)."""
    try:
        saved_query = saved_query_get(user=request.user, pk=pk)
        services.saved_query_delete(saved_query=saved_query, actor=request.user)
    except NotFound as exc:
        raise Http404(exc.message) from None
    except DomainError as exc:
        raise PermissionDenied(exc.message) from None
    messages.success(request, f"Deleted the query “{saved_query.name}”.")
    return redirect("queries:list")
