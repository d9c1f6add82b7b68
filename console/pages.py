"""The plumbing every page shares, so that a new view is a few lines of configuration.

- `request.actor` (console.middleware.ActorMiddleware): who acts; pass it to the services.
- `@with_host`: the view's `name` URL argument becomes `host`, a host the actor may see.
- `gate(request, code)`: a GET needs the page's permission, a POST the action's.
- `form_page(...)`: a form that leads to one service call: errors on the form, or done.

A new form view, whole:

    @with_host
    def volume_create(request, host):
        gate(request, "volume.create", host=host)
        return form_page(
            request, VolumeForm(posted(request)), "volumes/form.html", context={"host": host},
            save=lambda form: services.volume_create(actor=request.actor, host=host, **form.cleaned_data),
            done=lambda volume: f"Volume {volume.name} created.", back="volumes:list",
        )
"""

from functools import wraps

from django.contrib import messages
from django.forms.renderers import TemplatesSetting
from django.shortcuts import redirect, render

from console.actions import allows, authorize, require
from console.errors import NotFound, WharfError
from console.hosts.services import host_for


class FormRenderer(TemplatesSetting):
    """settings.FORM_RENDERER: `{{ field.as_field_group }}` renders a field the console's
    one way (label, input, help, errors), from the project's templates."""

    field_template_name = "partials/_field.html"


def with_host(view):
    """Call `view(request, ..., host=...)` instead of `view(request, ..., name=...)`: the
    host of that name the actor may see, None when the URL names none. A host that is
    missing, disabled or out of the actor's reach raises HostNotFound, which answers
    exactly like a missing page (the attempt on a hidden one is on the record)."""

    @wraps(view)
    def page(request, *args, name=None, **kwargs):
        host = None if name is None else host_for(request.actor, name)
        return view(request, *args, host=host, **kwargs)

    return page


def gate(request, code, *, host=None, target=None, view=None):
    """Let the request through to the page of action `code`, or raise ActionDenied (a 403).

    A POST needs `code` itself, checked before its input is read (`authorize`; the action
    is recorded later by the service). A GET needs `view` (default `code`) to see the
    page (`require`). Either refusal is on the record."""
    if request.method == "POST":
        authorize(request.actor, code, host=host, target=target)
    else:
        require(request.actor, view or code, host, target)


def may(request, code, host=None, target=None):
    """May the actor do `code`? For showing or hiding a button; no record."""
    return allows(request.actor, code, host, target)


def posted(request):
    """The form data of a POST; None (an unbound form) otherwise."""
    return request.POST if request.method == "POST" else None


def put_errors(form, exc):
    """A WharfError on the form: each message next to its field when the form has that
    field, else above the form."""
    for field, message in exc.messages():
        form.add_error(field if field in form.fields else None, message)


def form_page(request, form, template, *, save, done="", back=None, context=None):
    """The page of a form that leads to one service call.

    GET renders `template` with `form` (and `context`). POST: an invalid form is shown
    again with a 400; a valid one calls `save(form)`, the service, which authorizes and
    audits. A WharfError from it goes on the form (`put_errors`) with the error's status
    (NotFound is not an input error: it propagates, to look like a missing page).
    On success: `done` (a text, or a function of what `save` returned) is flashed and
    the answer redirects to `back` (a URL name or path, or a function of the result
    giving one); with no `back`, the page is rendered again with the result as `result`.
    """
    context = {"form": form, **(context or {})}
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                result = save(form)
            except NotFound:
                raise
            except WharfError as exc:
                put_errors(form, exc)
                status = exc.status
            else:
                if done:
                    messages.success(request, _given(done, result))
                if back is None:
                    return render(request, template, {**context, "result": result})
                return redirect(_given(back, result))
    return render(request, template, context, status=status)


def _given(value, result):
    return value(result) if callable(value) else value
