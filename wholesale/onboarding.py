"""Writes of an ISP's standing with the network owner: onboarding (draft → active →
suspended), contacts, its webhook endpoint and secret, and its API tokens.

Suspension stops an ISP at once: its organisation becomes inactive, so its users cannot use
the portal and its tokens fail on their next request; live services stay up (cutting off
customers is a separate, deliberate act).
"""

from __future__ import annotations

import ipaddress
import secrets
import socket
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email
from django.db import transaction
from django.utils import timezone

from accounts.models import ApiToken, Organisation, User
from accounts.roles import OrganisationKind, Role, TokenScope
from accounts.services import api_token_create, organisation_create, organisation_set_active
from common.errors import DomainError
from common.events import publish
from wholesale.events import ISP_STATUS_CHANGED, IspStatusChanged
from wholesale.lifecycle import ISP_TRANSITIONS, IspStatus
from wholesale.models import IspProfile, IspStatusChange

# What an ISP's systems may be given: read, place orders, manage services.
ISP_TOKEN_SCOPES = (TokenScope.READ, TokenScope.ORDERS, TokenScope.SERVICES)


def isp_is_trading(isp: Organisation) -> bool:
    """An ISP that may take orders and activate services (active, not draft or suspended)."""
    return isp.kind == OrganisationKind.ISP and isp.is_active


def _profile(isp: Organisation) -> IspProfile:
    if isp.kind != OrganisationKind.ISP:
        raise DomainError(f"{isp} is not an ISP", field="isp")
    profile, _ = IspProfile.objects.get_or_create(
        organisation=isp,
        defaults={"status": IspStatus.ACTIVE if isp.is_active else IspStatus.SUSPENDED},
    )
    return profile


def _transition(*, isp: Organisation, to: str, actor: User | None, reason: str) -> IspProfile:
    """The one place an ISP's status is assigned: lock, check, set, history, event."""
    profile = IspProfile.objects.select_for_update().get(pk=_profile(isp).pk)
    source = profile.status
    ISP_TRANSITIONS.check(source, to)
    now = timezone.now()
    profile.status = to
    profile.status_changed_at = now
    profile.save(update_fields=["status", "status_changed_at", "updated_at"])
    organisation_set_active(organisation=isp, is_active=to == IspStatus.ACTIVE)
    IspStatusChange.objects.create(
        profile=profile,
        from_status=source,
        to_status=to,
        actor=actor,
        reason=reason,
        changed_at=now,
    )
    publish(
        ISP_STATUS_CHANGED,
        IspStatusChanged(
            isp_id=isp.pk,
            from_status=source,
            to_status=to,
            actor_id=actor.pk if actor else None,
            reason=reason,
        ),
    )
    return profile


@transaction.atomic
def isp_onboard(
    *,
    name: str,
    contact_name: str = "",
    contact_email: str = "",
    contact_phone: str = "",
    website: str = "",
    actor: User | None = None,
) -> Organisation:
    """Start onboarding an ISP: the organisation and its profile, in draft (not yet trading)."""
    name = (name or "").strip()
    if not name:
        raise DomainError("an ISP needs a name", field="name")
    isp = organisation_create(name=name, kind=OrganisationKind.ISP)
    organisation_set_active(organisation=isp, is_active=False)
    profile = IspProfile.objects.create(
        organisation=isp, status=IspStatus.DRAFT, webhook_secret=_new_secret()
    )
    IspStatusChange.objects.create(
        profile=profile,
        to_status=IspStatus.DRAFT,
        actor=actor,
        reason="onboarding started",
        changed_at=profile.status_changed_at,
    )
    isp_contacts_set(
        isp=isp,
        contact_name=contact_name,
        contact_email=contact_email,
        contact_phone=contact_phone,
        website=website,
    )
    isp.refresh_from_db()
    return isp


@transaction.atomic
def isp_activate(*, isp: Organisation, actor: User | None = None, reason: str = "") -> IspProfile:
    """The ISP may trade: from draft (onboarding done) or suspended (reinstated)."""
    return _transition(isp=isp, to=IspStatus.ACTIVE, actor=actor, reason=reason or "activated")


@transaction.atomic
def isp_suspend(*, isp: Organisation, reason: str, actor: User | None = None) -> IspProfile:
    """Stop an ISP at once: its users and tokens lose access; its services stay up."""
    if not (reason or "").strip():
        raise DomainError("say why the ISP is suspended", field="reason")
    return _transition(isp=isp, to=IspStatus.SUSPENDED, actor=actor, reason=reason.strip())


def _optional_email(value: str, field: str) -> str:
    value = (value or "").strip()
    if len(value) > 254:
        raise DomainError("the email address is too long (at most 254 characters)", field=field)
    if value:
        try:
            validate_email(value)
        except ValidationError as exc:
            raise DomainError(f"{value!r} is not an email address", field=field) from exc
    return value


