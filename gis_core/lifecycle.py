"""The address lifecycle (ARCHITECTURE.md): planned → … → connected ⇄ activated."""

from django.db import models

from common.lifecycle import TransitionMap


class AddressStatus(models.TextChoices):
    PLANNED = "planned", "planned"
    AWAITING_DEPLOYMENT = "awaiting_deployment", "awaiting deployment"
    IN_DEPLOYMENT = "in_deployment", "in deployment"
    CONNECTED = "connected", "connected"
    ACTIVATED = "activated", "activated"


ADDRESS_TRANSITIONS = TransitionMap(
    "address",
    {
        # an order (signup) puts the address in the build queue; its cancellation takes it out
        AddressStatus.PLANNED: {AddressStatus.AWAITING_DEPLOYMENT},
        AddressStatus.AWAITING_DEPLOYMENT: {AddressStatus.IN_DEPLOYMENT, AddressStatus.PLANNED},
        # a deployment can be called off before the drop is in
        AddressStatus.IN_DEPLOYMENT: {AddressStatus.CONNECTED, AddressStatus.AWAITING_DEPLOYMENT},
        # an ISP activates a service on a connected address; the last service ending undoes it
        AddressStatus.CONNECTED: {AddressStatus.ACTIVATED},
        AddressStatus.ACTIVATED: {AddressStatus.CONNECTED},
    },
)


class PremisesType(models.TextChoices):
    SINGLE_FAMILY = "single_family", "single-family home"
    MDU_FLAT = "mdu_flat", "flat in a multi-dwelling unit"
    BUSINESS = "business", "business"
