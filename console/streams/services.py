"""Container logs (`docker logs -t [-f] [--tail] [--since] [--until]`), the action
container.logs: a live stream (for the websocket), a bounded range of lines and a
download (for HTTP). Streams and downloads are long actions, recorded when they open
and completed when they close with duration, lines and bytes; a range is a read.

Whoever may not see a host or container is told exactly what they would be told if it
did not exist, and the attempt is recorded either way.
"""

from contextlib import closing
from dataclasses import asdict, dataclass

from console import gateway
from console.actions import Target, allows, authorize, long_action, perform, visible_hosts
from console.containers.services import ContainerQuery, container_list, container_target
from console.errors import InvalidInput, WharfError
from console.hosts.models import Host
from console.hosts.services import host_for
from console.params import whole_number
from console.streams.lines import TIMESTAMP, LineReader, docker_seconds, parse_time

DEFAULT_TAIL = 1000
MAX_RANGE = 5000  # lines one range request returns
DOWNLOAD_BLOCK = 256 * 1024


@dataclass
class LogOptions:
    """What to read, from the page's query string. `after`/`seen` resume a stream: the
    last timestamp the page has, and how many lines of that very timestamp it has."""

    follow: bool = True
    tail: int | None = DEFAULT_TAIL  # None: the whole log
    since: str = ""  # Docker's "seconds.nanoseconds"
    until: str = ""
    after: str = ""
    seen: int = 0

    @classmethod
    def from_params(cls, params, follow=True):
        def text(key):
            return (params.get(key) or "").strip()[:64]

        tail = text("tail").lower()
        if tail in ("", "all"):
            tail = None if tail == "all" else DEFAULT_TAIL
        elif (tail := whole_number(tail)) is None:
            raise InvalidInput("Tail is a number of lines, or “all”.", field="tail")
        times = time_range(params)
        options = cls(follow=follow and text("follow") not in ("0", "off", "false"), tail=tail, **times)
        after, seen = text("after"), whole_number(text("seen"))
        if after:  # resuming: everything from the last line seen on, not the tail
            if not TIMESTAMP.fullmatch(after) or seen is None:
                raise InvalidInput("Not a log position.", field="after")
            options.after, options.seen, options.tail = after, seen, None
            options.since = docker_seconds(after)
        return options

    def audit_params(self):
        return {k: v for k, v in asdict(self).items() if v not in ("", None, 0) or k == "follow"}


def time_range(params):
    """`since` and `until` as people type them (see `parse_time`), in Docker's form;
    InvalidInput naming the field otherwise."""
    times = {}
    for key in ("since", "until"):
        try:
            times[key] = parse_time((params.get(key) or "").strip()[:64])
        except ValueError as exc:
            raise InvalidInput(str(exc), field=key) from None
    return times


def _drop_seen(lines, after, count):
    """Lines the page already has: the first `count` of those stamped `after`."""
    dropped = 0
    while dropped < count and dropped < len(lines) and lines[dropped][0] == after:
        dropped += 1
    return lines[dropped:], count - dropped if dropped == len(lines) else 0


# --- who may read which container ---------------------------------------------------------


def stream_host(actor, code, host_name, ref=""):
    """The host of a stream (logs, events, stats) the actor may see (see `host_for`: a
    hidden one looks missing). An anonymous request is refused and recorded as such."""
    if actor.user is None:
        authorize(actor, code, host=Host.named(host_name), target=Target(ref, ref) if ref else None)
    return host_for(actor, host_name)


# --- the live stream ---------------------------------------------------------------------


class LogSession:
    """One open stream (a long action whose entry stays open until `finish`)."""

    def __init__(self, host, target, options, action, progress, stream):
        self.host, self.target, self.options = host, target, options
        self.action, self.progress, self.stream = action, progress, stream

    def batches(self):
        """(lines, bytes read) as Docker's bytes come; ends with the stream."""
        reader, after, unseen = LineReader(self.stream.tty), self.options.after, self.options.seen
        while data := self.stream.read():
            lines = reader.feed(data)
            if unseen:
                lines, unseen = _drop_seen(lines, after, unseen)
            if lines:
                yield lines, len(data)
        if lines := reader.finish():
            yield lines, 0

    def end_notice(self):
        """Why the stream ended by itself: the container stopped, or the log was read."""
        if not self.options.follow:
            return "End of the log."
        try:
            state = gateway.container_inspect(self.host, self.target.id).get("State") or {}
        except WharfError as exc:
            return f"The stream ended: {exc}"
        if state.get("Running"):
            return "The log stream ended (the daemon closed it)."
        return f"Container {self.target.name} stopped (exit code {state.get('ExitCode')}) at {state.get('FinishedAt', '')[:19]}."

    def close(self):
        """Ends `batches()` from another thread (never blocks)."""
        self.stream.cancel()

    def finish(self, lines, size, note, failure=None):
        """Complete the audit entry: duration, lines and bytes sent, how it ended."""
        self.stream.close()
        complete(self.action, self.progress, size, f"{lines} lines sent; {note}", failure)


