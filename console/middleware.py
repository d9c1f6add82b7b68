import logging
import uuid

from django.http import Http404
from django.shortcuts import render

from console import addresses
from console.errors import WharfError

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


class ClientAddressMiddleware:
    """Put the client's real address on the request (`request.client_address`): the
    peer, or what trusted proxies say it is (console/addresses.py)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.client_address = None
        addresses.of_request(request)
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
        if htmx and isinstance(exception, Http404):  # a fragment, not a whole page in a corner
            return render(request, "partials/error.html", {"message": NOT_FOUND}, status=404)
        if not isinstance(exception, WharfError):
            return None
        template = "partials/error.html" if htmx else "error.html"
        return render(request, template, {"message": str(exception)}, status=exception.status)
