"""The address: one service location where fibre can be connected, and what hangs off it."""

from django.conf import settings
from django.contrib.gis.db import models
from django.contrib.gis.db.models.functions import Transform
from django.contrib.postgres.indexes import GinIndex, GistIndex
from django.db.models.expressions import RawSQL

from common.models import TimeStampedModel
from gis_core.lifecycle import AddressStatus, PremisesType

# Both generated in the database, so bulk SQL imports and ORM saves agree to the letter.
HOUSE_NUMBER_NORMALISED_SQL = "lower(regexp_replace(house_number, '[[:space:]]+', '', 'g'))"
LABEL_SQL = (
    "street"
    " || CASE WHEN house_number <> '' THEN ' ' || house_number ELSE '' END"
    " || CASE WHEN unit <> '' THEN ', ' || unit ELSE '' END"
    " || CASE WHEN postcode <> '' OR city <> ''"
    "    THEN ', ' || btrim(postcode || ' ' || city) ELSE '' END"
)
# The address as address search reads it (gis_core.search; the SQL functions are created by
# migration 0005): street, number, unit, postcode and city in label order, lower case,
# without accents, "Str."/"straße" as "strasse", "12 A" as "12a", "1 - 15" as "1-15",
# with a space at either end so whole words match as " 10 ".
SEARCH_TEXT_SQL = "oanm_address_search_text(street, house_number, unit, postcode, city)"


class Address(TimeStampedModel):
    """A service location: a home, a flat in an MDU or a business where fibre can be connected."""

    location = models.PointField(srid=4326, spatial_index=True)
    # Web Mercator copy of `location`, kept by the database so vector tiles (gis_core.tiles)
    # never transform per request and bulk SQL imports fill it too.
    location_3857 = models.GeneratedField(
        expression=Transform("location", 3857),
        output_field=models.PointField(srid=3857, spatial_index=False),
        db_persist=True,
    )
    street = models.CharField(max_length=200)
    house_number = models.CharField(
        max_length=30, blank=True, help_text='As given: "12a", "1-15", "1 B".'
    )
    house_number_normalised = models.GeneratedField(
        expression=RawSQL(HOUSE_NUMBER_NORMALISED_SQL, ()),
        output_field=models.CharField(max_length=30),
        db_persist=True,
    )
    unit = models.CharField(max_length=60, blank=True, help_text="Flat or unit inside a building.")
    postcode = models.CharField(max_length=20, blank=True)
    city = models.CharField(max_length=100, blank=True)
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166-1 alpha-2.")
    label = models.GeneratedField(
        expression=RawSQL(LABEL_SQL, ()),
        output_field=models.CharField(max_length=400),
        db_persist=True,
    )
    search_text = models.GeneratedField(
        expression=RawSQL(SEARCH_TEXT_SQL, ()),
        output_field=models.TextField(),
        db_persist=True,
    )
    premises_type = models.CharField(
        max_length=20, choices=PremisesType.choices, default=PremisesType.SINGLE_FAMILY
    )
    units = models.PositiveIntegerField(
        default=1, help_text="Homes at this address: more than one for a whole MDU."
    )
    status = models.CharField(
        max_length=30, choices=AddressStatus.choices, default=AddressStatus.PLANNED, editable=False
    )
    status_changed_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The containing planning area; kept right by set-based SQL (areas.assignment), never by hand.
    # A lazy reference: gis_core never imports areas (ARCHITECTURE.md layers).
    # No foreign-key constraint in the database: the link is derived data that the
    # assignment recomputes from the geometries, areas are retired (is_active), never
    # hard-deleted, and Django still applies on_delete=SET_NULL to ORM deletes. The
    # constraint's check of every written row cost a bulk import of 1M addresses ~13 s.
    area = models.ForeignKey(
        "areas.Area",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="addresses",
        editable=False,
        db_constraint=False,
    )
    attributes = models.JSONField(default=dict, blank=True, help_text="Properties from a GIS.")
    # The circuit a GIS of record links to the address (IQGeo's circuit id and name).
    # (Defaults in the database too: the bulk importer's INSERT … SELECT names no column
    # it does not write.)
    circuit_ref = models.CharField(max_length=100, blank=True, default="", db_default="")
    circuit_name = models.CharField(max_length=200, blank=True, default="", db_default="")
    # Retired: gone from the GIS of record (never deleted: orders and history keep it).
    # A retired address is left out of address search and the address tiles and takes no
    # new order; `gis_core.services.addresses_retire` / `addresses_reinstate` set it, and
    # importing its (system, external id) again reinstates it.
    retired_at = models.DateTimeField(null=True, blank=True, editable=False)
    retired_reason = models.CharField(
        max_length=200, blank=True, editable=False, default="", db_default=""
    )
    # Not indexed: one value covers every row of a run (up to millions), nothing looks
    # addresses up by it, and the index cost a bulk import ~10 % of its insert time.
    last_import_id = models.UUIDField(
        null=True, blank=True, editable=False, help_text="The import run that last changed it."
    )

    class Meta:
        verbose_name_plural = "addresses"
        ordering = ["street", "house_number_normalised", "unit"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=AddressStatus.values), name="address_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(premises_type__in=PremisesType.values),
                name="address_premises_type_valid",
            ),
            models.CheckConstraint(condition=models.Q(units__gte=1), name="address_units_positive"),
        ]
        indexes = [
            models.Index(fields=["postcode", "street"], name="address_postcode_street"),
            models.Index(fields=["status"], name="address_status"),
            # The few retired addresses (most are live: a partial index stays tiny).
            models.Index(
                fields=["retired_at"],
                condition=models.Q(retired_at__isnull=False),
                name="address_retired",
            ),
            # The live addresses: the OGC API's numberMatched of a whole collection (which
            # joins the area) is an index-only scan of it, 5× faster than a sequential one.
            models.Index(
                fields=["area_id"],
                condition=models.Q(retired_at__isnull=True),
                name="address_live",
            ),
            GistIndex(fields=["location_3857"], name="address_location_3857"),
            # Address search: words anywhere (trigrams), and what was typed so far (prefix).
            GinIndex(
                fields=["search_text"], opclasses=["gin_trgm_ops"], name="address_search_trgm"
            ),
            # (with the id, so a street's addresses are read from the index alone)
            models.Index(
                fields=["search_text"],
                opclasses=["text_pattern_ops"],
                include=["id"],
                name="address_search_prefix",
            ),
        ]

    def __str__(self) -> str:
        return self.label or f"{self.street} {self.house_number}".strip()


