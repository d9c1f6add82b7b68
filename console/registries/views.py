from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from console.errors import ActionDenied, NotFound, WharfError
from console.hosts.services import host_for, visible_hosts
from console.pages import form_page, gate, may, posted
from console.registries import services
from console.registries.forms import RegistryForm
from console.registries.models import Registry


def registry_list(request):
    actor = request.actor
    context = {
        "registries": services.registry_list(actor=actor),
        "can_edit": may(request, "registry.update"), "can_add": may(request, "registry.create"),
        "can_use": may(request, "registry.use"), "hosts": list(visible_hosts(request.user)),
    }  # fmt: skip
    return render(request, "registries/list.html", context)


def registry_form(request, name=None):
    registry = Registry.objects.filter(name=name).first() if name else None
    gate(request, "registry.update" if name else "registry.create")  # before the input is read
    if name and registry is None:
        raise NotFound("No such registry.")

    def save(form):
        if registry is None:
            return services.registry_create(actor=request.actor, **form.registry_fields())
        fresh = Registry.objects.get(pk=registry.pk)  # the form has written its input into `registry`
        return services.registry_update(actor=request.actor, registry=fresh, **form.registry_fields())

    return form_page(
        request, RegistryForm(posted(request), instance=registry), "registries/form.html",
        context={"registry": registry}, save=save, done=lambda r: f"Registry {r.name} saved.",
        back="registries:list",
    )  # fmt: skip


def registry_delete(request, name):
    gate(request, "registry.delete")  # before the registry is looked up
    registry = services.registry_for(request.actor, name)
    if request.method == "POST":
        services.registry_delete(actor=request.actor, registry=registry)
        messages.success(request, f"Registry {name} removed.")
        return redirect("registries:list")
    return render(request, "registries/delete.html", {"registry": registry})


@require_POST
def registry_test(request, name):
    """"Test login" through the chosen host's daemon."""
    actor = request.actor
    gate(request, "registry.use")  # before the registry and the host are looked up
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