@transaction.atomic
def isp_contacts_set(
    *,
    isp: Organisation,
    contact_name: str = "",
    contact_email: str = "",
    contact_phone: str = "",
    support_email: str = "",
    website: str = "",
) -> IspProfile:
    """Set who the owner talks to at the ISP, and its website."""
    profile = IspProfile.objects.select_for_update().get(pk=_profile(isp).pk)
    website = (website or "").strip()
    if len(website) > 200:
        raise DomainError(
            "the website address is too long (at most 200 characters)", field="website"
        )
    if website:
        try:
            URLValidator(schemes=["http", "https"])(website)
        except ValidationError as exc:
            raise DomainError(f"{website!r} is not a web address", field="website") from exc
    phone = (contact_phone or "").strip()
    if len(phone) > 40:
        raise DomainError(
            "the phone number is too long (at most 40 characters)", field="contact_phone"
        )
    name = (contact_name or "").strip()
    if len(name) > 200:
        raise DomainError(
            "the contact's name is too long (at most 200 characters)", field="contact_name"
        )
    profile.contact_name = name
    profile.contact_email = _optional_email(contact_email, "contact_email")
    profile.contact_phone = phone
    profile.support_email = _optional_email(support_email, "support_email")
    profile.website = website
    profile.save()
    return profile


def _new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class UrlRefusal:
    """Why oanm will not POST to a URL; `transient` when it may pass later (its host could
    not be resolved just now), so a delivery is retried rather than given up on."""

    reason: str
    transient: bool = False


def webhook_url_problem(url: str) -> UrlRefusal | None:
    """`webhook_url_refusal`, saying also whether the refusal may pass by itself."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return UrlRefusal("a webhook URL is an http(s) address")
    if settings.WEBHOOK_ALLOW_PRIVATE_URLS:
        return None
    if parts.scheme != "https":
        return UrlRefusal("a webhook URL must use https")
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError, ValueError):
        return UrlRefusal(f"the host {parts.hostname} cannot be resolved", transient=True)
    for info in infos:
        if not _is_public(ipaddress.ip_address(info[4][0])):
            return UrlRefusal(f"the host {parts.hostname} is on a private network")
    return None


def webhook_url_refusal(url: str) -> str | None:
    """Why oanm will not POST to this URL, or None when it may.

    Plain http and private, loopback or link-local hosts are refused unless
    WEBHOOK_ALLOW_PRIVATE_URLS is on (development and tests, whose receivers run on
    127.0.0.1): an ISP must not make oanm call into the owner's own network.
    """
    problem = webhook_url_problem(url)
    return problem.reason if problem else None


def _is_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """An address on the public internet: not private, loopback, link-local, shared (CGNAT),
    reserved, multicast or unspecified, also when written as IPv4 inside IPv6."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


@transaction.atomic
def isp_webhook_set(*, isp: Organisation, url: str) -> IspProfile:
    """Set (or with an empty URL, remove) the ISP's webhook endpoint; a secret is made for
    it on first use."""
    profile = IspProfile.objects.select_for_update().get(pk=_profile(isp).pk)
    url = (url or "").strip()
    if url:
        try:
            URLValidator(schemes=["http", "https"])(url)
        except ValidationError as exc:
            raise DomainError(f"{url!r} is not a web address", field="url") from exc
        if len(url) > 500:
            raise DomainError("the webhook URL is too long (at most 500 characters)", field="url")
        refusal = webhook_url_refusal(url)
        if refusal:
            raise DomainError(refusal, field="url")
    profile.webhook_url = url
    if not profile.webhook_secret:
        profile.webhook_secret = _new_secret()
    profile.save(update_fields=["webhook_url", "webhook_secret", "updated_at"])
    return profile


@transaction.atomic
def isp_webhook_secret_rotate(*, isp: Organisation) -> IspProfile:
    """Replace the ISP's signing secret; deliveries from now on are signed with the new one."""
    profile = IspProfile.objects.select_for_update().get(pk=_profile(isp).pk)
    profile.webhook_secret = _new_secret()
    profile.save(update_fields=["webhook_secret", "updated_at"])
    return profile


@transaction.atomic
def isp_token_create(
    *,
    user: User,
    name: str,
    scopes: list[str],
    expires_at: datetime | None = None,
) -> tuple[ApiToken, str]:
    """Issue an API token for an ISP's systems, acting as one of its users; returns the
    token and its secret (shown once)."""
    isp = user.organisation
    if isp is None or isp.kind != OrganisationKind.ISP or user.role != Role.ISP_USER:
        raise DomainError(f"{user} is not a user of an ISP", field="user")
    name = (name or "").strip()
    if not name:
        raise DomainError("give the token a name (what uses it)", field="name")
    if len(name) > 100:
        raise DomainError("the name is too long (at most 100 characters)", field="name")
    if not scopes:
        raise DomainError("choose at least one scope", field="scopes")
    refused = sorted(set(scopes) - set(ISP_TOKEN_SCOPES))
    if refused:
        raise DomainError(
            f"an ISP's token cannot have the scopes {', '.join(refused)}", field="scopes"
        )
    return api_token_create(user=user, name=name, scopes=scopes, expires_at=expires_at)
