"""The console's own exceptions: every message is meant for the person at the screen."""


class WharfError(Exception):
    """An action could not be done; `str(error)` says why in plain words. `field`, when
    set, names the input the error is about (a run's image or ports, a rename's new name):
    a form shows the message next to the input of that name."""

    status = 400

    def __init__(self, message="", *, field=None):
        super().__init__(message)
        self.field = field

    def messages(self):
        """(field, message) pairs; field None: about the input as a whole."""
        return [(self.field, str(self))]


class InvalidInput(WharfError):
    """Input an action cannot take: a message (about `field`, or the whole input), or
    `errors` mapping inputs (None: the whole) to their messages."""

    def __init__(self, errors, *, field=None):
        if isinstance(errors, str):
            errors = {field: [errors]}
        self.errors = errors
        super().__init__(" ".join(m for messages in errors.values() for m in messages), field=next(iter(errors)))

    def messages(self):
        return [(field, message) for field, messages in self.errors.items() for message in messages]


class HostUnreachable(WharfError):
    status = 502


class HostTLSError(HostUnreachable):
    pass


class HostConfigError(WharfError):
    pass


class NotFound(WharfError):
    """Nothing of that name the actor may see: what is hidden is not admitted to exist,
    so this answers exactly like a missing page (console/middleware.py)."""

    status = 404


class HostNotFound(NotFound):
    pass


class DockerNotFound(WharfError):
    status = 404


class DockerConflict(WharfError):
    status = 409


class DockerError(WharfError):
    status = 502


class RegistryLoginNeeded(DockerError):
    """A registry refused a pull or push: no credentials, or the wrong ones."""


class ActionDenied(WharfError):
    status = 403