class StreetName(models.Model):
    """A street name the addresses use, once per normalised spelling: the lexicon that
    typo-tolerant address search and its "did you mean" look streets up in.

    Kept by database triggers on the address table (migration 0005), so every writer (the
    services, the bulk importer's SQL) adds the names it brings. A name whose addresses
    were all deleted or renamed stays until `gis_core.search.street_names_prune()` runs;
    search checks a name against the addresses before offering it.
    """

    name = models.CharField(max_length=200, help_text="As the first address to use it wrote it.")
    name_normalised = models.TextField(help_text="oanm_search_normalise(name), unique.")

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["name_normalised"], name="street_name_unique"),
        ]
        indexes = [
            # GiST, not GIN: it orders by trigram distance (`<->`), so the most similar
            # names come straight from the index, and it answers LIKE '%…%' as well.
            GistIndex(
                fields=["name_normalised"], opclasses=["gist_trgm_ops"], name="street_name_trgm"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ExternalReference(models.Model):
    """The id another system (IQGeo, VETRO, OSM, …) knows an address by; unique per system."""

    # No single-column indexes: the unique (address, system) serves lookups by address and
    # (system, external_id) those by system; each extra index slowed bulk imports.
    address = models.ForeignKey(
        Address, on_delete=models.CASCADE, related_name="external_refs", db_index=False
    )
    system = models.SlugField(max_length=40, db_index=False)
    external_id = models.CharField(max_length=200)

    class Meta:
        ordering = ["system", "external_id"]
        constraints = [
            models.UniqueConstraint(fields=["system", "external_id"], name="external_ref_unique"),
            models.UniqueConstraint(
                fields=["address", "system"], name="external_ref_one_per_system"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.system}:{self.external_id}"


class AddressStatusChange(models.Model):
    """History of an address's lifecycle: who moved it, when, from what to what, and why."""

    address = models.ForeignKey(Address, on_delete=models.CASCADE, related_name="status_history")
    from_status = models.CharField(max_length=30, choices=AddressStatus.choices)
    to_status = models.CharField(max_length=30, choices=AddressStatus.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=500, blank=True)
    changed_at = models.DateTimeField()

    class Meta:
        ordering = ["changed_at", "id"]
        indexes = [models.Index(fields=["address", "changed_at"])]

    def __str__(self) -> str:
        return f"{self.address_id}: {self.from_status} → {self.to_status}"


class AddressCellCount(models.Model):
    """What one grid cell of the address-tile pyramid holds at one zoom (gis_core.tiles).

    Kept by database triggers on the address table, so every writer (services, the bulk
    importer's SQL, the area assignment) keeps it right. A cell's figures are the sum of its
    rows: writers append rows and merge the rows they can lock without waiting.
    """

    zoom = models.PositiveSmallIntegerField()
    cell_x = models.IntegerField()
    cell_y = models.IntegerField()
    addresses = models.IntegerField(default=0)
    homes = models.IntegerField(default=0)
    planned = models.IntegerField(default=0)
    awaiting_deployment = models.IntegerField(default=0)
    in_deployment = models.IntegerField(default=0)
    connected = models.IntegerField(default=0)
    activated = models.IntegerField(default=0)
    sum_x = models.FloatField(default=0, help_text="Sum of the addresses' EPSG:3857 x.")
    sum_y = models.FloatField(default=0, help_text="Sum of the addresses' EPSG:3857 y.")

    class Meta:
        indexes = [
            models.Index(fields=["zoom", "cell_x", "cell_y"], name="address_cell_count_cell"),
        ]

    def __str__(self) -> str:
        return f"z{self.zoom} cell {self.cell_x}/{self.cell_y}: {self.addresses} addresses"
