"""Admin for organisations, users with their membership, and API tokens."""

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from accounts.models import ApiToken, Membership, Organisation, User
from accounts.services import api_token_create, api_token_revoke


class MembershipInline(admin.StackedInline):
    model = Membership
    can_delete = False
    extra = 0
    max_num = 1


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "is_active", "created_at")
    list_filter = ("kind", "is_active")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ("username", "email", "organisation_name", "role_name", "is_active", "is_staff")
    list_filter = ("membership__organisation__kind", "membership__role", "is_active", "is_staff")
    list_select_related = ("membership__organisation",)
    inlines = [MembershipInline]

    @admin.display(description="organisation", ordering="membership__organisation__name")
    def organisation_name(self, user):
        return user.organisation

    @admin.display(description="role", ordering="membership__role")
    def role_name(self, user):
        membership = getattr(user, "membership", None)
        return membership.get_role_display() if membership else "—"


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "prefix", "organisation", "user", "scopes", "expires_at", "revoked_at")
    list_filter = ("organisation", "revoked_at")
    list_select_related = ("organisation", "user")
    search_fields = ("name", "prefix", "organisation__name")
    fields = ("user", "name", "scopes", "expires_at", "prefix", "organisation", "revoked_at")
    readonly_fields = ("prefix", "organisation", "revoked_at", "last_used_at")
    actions = ["revoke"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return self.readonly_fields
        return (*self.readonly_fields, "user", "name", "scopes", "expires_at")

    def save_model(self, request, obj, form, change):
        if change:
            return
        token, key = api_token_create(
            user=form.cleaned_data["user"],
            name=form.cleaned_data["name"],
            scopes=form.cleaned_data["scopes"],
            expires_at=form.cleaned_data.get("expires_at"),
        )
        obj.pk = token.pk
        obj._state.adding = False
        self.message_user(
            request,
            f"Token created. Copy its secret now, it is never shown again: {key}",
            messages.WARNING,
        )

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request, queryset):
        for token in queryset:
            api_token_revoke(token=token)
        self.message_user(request, f"{queryset.count()} token(s) revoked.", messages.SUCCESS)
