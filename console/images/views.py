from django.shortcuts import render
from django.views.decorators.http import require_GET

from console.hosts.services import no_host_notice, visible_hosts
from console.images import services
from console.pages import with_host


@require_GET
@with_host
def image_list(request, host):
    actor = request.actor
    hosts = [host] if host else list(visible_hosts(request.user))
    flags = {f: request.GET.get(f) == "1" for f in ("all", "no_trunc")}
    reference = request.GET.get("reference", "").strip()
    listing = services.image_list(actor=actor, hosts=hosts, intermediate=flags["all"], reference=reference)
    return render(
        request, "images/list.html",
        {"listing": listing, "host": host, "reference": reference, **flags,
         **no_host_notice(actor, hosts)},
    )  # fmt: skip
