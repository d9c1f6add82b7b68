"""The console's own exceptions: every message is meant for the person at the screen."""


class WharfError(Exception):
    """An action could not be done; `str(error)` says why in plain words."""

    status = 400


class HostUnreachable(WharfError):
    status = 502


class HostTLSError(HostUnreachable):
    pass


class HostConfigError(WharfError):
    pass


class DockerNotFound(WharfError):
    status = 404


class DockerConflict(WharfError):
    status = 409


class DockerError(WharfError):
    status = 502


class ActionDenied(WharfError):
    status = 403
