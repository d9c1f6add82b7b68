"""The events pages, per host and across hosts: history the daemon still holds (plain
HTTP, `since`/`until`) and the live events (static/js/events.js, one socket per host)."""

from django.shortcuts import render
from django.views.decorators.http import require_GET

from console.actions import allows, require, visible_hosts
from console.errors import InvalidInput, WharfError
from console.pages import with_host
from console.streams.events import EventFilter, event_history, live_sockets


@require_GET
@with_host
def events_page(request, host=None):
    actor = request.actor
    if host is not None:
        require(actor, "host.events", host)  # a refusal is recorded and answered 403
        hosts = [host]
    else:
        hosts = [h for h in visible_hosts(request.user) if allows(actor, "host.events", h)]
    errors, history, notices, more = {}, [], [], False
    try:
        filters = EventFilter.from_params(request.GET)
    except InvalidInput as exc:
        filters, errors = EventFilter(), {exc.field: str(exc)}
    if filters.since or filters.until:
        for h in hosts:
            try:
                rows, cut = event_history(actor=actor, host=h, filters=filters)
            except WharfError as exc:
                notices.append(f"{h.name}: {exc}")
                continue
            history += rows
            more = more or cut
        history.sort(key=lambda e: e["time"], reverse=True)
    context = {
        "host": host, "filters": filters, "errors": errors, "history": history, "more": more,
        "notices": notices, "sockets": "" if filters.until else live_sockets(actor, hosts, filters.live_query()),
        "types": ("container", "image", "network", "volume", "daemon", "plugin"),
    }  # fmt: skip
    return render(request, "streams/events.html", context)
