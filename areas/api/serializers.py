"""Shapes of the areas API: the area feature, its history and series, and the write inputs.

The list and detail features are built by PostgreSQL (`areas.selectors`) for speed;
`AreaFeatureSerializer` describes them for the OpenAPI schema, and a test holds the two
to the same fields and values.
"""

from datetime import UTC

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework_gis.serializers import GeoFeatureModelSerializer

from areas import splitting
from areas.lifecycle import AreaPhase
from areas.models import Area, AreaDailyFigures
from common.api import StrictInputSerializer

RATE = {"max_digits": 9, "decimal_places": 4, "coerce_to_string": False}


class AreaFeatureSerializer(GeoFeatureModelSerializer):
    """A planning area: its boundary and, as properties, its phase and kept demand figures."""

    parent = serializers.IntegerField(
        source="parent_id", allow_null=True, help_text="The area it was split from."
    )
    is_active = serializers.BooleanField(help_text="False once the area was split.")
    target_take_rate = serializers.DecimalField(**RATE)
    homes = serializers.IntegerField(source="figures.homes", help_text="Counting MDU units.")
    addresses = serializers.IntegerField(source="figures.addresses")
    interests = serializers.IntegerField(source="figures.interests", help_text="Live interests.")
    orders = serializers.IntegerField(source="figures.orders", help_text="Live orders (signups).")
    take_rate = serializers.DecimalField(
        source="figures.take_rate", help_text="Addresses with a live order ÷ homes.", **RATE
    )
    interest_rate = serializers.DecimalField(
        source="figures.interest_rate",
        help_text="Addresses with a live interest ÷ homes.",
        **RATE,
    )
    progress = serializers.DecimalField(
        source="figures.progress", help_text="Take rate ÷ target (1 = target reached).", **RATE
    )
    ready_to_build = serializers.BooleanField(
        source="figures.is_ready_to_build", help_text="The take rate has reached the target."
    )
    phase_changed_at = serializers.DateTimeField(default_timezone=UTC, allow_null=True)

    class Meta:
        model = Area
        geo_field = "boundary"
        id_field = False  # the feature's `id` is the area id; it is also a property
        fields = (
            "id",
            "code",
            "name",
            "phase",
            "parent",
            "is_active",
            "target_take_rate",
            "deploys_at_target",
            "homes",
            "addresses",
            "interests",
            "orders",
            "take_rate",
            "interest_rate",
            "progress",
            "ready_to_build",
            "phase_changed_at",
        )


class HistoryEntrySerializer(serializers.Serializer):
    """A phase change (from phase → to phase) or a split (parent code → the children's codes)."""

    kind = serializers.ChoiceField(choices=["phase", "split"])
    from_value = serializers.CharField()
    to_value = serializers.CharField()
    actor = serializers.CharField(allow_null=True, help_text="Username; null for the system.")
    reason = serializers.CharField(allow_blank=True)
    at = serializers.DateTimeField(default_timezone=UTC)
    mode = serializers.CharField(allow_null=True, help_text="Splits: line, half or share.")
    parent = serializers.IntegerField(allow_null=True, help_text="Splits: the parent's id.")
    children = serializers.ListField(
        child=serializers.IntegerField(), help_text="Splits: the two children's ids."
    )

    def get_fields(self):
        # `from` is a Python keyword: declared as from_value, sent as from (likewise to)
        fields = super().get_fields()
        fields["from"] = fields.pop("from_value")
        fields["to"] = fields.pop("to_value")
        fields["from"].source = "from_value"
        fields["to"].source = "to_value"
        order = ("kind", "from", "to", "actor", "reason", "at", "mode", "parent", "children")
        return {name: fields[name] for name in order}


class SeriesPointSerializer(serializers.ModelSerializer):
    """One day of the area's demand, as it stood at that day's last change."""

    take_rate = serializers.DecimalField(**RATE)
    interest_rate = serializers.DecimalField(**RATE)

    class Meta:
        model = AreaDailyFigures
        fields = (
            "day",
            "homes",
            "interests",
            "orders",
            "addresses_with_order",
            "take_rate",
            "interest_rate",
        )


class AreaDetailSerializer(AreaFeatureSerializer):
    """An area with its history (phase changes, splits) and its daily demand series."""

    history = HistoryEntrySerializer(many=True)
    series = SeriesPointSerializer(many=True)

    class Meta(AreaFeatureSerializer.Meta):
        fields = (*AreaFeatureSerializer.Meta.fields, "history", "series")


# --- inputs -------------------------------------------------------------------------------


class AreaUpdateSerializer(StrictInputSerializer):
    """What PATCH may change; the phase moves only through POST …/phase/."""

    name = serializers.CharField(required=False, allow_blank=True, max_length=200)
    target_take_rate = serializers.FloatField(required=False, help_text="0–1, e.g. 0.4.")
    deploys_at_target = serializers.BooleanField(required=False)


