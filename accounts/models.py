"""Who is acting: organisations, their users and roles, and machine clients' API tokens."""

import hashlib

from django.contrib.auth.models import AbstractUser
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone

from accounts.roles import OrganisationKind, Role
from common.models import TimeStampedModel


class Organisation(TimeStampedModel):
    """A party in the network: the owner, an ISP or a contractor; the unit of tenancy."""

    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=80, unique=True)
    kind = models.CharField(max_length=20, choices=OrganisationKind.choices)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=OrganisationKind.values), name="organisation_kind_valid"
            )
        ]

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    """A person who signs in; what they may do follows from their membership's role."""

    class Meta:
        ordering = ["username"]

    @property
    def organisation(self) -> Organisation | None:
        membership = getattr(self, "membership", None)
        return membership.organisation if membership else None

    @property
    def role(self) -> str | None:
        membership = getattr(self, "membership", None)
        return membership.role if membership else None

    def has_role(self, *roles: str) -> bool:
        return self.is_superuser or self.role in roles


class Membership(TimeStampedModel):
    """A user's place in one organisation, with one role."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="membership")
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="memberships"
    )
    role = models.CharField(max_length=30, choices=Role.choices)

    class Meta:
        ordering = ["organisation__name", "user__username"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(role__in=Role.values), name="membership_role_valid"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.get_role_display()} at {self.organisation})"


class ApiToken(TimeStampedModel):
    """A machine client's credential; only a hash of the secret is stored."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="api_tokens"
    )
    user = models.ForeignKey(
        User,
        on_delete=models.CASCADE,
        related_name="api_tokens",
        help_text="The user the token acts as.",
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, db_index=True, help_text="Shown to identify a token.")
    key_hash = models.CharField(max_length=64, unique=True)
    scopes = ArrayField(models.CharField(max_length=30), default=list, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["organisation__name", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def hash_key(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    @property
    def is_usable(self) -> bool:
        now = timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes
