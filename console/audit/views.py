import json

from django.http import Http404
from django.shortcuts import render
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django_htmx.http import push_url

from console.actions import Target, perform
from console.audit import export, replay, selectors
from console.params import number_in
from console.streaming import download_response


def _page_links(page, query):
    """(label, url, rel) of the neighbouring pages, the filters kept."""

    def url(cursor=""):
        return "?" + "&".join(part for part in (cursor, query) if part)

    links = []
    if page.cursor:
        links.append(("Newest", url(), "first"))
    if page.newer:
        links.append(("Newer", url(f"after={page.newer}"), "prev"))
    if page.older:
        links.append(("Older", url(f"before={page.older}"), "next"))
    return links


def audit_list(request):
    actor = request.actor
    filters = selectors.AuditFilters(request.GET)
    before, after = number_in(request.GET, "before"), number_in(request.GET, "after")
    page = perform(
        actor, "audit.view", params={"filters": filters.active()},
        run=lambda: selectors.audit_page(filters, before=before, after=after),
    )  # fmt: skip
    query = filters.querystring()
    context = {"filters": filters, "page": page, "query": query, "pages": _page_links(page, query)}
    if request.htmx and not request.htmx.history_restore_request:
        response = render(request, "audit/_table.html", context)
        # The address bar shows what the table shows, without the empty fields.
        push_url(response, f"{request.path}?{query}" if query else request.path)
    else:
        response = render(request, "audit/list.html", context)
    patch_vary_headers(response, ["HX-Request"])
    return response


def audit_detail(request, pk):
    actor = request.actor
    entry = perform(actor, "audit.view", target=Target(id=pk), run=lambda: selectors.audit_entry(pk))
    if entry is None:
        raise Http404("No such audit entry.")
    params = json.dumps(entry.params, indent=2, sort_keys=True, ensure_ascii=False)
    return render(request, "audit/detail.html", {"entry": entry, "params": params})


def audit_export(request, fmt):
    actor = request.actor
    filters = selectors.AuditFilters(request.GET)
    stream = export.AuditedExport(actor, fmt, filters)  # authorizes: a denial raises here
    name = f"wharf-audit-{timezone.now():%Y%m%d-%H%M%S}.{fmt}"
    return download_response(request, stream, name, export.CONTENT_TYPES[fmt])


def audit_replay(request, pk):
    """A recorded terminal session, played in the page (static/js/replay.js)."""
    found = replay.replay_page(actor=request.actor, pk=pk)
    return render(request, "audit/replay.html", {"entry": found.entry, "problem": found.problem})


def audit_recording(request, pk):
    """The recording itself, as an asciicast v2 file (the player reads it, asciinema plays it)."""
    entry, chunks = replay.recording_read(actor=request.actor, pk=pk)
    name = f"wharf-session-{pk}-{entry.time:%Y%m%d-%H%M%S}.cast"
    return download_response(request, chunks, name, replay.CONTENT_TYPE)
