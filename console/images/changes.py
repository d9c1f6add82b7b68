"""Changing images: `docker tag`, untag, `rmi` (one or many), `image prune`, `save`,
`load` and `import`, each through the action layer.

Transfers never hold an image in memory: a save streams Docker's tar to the browser
block by block; a load or an import reads the upload (spooled to a temporary file by
Django) in blocks while sending it to the daemon.
"""

import re
from contextlib import closing
from dataclasses import dataclass, field

from console import cli, gateway
from console.actions import Target, authorize, long_action, perform, require
from console.containers.services import each_selected
from console.errors import WharfError
from console.images.detail import image_target, short

CHUNK = 1024 * 1024


# --- tags and removal --------------------------------------------------------------


def image_tag(*, actor, host, ref, repository, tag):
    """`docker tag REF repository:tag`."""
    return perform(
        actor, "image.tag", host=host, target=image_target(ref),
        params={"repository": repository, "tag": tag or "latest"},
        run=lambda: gateway.image_tag(host, ref, repository, tag or "latest"),
    )  # fmt: skip


def image_untag(*, actor, host, reference):
    """Remove one tag (`docker rmi repository:tag`): the image itself goes too when it
    was its last tag and no container uses it, as with the CLI."""
    if ":" not in reference.rpartition("/")[2]:
        raise WharfError(f"{reference} is not repository:tag.")
    return perform(
        actor, "image.untag", host=host, target=image_target(reference),
        run=lambda: gateway.image_remove(host, reference),
    )  # fmt: skip


def image_remove(*, actor, host, ref, force=False, no_prune=False):
    """`docker rmi [-f] [--no-prune] REF`; Docker's list of untagged and deleted layers.
    An image in use is refused with the names of the containers using it."""

    def remove():
        try:
            return gateway.image_remove(host, ref, force=force, no_prune=no_prune)
        except WharfError as exc:
            if "used by a container" not in str(exc):
                raise
            users = ", ".join(_users(host, ref)) or "a container"
            raise type(exc)(f"{exc} (used by {users})") from None

    return perform(
        actor, "image.remove", host=host, target=image_target(ref),
        params={"force": force, "no_prune": no_prune}, run=remove,
    )  # fmt: skip


def _users(host, ref):
    try:
        image_id = gateway.image_inspect(host, ref)["Id"]
        return [(c.get("Names") or ["/"])[0].lstrip("/") for c in gateway.image_users(host, image_id)]
    except WharfError:
        return []


def image_remove_many(*, actor, selection, force=False, no_prune=False):
    """`docker rmi` of many images (`selection`: (host name, reference) pairs), each its
    own action and audit entry; an Outcome for each."""

    def act(host, ref, outcome):
        return _removed_text(image_remove(actor=actor, host=host, ref=ref, force=force, no_prune=no_prune))

    return each_selected(actor, selection, act)


def _removed_text(done):
    untagged = [d["Untagged"] for d in done or () if "Untagged" in d]
    deleted = [short(d["Deleted"]) for d in done or () if "Deleted" in d]
    parts = [f"untagged {', '.join(untagged)}"] if untagged else []
    parts += [f"deleted {len(deleted)} layer{'s' * (len(deleted) != 1)}"] if deleted else []
    return "; ".join(parts) or "removed"


# --- prune ------------------------------------------------------------------------------


@dataclass
class PruneCandidate:
    id: str
    tags: list
    size: int
    created: int

    @property
    def short_id(self):
        return short(self.id)

    @property
    def size_text(self):
        return cli.size(self.size)


@dataclass
class PruneResult:
    removed: list = field(default_factory=list)  # PruneCandidate
    failed: list = field(default_factory=list)  # (PruneCandidate, reason)
    skipped: list = field(default_factory=list)  # confirmed ids no longer candidates

    @property
    def freed_text(self):
        return cli.size(sum(c.size for c in self.removed))


def _prune_target():
    return Target(name="unused images")


