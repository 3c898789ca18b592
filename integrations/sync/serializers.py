"""Shapes of the sync API: pages of changes (output) and the address upsert (input)."""

from rest_framework import serializers

from common.api import StrictInputSerializer
from gis_core.lifecycle import PremisesType
from integrations.sync.models import ChangeEntity, ChangeOp


class SyncFeatureSerializer(serializers.Serializer):
    """The entity's current state as a GeoJSON Feature (EPSG:4326, lon/lat)."""

    type = serializers.CharField(help_text='Always "Feature".')
    id = serializers.IntegerField()
    geometry = serializers.JSONField(help_text="A Point (address) or MultiPolygon (area).")
    properties = serializers.JSONField(
        help_text="Address: street, house_number, unit, postcode, city, country, label,"
        " premises_type, units, status, status_changed_at, area_id, circuit_ref,"
        " circuit_name, retired_at, retired_reason, attributes, external_refs {system: id},"
        " updated_at. Area: code, name, phase, phase_changed_at, is_active, deleted_at,"
        " parent_id, target_take_rate, expected_connection_from/until, attributes, updated_at."
    )


class SyncChangeSerializer(serializers.Serializer):
    cursor = serializers.CharField(help_text="This change's position; resume after it.")
    entity = serializers.ChoiceField(choices=ChangeEntity.choices)
    id = serializers.IntegerField(help_text="The address's or area's id.")
    op = serializers.ChoiceField(choices=ChangeOp.choices)
    changed_at = serializers.DateTimeField()
    feature = SyncFeatureSerializer(
        allow_null=True,
        help_text="The current state; null for a delete (or when the entity is gone since).",
    )


class SyncChangesPageSerializer(serializers.Serializer):
    changes = SyncChangeSerializer(many=True)
    next_cursor = serializers.CharField(help_text="Pass as `since` to read on.")
    has_more = serializers.BooleanField(help_text="More changes are readable now.")


class SyncAddressUpsertSerializer(StrictInputSerializer):
    """The whole address as the GIS holds it; omitted optional fields are cleared."""

    geometry = serializers.JSONField(
        help_text='A GeoJSON Point (or WKT), e.g. {"type": "Point", "coordinates": [13.35, 52.55]}.'
    )
    crs = serializers.CharField(
        required=False, help_text="The geometry's CRS (EPSG:25833, CRS84…); default EPSG:4326."
    )
    street = serializers.CharField(max_length=200)
    house_number = serializers.CharField(max_length=30, required=False, allow_blank=True)
    unit = serializers.CharField(max_length=60, required=False, allow_blank=True)
    postcode = serializers.CharField(max_length=20, required=False, allow_blank=True)
    city = serializers.CharField(max_length=100, required=False, allow_blank=True)
    country = serializers.CharField(max_length=2, required=False, allow_blank=True)
    premises_type = serializers.ChoiceField(choices=PremisesType.choices, required=False)
    units = serializers.IntegerField(min_value=1, required=False)
    attributes = serializers.DictField(required=False)
    address_id = serializers.IntegerField(
        required=False,
        help_text="Link the reference to this existing oanm address on first use.",
    )


class SyncAddressResultSerializer(serializers.Serializer):
    created = serializers.BooleanField()
    changed = serializers.BooleanField(help_text="False when the address already matched.")
    feature = SyncFeatureSerializer()
