"""Image selectors (`docker images`); image actions come with the images work."""

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

from console import cli
from console.actions import allows, authorize, carries_one, label_scope, require
from console.errors import WharfError
from console.streams import state


@dataclass(slots=True)
class ImageRow:
    host: object
    id: str
    repository: str
    tag: str
    created: int
    size: int
    short_id: str = ""
    containers: int | None = None  # how many containers use the image (None: unknown)

    @property
    def created_at(self):
        return datetime.fromtimestamp(self.created, UTC)

    @property
    def created_since(self):
        return cli.since(time.time() - self.created)

    @property
    def size_text(self):
        return cli.size(self.size)

    @property
    def reference(self):
        """What `docker rmi` or `docker save` is given for the row: repository:tag, else the id."""
        return self.id if self.tag == "<none>" else f"{self.repository}:{self.tag}"


@dataclass
class ImageList:
    rows: list = field(default_factory=list)
    notices: list = field(default_factory=list)  # (host, why its images are missing)


def _rows(host, summary, containers):
    """One row per repository and tag, as `docker images` writes them: a repository the
    image keeps only a registry digest of (its tag moved to a newer image) is
    `repository:<none>`; an image with neither tag nor digest is `<none>:<none>`."""
    image_id, created, size = summary["Id"], summary.get("Created", 0), summary.get("Size", 0)
    tags, digests = summary.get("RepoTags") or (), summary.get("RepoDigests") or ()
    short = image_id.removeprefix("sha256:")[:12]
    if len(tags) == 1 and not digests and tags[0] != "<none>:<none>":  # the usual image: one tag
        repository, _, tag = tags[0].rpartition(":")
        return [ImageRow(host, image_id, repository, tag, created, size, short, containers)]
    names = {}  # repository -> its tags, in Docker's order
    for ref in tags:
        if ref != "<none>:<none>":
            repository, _, tag = ref.rpartition(":")
            names.setdefault(repository, []).append(tag)
    for ref in digests:
        if ref != "<none>@<none>":
            names.setdefault(ref.partition("@")[0], ["<none>"])
    pairs = [(repository, tag) for repository, listed in names.items() for tag in listed]
    return [ImageRow(host, image_id, r, t, created, size, short, containers) for r, t in pairs or [("<none>", "<none>")]]


_counter = ThreadPoolExecutor(max_workers=4, thread_name_prefix="image-usage")


def _count_in_scope(actor, hosts, counts):
    """A label-scoped user counts only the containers they may see: those of others
    are absent, not counted (the containers of the host's answer, carrying a label)."""
    scoped = {h: pairs for h in hosts if (pairs := label_scope(actor, "container.view", h)) is not None}
    if not scoped:
        return
    listings = state.containers_of_hosts({h: {"stopped": True, "filters": {}} for h in scoped})
    for host, pairs in scoped.items():
        listing = listings[host.pk]
        if listing.error:
            counts[host.pk] = WharfError(listing.error)
            continue
        seen = (c for c in listing.containers if carries_one(c.get("Labels") or {}, pairs))
        counts[host.pk] = Counter(c.get("ImageID", "") for c in seen)


def image_list(*, actor, hosts, intermediate=False, reference="", containers=False):
    """The images of the hosts the actor may see images on (from the state the hosts'
    events keep where they are live, else asked in parallel); with `containers`, each
    row says how many containers use its image."""
    allowed = [h for h in hosts if allows(actor, "image.view", h)]
    if hosts and not allowed:
        authorize(actor, "image.view", host=hosts[0])  # records the refusal, raises
    for host in allowed:
        require(actor, "image.view", host=host)  # on the record when AUDIT_READS asks
    result = ImageList()
    asking = containers and not all(state.live(h) for h in allowed)  # then the daemons are asked
    counting = _counter.submit(state.containers_by_image, allowed) if asking else None  # meanwhile
    answers = state.images_of_hosts(allowed, intermediate=intermediate)
    counts = counting.result() if asking else state.containers_by_image(allowed) if containers else {}
    if containers:
        _count_in_scope(actor, allowed, counts)
    for host in allowed:
        answer = answers[host.pk]
        if isinstance(answer, WharfError):
            result.notices.append((host, str(answer)))
            continue
        used = counts.get(host.pk)
        known = containers and not isinstance(used, WharfError)
        for summary in answer:
            rows = _rows(host, summary, used.get(summary["Id"], 0) if known else None)
            if reference:
                rows = [r for r in rows if reference in f"{r.repository}:{r.tag}"]
            result.rows.extend(rows)
    result.rows.sort(key=lambda r: (-r.created, r.repository, r.tag, r.host.name))
    return result
