"""DRF authentication for machine clients: `Authorization: Bearer oanm_…` (or `Token …`)."""

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from accounts.models import ApiToken

KEYWORDS = {"bearer", "token"}


class ApiTokenAuthentication(authentication.BaseAuthentication):
    """Authenticates an `ApiToken`; `request.auth` is the token (for scope checks)."""

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1").split()
        if not header or header[0].lower() not in KEYWORDS:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("malformed Authorization header")
        key = header[1]
        token = (
            ApiToken.objects.select_related("user", "organisation")
            .filter(key_hash=ApiToken.hash_key(key))
            .first()
        )
        if token is None or not token.is_usable:
            raise exceptions.AuthenticationFailed("invalid, expired or revoked API token")
        if not token.user.is_active or not token.organisation.is_active:
            raise exceptions.AuthenticationFailed("the token's user or organisation is inactive")
        now = timezone.now()
        if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token

    def authenticate_header(self, request) -> str:
        return "Bearer"


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """Describes API-token authentication in the OpenAPI schema (a bearer token)."""

    target_class = "accounts.authentication.ApiTokenAuthentication"
    name = "apiToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "oanm API token (oanm_…); `Token <key>` is accepted too",
        }
