"""API token authentication of machine clients, through a real DRF request."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from accounts.authentication import ApiTokenAuthentication
from accounts.models import ApiToken, Organisation, User
from accounts.services import api_token_create, api_token_revoke
from tests.accounts.factories import UserFactory

INVALID = "invalid, expired or revoked API token"


def _request(authorization: str | None = None) -> Request:
    headers = {} if authorization is None else {"HTTP_AUTHORIZATION": authorization}
    return Request(APIRequestFactory().get("/api/isp/orders/", **headers))


def _authenticate(authorization: str | None = None):
    return ApiTokenAuthentication().authenticate(_request(authorization))


@pytest.fixture
def issued(db):
    """An ISP user's token and its secret."""
    return api_token_create(user=UserFactory(isp=True), name="orders feed", scopes=["orders"])


def test_a_valid_bearer_token_authenticates_its_user_and_records_its_use(issued):
    token, secret = issued
    before = timezone.now()

    user, auth = _authenticate(f"Bearer {secret}")

    assert (user, auth) == (token.user, token)
    assert auth.has_scope("orders")
    last_used_at = ApiToken.objects.get(pk=token.pk).last_used_at
    assert before <= last_used_at <= timezone.now()


def test_the_token_keyword_works_too(issued):
    token, secret = issued
    assert _authenticate(f"Token {secret}") == (token.user, token)


def test_last_use_is_recorded_at_most_once_a_minute(issued):
    token, secret = issued
    _authenticate(f"Bearer {secret}")
    first_use = ApiToken.objects.get(pk=token.pk).last_used_at

    _authenticate(f"Bearer {secret}")
    assert ApiToken.objects.get(pk=token.pk).last_used_at == first_use

    ApiToken.objects.filter(pk=token.pk).update(last_used_at=first_use - timedelta(minutes=2))
    _authenticate(f"Bearer {secret}")
    assert ApiToken.objects.get(pk=token.pk).last_used_at > first_use


def test_a_revoked_token_is_refused(issued):
    token, secret = issued
    api_token_revoke(token=token)

    with pytest.raises(AuthenticationFailed) as raised:
        _authenticate(f"Bearer {secret}")

    assert raised.value.detail == INVALID
    assert ApiToken.objects.get(pk=token.pk).last_used_at is None


def test_an_expired_token_is_refused(db):
    token, secret = api_token_create(
        user=UserFactory(isp=True),
        name="short-lived",
        scopes=["read"],
        expires_at=timezone.now() + timedelta(hours=1),
    )
    # the hour passes
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    with pytest.raises(AuthenticationFailed) as raised:
        _authenticate(f"Bearer {secret}")

    assert raised.value.detail == INVALID
    assert ApiToken.objects.get(pk=token.pk).last_used_at is None


def test_an_unknown_token_is_refused(issued):
    with pytest.raises(AuthenticationFailed) as raised:
        _authenticate("Bearer oanm_this-token-was-never-issued")
    assert raised.value.detail == INVALID


@pytest.mark.parametrize("header", ["Bearer", "Bearer two parts", "Token a b c"])
def test_a_malformed_header_is_refused(issued, header):
    with pytest.raises(AuthenticationFailed) as raised:
        _authenticate(header)
    assert raised.value.detail == "malformed Authorization header"


def test_a_token_of_an_inactive_user_or_organisation_is_refused(issued):
    token, secret = issued
    User.objects.filter(pk=token.user_id).update(is_active=False)
    with pytest.raises(AuthenticationFailed) as raised:
        _authenticate(f"Bearer {secret}")
    assert raised.value.detail == "the token's user or organisation is inactive"

    User.objects.filter(pk=token.user_id).update(is_active=True)
    Organisation.objects.filter(pk=token.organisation_id).update(is_active=False)
    with pytest.raises(AuthenticationFailed) as raised:
        _authenticate(f"Bearer {secret}")
    assert raised.value.detail == "the token's user or organisation is inactive"


def test_no_authorization_header_leaves_the_request_to_other_authenticators(issued):
    assert _authenticate() is None


def test_another_scheme_leaves_the_request_to_other_authenticators(issued):
    assert _authenticate("Basic YW5uYTpzZWNyZXQ=") is None


def test_a_refusal_asks_for_a_bearer_token(db):
    assert ApiTokenAuthentication().authenticate_header(_request()) == "Bearer"


def test_a_signed_in_users_membership_comes_with_them_in_one_query(
    planner, django_assert_num_queries
):
    from accounts.backends import MembershipBackend

    with django_assert_num_queries(1):
        user = MembershipBackend().get_user(planner.pk)
        assert (user.role, user.organisation.kind) == ("planner", "owner")
