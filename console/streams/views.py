"""The Logs tab of the container page, and its HTTP side: a range of lines (older lines,
lines skipped for a slow page) and the download. The live lines come over the websocket
(console/streams/consumers.py)."""

from django.http import JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_safe

from console.actions import require
from console.containers.services import container_detail, container_target
from console.errors import InvalidInput, NotFound, WharfError
from console.hosts.services import host_for
from console.middleware import NOT_FOUND
from console.pages import with_host
from console.streaming import download_response
from console.streams import services


@with_host
def logs(request, host, ref):
    actor = request.actor
    c = container_detail(actor=actor, host=host, ref=ref)
    require(actor, "container.logs", host, c.target)
    args = [host.name, c.short_id]
    context = {
        "c": c, "host": host, "tab": "logs", "tail": services.DEFAULT_TAIL,
        "socket_path": f"/ws/hosts/{host.name}/containers/{c.target.id}/logs/",
        "lines_url": reverse("logs:lines", args=args), "download_url": reverse("logs:download", args=args),
    }  # fmt: skip
    return render(request, "streams/logs.html", context)


def log_lines(request, name, ref):
    """JSON {"lines": [[timestamp, stderr, text], ...], "more": bool}, or {"error": ...}."""
    actor = request.actor
    try:
        options = services.LogOptions.from_params(request.GET, follow=False)
        host = host_for(actor, name)
        target = container_target(actor, host, ref, "container.logs")
        lines, more = services.log_range(actor=actor, host=host, target=target, options=options)
    except InvalidInput as exc:
        return JsonResponse({"error": str(exc), "field": exc.field}, status=400)
    except NotFound:  # a hidden host looks absent
        return JsonResponse({"error": NOT_FOUND}, status=404)
    except WharfError as exc:
        return JsonResponse({"error": str(exc)}, status=exc.status)
    return JsonResponse({"lines": lines, "more": more})


@with_host
def log_download(request, host, ref):
    actor = request.actor
    options = services.LogOptions.from_params(request.GET, follow=False)
    timestamps = request.GET.get("timestamps") not in ("0", "off", "false")
    target = container_target(actor, host, ref, "container.logs")
    chunks = services.log_download(actor=actor, host=host, target=target, options=options, timestamps=timestamps)
    return download_response(request, chunks, f"{target.name}.log", "text/plain; charset=utf-8")


@require_safe
def merged_logs(request):
    """Several containers' logs in one live view: those picked in a list (?c=host/id,
    repeated) and those carrying a label (?label=key or key=value) on every host."""
    actor = request.actor
    label = (request.GET.get("label") or "").strip()[:200]
    tail = (request.GET.get("tail") or "100").strip()[:16]
    errors, sources, notices = {}, [], []
    try:
        services.LogOptions.from_params({"tail": tail})
        sources, notices = services.merged_sources(actor=actor, picks=request.GET.getlist("c")[:200], label=label)
    except InvalidInput as exc:
        errors[exc.field] = str(exc)
    context = {"sources": sources, "notices": notices, "label": label, "tail": tail, "errors": errors,
               "picked": request.GET.getlist("c")[:200]}  # fmt: skip
    return render(request, "streams/merged_logs.html", context)
