from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from console.actions import Actor, allows, authorize, require
from console.errors import ActionDenied, WharfError
from console.hosts.services import host_for, visible_hosts
from console.registries import services
from console.registries.forms import RegistryForm
from console.registries.models import Registry


def registry_list(request):
    actor = Actor.from_request(request)
    context = {
        "registries": services.registry_list(actor=actor),
        "can_edit": allows(actor, "registry.update"), "can_add": allows(actor, "registry.create"),
        "can_use": allows(actor, "registry.use"), "hosts": list(visible_hosts(request.user)),
    }  # fmt: skip
    return render(request, "registries/list.html", context)


def registry_form(request, name=None):
    actor = Actor.from_request(request)
    registry = Registry.objects.filter(name=name).first() if name else None
    if name and registry is None:
        return redirect("registries:list")
    code = "registry.update" if registry else "registry.create"
    if request.method == "POST":
        authorize(actor, code)  # a refusal is recorded before the input is read
    else:
        require(actor, code)
    form = RegistryForm(request.POST or None, instance=registry)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            if registry is None:
                registry = services.registry_create(actor=actor, **form.registry_fields())
            else:  # the form has written its input into `registry`: update a fresh copy
                fresh = Registry.objects.get(pk=registry.pk)
                registry = services.registry_update(actor=actor, registry=fresh, **form.registry_fields())
        except WharfError as exc:
            form.add_error(None, str(exc))
            status = exc.status
        else:
            messages.success(request, f"Registry {registry.name} saved.")
            return redirect("registries:list")
    return render(request, "registries/form.html", {"form": form, "registry": registry}, status=status)


def registry_delete(request, name):
    actor = Actor.from_request(request)
    registry = services.registry_for(actor, name)
    if request.method == "POST":
        services.registry_delete(actor=actor, registry=registry)
        messages.success(request, f"Registry {name} removed.")
        return redirect("registries:list")
    require(actor, "registry.delete")
    return render(request, "registries/delete.html", {"registry": registry})


@require_POST
def registry_test(request, name):
    """"Test login" through the chosen host's daemon."""
    actor = Actor.from_request(request)
    registry = services.registry_for(actor, name)
    host = host_for(actor, request.POST.get("host", ""))
    try:
        status = services.registry_test(actor=actor, registry=registry, host=host)
    except ActionDenied:
        raise
    except WharfError as exc:
        messages.error(request, f"Login to {registry.name} through {host.name} failed: {exc}")
    else:
        messages.success(request, f"Login to {registry.name} through {host.name}: {status or 'ok'}")
    return redirect("registries:list")
