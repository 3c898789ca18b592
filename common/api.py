"""API plumbing shared by every app: domain errors become JSON with a message and a code;
input serializers that refuse unknown fields and whose first error names its field."""

from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from common.errors import DomainError


def exception_handler(exc, context):
    """Map `DomainError`s to their HTTP status; everything else is DRF's business."""
    if isinstance(exc, DomainError):
        return Response(exc.as_dict(), status=exc.status_code or status.HTTP_400_BAD_REQUEST)
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(response.data, dict) and "code" not in response.data:
        code = getattr(exc, "default_code", "error")
        response.data = {"code": code, **response.data}
    return response


class StrictInputSerializer(serializers.Serializer):
    """Refuses fields it does not know (e.g. `phase` in a PATCH) instead of ignoring them."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {unknown[0]: [f"unknown field; this endpoint takes {', '.join(self.fields)}"]}
                )
        return super().to_internal_value(data)


def first_error(errors, prefix: str = "") -> tuple[str, str | None]:
    """The first message of DRF/form errors, with its field: ("share: …", "share")."""
    if isinstance(errors, dict):
        for field, value in errors.items():
            label = field if field != "non_field_errors" else ""
            text, _ = first_error(value, f"{prefix}{label}: " if label else prefix)
            return text, field if field != "non_field_errors" else None
    if isinstance(errors, list | tuple) and errors:
        return first_error(errors[0], prefix)
    return f"{prefix}{errors}", None


def validated(serializer_class, data) -> dict:
    """The serializer's validated data, or a 400 `DomainError` (code "invalid") naming the
    first field at fault."""
    if not isinstance(data, dict):
        raise DomainError("the request body must be a JSON object", code="invalid")
    serializer = serializer_class(data=data)
    if not serializer.is_valid():
        message, field = first_error(serializer.errors)
        raise DomainError(message, code="invalid", field=field)
    return serializer.validated_data


class ErrorSerializer(serializers.Serializer):
    """A refusal as `exception_handler` writes it: a code and a message a person can act on."""

    code = serializers.CharField()
    detail = serializers.CharField()
    field = serializers.CharField(required=False, help_text="The input at fault, if one is.")
