"""Infrastructure tables: the domain event log and the outbox."""

import uuid

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
