"""Writes of accounts: organisations, members, API tokens."""

import secrets
from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from accounts.models import ApiToken, Membership, Organisation, User
from accounts.roles import ROLES_BY_KIND, Role, TokenScope
from common.errors import Conflict, DomainError


def _article(noun: str) -> str:
    """ "an ISP user", "a planner": the indefinite article as it is spoken."""
    return f"{'an' if noun[:1].lower() in 'aeiou' or noun.startswith('ISP') else 'a'} {noun}"


@transaction.atomic
def organisation_create(*, name: str, kind: str, slug: str = "") -> Organisation:
    """Create an organisation (owner, ISP or contractor)."""
    if kind not in ROLES_BY_KIND:
        raise DomainError(f"unknown organisation kind {kind!r}", field="kind")
    slug = slug or slugify(name)
    if Organisation.objects.filter(name=name).exists():
        raise Conflict(f"an organisation named {name!r} already exists", field="name")
    if Organisation.objects.filter(slug=slug).exists():
        raise Conflict(
            f"the short name {slug!r} is already used by another organisation", field="slug"
        )
    return Organisation.objects.create(name=name, slug=slug, kind=kind)


@transaction.atomic
def user_create(
    *,
    username: str,
    organisation: Organisation,
    role: str,
    password: str | None = None,
    email: str = "",
    first_name: str = "",
    last_name: str = "",
    is_superuser: bool = False,
) -> User:
    """Create a user with their membership; the role must fit the organisation's kind.

    Only an operator admin can be a superuser (every permission, the whole admin site).
    """
    if role not in Role.values:
        raise DomainError(f"unknown role {role!r}", field="role")
    if role not in ROLES_BY_KIND[organisation.kind]:
        raise DomainError(
            f"{_article(Role(role).label)} cannot belong to "
            f"{_article(organisation.get_kind_display())} ({organisation.name})",
            field="role",
        )
    if is_superuser and role != Role.OPERATOR_ADMIN:
        raise DomainError("only an operator admin can be a superuser", field="is_superuser")
    if User.objects.filter(username=username).exists():
        raise Conflict(f"the username {username!r} is taken", field="username")
    user = User(
        username=username,
        email=email,
        first_name=first_name,
        last_name=last_name,
        is_staff=role == Role.OPERATOR_ADMIN,
        is_superuser=is_superuser,
    )
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.save()
    Membership.objects.create(user=user, organisation=organisation, role=role)
    return user


@transaction.atomic
def api_token_create(
    *,
    user: User,
    name: str,
    scopes: list[str],
    expires_at: datetime | None = None,
) -> tuple[ApiToken, str]:
    """Issue a token acting as `user`; returns the token and its secret (shown once)."""
    unknown = sorted(set(scopes) - set(TokenScope.values))
    if unknown:
        raise DomainError(f"unknown scopes: {', '.join(unknown)}", field="scopes")
    if expires_at is not None and expires_at <= timezone.now():
        raise DomainError(
            "the expiry date of a new token must be in the future", field="expires_at"
        )
    organisation = user.organisation
    if organisation is None:
        raise DomainError(f"{user} belongs to no organisation", field="user")
    key = "oanm_" + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        organisation=organisation,
        user=user,
        name=name,
        prefix=key[:12],
        key_hash=ApiToken.hash_key(key),
        scopes=sorted(set(scopes)),
        expires_at=expires_at,
    )
    return token, key


@transaction.atomic
def api_token_revoke(*, token: ApiToken) -> ApiToken:
    """Revoke a token at once; it can never be used again."""
    token = ApiToken.objects.select_for_update().get(pk=token.pk)
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at", "updated_at"])
    return token


@transaction.atomic
def organisation_set_active(*, organisation: Organisation, is_active: bool) -> Organisation:
    """Let an organisation act, or stop it at once: an inactive organisation's users cannot
    use its doors and its API tokens stop working on their next request."""
    organisation = Organisation.objects.select_for_update().get(pk=organisation.pk)
    if organisation.is_active != is_active:
        organisation.is_active = is_active
        organisation.save(update_fields=["is_active", "updated_at"])
    return organisation
