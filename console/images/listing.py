"""The image list as a page shows it (`docker images` and more): on top of
`services.image_list` (each row with how many containers use its image), the dangling
filter, the sort order, and the ids only view (`docker images -q`)."""

from dataclasses import dataclass, fields

from console.images import services

SORTS = {
    "repository": lambda r: (r.repository, r.tag), "tag": lambda r: (r.tag, r.repository),
    "created": lambda r: r.created, "size": lambda r: r.size,
    "containers": lambda r: r.containers or 0, "host": lambda r: (r.host.name, r.repository, r.tag),
}  # fmt: skip


@dataclass
class ImageQuery:
    """What the list shows, as the URL says it (every field is a query parameter)."""

    reference: str = ""
    all: bool = False  # intermediate images too (-a)
    no_trunc: bool = False  # full ids
    dangling: bool = False  # untagged images only (-f dangling=true)
    host: str = ""  # across hosts: only this one
    sort: str = "-created"
    quiet: bool = False  # the image ids only, to copy (-q)

    @classmethod
    def from_params(cls, params):
        sort = params.get("sort", "")
        return cls(
            reference=params.get("reference", "").strip()[:255],
            all=params.get("all") == "1", no_trunc=params.get("no_trunc") == "1",
            dangling=params.get("dangling") == "1", host=params.get("host", "").strip(),
            sort=sort if sort.lstrip("-") in SORTS else "-created", quiet=params.get("quiet") == "1",
        )  # fmt: skip

    def params(self, **changes):
        """Query parameters of this list with some changed (for links)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)} | changes
        return {
            k: ("1" if v is True else v) for k, v in values.items()
            if v and not (k == "sort" and v == "-created")
        }  # fmt: skip


def image_table(*, actor, hosts, query):
    """`services.image_list` for the query, each row with `containers` (how many
    containers use its image), filtered and sorted."""
    listing = services.image_list(
        actor=actor, hosts=hosts, intermediate=query.all, reference=query.reference, containers=True
    )
    if query.dangling:
        listing.rows = [r for r in listing.rows if r.repository == "<none>" and r.tag == "<none>"]
    key = query.sort.lstrip("-")
    listing.rows.sort(key=SORTS[key], reverse=query.sort.startswith("-"))
    return listing


def image_ids(listing, *, no_trunc=False):
    """`docker images -q` of each host, for the rows of the list in their order:
    [(host, its ids, one a line)]. Like the CLI, an image with several tags is written
    once per tag; `--no-trunc` writes the whole id (sha256:...)."""
    hosts = {}
    for row in listing.rows:
        hosts.setdefault(row.host.name, (row.host, []))[1].append(row.id if no_trunc else row.short_id)
    return [(host, "\n".join(ids)) for host, ids in hosts.values()]