class AreaPhaseSerializer(StrictInputSerializer):
    """Move an area to another phase (planning ⇄ demand_aggregation → in_deployment → live)."""

    phase = serializers.ChoiceField(choices=AreaPhase.choices)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")


LINESTRING_SCHEMA = {
    "type": "object",
    "description": "A GeoJSON LineString in EPSG:4326 (lon, lat), or in the CRS its `crs`"
    " member (or the request's `crs`) names.",
    "properties": {
        "type": {"type": "string", "enum": ["LineString"]},
        "coordinates": {
            "type": "array",
            "minItems": 2,
            "items": {"type": "array", "items": {"type": "number"}, "minItems": 2},
        },
        "crs": {"type": "object"},
    },
    "required": ["type", "coordinates"],
    "example": {"type": "LineString", "coordinates": [[13.33, 52.545], [13.36, 52.546]]},
}


@extend_schema_field(LINESTRING_SCHEMA)
class LineStringField(serializers.JSONField):
    """A GeoJSON LineString, checked by the split service (which says what is wrong)."""


@extend_schema_field({"type": "object", "description": "A GeoJSON geometry."})
class GeoJSONGeometryField(serializers.JSONField):
    """A GeoJSON geometry, passed through as it is."""


class AreaSplitSerializer(StrictInputSerializer):
    """How to split: a drawn `line`, or `mode` half/share along an `axis`; `preview` to look."""

    line = LineStringField(
        required=False, allow_null=True, help_text="Mode line: the line drawn across the area."
    )
    mode = serializers.ChoiceField(
        choices=splitting.MODES,
        required=False,
        help_text="line (default when a line is given), half or share.",
    )
    axis = serializers.ChoiceField(
        choices=splitting.AXES,
        default=splitting.NORTH_SOUTH,
        help_text="north-south: a northern and a southern part; east-west: western and eastern.",
    )
    share = serializers.FloatField(
        required=False,
        allow_null=True,
        help_text="Mode share: the share (0 < share < 1) of the live orders on the north side"
        " (north-south) or the west side (east-west).",
    )
    crs = serializers.JSONField(
        required=False,
        allow_null=True,
        help_text="The line's CRS if not EPSG:4326: 25833, 'EPSG:25833' or an OGC URN.",
    )
    preview = serializers.BooleanField(
        default=False, help_text="true: work out both parts and write nothing."
    )
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")


# --- split outputs (preview and result) ---------------------------------------------------


class SplitPartPropertiesSerializer(serializers.Serializer):
    """A would-be child: its suggested code and name, and what it would hold."""

    side = serializers.CharField(help_text="north, south, west, east, or a/b for a drawn line.")
    code = serializers.CharField(help_text="The code it will get.")
    name = serializers.CharField()
    share_of_surface = serializers.FloatField(help_text="Its share of the parent's surface.")
    addresses = serializers.IntegerField()
    homes = serializers.IntegerField()
    interests = serializers.IntegerField()
    orders = serializers.IntegerField()
    addresses_with_interest = serializers.IntegerField()
    addresses_with_order = serializers.IntegerField()
    take_rate = serializers.DecimalField(**RATE)
    interest_rate = serializers.DecimalField(**RATE)
    progress = serializers.DecimalField(**RATE)
    ready_to_build = serializers.BooleanField()


class SplitPartFeatureSerializer(serializers.Serializer):
    """One part of a preview as a GeoJSON Feature."""

    type = serializers.CharField(default="Feature")
    geometry = GeoJSONGeometryField()
    properties = SplitPartPropertiesSerializer()


class SplitAreaRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()


class SplitPreviewSerializer(serializers.Serializer):
    """Both parts of a split as it would be done, and how its line was found; nothing written."""

    type = serializers.CharField(default="FeatureCollection")
    area = SplitAreaRefSerializer()
    mode = serializers.CharField()
    axis = serializers.CharField(allow_null=True)
    share = serializers.FloatField(allow_null=True)
    basis = serializers.CharField(help_text="line, centroid, orders or homes.")
    note = serializers.CharField(allow_blank=True)
    line = GeoJSONGeometryField(help_text="The split line (straight ones extend past the area).")
    features = SplitPartFeatureSerializer(many=True)


class SplitRecordSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    parent = serializers.IntegerField()
    children = serializers.ListField(child=serializers.IntegerField())
    mode = serializers.CharField()
    note = serializers.CharField(allow_blank=True)


class SplitResultSerializer(serializers.Serializer):
    """The two new areas (as in the list) and the split's record."""

    type = serializers.CharField(default="FeatureCollection")
    split = SplitRecordSerializer()
    features = serializers.ListField(child=AreaFeatureSerializer())
