import logging
import uuid

from django.core.handlers.exception import response_for_exception
from django.http import Http404
from django.shortcuts import render
from django.utils.cache import add_never_cache_headers

from console import addresses
from console.actions import Actor
from console.errors import NotFound, WharfError

log = logging.getLogger("wharf")
NOT_FOUND = "There is nothing here, or you may not see it."


class RequestIdMiddleware:
    """Give every request an id that its audit entries share."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.id = uuid.uuid4().hex
        response = self.get_response(request)
        response["X-Request-Id"] = request.id
        return response


# Scripts and styles only from the console's own files: no inline script, event handler,
# style or javascript: link anywhere (htmx's indicator style is in wharf.css instead).
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:",
    "font-src 'self'", "connect-src 'self'", "object-src 'none'", "base-uri 'none'",
    "form-action 'self'", "frame-ancestors 'none'",
])  # fmt: skip


class SecurityHeadersMiddleware:
    """The Content-Security-Policy on every response, and no-store on every response to a
    logged-in user, so that no page of theirs stays in a shared or browser cache (static
    files are served before this, by ServeStatic, and stay cacheable)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            add_never_cache_headers(response)
        return response


class ClientAddressMiddleware:
    """Put the client's real address on the request (`request.client_address`): the
    peer, or what trusted proxies say it is (console/addresses.py)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.client_address = None
        addresses.of_request(request)
        return self.get_response(request)


class ActorMiddleware:
    """Put who acts on the request (`request.actor`, a `console.actions.Actor`): every
    view passes it to the services. Runs after the client-address, request-id and
    authentication middleware, whose results it reads. (A login changes the user within
    its request: the login signals read `Actor.from_request` themselves.)"""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.actor = Actor.from_request(request)
        return self.get_response(request)


class WharfErrorMiddleware:
    """A console error that escapes a view becomes a page (or htmx fragment) that says
    what went wrong, with the matching status: never a traceback."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        htmx = getattr(request, "htmx", False)
        if isinstance(exception, NotFound):  # what is hidden answers like a missing page
            if not htmx:
                return response_for_exception(request, Http404(str(exception)))
            exception = Http404(str(exception))
        if htmx and isinstance(exception, Http404):  # a fragment, not a whole page in a corner
            return render(request, "partials/_error.html", {"message": NOT_FOUND}, status=404)
        if not isinstance(exception, WharfError):
            return None
        template = "partials/_error.html" if htmx else "error.html"
        return render(request, template, {"message": str(exception)}, status=exception.status)
