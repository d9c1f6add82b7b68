from django.shortcuts import render

from console.actions import Actor
from console.hosts.services import host_for, no_host_notice, visible_hosts
from console.images import services


def image_list(request, name=None):
    actor = Actor.from_request(request)
    hosts = [host_for(actor, name)] if name else list(visible_hosts(request.user))
    flags = {f: request.GET.get(f) == "1" for f in ("all", "no_trunc")}
    reference = request.GET.get("reference", "").strip()
    listing = services.image_list(actor=actor, hosts=hosts, intermediate=flags["all"], reference=reference)
    return render(
        request, "images/list.html",
        {"listing": listing, "host": hosts[0] if name else None, "reference": reference, **flags,
         **no_host_notice(actor, hosts)},
    )  # fmt: skip
