"""Registry actions and selectors. The stored password is lent to actions (a login
test, a catalog read) and never returned to a page, an audit entry or a message."""

from dataclasses import dataclass, field

from django.core.exceptions import ValidationError

from console import gateway
from console.actions import Target, allows, perform, require
from console.errors import ActionDenied, NotFound, WharfError
from console.hosts.services import _validation_text
from console.registries import client
from console.registries.models import Registry

MAX_PAGES = 20  # catalog pages read for one search


def _target(registry):
    return Target(id=registry.pk or "", name=registry.name)


def _params(registry):
    return {
        "name": registry.name, "kind": registry.kind, "address": registry.address,
        "username": registry.username, "password": bool(registry.password),
    }  # fmt: skip


def _save(registry):
    try:
        registry.full_clean()
    except ValidationError as exc:
        raise WharfError(_validation_text(exc)) from None
    registry.save()
    return registry


def registry_list(*, actor):
    require(actor, "registry.view")
    return list(Registry.objects.all())


def registry_for(actor, name, code="registry.view"):
    """A registry the actor may see, else 404 (the refusal is on the record)."""
    registry = Registry.objects.filter(name=name).first()
    if registry is None:
        raise NotFound("No such registry")
    try:
        require(actor, code, target=_target(registry))
    except ActionDenied:
        raise NotFound("No such registry") from None
    return registry


def registry_create(*, actor, **fields):
    registry = Registry(**fields)
    return perform(actor, "registry.create", target=_target(registry), params=_params(registry),
                   run=lambda: _save(registry))  # fmt: skip


def registry_update(*, actor, registry, **fields):
    """Change a registry; an empty password keeps the stored one."""
    for name, value in fields.items():
        if name != "password" or value:
            setattr(registry, name, value)
    return perform(actor, "registry.update", target=_target(registry), params=_params(registry),
                   run=lambda: _save(registry))  # fmt: skip


def registry_delete(*, actor, registry):
    return perform(actor, "registry.delete", target=_target(registry), run=registry.delete)


def registry_test(*, actor, registry, host):
    """"Test login": the stored credentials checked by a host's daemon (`/auth`, as
    `docker login` does; nothing is written to the daemon's or the console's config)."""
    if not registry.username:
        raise WharfError(f"registry {registry.name} has no stored credentials to test")
    return perform(
        actor, "registry.use", host=host, target=_target(registry), params={"test": "login"},
        run=lambda: gateway.registry_login(
            host, address=registry.login_address, username=registry.username, password=registry.password
        ),
    )  # fmt: skip


def usable(actor):
    """The private (v2) registries whose catalog the actor may search."""
    if not allows(actor, "registry.use"):
        return []
    return list(Registry.objects.filter(kind="v2"))


@dataclass
class CatalogPage:
    registry: object
    term: str
    repositories: list = field(default_factory=list)
    last: str = ""  # where the next search continues ("" when the catalog was read to its end)


def registry_search(*, actor, registry, term, limit=25, last=""):
    """Repositories of a registry's catalog whose name contains `term`, up to `limit`."""

    def search():
        page = CatalogPage(registry, term)
        cursor = last
        for _ in range(MAX_PAGES):
            names, cursor = client.catalog(registry, cursor)
            page.repositories += [n for n in names if term.lower() in n.lower()]
            if not cursor or len(page.repositories) >= limit:
                break
        if len(page.repositories) > limit:  # the next search continues after the last one shown
            page.repositories, cursor = page.repositories[:limit], page.repositories[limit - 1]
        page.last = cursor
        return page

    return perform(actor, "registry.use", target=_target(registry), params={"search": term}, run=search)


def registry_tags(*, actor, registry, repository, last=""):
    return perform(
        actor, "registry.use", target=_target(registry), params={"tags": repository},
        run=lambda: client.tags(registry, repository, last),
    )  # fmt: skip
