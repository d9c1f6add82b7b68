"""Image selectors (`docker images`); image actions come with the images work."""

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from console import cli
from console.actions import allows, authorize, require
from console.errors import WharfError
from console.streams import state


@dataclass
class ImageRow:
    host: object
    id: str
    repository: str
    tag: str
    created: int
    size: int

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
    def short_id(self):
        return self.id.removeprefix("sha256:")[:12]


@dataclass
class ImageList:
    rows: list = field(default_factory=list)
    notices: list = field(default_factory=list)  # (host, why its images are missing)


def _rows(host, summary):
    """One row per repository and tag, as `docker images` writes them: a repository the
    image keeps only a registry digest of (its tag moved to a newer image) is
    `repository:<none>`; an image with neither tag nor digest is `<none>:<none>`."""
    tags = {}  # repository -> its tags, in Docker's order
    for ref in summary.get("RepoTags") or ():
        if ref != "<none>:<none>":
            repository, _, tag = ref.rpartition(":")
            tags.setdefault(repository, []).append(tag)
    for ref in summary.get("RepoDigests") or ():
        if ref != "<none>@<none>":
            tags.setdefault(ref.partition("@")[0], ["<none>"])
    pairs = [(repository, tag) for repository, names in tags.items() for tag in names]
    for repository, tag in pairs or [("<none>", "<none>")]:
        yield ImageRow(host, summary["Id"], repository, tag, summary.get("Created", 0), summary.get("Size", 0))


def image_list(*, actor, hosts, intermediate=False, reference=""):
    """The images of the hosts the actor may see images on, asked in parallel."""
    allowed = [h for h in hosts if allows(actor, "image.view", h)]
    if hosts and not allowed:
        authorize(actor, "image.view", host=hosts[0])  # records the refusal, raises
    for host in allowed:
        require(actor, "image.view", host=host)  # on the record when AUDIT_READS asks
    result = ImageList()
    answers = state.images_of_hosts(allowed, intermediate=intermediate)  # events-fed where live
    for host in allowed:
        answer = answers[host.pk]
        if isinstance(answer, WharfError):
            result.notices.append((host, str(answer)))
            continue
        for summary in answer:
            result.rows.extend(r for r in _rows(host, summary) if reference in f"{r.repository}:{r.tag}")
    result.rows.sort(key=lambda r: (-r.created, r.repository, r.tag, r.host.name))
    return result
