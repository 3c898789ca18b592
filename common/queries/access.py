"""Who may use saved queries at all, and who may administer everyone's.

`common` sits below the accounts layer, so it cannot know roles or organisations: the
accounts app registers its rules here (in `accounts/queries.py`). Until a policy is
registered nobody may use queries (closed by default).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import QuerySet

from common.queries.registry import discover


@dataclass(frozen=True)
class AccessPolicy:
    may_use: Callable[[Any], bool]
    may_administer: Callable[[Any], bool]
    colleagues: Callable[[Any], QuerySet]


_policy: AccessPolicy | None = None


def register_access(
    *,
    may_use: Callable[[Any], bool],
    may_administer: Callable[[Any], bool],
    colleagues: Callable[[Any], QuerySet],
) -> None:
    """Set the rules: who may use queries, who may change anyone's, who one may share with."""
    global _policy
    _policy = AccessPolicy(may_use=may_use, may_administer=may_administer, colleagues=colleagues)


def _current() -> AccessPolicy | None:
    discover()
    return _policy


def may_use(user) -> bool:
    """May this user build, run, save and see queries at all?"""
    policy = _current()
    return bool(policy and getattr(user, "is_authenticated", False) and policy.may_use(user))


def may_administer(user) -> bool:
    """May this user see, change and delete everyone's queries (an operator admin)?"""
    policy = _current()
    return bool(policy and may_use(user) and policy.may_administer(user))


def colleagues(user) -> QuerySet:
    """The users this user may share a query with (themselves excluded)."""
    policy = _current()
    if not policy or not may_use(user):
        return get_user_model()._default_manager.none()
    return policy.colleagues(user).exclude(pk=user.pk)
