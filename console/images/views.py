"""Image pages: the lists, one image (overview, history, inspect), tag/untag/remove,
prune, save, load, import, search and the registry mirrors of a host."""

import json
from urllib.parse import unquote

from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_POST

from console.actions import allows, authorize
from console.containers.views import _safe_next
from console.errors import ActionDenied, WharfError
from console.hosts.services import host_details, host_for, no_host_notice, visible_hosts
from console.images import changes, detail, listing, search, tables
from console.images.forms import ImportForm, LoadForm, TagForm
from console.pages import gate, with_host
from console.streaming import download_response
from console.streams.events import live_sockets
from console.tables import render_with_rows, sort_link
from console.uploads import body_blocks, declared_over, limit_uploads, over_limit_message

# --- lists ----------------------------------------------------------------------------


@require_GET
@with_host
def image_list(request, host):
    actor = request.actor
    query = listing.ImageQuery.from_params(request.GET)
    if host:
        hosts, choices = [host], []
    else:
        choices = list(visible_hosts(request.user))
        hosts = [h for h in choices if h.name == query.host] if query.host else choices
    table = listing.image_table(actor=actor, hosts=hosts, query=query)
    can_remove, can_save = _anywhere(actor, "image.remove", hosts), _anywhere(actor, "image.save", hosts)
    options = dict(show_host=host is None, selectable=can_remove or can_save)
    columns = tables.columns(**options)
    context = {
        "host": host, "query": query, "listing": table, "host_choices": choices,
        "columns": [(column, sort_link(query.params, query.sort, column.sort)) for column in columns],
        "column_count": len(columns),
        "can_remove": can_remove, "can_save": can_save,
        "image_ids": listing.image_ids(table, no_trunc=query.no_trunc) if query.quiet else [],
        "can_prune": host is not None and _anywhere(actor, "image.prune", hosts),
        "can_load": host is not None and _anywhere(actor, "image.load", hosts),
        "pull_hosts": [h for h in ([host] if host else choices) if allows(actor, "image.pull", h)],
        "pull_ref": request.GET.get("pull", "")[:512],
        "here": request.get_full_path(),
        "live_events": live_sockets(actor, hosts, "type=image"),
        **no_host_notice(actor, hosts if host else choices),
    }  # fmt: skip
    template = "images/_table.html" if request.htmx else "images/list.html"
    rows = "" if query.quiet else tables.rows_html(table.rows, no_trunc=query.no_trunc, **options)
    response = render_with_rows(request, template, context, rows)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _anywhere(actor, code, hosts):
    """May the actor do this on at least one of the hosts? (For showing a button: the
    action is authorized again when it is done.)"""
    return any(allows(actor, code, h) for h in hosts)


@require_POST
def image_bulk(request):
    """The ticked rows of a list: remove them (`docker rmi`), or save them as one tar
    (`docker save`, images of one host)."""
    actor = request.actor
    action = request.POST.get("action")
    code = "image.save" if action == "save" else "image.remove"
    if not _anywhere(actor, code, visible_hosts(request.user)):
        authorize(actor, code)  # refused, and on the record, before anything else is read
    if action not in ("remove", "save"):
        raise WharfError("Choose Remove or Save for the selected images.")
    back = _safe_next(request, "images:list")
    selection = [v.partition("/")[::2] for v in request.POST.getlist("i") if "/" in v]
    if not selection:
        messages.error(request, "Tick the images to act on first.")
        return redirect(back)
    if action == "save":
        names = {h for h, _ in selection}
        if len(names) != 1:
            messages.error(request, "Save images of one host at a time.")
            return redirect(back)
        return _save(request, actor, host_for(actor, names.pop()), [r for _, r in selection])
    outcomes = changes.image_remove_many(
        actor=actor, selection=selection, force=request.POST.get("force") == "1",
        no_prune=request.POST.get("no_prune") == "1",
    )  # fmt: skip
    return render(request, "images/bulk_result.html", {"outcomes": outcomes, "back": back})


# --- one image ------------------------------------------------------------------------


def _image(request, host, ref):
    return detail.image_detail(actor=request.actor, host=host, ref=ref)


@with_host
def image_detail(request, host, ref):
    return _detail_page(request, host, ref)


