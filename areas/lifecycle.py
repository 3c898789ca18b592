"""The area phase lifecycle (ARCHITECTURE.md).

planning → demand_aggregation → in_deployment → live
"""

from django.db import models

from common.lifecycle import TransitionMap


class AreaPhase(models.TextChoices):
    PLANNING = "planning", "planning"
    DEMAND_AGGREGATION = "demand_aggregation", "demand aggregation"
    IN_DEPLOYMENT = "in_deployment", "in deployment"
    LIVE = "live", "live"


AREA_TRANSITIONS = TransitionMap(
    "area",
    {
        AreaPhase.PLANNING: {AreaPhase.DEMAND_AGGREGATION},
        # an area that misses its target can go back to the drawing board
        AreaPhase.DEMAND_AGGREGATION: {AreaPhase.IN_DEPLOYMENT, AreaPhase.PLANNING},
        AreaPhase.IN_DEPLOYMENT: {AreaPhase.LIVE},
        AreaPhase.LIVE: set(),
    },
)
