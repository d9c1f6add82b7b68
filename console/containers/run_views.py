"""Pages for `docker run` (/run/ and /hosts/<name>/run/) and `docker commit`."""

from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse

from console.actions import allows
from console.containers import run_services as services
from console.containers.forms import CommitForm, RunForm
from console.containers.services import container_detail
from console.errors import WharfError
from console.hosts.models import Host
from console.pages import form_page, gate, posted, put_errors, with_host
from console.params import number_in


@with_host
def run(request, host):
    """The run form, for one host (/hosts/<name>/run/) or with a choice of the hosts the
    person may run on (/run/)."""
    actor = request.actor
    fixed_host = host is not None
    if host is not None and not services.may_run(actor, host):
        services.run_refused(actor=actor, host=host)
    hosts = None
    if host is None:
        hosts = Host.objects.filter(pk__in=[h.pk for h in services.run_hosts(actor)])
        if not hosts:
            services.run_refused(actor=actor, host=None)
        chosen = number_in(request.POST, "host") or number_in(request.GET, "host")
        host = hosts.filter(pk=chosen).first() if chosen is not None else hosts.first()
    initial = {"labels": "\n".join(f"{k}={v}" for k, v in services.run_labels(actor, host).items())}
    form = RunForm(request.POST or None, hosts=hosts, initial={"host": host, **initial})
    context = {"form": form, "host": host, "fixed_host": fixed_host}
    status = 200
    if request.method == "POST":
        if form.is_valid():
            host = form.cleaned_data.get("host") or host
            context["host"] = host
            outcome = _run(request, actor, host, form, context)
            if outcome is not None:
                return outcome
        status = context.pop("status", 400)
    context.update(
        images=_images(actor, host), wait_seconds=settings.RUN_WAIT_SECONDS, output_limit=services.OUTPUT_LIMIT
    )
    return render(request, "containers/run.html", context, status=status)


def _run(request, actor, host, form, context):
    """Run the checked form: a redirect, or None with the form or result in `context`."""
    mode = form.cleaned_data["mode"]
    try:
        result = services.container_run(actor=actor, host=host, spec=form.run_spec(), mode=mode)
    except services.RunStartFailed as exc:
        context.update(failed=exc, failed_url=_detail_url(host, exc.container_id), status=exc.status)
        return None
    except WharfError as exc:
        put_errors(form, exc)
        context["status"] = exc.status
        return None
    if mode == services.ONESHOT:
        context.update(result=result, status=200)
        return None
    if mode == services.INTERACTIVE:  # the terminal attaches, then starts it
        messages.info(request, f"Container {result.name} created: it starts in the terminal below.")
        return redirect(reverse("terminals:page", args=[host.name, result.container_id]) + "?mode=attach&start=1")
    messages.success(request, f"Container {result.name} started.")
    return redirect(_detail_url(host, result.container_id))


def _detail_url(host, container_id):
    return reverse("containers:detail", args=[host.name, container_id])


def _images(actor, host):
    """The host's repo:tags for the image field's suggestions, to those who may see the
    host's images; none if it cannot say."""
    if host is None or not allows(actor, "image.view", host):
        return []
    try:
        return services.image_references(host)
    except WharfError:
        return []


@with_host
def commit(request, host, ref):
    """`docker commit`: save a container as an image (a page of the container's)."""
    c = container_detail(actor=request.actor, host=host, ref=ref)
    gate(request, "container.commit", host=host, target=c.target)
    return form_page(
        request, CommitForm(posted(request)), "containers/commit.html", context={"host": host, "c": c, "tab": "commit"},
        save=lambda form: services.container_commit(
            actor=request.actor, host=host, container=c.target, **form.commit_arguments()
        ),
    )  # fmt: skip