def complete(action, progress, size, note, failure=None):
    """Complete the entry of a long action a stream opened with `__enter__()` (it stays
    open as long as the socket): bytes sent, how it ended, and the failure if any."""
    progress.size, progress.note = size, note[:4000]
    if failure is None:
        action.__exit__(None, None, None)
    else:
        action.__exit__(type(failure), failure, failure.__traceback__)


def open_logs(*, actor, host, ref, options):
    """Authorize and open a log stream: a LogSession. Refusals are recorded and raised:
    NotFound or DockerNotFound for a host or container that is absent or hidden,
    ActionDenied otherwise."""
    target = container_target(actor, host, ref, "container.logs")  # hidden looks missing
    action = long_action(actor, "container.logs", host=host, target=target, params=options.audit_params())
    progress = action.__enter__()
    try:
        stream = gateway.container_log_stream(
            host, target.id, follow=options.follow, tail=options.tail, since=options.since, until=options.until
        )
    except BaseException as exc:
        action.__exit__(type(exc), exc, exc.__traceback__)
        raise
    return LogSession(host, target, options, action, progress, stream)


# --- HTTP: a range of lines, a download ---------------------------------------------------


def log_range(*, actor, host, target, options):
    """At most MAX_RANGE lines (as the stream sends them) and whether there were more."""

    def read():
        lines = []
        stream = gateway.container_log_stream(
            host, target.id, follow=False, tail=options.tail, since=options.since, until=options.until
        )
        with closing(stream):
            reader = LineReader(stream.tty)
            while len(lines) <= MAX_RANGE and (data := stream.read()):
                lines.extend(reader.feed(data))
            lines.extend(reader.finish())
        return lines[:MAX_RANGE], len(lines) > MAX_RANGE

    return perform(actor, "container.logs", host=host, target=target, params=options.audit_params(), run=read)


def log_download(*, actor, host, target, options, timestamps):
    """The log as text, a block at a time (a long action, completed when it ends).
    stderr lines are marked "stderr: " at their start, as the page marks them."""

    def text(lines):
        return "".join(
            f"{stamp + ' ' if timestamps else ''}{'stderr: ' if err else ''}{line}\n" for stamp, err, line in lines
        ).encode()

    def body():
        params = {**options.audit_params(), "download": True, "timestamps": timestamps}
        with long_action(actor, "container.logs", host=host, target=target, params=params) as progress:
            stream = gateway.container_log_stream(
                host, target.id, follow=False, tail=options.tail, since=options.since, until=options.until
            )
            with closing(stream):
                yield None  # authorized and open: the response can start
                reader, block, count = LineReader(stream.tty), [], 0
                while True:
                    data = stream.read()
                    lines = reader.feed(data) if data else reader.finish()
                    block.append(text(lines))
                    count += len(lines)
                    if not data or sum(map(len, block)) >= DOWNLOAD_BLOCK:
                        chunk = b"".join(block)
                        progress.size += len(chunk)
                        progress.note = f"{count} lines"
                        block = []
                        yield chunk
                    if not data:
                        break

    chunks = body()
    next(chunks)
    return chunks


# --- several containers at once ------------------------------------------------------------

MAX_SOURCES = 50  # containers one merged view follows


@dataclass
class Source:
    """One container of a merged log view, and the socket that streams it."""

    host: str
    id: str
    name: str

    @property
    def socket_path(self):
        return f"/ws/hosts/{self.host}/containers/{self.id}/logs/"


def merged_sources(*, actor, picks=(), label=""):
    """The containers whose logs a merged view follows: `picks` ("host/container", from a
    list's selection) and every container carrying `label` ("key" or "key=value") on the
    hosts the actor may see. Only those the actor may read the logs of; (sources,
    notices). A pick the actor may not see is told like a missing one."""
    sources, notices = [], []
    for pick in dict.fromkeys(picks):  # in order, once each
        host_name, _, ref = pick.partition("/")
        try:
            host = host_for(actor, host_name)
            target = container_target(actor, host, ref, "container.logs")
            authorize(actor, "container.logs", host=host, target=target)
        except WharfError as exc:
            notices.append(f"{pick}: {exc}")
            continue
        sources.append(Source(host.name, target.id, target.name))
    if label:
        sources += _labelled(actor, label, notices)
    if len(sources) > MAX_SOURCES:
        notices.append(f"Only the first {MAX_SOURCES} of {len(sources)} containers are followed.")
    return list({(s.host, s.id): s for s in sources}.values())[:MAX_SOURCES], notices


def _labelled(actor, label, notices):
    if not label.partition("=")[0].strip():
        raise InvalidInput("A label is key or key=value.", field="label")
    query = ContainerQuery(all=True, label=label.strip(), sort="name")
    listing = container_list(actor=actor, hosts=visible_hosts(actor.user), query=query)
    notices += [f"{host.name}: {error}" for host, error in listing.notices]
    return [
        Source(row.host.name, row.id, row.name)
        for row in listing.rows
        if allows(actor, "container.logs", row.host, Target(row.id, row.name, row.labels))
    ]
