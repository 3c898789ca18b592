"""Writes of saved queries: create, update, delete, copy, share, favourite.

Only the network owner's staff use queries at all; only a query's owner (or an operator
admin) changes, shares or deletes it; a colleague it is shared with, or who holds its
link, may run it, star it and copy it.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction

from common.errors import Conflict, DomainError, NotFound, PermissionDenied
from common.models import SavedQuery, SavedQueryFavourite, SavedQueryShare
from common.queries.access import colleagues
from common.queries.definition import parse_definition
from common.queries.selectors import may_edit, may_open, parse_share_token, require_use

EDIT_REFUSED = "only the owner of a query (or an operator admin) may change it"
MAX_NAME = 200


def _clean_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise DomainError("a saved query needs a name", field="name")
    name = " ".join(name.split())
    if len(name) > MAX_NAME:
        raise DomainError(f"a query's name has at most {MAX_NAME} characters", field="name")
    return name


def _clean_description(description: Any) -> str:
    if description is None:
        return ""
    if not isinstance(description, str):
        raise DomainError("a description is text", field="description")
    return description.strip()


def _refuse_duplicate_name(*, owner_id: int, name: str, exclude_pk: int | None = None) -> None:
    clash = SavedQuery.objects.filter(owner_id=owner_id, name=name)
    if exclude_pk is not None:
        clash = clash.exclude(pk=exclude_pk)
    if clash.exists():
        raise Conflict(
            f"there is already a query named {name!r}; choose another name", field="name"
        )


def _lock(saved_query: SavedQuery) -> SavedQuery:
    try:
        return SavedQuery.objects.select_for_update().get(pk=saved_query.pk)
    except SavedQuery.DoesNotExist:
        raise NotFound(f"saved query {saved_query.pk} no longer exists") from None


def _require_edit(actor, saved_query: SavedQuery) -> None:
    require_use(actor)
    if not may_edit(actor, saved_query):
        if not may_open(actor, saved_query):
            raise NotFound(f"no saved query {saved_query.pk} that you may open")
        raise PermissionDenied(EDIT_REFUSED)


@transaction.atomic
def saved_query_create(*, owner, name: str, definition: Any, description: str = "") -> SavedQuery:
    """Save a definition under a name; it is checked first and stored in canonical form."""
    require_use(owner)
    name = _clean_name(name)
    parsed = parse_definition(definition)
    _refuse_duplicate_name(owner_id=owner.pk, name=name)
    return SavedQuery.objects.create(
        owner=owner,
        name=name,
        description=_clean_description(description),
        source=parsed.source.key,
        definition=parsed.as_json(),
    )


@transaction.atomic
def saved_query_update(
    *,
    saved_query: SavedQuery,
    actor,
    name: str | None = None,
    description: str | None = None,
    definition: Any = None,
) -> SavedQuery:
    """Rename, describe or change the definition of a query (owner or operator admin)."""
    _require_edit(actor, saved_query)
    saved_query = _lock(saved_query)
    changed = ["updated_at"]
    if name is not None:
        saved_query.name = _clean_name(name)
        _refuse_duplicate_name(
            owner_id=saved_query.owner_id, name=saved_query.name, exclude_pk=saved_query.pk
        )
        changed.append("name")
    if description is not None:
        saved_query.description = _clean_description(description)
        changed.append("description")
    if definition is not None:
        parsed = parse_definition(definition)
        saved_query.definition = parsed.as_json()
        saved_query.source = parsed.source.key
        changed += ["definition", "source"]
    saved_query.save(update_fields=changed)
    return saved_query


@transaction.atomic
def saved_query_delete(*, saved_query: SavedQuery, actor) -> None:
    """Delete a query, its shares and the stars on it (owner or operator admin)."""
    _require_edit(actor, saved_query)
    _lock(saved_query).delete()


@transaction.atomic
def saved_query_copy(
    *, saved_query: SavedQuery, actor, name: str | None = None, share_token: Any = None
) -> SavedQuery:
    """Save a copy of a query the actor may open, as their own."""
    require_use(actor)
    if not may_open(actor, saved_query, share_token=share_token):
        raise NotFound(f"no saved query {saved_query.pk} that you may open")
    base = _clean_name(name) if name is not None else f"{saved_query.name} (copy)"
    candidate, number = base, 1
    while name is None and SavedQuery.objects.filter(owner=actor, name=candidate).exists():
        number += 1
        candidate = f"{base} {number}"
    return saved_query_create(
        owner=actor,
        name=candidate,
        description=saved_query.description,
        definition=saved_query.definition,
    )


def _colleague(actor, user: Any):
    """The user a query is to be shared with: by id, username or instance, among colleagues."""
    User = get_user_model()
    if isinstance(user, User):
        user = user.pk
    lookup = {"pk": user} if isinstance(user, int) and not isinstance(user, bool) else None
    if isinstance(user, str):
        lookup = {"pk": int(user)} if user.isdigit() else {"username": user}
    found = colleagues(actor).filter(**lookup).first() if lookup else None
    if found is None:
        raise DomainError(
            f"{user!r} is not a colleague a query can be shared with"
            " (the network owner's staff only)",
            field="user",
        )
    return found


@transaction.atomic
def saved_query_share(*, saved_query: SavedQuery, actor, user: Any) -> SavedQueryShare:
    """Share a query with a colleague, who may then run, star and copy it (idempotent)."""
    _require_edit(actor, saved_query)
    saved_query = _lock(saved_query)
    colleague = _colleague(actor, user)
    if colleague.pk == saved_query.owner_id:
        raise DomainError("the owner of a query already has it", field="user")
    share, _ = SavedQueryShare.objects.get_or_create(
        saved_query=saved_query, user=colleague, defaults={"shared_by": actor}
    )
    return share


@transaction.atomic
def saved_query_unshare(*, saved_query: SavedQuery, actor, user: Any) -> None:
    """Stop sharing a query with a user (their star on it goes too, unless it came by link)."""
    _require_edit(actor, saved_query)
    saved_query = _lock(saved_query)
    User = get_user_model()
    user_id = user.pk if isinstance(user, User) else user
    if isinstance(user_id, str):
        user_id = (
            int(user_id)
            if user_id.isdigit()
            else User._default_manager.filter(username=user_id).values_list("pk", flat=True).first()
        )
    SavedQueryShare.objects.filter(saved_query=saved_query, user_id=user_id).delete()
    SavedQueryFavourite.objects.filter(
        saved_query=saved_query, user_id=user_id, share_token__isnull=True
    ).delete()


@transaction.atomic
def saved_query_share_link(*, saved_query: SavedQuery, actor, enabled: bool) -> SavedQuery:
    """Turn the link on (anyone of the owner's staff who has it may open the query) or off.

    Turned off and on again, it is a new link: the old one stops working for good.
    """
    _require_edit(actor, saved_query)
    saved_query = _lock(saved_query)
    if enabled and saved_query.share_token is None:
        saved_query.share_token = uuid.uuid4()
    elif not enabled:
        saved_query.share_token = None
    saved_query.save(update_fields=["share_token", "updated_at"])
    return saved_query


@transaction.atomic
def saved_query_favourite(
    *, saved_query: SavedQuery, actor, is_favourite: bool = True, share_token: Any = None
) -> bool:
    """Star (or unstar) a query the actor may open; returns whether it is starred now."""
    require_use(actor)
    if not may_open(actor, saved_query, share_token=share_token):
        raise NotFound(f"no saved query {saved_query.pk} that you may open")
    if not is_favourite:
        SavedQueryFavourite.objects.filter(saved_query=saved_query, user=actor).delete()
        return False
    token = parse_share_token(share_token)
    direct = (
        may_edit(actor, saved_query)
        or SavedQueryShare.objects.filter(saved_query=saved_query, user=actor).exists()
    )
    through_link = token is not None and not direct
    SavedQueryFavourite.objects.update_or_create(
        saved_query=saved_query,
        user=actor,
        defaults={"share_token": token if through_link else None},
    )
    return True
