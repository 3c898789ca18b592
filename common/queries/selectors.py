"""Reads of saved queries, with who may open what.

A user may open a saved query when they own it, it is shared with them, they hold its
current link (its share token, or a star made through that link), or they administer
queries (operator admins). Anyone else gets "not found": a query's existence is private.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet

from common.errors import NotFound, PermissionDenied
from common.models import SavedQuery, SavedQueryFavourite, SavedQueryShare
from common.queries.access import may_administer, may_use

USE_REFUSED = "only the network owner's staff may use saved queries"


def require_use(user) -> None:
    """Raise `PermissionDenied` unless the user may use queries at all."""
    if not may_use(user):
        raise PermissionDenied(USE_REFUSED)


def _shared_with(user) -> Exists:
    return Exists(SavedQueryShare.objects.filter(saved_query=OuterRef("pk"), user=user))


def _starred_through_link(user) -> Exists:
    return Exists(
        SavedQueryFavourite.objects.filter(
            saved_query=OuterRef("pk"), user=user, share_token=OuterRef("share_token")
        )
    )


def _is_favourite(user) -> Exists:
    return Exists(SavedQueryFavourite.objects.filter(saved_query=OuterRef("pk"), user=user))


def access_q(user) -> Q:
    """Queries this user may open without presenting a link."""
    return Q(owner=user) | Q(_shared_with(user)) | Q(_starred_through_link(user))


def parse_share_token(value: Any) -> uuid.UUID | None:
    """A share token from a request, or None when absent or malformed."""
    if not value:
        return None
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def saved_queries_visible_to(user, *, share_token: Any = None) -> QuerySet:
    """The queries this user may open (with a link's token, also that one)."""
    if not may_use(user):
        return SavedQuery.objects.none()
    queryset = SavedQuery.objects.select_related("owner")
    if may_administer(user):
        return queryset
    condition = access_q(user)
    token = parse_share_token(share_token)
    if token is not None:
        condition |= Q(share_token=token)
    return queryset.filter(condition)


def saved_query_get(*, user, pk: Any, share_token: Any = None) -> SavedQuery:
    """One query the user may open, or `NotFound` (`PermissionDenied` for non-staff)."""
    require_use(user)
    try:
        return saved_queries_visible_to(user, share_token=share_token).get(pk=int(pk))
    except (SavedQuery.DoesNotExist, TypeError, ValueError):
        raise NotFound(f"no saved query {pk} that you may open") from None


def saved_query_by_token(*, user, share_token: Any) -> SavedQuery:
    """The query a share link points to, while the link is on."""
    require_use(user)
    token = parse_share_token(share_token)
    query = SavedQuery.objects.select_related("owner").filter(share_token=token).first()
    if token is None or query is None:
        raise NotFound("this link to a saved query does not work (any more)")
    return query


def may_open(user, saved_query: SavedQuery, *, share_token: Any = None) -> bool:
    """May this user open this query (perhaps through the link they hold)?"""
    if not may_use(user):
        return False
    if saved_query.owner_id == user.pk or may_administer(user):
        return True
    token = parse_share_token(share_token)
    if token is not None and saved_query.share_token == token:
        return True
    return SavedQuery.objects.filter(pk=saved_query.pk).filter(access_q(user)).exists()


def may_edit(user, saved_query: SavedQuery) -> bool:
    """Only the owner, or someone who administers queries, may change or delete a query."""
    return may_use(user) and (saved_query.owner_id == user.pk or may_administer(user))


def saved_queries_listed(user, *, scope: str = "") -> QuerySet:
    """The user's list: own, shared with them, starred (any of these by default), or
    `all` for an administrator; with `is_favourite` and `is_shared_with_me` and the shares."""
    if not may_use(user):
        return SavedQuery.objects.none()
    queryset = (
        SavedQuery.objects.select_related("owner")
        .prefetch_related("shares__user")
        .annotate(is_favourite=_is_favourite(user), is_shared_with_me=_shared_with(user))
    )
    if scope == "mine":
        queryset = queryset.filter(owner=user)
    elif scope == "shared":
        queryset = queryset.filter(_shared_with(user)).exclude(owner=user)
    elif scope == "favourites":
        queryset = queryset.filter(_is_favourite(user))
        if not may_administer(user):
            queryset = queryset.filter(access_q(user))
    elif scope == "all" and may_administer(user):
        pass
    else:
        queryset = queryset.filter(access_q(user))
    return queryset.order_by("name", "id")
