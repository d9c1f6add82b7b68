"""Users, groups, roles and grants. Every page needs `access.view`; every POST goes
through a service, so a denied attempt is on the record like any other."""

from django.contrib import messages
from django.contrib.auth import get_user_model, password_validation, update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.models import Group
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from console.access import services
from console.access.forms import GrantForm, GroupForm, OwnPasswordForm, RoleForm, UserForm
from console.access.models import Grant, Role
from console.access.services import InvalidInput
from console.actions import Actor, Target, allows, authorize, require

User = get_user_model()


def _actor(request, code, target=None):
    """A GET needs `access.view`. A POST by an actor who may not do `code` at all is
    refused (and recorded) before its input is read; otherwise the service decides."""
    actor = Actor.from_request(request)
    if request.method == "POST":
        authorize(actor, code, target=target)
    else:
        require(actor, "access.view")
    return actor


def _found(model, pk):
    obj = model.objects.filter(pk=pk).first()
    if obj is None:
        raise Http404(f"No such {model._meta.verbose_name}.")
    return obj


def _posted(request):
    return request.POST if request.method == "POST" else None


def _form_page(request, form, title, cancel, submit="Save"):
    context = {"form": form, "title": title, "cancel": cancel, "submit": submit}
    return render(request, "access/form.html", context)


def _confirm_page(request, title, text, action, cancel, error=None):
    context = {"title": title, "text": text, "action": action, "cancel": cancel, "error": error}
    return render(request, "access/confirm.html", context)


def _delete_page(request, delete, title, text, action, back, *, done):
    """Ask first; on POST run `delete`, whose refusal with a reason stays on the page."""
    error = None
    if request.method == "POST":
        try:
            delete()
        except InvalidInput as exc:
            error = str(exc)
        else:
            messages.success(request, done)
            return redirect(back)
    return _confirm_page(request, title, text, action, back, error)


# --- users -----------------------------------------------------------------------


@require_GET
def user_list(request):
    actor = _actor(request, "access.view")
    return render(
        request, "access/users.html",
        {"users": services.users_with_grants(), "can_manage": allows(actor, "user.update")},
    )  # fmt: skip


def user_form(request, pk=None):
    actor = _actor(request, "user.update" if pk else "user.create", Target(id=pk or ""))
    user = _found(User, pk) if pk else None
    title = f"Edit user {user.username}" if user else "Add a user"
    form = UserForm(_posted(request), user=user)
    if form.is_valid():
        try:
            if user is None:
                user = services.user_create(actor=actor, **form.cleaned_data)
            else:
                services.user_update(actor=actor, user=user, **form.cleaned_data)
        except InvalidInput as exc:
            form.add_service_errors(exc)
        else:
            if form.cleaned_data["password"] and user.pk == request.user.pk:
                update_session_auth_hash(request, user)  # changing your own password keeps you in
            messages.success(request, f"User {user.username} saved.")
            return redirect("access:users")
    return _form_page(request, form, title, "access:users")


def user_delete(request, pk):
    actor = _actor(request, "user.delete", Target(id=pk))
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
    _actor(request, "access.view")
    user = _found(User, pk)
    return render(request, "access/user_access.html", {"subject": user, **services.effective_access(user)})


class PasswordChange(auth_views.PasswordChangeView):
    """Anyone logged in changes their own password; the service records it."""

    form_class = OwnPasswordForm
    extra_context = {"password_rules": " ".join(password_validation.password_validators_help_texts())}

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "request": self.request}

    def form_valid(self, form):
        services.password_change(actor=Actor.from_request(self.request), form=form)
        update_session_auth_hash(self.request, form.user)  # the new password keeps you in
        return HttpResponseRedirect(self.get_success_url())

    def form_invalid(self, form):
        services.password_change(actor=Actor.from_request(self.request), form=form)
        return super().form_invalid(form)


# --- groups ----------------------------------------------------------------------


@require_GET
def group_list(request):
    actor = _actor(request, "access.view")
    return render(
        request, "access/groups.html",
        {"groups": services.groups_with_members(), "can_manage": allows(actor, "group.save")},
    )  # fmt: skip


def group_form(request, pk=None):
    actor = _actor(request, "group.save", Target(id=pk or ""))
    group = _found(Group, pk) if pk else None
    title = f"Edit group {group.name}" if group else "Add a group"
    form = GroupForm(_posted(request), group=group)
    if form.is_valid():
        try:
            group = services.group_save(actor=actor, group=group, **form.cleaned_data)
        except InvalidInput as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, f"Group {group.name} saved.")
            return redirect("access:groups")
    return _form_page(request, form, title, "access:groups")


def group_delete(request, pk):
    actor = _actor(request, "group.delete", Target(id=pk))
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
    actor = _actor(request, "access.view")
    return render(
        request, "access/roles.html",
        {"rows": services.role_rows(), "can_manage": allows(actor, "role.save")},
    )  # fmt: skip


def role_form(request, pk=None):
    actor = _actor(request, "role.save", Target(id=pk or ""))
    role = _found(Role, pk) if pk else None
    form = RoleForm(_posted(request), role=role)
    if form.is_valid():
        try:
            role = services.role_save(actor=actor, role=role, **form.cleaned_data)
        except InvalidInput as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, f"Role {role.name} saved.")
            return redirect("access:roles")
    if role is not None:
        role.refresh_from_db()  # a refused save may have changed it in memory
    context = {"form": form, "role": role}
    if role is not None and role.builtin:
        context["builtin_groups"] = services.permission_groups(role.codes())
    return render(request, "access/role_form.html", context)


def role_delete(request, pk):
    actor = _actor(request, "role.delete", Target(id=pk))
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
    actor = _actor(request, "grant.create")
    form = GrantForm(_posted(request))
    if form.is_valid():
        try:
            grant = services.grant_create(actor=actor, **form.grant_fields())
        except InvalidInput as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, f"Granted {grant}.")
            return redirect("access:grants")
    context = {"grants": services.grants(), "form": form, "can_manage": allows(actor, "grant.create")}
    return render(request, "access/grants.html", context)


def grant_revoke(request, pk):
    actor = _actor(request, "grant.delete", Target(id=pk))
    grant = _found(Grant, pk)
    return _delete_page(
        request, lambda: services.grant_delete(actor=actor, grant=grant), "Revoke a grant",
        f"Revoke {grant}?", "Revoke", "access:grants", done=f"Revoked {grant}.",
    )  # fmt: skip
