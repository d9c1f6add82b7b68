"""`docker search`: Docker Hub through a host's daemon (which needs internet access),
or the catalog of a private registry the console knows (registry API v2)."""

from dataclasses import dataclass

from console import gateway
from console.actions import allows, perform
from console.errors import NotFound, WharfError
from console.hosts.services import host_for, visible_hosts
from console.registries import services as registries

MAX_LIMIT = 100


@dataclass
class HubResult:
    name: str
    description: str
    stars: int
    official: bool
    automated: bool


def hub_search(*, actor, host, term, limit=25, stars=0, official=False):
    """`docker search [--limit N] [-f stars=N] [-f is-official=true] TERM` via a daemon."""
    if not term.strip():
        raise WharfError("Type what to search for.")
    found = perform(
        actor, "image.search", host=host, params={"term": term, "limit": limit},
        run=lambda: _hub(host, term, limit),
    )  # fmt: skip
    return [r for r in found if r.stars >= stars and (r.official or not official)]


def _hub(host, term, limit):
    return [
        HubResult(r.get("name", ""), r.get("description", ""), r.get("star_count", 0),
                  bool(r.get("is_official")), bool(r.get("is_automated")))  # fmt: skip
        for r in gateway.image_search(host, term, limit)
    ]


def _number(text, default, top):
    try:
        return max(0, min(int(text), top))
    except (TypeError, ValueError):
        return default


def search_page(*, actor, params):
    """What the search page shows: the sources the actor may search, and the results
    (or the reason there are none) of the search the parameters ask for."""
    hosts = [h for h in visible_hosts(actor.user) if allows(actor, "image.search", h)]
    usable = registries.usable(actor)
    term = params.get("term", "").strip()[:255]
    source = params.get("source", "")
    context = {
        "hosts": hosts, "registries": usable, "term": term, "source": source,
        "limit": _number(params.get("limit"), 25, MAX_LIMIT) or 25,
        "stars": _number(params.get("stars"), 0, 10**9), "official": params.get("official") == "1",
    }  # fmt: skip
    if not term and not params.get("repository"):
        return context
    if not source:
        context["error"] = "Choose where to search."
        return context
    try:
        if source.startswith("hub@"):
            host = host_for(actor, source.removeprefix("hub@"))
            context["hub"] = hub_search(
                actor=actor, host=host, term=term, limit=context["limit"],
                stars=context["stars"], official=context["official"],
            )  # fmt: skip
        else:
            registry = registries.registry_for(actor, source, "registry.use")
            context["registry"] = registry
            if params.get("repository"):
                context["repository"] = params["repository"]
                context["tags"], context["tags_last"] = registries.registry_tags(
                    actor=actor, registry=registry, repository=params["repository"], last=params.get("last", "")
                )
            else:
                context["catalog"] = registries.registry_search(
                    actor=actor, registry=registry, term=term, limit=context["limit"], last=params.get("last", "")
                )
    except NotFound:  # a registry one may not use looks absent
        raise
    except WharfError as exc:
        context["error"] = str(exc)
    return context
