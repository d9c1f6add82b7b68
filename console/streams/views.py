"""The Logs tab of the container page, and its HTTP side: a range of lines (older lines,
lines skipped for a slow page) and the download. The live lines come over the websocket
(console/streams/consumers.py)."""

from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.urls import reverse

from console.actions import Actor, require
from console.containers.services import container_detail, container_target
from console.errors import InvalidInput, WharfError
from console.hosts.services import host_for
from console.middleware import NOT_FOUND
from console.streaming import download_response
from console.streams import services


def logs(request, name, ref):
    actor = Actor.from_request(request)
    host = host_for(actor, name)
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
    actor = Actor.from_request(request)
    try:
        options = services.LogOptions.from_params(request.GET, follow=False)
        host = host_for(actor, name)
        target = container_target(actor, host, ref, "container.logs")
        lines, more = services.log_range(actor=actor, host=host, target=target, options=options)
    except InvalidInput as exc:
        return JsonResponse({"error": str(exc), "field": exc.field}, status=400)
    except WharfError as exc:
        return JsonResponse({"error": str(exc)}, status=exc.status)
    except Http404:
        return JsonResponse({"error": NOT_FOUND}, status=404)
    return JsonResponse({"lines": lines, "more": more})


def log_download(request, name, ref):
    actor = Actor.from_request(request)
    options = services.LogOptions.from_params(request.GET, follow=False)
    timestamps = request.GET.get("timestamps") not in ("0", "off", "false")
    host = host_for(actor, name)
    target = container_target(actor, host, ref, "container.logs")
    chunks = services.log_download(actor=actor, host=host, target=target, options=options, timestamps=timestamps)
    return download_response(request, chunks, f"{target.name}.log", "text/plain; charset=utf-8")
