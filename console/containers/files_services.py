"""`docker cp` both ways and `docker export`: browse a container's files, download a
file or folder, upload files or a tar into a folder, export the whole filesystem.

Docker hands folders over as tar streams (it does so for stopped containers too).
Nothing here holds a payload in memory: listings read tar headers only and skip the
data, downloads and exports pass chunks through, uploads are built as a tar on the fly.
Long transfers run inside `long_action`, opened before the first byte is sent (so a
denial or a missing path is a proper error page) and closed when the stream ends.
"""

import datetime
import posixpath
import stat
import tarfile
import time
from contextlib import closing
from dataclasses import dataclass, field

from console import gateway
from console.actions import long_action, perform
from console.errors import WharfError

MAX_ENTRIES = 2000  # entries listed for one folder
MAX_SCANNED = 200_000  # tar members read to list one folder (its whole subtree goes by)
MAX_SCANNED_BYTES = 512 * 1024 * 1024  # and bytes: the subtree's file data goes by too
CHUNK = 1024 * 1024
TAR_BUFFER = 256 * 1024
BLOCK = tarfile.BLOCKSIZE

# Go's os.FileMode bits, as Docker reports a path's mode
_GO_DIR, _GO_LINK, _GO_DEVICE, _GO_PIPE, _GO_SOCKET = 1 << 31, 1 << 27, 1 << 26, 1 << 25, 1 << 24
_GO_CHARDEV = 1 << 21
_TAR_KIND = {
    tarfile.DIRTYPE: ("folder", stat.S_IFDIR), tarfile.SYMTYPE: ("link", stat.S_IFLNK),
    tarfile.CHRTYPE: ("other", stat.S_IFCHR), tarfile.BLKTYPE: ("other", stat.S_IFBLK),
    tarfile.FIFOTYPE: ("other", stat.S_IFIFO),
}  # fmt: skip


def normalize_path(text):
    """An absolute path in the container, normalized: `/etc/../../x` is `/x`."""
    text = text or "/"
    if "\0" in text:
        raise WharfError("A path cannot contain a NUL character.")
    if not text.startswith("/"):
        raise WharfError(f"Paths in the container are absolute (start with /): {text}")
    return "/" + posixpath.normpath(text).lstrip("/")


@dataclass
class Entry:
    name: str
    path: str
    kind: str  # folder, file, link or other
    size: int
    mode: str  # as `ls -l` shows it: drwxr-xr-x
    mtime: datetime.datetime | None
    link_target: str = ""


@dataclass
class Listing:
    path: str
    this: Entry  # the path itself
    entries: list[Entry] = field(default_factory=list)
    truncated: bool = False


@dataclass
class Download:
    filename: str
    content_type: str
    size: int | None  # None for a folder's tar (Docker does not say in advance)
    chunks: object  # iterator of bytes; iterating it to the end closes the audit entry


# --- reading ---------------------------------------------------------------------


def container_files(*, actor, host, container, path):
    """List a folder of a container (or describe a file): a Listing."""
    path = normalize_path(path)
    return perform(
        actor, "container.files", host=host, target=container, params={"path": path},
        run=lambda: _listing(host, container.id, path),
    )  # fmt: skip


def _listing(host, ref, path):
    found, chunks = gateway.container_archive(host, ref, path)
    with closing(chunks):
        this = _stat_entry(path, found)
        listing = Listing(path=path, this=this)
        if this.kind != "folder":
            return listing
        reader = _ChunkReader(chunks)
        tar = tarfile.open(fileobj=reader, mode="r|", bufsize=TAR_BUFFER)
        top, scanned = None, 0
        while (member := _next(tar)) is not None:
            scanned += 1
            if top is None:  # the folder itself comes first; its name prefixes the others
                top = member.name
                continue
            name = member.name[len(top) :].lstrip("/")
            if name and "/" not in name:
                listing.entries.append(_tar_entry(posixpath.join(path, name), name, member))
            if (
                len(listing.entries) >= MAX_ENTRIES
                or scanned >= MAX_SCANNED
                or reader.read_bytes > MAX_SCANNED_BYTES
            ):
                listing.truncated = _next(tar) is not None
                break
    listing.entries.sort(key=lambda e: (e.kind != "folder", e.name))
    return listing