def _candidates(host, unused):
    """The images `docker image prune` would remove: dangling ones, or (with `unused`,
    like `-a`) every image no container uses."""
    if unused:
        used = gateway.containers_by_image(host)
        found = [i for i in gateway.images_of(host) if not used.get(i["Id"])]
    else:
        found = gateway.images_of(host, filters={"dangling": True})
    return {
        i["Id"]: PruneCandidate(i["Id"], [t for t in i.get("RepoTags") or () if t != "<none>:<none>"],
                                i.get("Size", 0), i.get("Created", 0))  # fmt: skip
        for i in found
    }


def prune_candidates(*, actor, host, unused=False):
    """For the confirmation page (refused to those who may not prune): the images and
    the space they take."""
    require(actor, "image.prune", host, _prune_target())
    return sorted(_candidates(host, unused).values(), key=lambda c: -c.size)


def image_prune(*, actor, host, ids, unused=False):
    """Remove the images the person confirmed (by id) that are still candidates now:
    never one they were not shown, never one a container started using since."""
    authorize(actor, "image.prune", host=host, target=_prune_target())
    candidates = _candidates(host, unused)
    result = PruneResult(skipped=[i for i in ids if i not in candidates])
    confirmed = [candidates[i] for i in dict.fromkeys(ids) if i in candidates]

    def run():
        for image in confirmed:
            try:  # an unused image may have several tags: force removes them all
                gateway.image_remove(host, image.id, force=unused)
                result.removed.append(image)
            except WharfError as exc:
                result.failed.append((image, str(exc)))
        return result

    return perform(
        actor, "image.prune", host=host, target=_prune_target(),
        params={"unused": unused, "images": [c.tags[0] if c.tags else c.short_id for c in confirmed]},
        run=run,
    )  # fmt: skip


# --- save, load, import --------------------------------------------------------------


def save_filename(refs):
    if len(refs) != 1:
        return "images.tar"
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", refs[0]).strip("_.") + ".tar"


def image_save(*, actor, host, refs):
    """`docker save REF...`: an iterator of tar blocks (its audit entry ends with it)."""
    if not refs:
        raise WharfError("Choose at least one image to save.")

    def body():
        target = Target(id=refs[0], name=", ".join(refs)[:255])
        with long_action(actor, "image.save", host=host, target=target, params={"images": refs}) as progress:
            chunks = gateway.image_save(host, refs)
            with closing(chunks):
                yield None
                for chunk in chunks:
                    progress.size += len(chunk)
                    yield chunk

    chunks = body()
    next(chunks)  # authorized, audited and Docker answered: errors come before the response
    return chunks


def file_blocks(upload):
    """An uploaded file (spooled to disk by Django) read in blocks."""
    upload.seek(0)
    while block := upload.read(CHUNK):
        yield block


def _counted(chunks, progress):
    for chunk in chunks:
        progress.size += len(chunk)
        yield chunk


def image_load(*, actor, host, name, size, chunks):
    """`docker load`: a tar (blocks of an upload, sent on as they come) into the daemon;
    the names Docker reports ("busybox:latest", or an id)."""
    params = {"file": name, "bytes": size}
    with long_action(actor, "image.load", host=host, target=Target(name=name), params=params) as progress:
        messages = gateway.image_load(host, _counted(chunks, progress))
        loaded = [m.split(": ", 1)[1] for m in messages if m.startswith("Loaded image")]
        progress.note = "loaded " + ", ".join(loaded) if loaded else ""
        return loaded


def image_import(*, actor, host, repository, tag, changes=(), message="", upload=None, url=""):
    """`docker import FILE|URL repository:tag`: the new image's id."""
    if bool(upload) == bool(url):
        raise WharfError("Give either a file or a URL to import.")
    name = f"{repository}:{tag or 'latest'}" if repository else "(untagged)"
    params = {"source": url or upload.name, "repository": repository, "tag": tag,
              "changes": list(changes), "message": message}  # fmt: skip
    with long_action(actor, "image.import", host=host, target=Target(name=name), params=params) as progress:
        chunks = _counted(file_blocks(upload), progress) if upload else None
        image_id = gateway.image_import(
            host, chunks=chunks, url=url, repository=repository, tag=tag, changes=changes, message=message
        )
        progress.note = image_id
        return image_id
