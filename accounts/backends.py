"""The authentication backend: Django's, loading a user with their membership in one query.

Every request of a signed-in user loads the user from the session, and nearly every door
then asks for their organisation and role (`accounts.permissions`): joining the membership
and its organisation here saves a query per request (a vector tile costs about as much as
one query, so this is felt on the map).
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend


class MembershipBackend(ModelBackend):
    def get_user(self, user_id):
        users = get_user_model()._default_manager.select_related("membership__organisation")
        user = users.filter(pk=user_id).first()
        return user if user is not None and self.user_can_authenticate(user) else None