def _detail_page(request, host, ref, form=None, status=200):
    image = _image(request, host, ref)
    context = {"image": image, "host": host, "tab": "overview", "tag_form": form or TagForm()}
    return render(request, "images/detail.html", context, status=status)


@with_host
def image_history(request, host, ref):
    image = _image(request, host, ref)
    layers = detail.image_history(actor=request.actor, host=host, ref=image.id)
    no_trunc = request.GET.get("no_trunc") == "1"
    context = {"image": image, "host": host, "tab": "history", "layers": layers, "no_trunc": no_trunc}
    return render(request, "images/history.html", context)


@with_host
def image_inspect(request, host, ref):
    image = _image(request, host, ref)
    return render(request, "images/inspect.html", {"image": image, "host": host, "tab": "inspect"})


@require_POST
@with_host
def image_action(request, host, ref):
    """A button or form of the image page: tag, untag, remove."""
    actor = request.actor
    action = request.POST.get("action", "")
    if action == "tag":
        form = TagForm(request.POST)
        if not form.is_valid():
            authorize(actor, "image.tag", host=host, target=detail.image_target(ref))
            return _detail_page(request, host, ref, form=form, status=400)
        repository, tag = form.cleaned_data["reference"]
        changes.image_tag(actor=actor, host=host, ref=ref, repository=repository, tag=tag)
        messages.success(request, f"Tagged {repository}:{tag or 'latest'}.")
    elif action == "untag":
        reference = request.POST.get("reference", "")
        changes.image_untag(actor=actor, host=host, reference=reference)
        messages.success(request, f"Tag {reference} removed.")
        if not _still_there(actor, host, ref):
            return redirect("images:host", name=host.name)
    elif action == "remove":
        changes.image_remove(
            actor=actor, host=host, ref=ref, force=request.POST.get("force") == "1",
            no_prune=request.POST.get("no_prune") == "1",
        )  # fmt: skip
        messages.success(request, f"Image {ref} removed.")
        return redirect("images:host", name=host.name)
    else:
        raise WharfError("Unknown image action.")
    return redirect("images:detail", name=host.name, ref=ref)


def _still_there(actor, host, ref):
    try:
        detail.image_detail(actor=actor, host=host, ref=ref)
    except WharfError:
        return False
    return True


# --- prune, save ----------------------------------------------------------------------


@with_host
def image_prune(request, host):
    """`docker image prune [-a]`: a confirmation page naming the images and their size."""
    actor = request.actor
    unused = request.GET.get("unused") == "1" or request.POST.get("unused") == "1"
    if request.method == "POST":
        result = changes.image_prune(actor=actor, host=host, ids=request.POST.getlist("id"), unused=unused)
        return render(request, "images/prune_done.html", {"host": host, "result": result})
    candidates = changes.prune_candidates(actor=actor, host=host, unused=unused)
    total = changes.PruneResult(removed=candidates).freed_text
    context = {"host": host, "candidates": candidates, "unused": unused, "total": total}
    return render(request, "images/prune.html", context)


@with_host
def image_save(request, host):
    """`docker save REF...` (`?ref=` repeated): a streamed tar."""
    return _save(request, request.actor, host, request.GET.getlist("ref"))


def _save(request, actor, host, refs):
    chunks = changes.image_save(actor=actor, host=host, refs=refs)
    return download_response(request, chunks, changes.save_filename(refs), "application/x-tar")


# --- load, import (uploads) -----------------------------------------------------------


def _upload_view(code, page):
    """An upload page: GET shows the form; POST reads the body under the size limit
    (the handler must be in place before the CSRF check reads it)."""

    @csrf_exempt
    def view(request, name):
        limit = settings.IMAGE_UPLOAD_MAX_BYTES
        if request.method == "POST" and declared_over(request, limit):  # refused unread
            return render(request, "error.html", {"message": over_limit_message(limit)}, status=413)
        handler = limit_uploads(request, limit) if request.method == "POST" else None
        return csrf_protect(_checked)(request, name=name, handler=handler)

    @with_host
    def _checked(request, host, handler):
        gate(request, code, host=host)  # a POST is refused before the upload is read
        return page(request, request.actor, host, handler if request.method == "POST" else None)

    return view


