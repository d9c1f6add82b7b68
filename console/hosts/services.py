"""Host actions and selectors. Every change goes through `console.actions.perform`."""

from django.core.exceptions import ValidationError
from django.db import transaction

from console import actions, gateway
from console.actions import Target, allows, perform
from console.errors import ActionDenied, HostNotFound, WharfError
from console.hosts.models import Host

FIELDS = ("name", "url", "description", "enabled", "tls_ca", "tls_cert", "tls_key")


def _params(host):
    return {
        "name": host.name, "url": host.url, "description": host.description,
        "enabled": host.enabled, "tls": host.uses_tls, "tls_key": bool(host.tls_key),
    }  # fmt: skip


def _save(host):
    try:
        host.full_clean()
    except ValidationError as exc:
        raise WharfError(_validation_text(exc)) from None
    host.save()
    gateway.forget(host)
    return host


def _validation_text(exc):
    if hasattr(exc, "message_dict"):
        return "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
    return " ".join(exc.messages)


def host_create(*, actor, **fields):
    host = Host(**fields)
    return perform(
        actor, "host.create", target=Target(name=host.name), params=_params(host),
        run=lambda: _save(host),
    )  # fmt: skip


def host_update(*, actor, host, **fields):
    for name, value in fields.items():
        setattr(host, name, value)
    return perform(
        actor, "host.update", target=Target(id=host.pk, name=host.name), params=_params(host),
        run=lambda: _save(host),
    )  # fmt: skip


def host_delete(*, actor, host):
    def delete():
        gateway.forget(host)
        host.delete()

    return perform(actor, "host.delete", target=Target(id=host.pk, name=host.name), run=delete)


def host_test(*, actor, host):
    """Connect to a (possibly unsaved) host: the engine version, or a WharfError."""
    return perform(
        actor, "host.test", target=Target(id=host.pk or "", name=host.name),
        params={"url": host.url}, run=lambda: gateway.test_connection(host),
    )  # fmt: skip


def secrets_rotate(*, actor):
    """Re-encrypt every stored secret with the newest key: hosts' TLS material and
    registries' passwords; the number of each."""
    from console.registries.models import Registry

    def reencrypt():
        with transaction.atomic():  # reading decrypts with any key; saving uses the newest
            hosts = list(Host.objects.select_for_update())
            for host in hosts:
                host.save(update_fields=["tls_ca", "tls_cert", "tls_key"])
            registries = list(Registry.objects.select_for_update())
            for registry in registries:
                registry.save(update_fields=["password"])
        return len(hosts), len(registries)

    return perform(actor, "secrets.rotate", run=reencrypt)


# --- selectors -----------------------------------------------------------------


def visible_hosts(user):
    return actions.visible_hosts(user)


def host_for(actor, name):
    """A host the actor may see, else HostNotFound (a 404): a hidden host is not admitted
    to exist, but the denied attempt is on the record."""
    host = Host.named(name)
    if host is None or not host.enabled:
        raise HostNotFound("No such host.")
    try:
        return perform(actor, "host.view", host=host, target=Target(host.pk, host.name), run=lambda: host)
    except ActionDenied:
        raise HostNotFound("No such host.") from None


def selected_hosts(actor, names):
    """The hosts a selection across hosts names, by name: those the actor may see, None
    for the others (each lookup is `host_for`: the refusals are on the record)."""
    found = {}
    for name in dict.fromkeys(names):
        try:
            found[name] = host_for(actor, name)
        except HostNotFound:
            found[name] = None
    return found




# What `docker info` counts over the whole host: shown only to those who see all of it
CONTAINER_COUNTS = ("Containers", "ContainersRunning", "ContainersPaused", "ContainersStopped")


def sees_whole_host(user, host, code="container.view"):
    """May the user see every container (or image) of the host, not only labelled ones?"""
    return actions.label_scope(actions.Actor(user=user), code, host) is None


def host_details(actor, host):
    """`docker version` and `docker info`, without the whole host's counts and storage
    folder for one who sees only some of its containers or images."""
    details = gateway.host_details(host)
    info = details["info"]
    if not sees_whole_host(actor.user, host):
        for key in (*CONTAINER_COUNTS, "DockerRootDir"):
            info.pop(key, None)
    if not sees_whole_host(actor.user, host, "image.view"):
        info.pop("Images", None)
    return details


def host_statuses(hosts):
    """{pk: HostStatus} of the given hosts, asked at once (no authorization: for manage.py)."""
    return gateway.host_statuses(hosts)


def no_host_notice(actor, hosts):
    """For a page with no host to show: say so, and whether the actor may add one."""
    if hosts:
        return {"no_hosts": False}
    return {"no_hosts": True, "can_add_host": allows(actor, "host.create")}


def hosts_with_status(user):
    """(host, status) of the hosts the user may see; counts they may not see are None."""
    hosts = list(visible_hosts(user))
    statuses = host_statuses(hosts)
    for host in hosts:
        status = statuses[host.pk]
        if not sees_whole_host(user, host):
            status.running = status.paused = status.stopped = None
        if not sees_whole_host(user, host, "image.view"):
            status.images = None
    return [(host, statuses[host.pk]) for host in hosts]