def _next(tar):
    """The next header of a tar read as a stream; its data is skipped, not kept."""
    try:
        member = tar.next()
    except tarfile.TarError as exc:
        raise WharfError(f"Docker sent an unreadable archive: {exc}") from None
    tar.members.clear()  # a stream-mode TarFile keeps every header otherwise
    return member


def _stat_entry(path, found):
    mode = found.get("mode", 0)
    if mode & _GO_DIR:
        kind, bits = "folder", stat.S_IFDIR
    elif mode & _GO_LINK:
        kind, bits = "link", stat.S_IFLNK
    elif mode & (_GO_DEVICE | _GO_PIPE | _GO_SOCKET):
        kind = "other"
        bits = stat.S_IFIFO if mode & _GO_PIPE else stat.S_IFSOCK if mode & _GO_SOCKET else (
            stat.S_IFCHR if mode & _GO_CHARDEV else stat.S_IFBLK)  # fmt: skip
    else:
        kind, bits = "file", stat.S_IFREG
    mtime = None
    try:
        mtime = datetime.datetime.fromisoformat(found.get("mtime", "")[:19]).replace(tzinfo=datetime.UTC)
    except ValueError:
        pass
    return Entry(
        name=posixpath.basename(path) or "/", path=path, kind=kind, size=found.get("size", 0),
        mode=stat.filemode(bits | (mode & 0o7777)), mtime=mtime, link_target=found.get("linkTarget", ""),
    )  # fmt: skip


def _tar_entry(path, name, member):
    kind, bits = _TAR_KIND.get(member.type, ("file", stat.S_IFREG))
    return Entry(
        name=name, path=path, kind=kind, size=member.size, mode=stat.filemode(bits | member.mode),
        mtime=datetime.datetime.fromtimestamp(member.mtime, datetime.UTC),
        link_target=member.linkname if member.issym() else "",
    )  # fmt: skip


class _ChunkReader:
    """A file-like `read(n)` over an iterator of byte chunks."""

    def __init__(self, chunks):
        self.chunks = iter(chunks)
        self.pending = memoryview(b"")
        self.read_bytes = 0

    def read(self, size=-1):
        while not self.pending:
            chunk = next(self.chunks, None)
            if chunk is None:
                return b""
            self.pending = memoryview(chunk)
        size = len(self.pending) if size is None or size < 0 else size
        data, self.pending = self.pending[:size], self.pending[size:]
        self.read_bytes += len(data)
        return bytes(data)


# --- downloads and export ----------------------------------------------------------


def _started(body):
    """Run a streaming generator up to its first `yield` now (authorization, the audit
    entry, Docker's answer), so that errors come before any response; what it yielded
    and the generator to iterate for the rest."""
    first = next(body)
    return first, body


def container_download(*, actor, host, container, path):
    """A file (its bytes) or a folder (a tar), streamed from the container: a Download."""
    path = normalize_path(path)

    def body():
        params = {"path": path}
        with long_action(actor, "container.download", host=host, target=container, params=params) as progress:
            found, chunks = gateway.container_archive(host, container.id, path)
            with closing(chunks):
                this = _stat_entry(path, found)
                if this.kind == "folder":
                    data = chunks
                    yield Download(
                        f"{this.name if path != '/' else 'root'}.tar", "application/x-tar", None, None
                    )
                elif this.kind == "file":
                    data = _single_file(chunks)
                    yield Download(this.name, "application/octet-stream", this.size, None)
                elif this.kind == "link":
                    raise WharfError(f"{path} is a link to {this.link_target}: download that instead.")
                else:
                    raise WharfError(f"{path} is not a file or a folder.")
                for chunk in data:
                    progress.size += len(chunk)
                    yield chunk

    download, chunks = _started(body())
    download.chunks = chunks
    return download


def _single_file(chunks):
    """The data of the one regular file in a tar stream."""
    tar = tarfile.open(fileobj=_ChunkReader(chunks), mode="r|", bufsize=TAR_BUFFER)
    member = _next(tar)
    if member is None or not member.isreg():
        raise WharfError("Docker did not send a regular file.")
    data = tar.extractfile(member)
    while block := data.read(CHUNK):
        yield block


