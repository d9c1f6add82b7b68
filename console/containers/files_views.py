"""The file browser of a container (`docker cp` both ways) and `docker export`."""

import posixpath

from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_POST

from console.containers import files_services as services
from console.containers.forms import UploadForm
from console.containers.services import container_detail, container_target
from console.errors import ActionDenied, WharfError
from console.pages import gate, with_host
from console.streaming import download_response
from console.uploads import declared_over, limit_uploads, over_limit_message


@with_host
def files(request, host, ref):
    """A folder of the container (or one file's details), with download and upload."""
    return _files_page(request, request.actor, host, ref, request.GET.get("path") or "/")


def _files_page(request, actor, host, ref, path, form=None, status=200):
    """The Files tab of the container's page."""
    c = container_detail(actor=actor, host=host, ref=ref)
    container = c.target
    listing = services.container_files(actor=actor, host=host, container=container, path=path)
    folder = listing.this.kind == "folder"
    context = {
        "host": host, "c": c, "tab": "files", "listing": listing, "crumbs": _crumbs(listing.path),
        "parent": posixpath.dirname(listing.path) if listing.path != "/" else None,
        "link_path": _link_path(listing.path, listing.this.link_target),
        "can_download": "container.download" in c.permitted,
        "can_upload": folder and "container.upload" in c.permitted,
        "form": form or UploadForm(), "max_upload": settings.CONTAINER_UPLOAD_MAX_BYTES,
    }  # fmt: skip
    return render(request, "containers/files.html", context, status=status)


def _crumbs(path):
    parts = [p for p in path.split("/") if p]
    return [("/", "/")] + [(p, "/" + "/".join(parts[: i + 1])) for i, p in enumerate(parts)]


def _link_path(path, target):
    if not target:
        return ""
    return services.normalize_path(posixpath.join(posixpath.dirname(path), target))


@with_host
def files_download(request, host, ref):
    """A file's bytes, or a folder as a tar, streamed from Docker."""
    actor = request.actor
    container = container_target(actor, host, ref, "container.download")
    download = services.container_download(
        actor=actor, host=host, container=container, path=request.GET.get("path") or "/"
    )
    return download_response(request, download.chunks, download.filename, download.content_type, download.size)


@with_host
def export(request, host, ref):
    """`docker export`: the container's filesystem as a tar, streamed."""
    actor = request.actor
    container = container_target(actor, host, ref, "container.export")
    chunks = services.container_export(actor=actor, host=host, container=container)
    return download_response(request, chunks, f"{container.name}.tar", "application/x-tar")


@csrf_exempt  # the upload handler must be in place before the CSRF check reads the body
def files_upload(request, name, ref):
    if declared_over(request, settings.CONTAINER_UPLOAD_MAX_BYTES):  # refused unread
        message = over_limit_message(settings.CONTAINER_UPLOAD_MAX_BYTES)
        return render(request, "error.html", {"message": message}, status=413)
    limit = limit_uploads(request, settings.CONTAINER_UPLOAD_MAX_BYTES)
    return _files_upload(request, name=name, ref=ref, limit=limit)


@csrf_protect
@require_POST
@with_host
def _files_upload(request, host, ref, limit):
    """Files (or one tar to extract) into the folder `path`."""
    actor = request.actor
    container = container_target(actor, host, ref, "container.upload")
    gate(request, "container.upload", host=host, target=container)  # before the files are read
    path = request.POST.get("path") or "/"
    form = UploadForm(request.POST, request.FILES)
    if limit.exceeded:
        form.add_error(None, over_limit_message(settings.CONTAINER_UPLOAD_MAX_BYTES))
        return _files_page(request, actor, host, ref, path, form, status=413)
    if not form.is_valid():
        return _files_page(request, actor, host, ref, path, form, status=400)
    files = form.cleaned_data["files"]
    try:
        services.container_upload(
            actor=actor, host=host, container=container, path=path, files=files,
            extract=form.cleaned_data["extract"],
        )  # fmt: skip
    except ActionDenied:
        raise
    except WharfError as exc:
        form.add_error("files", str(exc))
        return _files_page(request, actor, host, ref, path, form, status=exc.status)
    what = "the archive" if form.cleaned_data["extract"] else ", ".join(f.name for f in files)
    messages.success(request, f"Uploaded {what} to {services.normalize_path(path)}.")
    url = reverse("containers:files", args=[host.name, ref])
    return redirect(f"{url}?{urlencode({'path': services.normalize_path(path)})}")
