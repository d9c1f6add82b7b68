from django import forms
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from console.actions import Target
from console.errors import WharfError
from console.hosts import services
from console.hosts.forms import HostForm
from console.hosts.models import Host
from console.pages import form_page, gate, may, posted, with_host
from console.params import number_in


@require_GET
def host_list(request):
    rows = services.hosts_with_status(request.user)
    return render(
        request, "hosts/list.html",
        {"rows": rows, "can_manage": may(request, "host.create"), **services.no_host_notice(request.actor, rows)},
    )  # fmt: skip


@with_host
def host_detail(request, host):
    details, error = None, None
    try:
        details = services.host_details(request.actor, host)
    except WharfError as exc:
        error = str(exc)
    return render(
        request, "hosts/detail.html",
        {"host": host, "d": details, "error": error, "can_manage": may(request, "host.update")},
    )  # fmt: skip


def _managed(request, code, name):
    """The host a management page names (None on the add page). The refusal comes first
    and is recorded, whether or not the host exists: one who may not manage hosts learns
    nothing of which exist. A missing host is a 404."""
    gate(request, code, target=Target(name=name or ""))
    host = Host.named(name) if name else None
    if name and host is None:
        raise Http404("No such host.")
    return host


def host_form(request, name=None):
    host = _managed(request, "host.update" if name else "host.create", name)
    actor = request.actor

    def save(form):
        if host is None:
            return services.host_create(actor=actor, **form.host_fields())
        # the form has written its input into `host`: update a fresh copy
        return services.host_update(actor=actor, host=Host.objects.get(pk=host.pk), **form.host_fields())

    return form_page(
        request, HostForm(request.POST or None, request.FILES or None, instance=host), "hosts/form.html",
        context={"host": host}, save=save,
        done=lambda saved: f"Host {saved.name} saved.", back=lambda saved: reverse("hosts:detail", args=[saved.name]),
    )  # fmt: skip


@require_POST
def host_test(request, name=None):
    """Test a saved host, or the unsaved form data posted from the form (htmx)."""
    host = _managed(request, "host.test", name)
    if host is None:
        instance = Host.objects.filter(pk=number_in(request.POST, "pk")).first()
        form = HostForm(request.POST, request.FILES, instance=instance)
        if not form.is_valid():
            return render(request, "hosts/_test_result.html", {"form_errors": form.errors})
        host = form.unsaved_host()
    try:
        version = services.host_test(actor=request.actor, host=host)
    except WharfError as exc:
        return render(request, "hosts/_test_result.html", {"error": str(exc)})
    return render(request, "hosts/_test_result.html", {"version": version})


def host_delete(request, name):
    host = _managed(request, "host.delete", name)
    return form_page(
        request, forms.Form(posted(request)), "hosts/delete.html",
        context={"host": host}, save=lambda form: services.host_delete(actor=request.actor, host=host),
        done=f"Host {name} removed.", back="hosts:list",
    )  # fmt: skip
