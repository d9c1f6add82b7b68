from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from console.actions import Actor, allows, authorize, require
from console.errors import WharfError
from console.hosts import services
from console.hosts.forms import HostForm
from console.hosts.models import Host


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
        details = services.host_details(host)
    except WharfError as exc:
        error = str(exc)
    return render(
        request, "hosts/detail.html",
        {"host": host, "d": details, "error": error, "can_manage": allows(actor, "host.update")},
    )  # fmt: skip


def host_form(request, name=None):
    actor = Actor.from_request(request)
    host = Host.objects.filter(name=name).first() if name else None
    if name and host is None:
        return redirect("hosts:list")
    code = "host.update" if host else "host.create"
    if request.method == "POST":
        authorize(actor, code)  # a refusal is recorded before the input is read
    else:
        require(actor, code)
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
    actor = Actor.from_request(request)
    if name:
        host = Host.objects.filter(name=name).first()
        if host is None:
            return render(request, "partials/error.html", {"message": "No such host."}, status=404)
    else:
        instance = Host.objects.filter(pk=request.POST.get("pk") or None).first()
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
    actor = Actor.from_request(request)
    host = Host.objects.filter(name=name).first()
    if host is None:
        return redirect("hosts:list")
    if request.method == "POST":
        services.host_delete(actor=actor, host=host)
        messages.success(request, f"Host {name} removed.")
        return redirect("hosts:list")
    require(actor, "host.delete")
    return render(request, "hosts/delete.html", {"host": host})