def container_export(*, actor, host, container):
    """The container's filesystem as a tar: an iterator of chunks (`docker export`)."""

    def body():
        with long_action(actor, "container.export", host=host, target=container) as progress:
            chunks = gateway.container_export(host, container.id)
            with closing(chunks):
                yield None
                for chunk in chunks:
                    progress.size += len(chunk)
                    yield chunk

    _, chunks = _started(body())
    return chunks


# --- uploads -----------------------------------------------------------------------


def container_upload(*, actor, host, container, path, files, extract=False):
    """Put uploaded files into the folder `path` of a container; with `extract`, one
    uploaded tar is unpacked there instead, after its members are checked."""
    path = normalize_path(path)
    params = {
        "path": path, "files": [f.name for f in files], "extract": extract,
        "bytes": sum(f.size for f in files),
    }  # fmt: skip
    with long_action(actor, "container.upload", host=host, target=container, params=params) as progress:
        if extract:
            check_tar(files[0], path)
            chunks = _counted(files[0].chunks(CHUNK), progress)
        else:
            for f in files:
                _check_file_name(f.name)
            chunks = _counted(tar_of(files), progress)
        gateway.container_put_archive(host, container.id, path, chunks)


def _counted(chunks, progress):
    for chunk in chunks:
        progress.size += len(chunk)
        yield chunk


def _check_file_name(name):
    if not name or name in (".", "..") or "/" in name or "\0" in name:
        raise WharfError(f"Not a file name: {name!r}")


def tar_of(files):
    """A tar of uploaded files (each at the top), built as it is read: a header, the
    file's chunks, padding; then the end-of-archive blocks."""
    now = time.time()
    for f in files:
        info = tarfile.TarInfo(f.name)
        info.size, info.mode, info.mtime = f.size, 0o644, now
        yield info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")
        sent = 0
        for chunk in f.chunks(CHUNK):
            sent += len(chunk)
            yield chunk
        if sent != f.size:
            raise WharfError(f"{f.name} changed while it was sent.")
        yield b"\0" * (-f.size % BLOCK)
    yield b"\0" * (2 * BLOCK)


def check_tar(upload, folder):
    """Refuse a tar whose members would land outside `folder`: absolute names, `..`,
    links pointing outside it (or through another link of the archive), device files.
    Reads headers only."""
    upload.seek(0)
    links = set()  # symlinks of this archive, as normalized relative paths
    try:
        with tarfile.open(fileobj=upload, mode="r|*", bufsize=TAR_BUFFER) as tar:
            while (member := _next(tar)) is not None:
                problem = member_problem(member, folder, links)
                if problem:
                    raise WharfError(f"Refused: {problem} (member “{member.name}”). Nothing was extracted.")
                if member.issym():
                    links.add(posixpath.normpath(member.name))
    except tarfile.TarError as exc:
        raise WharfError(f"Not a tar archive: {exc}") from None
    finally:
        upload.seek(0)


def member_problem(member, folder, links=()):
    """Why a tar member may not be extracted into `folder`, or None. `links`: names of
    symlinks that came earlier in the same archive. (Links already in the container are
    Docker's business: it keeps extraction inside the container's root.)"""
    name = member.name
    if name.startswith("/"):
        return "absolute name"
    if ".." in name.split("/"):
        return "“..” in its name"
    if member.isdev():
        return "device file or pipe"
    parts = posixpath.normpath(name).split("/")
    if any("/".join(parts[:i]) in links for i in range(1, len(parts))):
        return "path through a link of the archive"
    if member.islnk():
        target = member.linkname
        if target.startswith("/") or ".." in target.split("/"):
            return f"hard link to {target}, outside the folder"
    if member.issym():
        target = member.linkname
        if target.startswith("/"):
            target = posixpath.normpath(target)
            inside = target == folder or target.startswith(folder.rstrip("/") + "/")
            return None if inside else f"link to {target}, outside the folder"
        resolved = []
        folder_parts = [p for p in posixpath.dirname(posixpath.normpath(name)).split("/") if p]
        for part in folder_parts + target.split("/"):
            if part == "..":
                if not resolved:
                    return f"link to {target}, outside the folder"
                if "/".join(resolved) in links:
                    return "link through another link of the archive"
                resolved.pop()
            elif part not in ("", "."):
                resolved.append(part)
    return None
