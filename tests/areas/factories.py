"""Factories for areas: created through `area_create`, so they start in `planning` and
take in the addresses inside them, as in production. Later phases: call the services."""

from decimal import Decimal

import factory
from django.contrib.gis.geos import Polygon

from areas.models import Area
from areas.services import area_create


def square(lon: float, lat: float, size: float) -> Polygon:
    """An axis-aligned square with its south-west corner at (lon, lat), `size` degrees wide."""
    return Polygon.from_bbox((lon, lat, lon + size, lat + size))


class AreaFactory(factory.Factory):
    """A small planning area in Wedding (about 70 × 110 m)."""

    class Meta:
        model = Area

    name = factory.Sequence(lambda n: f"Area {n}")
    code = factory.Sequence(lambda n: f"area-{n}")
    boundary = factory.LazyFunction(lambda: square(13.33, 52.55, 0.001))
    target_take_rate = Decimal("0.4")

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return area_create(**kwargs)
