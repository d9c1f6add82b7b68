from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from console.actions import Actor, Target, allows, authorize
from console.errors import WharfError
from console.hosts import services
from console.hosts.forms import HostForm
from console.hosts.models import Host
from console.params import number_in


def host_list(request):
    rows = services.hosts_with_status(request.user)
    actor = Actor.from_request(request)
    return render(
        request, "hosts/list.html",
        {"rows": rows, "can_manage": allows(actor, "host.create"), **services.no_host_notice(actor, rows)},
    )  # fmt: skip


def host_detail(request, name):
    actor = Actor.from_request(request)
    host = services.host_for(actor, name)
    details, error = None, None
    try:
        details = services.host_details(actor, host)
    except WharfError as exc:
        error = str(exc)
    return render(
        request, "hosts/detail.html",
        {"host": host, "d": details, "error": error, "can_manage": allows(actor, "host.update")},
    )  # fmt: skip


def _managed(request, code, name):
    """The actor, and the host a management page names (None on the add page). The
    refusal comes first and is recorded, whether or not the host exists: one who may
    not manage hosts learns nothing of which exist. A missing host is a 404."""
    actor = Actor.from_request(request)
    authorize(actor, code, target=Target(name=name or ""))
    host = Host.named(name) if name else None
    if name and host is None:
        raise Http404("No such host.")
    return actor, host


def host_form(request, name=None):
    actor, host = _managed(request, "host.update" if name else "host.create", name)
    form = HostForm(request.POST or None, request.FILES or None, instance=host)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            if host is None:
                host = services.host_create(actor=actor, **form.host_fields())
            else:
                # the form has written its input into `host`: update a fresh copy
                host = services.host_update(actor=actor, host=Host.objects.get(pk=host.pk), **form.host_fields())
        except WharfError as exc:
            form.add_error(None, str(exc))
            status = exc.status
        else:
            messages.success(request, f"Host {host.name} saved.")
            return redirect("hosts:detail", name=host.name)
    return render(request, "hosts/form.html", {"form": form, "host": host}, status=status)


@require_POST
def host_test(request, name=None):
    """Test a saved host, or the unsaved form data posted from the form (htmx)."""
    actor, host = _managed(request, "host.test", name)
    if host is None:
        instance = Host.objects.filter(pk=number_in(request.POST, "pk")).first()
        form = HostForm(request.POST, request.FILES, instance=instance)
        if not form.is_valid():
            return render(request, "hosts/test_result.html", {"form_errors": form.errors})
        host = form.unsaved_host()
    try:
        version = services.host_test(actor=actor, host=host)
    except WharfError as exc:
        return render(request, "hosts/test_result.html", {"error": str(exc)})
    return render(request, "hosts/test_result.html", {"version": version})


def host_delete(request, name):
    actor, host = _managed(request, "host.delete", name)
    if request.method == "POST":
        services.host_delete(actor=actor, host=host)
        messages.success(request, f"Host {name} removed.")
        return redirect("hosts:list")
    return render(request, "hosts/delete.html", {"host": host})
