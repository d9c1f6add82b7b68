"""One image (`docker image inspect`, `docker history`) and what may be done to it."""

import json
import time
from dataclasses import dataclass

from console import cli, gateway
from console.actions import Target, allows, perform
from console.containers.services import docker_time

ACTIONS = ("image.tag", "image.untag", "image.remove", "image.save", "image.push")
CREATED_BY_WIDTH = 45  # `docker history` cuts CREATED BY to this, unless --no-trunc


def short(image_id):
    return image_id.removeprefix("sha256:")[:12]


@dataclass
class Layer:
    """A row of `docker history`."""

    id: str
    created: int
    created_by: str
    size: int
    comment: str
    tags: list

    @property
    def created_since(self):
        return cli.since(time.time() - self.created) if self.created else "N/A"

    @property
    def size_text(self):
        return cli.size(self.size)

    def created_by_text(self, width=None):
        text = self.created_by.replace("\t", " ")
        return text[: width - 1] + "…" if width and len(text) > width else text

    @property
    def short_created_by(self):
        return self.created_by_text(CREATED_BY_WIDTH)

    @property
    def short_id(self):
        return short(self.id) if self.id.startswith("sha256:") else self.id


@dataclass
class ImageDetail:
    host: object
    attrs: dict
    users: list  # (id, name, state) of the containers made from it
    permitted: set

    @property
    def id(self):
        return self.attrs["Id"]

    @property
    def short_id(self):
        return short(self.id)

    @property
    def name(self):
        return (self.attrs.get("RepoTags") or [self.short_id])[0]

    @property
    def tags(self):
        return self.attrs.get("RepoTags") or []

    @property
    def digests(self):
        return self.attrs.get("RepoDigests") or []

    @property
    def config(self):
        return self.attrs.get("Config") or {}

    @property
    def created(self):
        return docker_time(self.attrs.get("Created", ""))

    @property
    def size_text(self):
        return cli.size(self.attrs.get("Size", 0))

    @property
    def platform(self):
        variant = self.attrs.get("Variant")
        return "/".join(p for p in (self.attrs.get("Os"), self.attrs.get("Architecture"), variant) if p)

    @property
    def env(self):
        return self.config.get("Env") or []

    @property
    def exposed_ports(self):
        return sorted(self.config.get("ExposedPorts") or {})

    @property
    def labels(self):
        return sorted((self.config.get("Labels") or {}).items())

    @property
    def cmd(self):
        return json.dumps(self.config.get("Cmd")) if self.config.get("Cmd") is not None else ""

    @property
    def entrypoint(self):
        return json.dumps(self.config.get("Entrypoint")) if self.config.get("Entrypoint") else ""

    @property
    def inspect_json(self):
        return json.dumps(self.attrs, indent=2, sort_keys=True)


def image_target(ref):
    return Target(id=ref, name=ref)


def image_detail(*, actor, host, ref):
    """`docker image inspect` of one image and the containers using it, as image.view."""

    def read():
        attrs = gateway.image_inspect(host, ref)
        users = [
            (c["Id"], (c.get("Names") or ["/"])[0].lstrip("/"), c.get("State", ""))
            for c in gateway.image_users(host, attrs["Id"])
        ]
        return attrs, users

    attrs, users = perform(actor, "image.view", host=host, target=image_target(ref), run=read)
    target = Target(id=attrs["Id"], name=ref)
    permitted = {code for code in ACTIONS if allows(actor, code, host, target)}
    return ImageDetail(host, attrs, users, permitted)


def image_history(*, actor, host, ref):
    """`docker history`: the image's layers, newest first."""
    rows = perform(
        actor, "image.view", host=host, target=image_target(ref),
        run=lambda: gateway.image_history(host, ref),
    )  # fmt: skip
    return [
        Layer(r.get("Id", ""), r.get("Created", 0), r.get("CreatedBy", ""), r.get("Size", 0),
              r.get("Comment", ""), r.get("Tags") or [])  # fmt: skip
        for r in rows
    ]
