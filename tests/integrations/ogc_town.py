"""The small town the OGC tests read: two areas and addresses at known points in Wedding.

Area `north` (13.33..13.331, 52.55..52.551) holds 12 addresses on a row along 52.5505
(lon 13.3301 + i·0.00005, i = 0..11; the last two are businesses); area `east`
(13.34..13.341, 52.56..52.561) holds 3 at lon 13.3405, lat 52.5602 + i·0.0002; one address
lies in no area (13.35, 52.57). Everything is created through the services.
"""

from dataclasses import dataclass, field

from django.contrib.gis.geos import Point

from accounts.models import User
from accounts.roles import Role
from accounts.services import api_token_create, user_create
from areas.models import Area
from gis_core.lifecycle import PremisesType
from gis_core.models import Address
from tests.areas.factories import AreaFactory, square
from tests.gis_core.factories import AddressFactory

NORTH_ROW = [(13.3301 + i * 0.00005, 52.5505) for i in range(12)]
EAST_COLUMN = [(13.3405, 52.5602 + i * 0.0002) for i in range(3)]
LONELY = (13.35, 52.57)
ADDRESSES = len(NORTH_ROW) + len(EAST_COLUMN) + 1


@dataclass
class OgcTown:
    north: Area
    east: Area
    addresses: list[Address]
    planner: User
    tokens: dict[str, str] = field(default_factory=dict)

    def auth(self, scope: str = "read") -> dict:
        """The Authorization header of a token of the planner's with `scope`."""
        return {"Authorization": f"Bearer {self.tokens[scope]}"}


def build_town(owner) -> OgcTown:
    north = AreaFactory(code="north", name="Nord", boundary=square(13.33, 52.55, 0.001))
    east = AreaFactory(code="east", name="Ost", boundary=square(13.34, 52.56, 0.001))
    addresses = []
    for i, (lon, lat) in enumerate(NORTH_ROW):
        premises = PremisesType.BUSINESS if i >= 10 else PremisesType.SINGLE_FAMILY
        addresses.append(
            AddressFactory(
                location=Point(lon, lat, srid=4326),
                street="Müllerstraße",
                house_number=str(i + 1),
                premises_type=premises,
            )
        )
    for i, (lon, lat) in enumerate(EAST_COLUMN):
        addresses.append(
            AddressFactory(
                location=Point(lon, lat, srid=4326), street="Seestraße", house_number=str(i + 1)
            )
        )
    addresses.append(
        AddressFactory(location=Point(*LONELY, srid=4326), street="Feldweg", house_number="1")
    )
    planner = user_create(
        username="ogc-planner", organisation=owner, role=Role.PLANNER, password="x-pass-123"
    )
    town = OgcTown(north=north, east=east, addresses=addresses, planner=planner)
    for scope in ("read", "sync", "orders", "write"):
        _, key = api_token_create(user=planner, name=f"ogc {scope}", scopes=[scope])
        town.tokens[scope] = key
    return town