def _load_page(request, actor, host, handler):
    """`docker load`: the tar comes as the request body itself (the page's script sends
    it so, and it goes on to the daemon as it arrives) or as a form's file (spooled)."""
    limit = settings.IMAGE_UPLOAD_MAX_BYTES
    raw = request.method == "POST" and request.content_type == "application/x-tar"
    form = LoadForm(None if raw else request.POST or None, None if raw else request.FILES or None)
    context = {"host": host, "form": form, "limit": limit}
    if handler is None:
        return render(request, "images/load.html", context)
    if raw:
        name = unquote(request.headers.get("X-File-Name", ""))[:255] or "image.tar"
        size, chunks = request.META.get("CONTENT_LENGTH", ""), body_blocks(request, limit)
    elif handler.exceeded:
        form.add_error(None, over_limit_message(limit))
        return render(request, "images/load.html", context, status=413)
    elif not form.is_valid():
        return render(request, "images/load.html", context, status=400)
    else:
        upload = form.cleaned_data["file"]
        name, size, chunks = upload.name, upload.size, changes.file_blocks(upload)
    try:
        context["loaded"] = changes.image_load(actor=actor, host=host, name=name, size=size, chunks=chunks)
    except ActionDenied:
        raise
    except WharfError as exc:
        context["error"] = str(exc)
        return render(request, "images/load.html", context, status=exc.status)
    return render(request, "images/load.html", context)


def _import_page(request, actor, host, handler):
    form = ImportForm(request.POST or None, request.FILES or None)
    context = {"host": host, "form": form, "limit": settings.IMAGE_UPLOAD_MAX_BYTES}
    if handler is None:
        return render(request, "images/import.html", context)
    if handler.exceeded:
        form.add_error(None, over_limit_message(settings.IMAGE_UPLOAD_MAX_BYTES))
        return render(request, "images/import.html", context, status=413)
    if not form.is_valid():
        return render(request, "images/import.html", context, status=400)
    data = form.cleaned_data
    repository, tag = data["repository"]
    try:
        image_id = changes.image_import(
            actor=actor, host=host, repository=repository, tag=tag, changes=data["changes"],
            message=data["message"], upload=data["file"], url=data["url"],
        )  # fmt: skip
    except ActionDenied:
        raise
    except WharfError as exc:
        form.add_error("url" if data["url"] else "file", str(exc))
        return render(request, "images/import.html", context, status=exc.status)
    messages.success(request, f"Imported {repository + ':' + (tag or 'latest') if repository else 'an untagged image'}.")
    return redirect("images:detail", name=host.name, ref=detail.short(image_id))


image_load = _upload_view("image.load", _load_page)
image_import = _upload_view("image.import", _import_page)


# --- search, mirrors ------------------------------------------------------------------


@require_GET
def image_search(request):
    """`docker search` on Docker Hub through a host's daemon, or a registry's catalog."""
    context = search.search_page(actor=request.actor, params=request.GET)
    return render(request, "images/search.html", context)


@with_host
def mirrors(request, host):
    """The registry mirrors and insecure registries a daemon runs with (`docker info`),
    and the daemon.json snippet for the mirrors a person wants."""
    info = host_details(request.actor, host)["info"]
    registry = info.get("RegistryConfig") or {}
    current = registry.get("Mirrors") or []
    insecure = sorted(
        [n for n, idx in (registry.get("IndexConfigs") or {}).items() if not idx.get("Secure")]
        + (registry.get("InsecureRegistryCIDRs") or [])
    )
    wanted = [m.strip() for m in request.GET.get("mirrors", "").splitlines() if m.strip()]
    context = {"host": host, "current": current, "insecure": insecure,
               "wanted": "\n".join(wanted or current)}  # fmt: skip
    if wanted:
        bad = [m for m in wanted if not m.startswith(("http://", "https://"))]
        if bad:
            context["error"] = f"A mirror is an http:// or https:// URL: {', '.join(bad)}"
        else:
            snippet = {"registry-mirrors": wanted}
            if insecure:
                snippet["insecure-registries"] = [i for i in insecure if i != "127.0.0.0/8"]
            context["snippet"] = json.dumps(snippet, indent=2)
    return render(request, "images/mirrors.html", context)

