"""API plumbing shared by every app: domain errors become JSON with a message and a code."""

from rest_framework import status
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
