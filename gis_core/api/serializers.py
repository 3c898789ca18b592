"""The shapes of the address-search API: its query parameters and its answers."""

from rest_framework import serializers

from gis_core.search import MAX_LIMIT, MAX_QUERY_LENGTH


class SearchQuerySerializer(serializers.Serializer):
    """`GET /api/addresses/search` parameters."""

    q = serializers.CharField(
        trim_whitespace=False,
        max_length=MAX_QUERY_LENGTH,
        help_text="The address as typed so far: street, number, postcode, unit, in any order.",
    )
    limit = serializers.IntegerField(min_value=1, max_value=MAX_LIMIT, default=10)


class NearestQuerySerializer(serializers.Serializer):
    """`GET /api/addresses/nearest` parameters."""

    lon = serializers.FloatField(min_value=-180, max_value=180, help_text="Longitude, EPSG:4326.")
    lat = serializers.FloatField(min_value=-90, max_value=90, help_text="Latitude, EPSG:4326.")
    limit = serializers.IntegerField(min_value=1, max_value=MAX_LIMIT, default=5)


class LocationSerializer(serializers.Serializer):
    lon = serializers.FloatField()
    lat = serializers.FloatField()


class AddressMatchSerializer(serializers.Serializer):
    """An address found: its fields and where it is — nothing about who lives or ordered there."""

    id = serializers.IntegerField()
    label = serializers.CharField()
    street = serializers.CharField()
    house_number = serializers.CharField()
    unit = serializers.CharField()
    postcode = serializers.CharField()
    city = serializers.CharField()
    location = LocationSerializer()
    score = serializers.FloatField(help_text="How well it matched the query; higher is better.")
    distance_m = serializers.FloatField(
        allow_null=True, help_text="Metres from the point (nearest addresses), else null."
    )


class SearchResponseSerializer(serializers.Serializer):
    query = serializers.CharField()
    results = AddressMatchSerializer(many=True)
    did_you_mean = serializers.ListField(
        child=serializers.CharField(),
        help_text="Spellings to offer when nothing matched as typed (streets, or street and"
        " number).",
    )


class NearestResponseSerializer(serializers.Serializer):
    results = AddressMatchSerializer(many=True)
