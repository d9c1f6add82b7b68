"""Forms parse what was posted; the services check the rest (password rules, duplicates,
built-in roles) and their `InvalidInput` errors are put back next to the fields (`console.pages.form_page`)."""

from django import forms
from django.contrib.auth import authenticate, get_user_model, password_validation
from django.contrib.auth.forms import PasswordChangeForm
from django.contrib.auth.models import Group

from console.access import services
from console.access.models import Role
from console.errors import InvalidInput
from console.hosts.models import Host
from console.params import ChoicesById

User = get_user_model()
LABEL_HELP = (
    "Optional, key=value (for example team=web). A labelled grant gives the role's container "
    "actions only on containers carrying this label, and lets the holder see the host. "
    "It gives none of the role's other actions (images, console-wide administration): "
    "it fits roles such as Developer or Viewer."
)


class UserForm(forms.Form):
    username = forms.CharField(max_length=150, help_text="Letters, digits and @ . + - _ only.")
    email = forms.EmailField(required=False)
    password = forms.CharField(
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}), strip=False, required=False
    )
    is_active = forms.BooleanField(
        label="Active (may log in)", required=False, initial=True,
        help_text="An inactive user keeps their grants but cannot log in.",
    )  # fmt: skip
    groups = ChoicesById(
        Group.objects.order_by("name"), required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args, user=None, **kwargs):
        if user is not None:
            kwargs["initial"] = {
                "username": user.username, "email": user.email, "is_active": user.is_active,
                "groups": list(user.groups.all()),
            }  # fmt: skip
        super().__init__(*args, **kwargs)
        rules = " ".join(password_validation.password_validators_help_texts())
        if user is None:
            self.fields["password"].required = True
            self.fields["password"].help_text = rules
        else:
            self.fields["password"].label = "New password"
            self.fields["password"].help_text = f"Leave empty to keep the current one. {rules}"


class OwnPasswordForm(PasswordChangeForm):
    """The current password is checked as a login is: a wrong one is a failed login of
    (username, address), throttled and audited the same way (console/access/logins.py),
    so a stolen session cannot be used to guess it."""

    def __init__(self, user, *args, request, **kwargs):
        self.request = request
        super().__init__(user, *args, **kwargs)

    def clean_old_password(self):
        old = self.cleaned_data["old_password"]
        if authenticate(self.request, username=self.user.get_username(), password=old) is None:
            raise forms.ValidationError(self.error_messages["password_incorrect"], code="password_incorrect")
        return old


class GroupForm(forms.Form):
    name = forms.CharField(max_length=150)
    members = ChoicesById(
        User.objects.order_by("username"), required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args, group=None, **kwargs):
        if group is not None:
            kwargs["initial"] = {"name": group.name, "members": list(group.user_set.all())}
        super().__init__(*args, **kwargs)


class RoleForm(forms.Form):
    name = forms.CharField(max_length=64)
    description = forms.CharField(max_length=255, required=False)
    permissions = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, role=None, **kwargs):
        if role is not None:
            kwargs["initial"] = {
                "name": role.name, "description": role.description, "permissions": role.permissions,
            }  # fmt: skip
        super().__init__(*args, **kwargs)
        self.fields["permissions"].choices = [(c, c) for c in services.grantable_codes()]

    def permission_groups(self):
        """The checkboxes by target kind, ticked as posted (or as stored)."""
        selected = self.data.getlist("permissions") if self.is_bound else self.initial.get("permissions", [])
        return services.permission_groups(set(selected))


class GrantForm(forms.Form):
    role = forms.ModelChoiceField(Role.objects.all())
    holder = forms.ChoiceField(label="To user or group")
    host = forms.ModelChoiceField(
        Host.objects.all(), required=False, empty_label="All hosts",
        help_text="Console-wide actions (users, roles, hosts, audit) need a grant on all hosts, without label.",
    )  # fmt: skip
    label = forms.CharField(max_length=511, required=False, help_text=LABEL_HELP)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        users = [(f"user:{u.pk}", u.username) for u in User.objects.order_by("username")]
        groups = [(f"group:{g.pk}", g.name) for g in Group.objects.order_by("name")]
        self.fields["holder"].choices = [("", "---------"), ("Users", users), ("Groups", groups)]

    def clean_label(self):
        try:
            key, value = services.parse_label(self.cleaned_data["label"])
        except InvalidInput as exc:
            raise forms.ValidationError(exc.errors["label"]) from None
        return f"{key}={value}" if key else ""

    def grant_fields(self):
        kind, _, pk = self.cleaned_data["holder"].partition(":")
        holder = (User if kind == "user" else Group).objects.filter(pk=pk).first()
        return {
            "role": self.cleaned_data["role"], kind: holder,
            "host": self.cleaned_data["host"], "label": self.cleaned_data["label"],
        }  # fmt: skip
