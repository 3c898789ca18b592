"""Factories for addresses: created through `address_create`, so they start `planned`
and join the area that contains them, as in production. Later states: call the services."""

import factory
from django.contrib.gis.geos import Point

from gis_core.lifecycle import PremisesType
from gis_core.models import Address
from gis_core.services import address_create

# Berlin-Wedding, around Müllerstraße / Leopoldplatz.
WEDDING_LON = 13.33
WEDDING_LAT = 52.55


def wedding_point(n: int) -> Point:
    """The n-th point of a 10 m-ish grid, 100 points to a row, north-east of the origin."""
    return Point(WEDDING_LON + (n % 100) * 0.0001, WEDDING_LAT + (n // 100) * 0.0001, srid=4326)


class AddressFactory(factory.Factory):
    """A planned single-family home in Wedding."""

    class Meta:
        model = Address

    location = factory.Sequence(wedding_point)
    street = "Müllerstraße"
    house_number = factory.Sequence(lambda n: str(n + 1))
    postcode = "13353"
    city = "Berlin"
    country = "DE"
    premises_type = PremisesType.SINGLE_FAMILY
    units = 1

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return address_create(**kwargs)
