from urllib.parse import urlsplit

from django.contrib import messages
from django.http import QueryDict
from django.shortcuts import redirect, render
from django.urls import Resolver404, resolve, reverse
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.http import require_GET, require_POST

from console.containers import run_services, services, tables
from console.containers.services import ContainerQuery
from console.errors import DockerConflict, InvalidInput
from console.hosts.services import host_for, no_host_notice, visible_hosts
from console.pages import with_host
from console.streams.events import live_sockets
from console.tables import render_with_rows, sort_link

# --- lists ----------------------------------------------------------------------


@require_GET
@with_host
def container_list(request, host):
    return _render_list(request, host, request.GET, here=request.get_full_path())


def _render_list(request, host, params, here, bulk_errors=None, status=200):
    actor = request.actor
    query = ContainerQuery.from_params(params)
    if host:
        hosts, choices = [host], []
        listing = services.container_list(actor=actor, hosts=hosts, query=query, refuse_hidden=True)
    else:
        choices = list(visible_hosts(request.user))
        hosts = [h for h in choices if h.name == query.host] if query.host else choices
        listing = services.container_list(actor=actor, hosts=hosts, query=query)
    bulk = services.bulk_actions(actor=actor, hosts=hosts)
    options = dict(show_host=host is None, show_labels=query.labels, selectable=bool(bulk))
    columns = tables.columns(**options)
    context = {
        "host": host,
        "query": query,
        "listing": listing,
        "columns": [(column, sort_link(query.params, query.sort, column.sort)) for column in columns],
        "column_count": len(columns),
        "show_all": urlencode(query.params(all=True)),
        "host_choices": choices,
        "states": services.STATES,
        "bulk_choices": [(a, a.capitalize()) for a in bulk],
        "bulk_errors": bulk_errors or {},
        "can_prune": host is not None and services.may_prune(actor=actor, host=host),
        "can_run": run_services.may_run(actor, host) if host else bool(run_services.run_hosts(actor)),
        "here": here,
        "live_events": live_sockets(actor, hosts, "type=container"),
        **no_host_notice(actor, hosts if host else choices),
    }
    template = "containers/_table.html" if request.htmx else "containers/list.html"
    response = render_with_rows(request, template, context, tables.rows_html(listing.rows, **options), status)
    patch_vary_headers(response, ["HX-Request"])
    return response


@require_POST
def container_bulk(request):
    """One action on the containers ticked in a list; a page says how each went."""
    actor = request.actor
    services.bulk_refused_unless_allowed(actor=actor, action=request.POST.get("action", ""))
    back = _safe_next(request)
    selection = [v.rpartition("/")[::2] for v in request.POST.getlist("c") if "/" in v]
    if not selection:
        messages.error(request, "Tick the containers to act on first.")
        return redirect(back)
    action = request.POST.get("action", "")
    try:
        outcomes = services.container_bulk(
            actor=actor, action=action, selection=selection, options=request.POST
        )
    except InvalidInput as exc:  # back to the list, the message next to the field
        try:
            match = resolve(urlsplit(back).path)
        except Resolver404:
            match = None
        if match is None or match.url_name not in ("list", "host"):
            raise
        params = QueryDict(urlsplit(back).query)
        errors = {exc.field: str(exc)}
        name = match.kwargs.get("name")
        host = host_for(actor, name) if name else None
        return _render_list(request, host, params, back, errors, status=400)
    return render(
        request, "containers/bulk_result.html",
        {"outcomes": outcomes, "action": action, "back": back},
    )  # fmt: skip


def _safe_next(request, default="containers:list"):
    back = request.POST.get("next") or reverse(default)
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = reverse(default)
    return back


# --- one container ------------------------------------------------------------------


def _detail(request, host, ref):
    return request.actor, host, services.container_detail(actor=request.actor, host=host, ref=ref)


@with_host
def container_detail(request, host, ref):
    return _detail_page(request, host, ref)


def _detail_page(request, host, ref, errors=None, status=200):
    _, host, c = _detail(request, host, ref)
    live = live_sockets(request.actor, [host], f"type=container&object={c.target.id}")
    context = {"c": c, "host": host, "tab": "overview", "errors": errors or {}, "posted": request.POST,
               "live_events": live}  # fmt: skip
    return render(request, "containers/detail.html", context, status=status)


@with_host
def container_inspect(request, host, ref):
    _, host, c = _detail(request, host, ref)
    return render(request, "containers/inspect.html", {"c": c, "host": host, "tab": "inspect"})


@with_host
def container_top(request, host, ref):
    actor, host, c = _detail(request, host, ref)
    ps_args = request.GET.get("ps", "-ef")
    context = {
        "c": c, "host": host, "tab": "top", "ps": ps_args, "presets": services.PS_PRESETS,
        "titles": [], "processes": [],
    }  # fmt: skip
    status = 200
    try:
        context["titles"], context["processes"] = services.container_top(
            actor=actor, host=host, ref=c.target.id, target=c.target, ps_args=ps_args
        )
    except InvalidInput as exc:
        context["errors"], status = {exc.field: str(exc)}, 400
    except DockerConflict as exc:  # not running
        context["error"], status = str(exc), exc.status
    return render(request, "containers/top.html", context, status=status)


@with_host
def container_diff(request, host, ref):
    actor, host, c = _detail(request, host, ref)
    kind, path = request.GET.get("kind", ""), request.GET.get("path", "")
    changes = services.container_diff(
        actor=actor, host=host, ref=c.target.id, target=c.target, kind=kind, path=path
    )
    context = {
        "c": c, "host": host, "tab": "diff", "changes": changes, "kind": kind, "path": path,
        "kinds": services.DIFF_NAMES.items(),
    }  # fmt: skip
    return render(request, "containers/diff.html", context)


@require_POST
@with_host
def container_action(request, host, ref):
    """A lifecycle button or form on the container page."""
    actor = request.actor
    action = request.POST.get("action", "")
    try:
        target = services.container_act(actor=actor, host=host, ref=ref, action=action, options=request.POST)
    except InvalidInput as exc:
        return _detail_page(request, host, ref, errors={exc.field: str(exc)}, status=400)
    if action == "remove" and request.POST.get("link", "").strip():
        messages.success(request, f"Link removed from {target.name}.")
    elif action == "remove":
        messages.success(request, f"Container {target.name} removed.")
        return redirect("containers:host", name=host.name)
    else:
        messages.success(request, f"Container {target.name} {services.DONE[action]}.")
    return redirect("containers:detail", name=host.name, ref=target.id[:12])


# --- remove all stopped containers ------------------------------------------------


@with_host
def container_prune(request, host):
    actor = request.actor
    if request.method == "POST":
        try:
            result = services.container_prune(actor=actor, host=host, ids=request.POST.getlist("id"))
            error = None
        except services.PruneIncomplete as exc:
            result, error = exc.result, str(exc)
        status = 200 if error is None else 502
        return render(
            request, "containers/prune_done.html",
            {"host": host, "result": result, "error": error}, status=status,
        )  # fmt: skip
    rows = services.prune_candidates(actor=actor, host=host)
    return render(request, "containers/prune.html", {"host": host, "rows": rows})
