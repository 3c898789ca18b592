"""Infrastructure tables: the domain event log, the outbox and saved queries."""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class TimeStampedModel(models.Model):
    """Base for oanm's models: when a row was created and last changed."""

    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class DomainEvent(models.Model):
    """A fact that happened in the domain (`address.connected`), recorded in its transaction."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    topic = models.CharField(max_length=100, db_index=True)
    payload = models.JSONField()
    occurred_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["occurred_at"]
        indexes = [models.Index(fields=["topic", "occurred_at"])]

    def __str__(self) -> str:
        return f"{self.topic} at {self.occurred_at:%Y-%m-%d %H:%M:%S}"


class OutboxStatus(models.TextChoices):
    PENDING = "pending", "pending"
    DELIVERED = "delivered", "delivered"
    DEAD = "dead", "dead (gave up)"


class OutboxMessage(models.Model):
    """One delivery of one event to one outbox handler; (event, handler) is its idempotency key."""

    event = models.ForeignKey(DomainEvent, on_delete=models.CASCADE, related_name="deliveries")
    handler = models.CharField(max_length=200)
    ordering_key = models.CharField(
        max_length=200, blank=True, help_text="Deliveries sharing a key go out in order."
    )
    status = models.CharField(
        max_length=20, choices=OutboxStatus.choices, default=OutboxStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["event", "handler"], name="outbox_event_handler_once"),
            models.CheckConstraint(
                condition=models.Q(status__in=OutboxStatus.values), name="outbox_status_valid"
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status="pending"),
                name="outbox_pending_due",
            )
        ]

    def __str__(self) -> str:
        return f"{self.handler} ← {self.event_id} ({self.status})"

    @property
    def idempotency_key(self) -> str:
        """What an external receiver can use to drop a repeated delivery."""
        return f"{self.event_id}:{self.handler}"


class SavedQuery(TimeStampedModel):
    """A named query definition (common.queries) that its owner can run, star and share."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_queries"
    )
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    source = models.CharField(max_length=60, help_text="The registered source it queries.")
    definition = models.JSONField(help_text="The canonical, versioned JSON definition.")
    share_token = models.UUIDField(
        null=True,
        blank=True,
        unique=True,
        editable=False,
        help_text="Set while anyone of the owner's organisation with the link may open it.",
    )
    shared_with = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        through="SavedQueryShare",
        through_fields=("saved_query", "user"),
        related_name="queries_shared_with_me",
        blank=True,
    )

    class Meta:
        verbose_name_plural = "saved queries"
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="saved_query_name_per_owner")
        ]

    def __str__(self) -> str:
        return self.name


class SavedQueryShare(models.Model):
    """A saved query shared with one colleague, who may run and copy it."""

    saved_query = models.ForeignKey(SavedQuery, on_delete=models.CASCADE, related_name="shares")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="query_shares"
    )
    shared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    shared_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["shared_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["saved_query", "user"], name="saved_query_share_once")
        ]

    def __str__(self) -> str:
        return f"{self.saved_query_id} shared with {self.user_id}"


class SavedQueryFavourite(models.Model):
    """A user's star on a saved query (their own, one shared with them, or one from a link)."""

    saved_query = models.ForeignKey(SavedQuery, on_delete=models.CASCADE, related_name="favourites")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="query_favourites"
    )
    share_token = models.UUIDField(
        null=True, blank=True, help_text="The link it was starred through, if that is the access."
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["saved_query", "user"], name="saved_query_favourite_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user_id} ★ {self.saved_query_id}"
