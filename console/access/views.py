"""Users, groups, roles and grants. Every page needs `access.view`; every POST goes
through a service, so a denied attempt is on the record like any other."""

from django import forms
from django.contrib.auth import get_user_model, password_validation, update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.models import Group
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_GET

from console.access import services
from console.access.forms import GrantForm, GroupForm, OwnPasswordForm, RoleForm, UserForm
from console.access.models import Grant, Role
from console.actions import Target
from console.errors import WharfError
from console.pages import form_page, gate, may, posted

User = get_user_model()


def _gate(request, code, target=None):
    """A GET needs `access.view`. A POST by an actor who may not do `code` at all is
    refused (and recorded) before its input is read; otherwise the service decides."""
    gate(request, code, target=target, view="access.view")
    return request.actor


def _found(model, pk):
    obj = model.objects.filter(pk=pk).first()
    if obj is None:
        raise Http404(f"No such {model._meta.verbose_name}.")
    return obj


def _form_page(request, form, title, back, *, save, done, submit="Save"):
    context = {"title": title, "cancel": back, "submit": submit}
    return form_page(request, form, "access/form.html", context=context, save=save, done=done, back=back)


def _delete_page(request, delete, title, text, action, back, *, done):
    """Ask first; on POST run `delete`, whose refusal with a reason stays on the page."""
    context = {"title": title, "text": text, "action": action, "cancel": back}
    return form_page(
        request, forms.Form(posted(request)), "access/confirm.html", context=context,
        save=lambda form: delete(), done=done, back=back,
    )  # fmt: skip


# --- users -----------------------------------------------------------------------


@require_GET
def user_list(request):
    _gate(request, "access.view")
    return render(
        request, "access/users.html",
        {"users": services.users_with_grants(request.actor), "can_manage": may(request, "user.update")},
    )  # fmt: skip


def user_form(request, pk=None):
    actor = _gate(request, "user.update" if pk else "user.create", Target(id=pk or ""))
    user = _found(User, pk) if pk else None
    title = f"Edit user {user.username}" if user else "Add a user"

    def save(form):
        if user is None:
            return services.user_create(actor=actor, **form.cleaned_data)
        services.user_update(actor=actor, user=user, **form.cleaned_data)
        if form.cleaned_data["password"] and user.pk == request.user.pk:
            update_session_auth_hash(request, user)  # changing your own password keeps you in
        return user

    return _form_page(
        request, UserForm(posted(request), user=user), title, "access:users",
        save=save, done=lambda saved: f"User {saved.username} saved.",
    )  # fmt: skip


def user_delete(request, pk):
    actor = _gate(request, "user.delete", Target(id=pk))
    user = _found(User, pk)
    text = (
        f"Delete user {user.username}? Their own grants go with them; "
        "their group memberships end; their audit entries stay."
    )
    return _delete_page(
        request, lambda: services.user_delete(actor=actor, user=user), f"Delete user {user.username}",
        text, "Delete user", "access:users", done=f"User {user.username} deleted.",
    )  # fmt: skip


@require_GET
def user_access(request, pk):
    _gate(request, "access.view")
    user = _found(User, pk)
    return render(request, "access/user_access.html", {"subject": user, **services.effective_access(user)})


class PasswordChange(auth_views.PasswordChangeView):
    """Anyone logged in changes their own password; the service records it."""

    form_class = OwnPasswordForm
    extra_context = {"password_rules": " ".join(password_validation.password_validators_help_texts())}

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "request": self.request}

    def form_valid(self, form):
        services.password_change(actor=self.request.actor, form=form)
        update_session_auth_hash(self.request, form.user)  # the new password keeps you in
        return HttpResponseRedirect(self.get_success_url())

    def form_invalid(self, form):
        services.password_change(actor=self.request.actor, form=form)
        return super().form_invalid(form)


# --- groups ----------------------------------------------------------------------


@require_GET
def group_list(request):
    _gate(request, "access.view")
    return render(
        request, "access/groups.html",
        {"groups": services.groups_with_members(), "can_manage": may(request, "group.save")},
    )  # fmt: skip


def group_form(request, pk=None):
    actor = _gate(request, "group.save", Target(id=pk or ""))
    group = _found(Group, pk) if pk else None
    title = f"Edit group {group.name}" if group else "Add a group"
    return _form_page(
        request, GroupForm(posted(request), group=group), title, "access:groups",
        save=lambda form: services.group_save(actor=actor, group=group, **form.cleaned_data),
        done=lambda saved: f"Group {saved.name} saved.",
    )  # fmt: skip


def group_delete(request, pk):
    actor = _gate(request, "group.delete", Target(id=pk))
    group = _found(Group, pk)
    text = (
        f"Delete group {group.name}? Its {group.wharf_grants.count()} grant(s) go with it, so its "
        "members lose the access they had through it (their own grants stay)."
    )
    return _delete_page(
        request, lambda: services.group_delete(actor=actor, group=group), f"Delete group {group.name}",
        text, "Delete group", "access:groups", done=f"Group {group.name} deleted.",
    )  # fmt: skip


# --- roles -----------------------------------------------------------------------


@require_GET
def role_list(request):
    _gate(request, "access.view")
    return render(
        request, "access/roles.html",
        {"rows": services.role_rows(), "can_manage": may(request, "role.save")},
    )  # fmt: skip


def role_form(request, pk=None):
    actor = _gate(request, "role.save", Target(id=pk or ""))
    role = _found(Role, pk) if pk else None
    context = {"role": role}
    if role is not None and role.builtin:
        context["builtin_groups"] = services.permission_groups(role.codes())

    def save(form):
        try:
            return services.role_save(actor=actor, role=role, **form.cleaned_data)
        except WharfError:
            if role is not None:
                role.refresh_from_db()  # a refused save may have changed it in memory
            raise

    return form_page(
        request, RoleForm(posted(request), role=role), "access/role_form.html", context=context, save=save,
        done=lambda saved: f"Role {saved.name} saved.", back="access:roles",
    )  # fmt: skip


def role_delete(request, pk):
    actor = _gate(request, "role.delete", Target(id=pk))
    role = _found(Role, pk)
    grants = role.grants.count()
    text = f"Delete role {role.name}?" + (
        f" It is still granted {grants} time(s): those grants are revoked with it." if grants else ""
    )
    return _delete_page(
        request, lambda: services.role_delete(actor=actor, role=role), f"Delete role {role.name}",
        text, "Delete role", "access:roles", done=f"Role {role.name} deleted.",
    )  # fmt: skip


# --- grants ----------------------------------------------------------------------


def grant_list(request):
    actor = _gate(request, "grant.create")
    context = {"grants": services.grants(), "can_manage": may(request, "grant.create")}
    return form_page(
        request, GrantForm(posted(request)), "access/grants.html", context=context,
        save=lambda form: services.grant_create(actor=actor, **form.grant_fields()),
        done=lambda grant: f"Granted {grant}.", back="access:grants",
    )  # fmt: skip


def grant_revoke(request, pk):
    actor = _gate(request, "grant.delete", Target(id=pk))
    grant = _found(Grant, pk)
    return _delete_page(
        request, lambda: services.grant_delete(actor=actor, grant=grant), "Revoke a grant",
        f"Revoke {grant}?", "Revoke", "access:grants", done=f"Revoked {grant}.",
    )  # fmt: skip
