"""Large uploads (files into a container, image tars): a limit checked while the body is
read, whatever the request claimed. The files themselves are spooled to temporary files
by Django's usual handlers, never held in memory."""

from django.core.files.uploadhandler import FileUploadHandler, StopUpload

from console.errors import WharfError
from console.params import whole_number

BLOCK = 1024 * 1024


class UploadLimit(FileUploadHandler):
    """Stops reading an upload once it is over `limit` bytes."""

    def __init__(self, request=None, limit=0):
        super().__init__(request)
        self.limit = limit
        self.received = 0
        self.exceeded = False

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > self.limit:
            self.exceeded = True
            raise StopUpload(connection_reset=True)
        return raw_data

    def file_complete(self, file_size):
        return None


def declared_over(request, limit):
    """Is the declared body larger than the limit (and a little room for the form)?"""
    return (whole_number(request.META.get("CONTENT_LENGTH")) or 0) > limit + 1024 * 1024


def limit_uploads(request, limit):
    """Put an UploadLimit in front of the request's upload handlers; it says whether the
    upload went over."""
    handler = UploadLimit(request, limit)
    request.upload_handlers.insert(0, handler)
    return handler


def over_limit_message(limit):
    return f"The upload is over the limit of {limit} bytes."


def body_blocks(request, limit):
    """A request's body itself (a raw upload, not a form) read in blocks as it arrives,
    refused once it is over `limit` bytes."""
    received = 0
    while block := request.read(BLOCK):
        received += len(block)
        if received > limit:
            raise WharfError(over_limit_message(limit))
        yield block
