"""Container stats (`docker stats`), the action container.stats: ONE Engine stats stream
per container per host in this process (a feed, read in a thread of its own), shared by
every page that watches that container, started by the first and stopped when the last
leaves.

- The Engine sends a sample a second (empty ones while the container is stopped, and the
  same stream goes on when it starts again) and ends the stream when the container is
  removed. Each sample becomes the CLI's figures (console/streams/usage.py) once, in the
  feed's thread.
- A page's share is a `Watch`: the LATEST item of each container it watches, never a
  queue. A slow page skips samples and gets the newest; the feed never waits for it.
- A host that does not answer (or a stuck daemon, whose stream times out): the feed says
  so to its watchers and tries again every RETRY_SECONDS; once the host is back the
  samples go on. A stuck daemon stalls its own feeds' threads, nothing else.
- A host's table (`docker stats` without arguments): the running containers the user may
  see, then each container that starts (the host's shared events feed,
  console/streams/events.py, tells); a container that stops leaves the table.

With `REDIS_URL`, one console process reads a container's stats and the others get them
through the Redis channel layer, as the events (console/streams/relay.py).
"""

import logging
import threading
from dataclasses import asdict
from functools import partial

from console import gateway
from console.actions import Target, carries_one, label_scope, long_action
from console.containers.services import container_target
from console.errors import DockerNotFound, WharfError
from console.streams import events
from console.streams.lines import json_lines
from console.streams.relay import relay_for, run_feed
from console.streams.services import complete
from console.streams.usage import Usage, usage_of

log = logging.getLogger("wharf.stats")

RETRY_SECONDS = 2
CHECK_STOPPED = 10  # samples of a stopped container between two checks that it still exists


class Down:
    """The host did not answer: the feed retries."""

    def __init__(self, text):
        self.text = text


class Removed:
    """The container no longer exists: its feed has ended."""

    def __init__(self, text):
        self.text = text


# --- the hub: one feed per container, shared ------------------------------------------------


class Watch:
    """One page's share of the feeds it watches: the latest item (a Usage, Down or
    Removed) of each container, by id; `next()` takes them all at once."""

    def __init__(self):
        self.latest, self.closed = {}, False
        self.ready = threading.Condition()

    def offer(self, container_id, item):
        """From a feed's thread: never blocks; replaces what the page has not taken."""
        with self.ready:
            self.latest[container_id] = item
            self.ready.notify()

    def next(self):
        """{container id: latest item} (blocks until there is one); None once closed."""
        with self.ready:
            while not self.closed and not self.latest:
                self.ready.wait()
            if self.closed:
                return None
            taken, self.latest = self.latest, {}
            return taken

    def close(self):
        with self.ready:
            self.closed = True
            self.ready.notify_all()


class Feed:
    """The Engine's stats stream of one container, read in a thread of its own."""

    def __init__(self, host, container_id):
        self.host, self.container_id = host, container_id
        self.watchers, self.latest = set(), None
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.stream = None
        self.relay = None  # while this process reads the stream, with Redis
        self.link = None  # this feed's relay (with Redis): reading or following
        self.thread = threading.Thread(target=self._run, daemon=True, name=f"stats-{host.name}-{container_id[:12]}")

    def _broadcast(self, item, relayed=False):
        with self.lock:
            self.latest = item
            watchers = list(self.watchers)
        for watch in watchers:
            watch.offer(self.container_id, item)
        if self.relay is not None and not relayed:
            self.relay.send({type(item).__name__: asdict(item) if isinstance(item, Usage) else item.text})

    def _run(self):
        self.link = relay_for(f"stats.{self.host.pk}.{self.container_id}")
        run_feed(self.link, self.stopping, self._lead, self._relayed, self._lease_lost)

    def _relayed(self, item):
        """An item of this feed read by another console process."""
        if "Usage" in item:
            self._broadcast(Usage(**item["Usage"]), relayed=True)
        elif "Down" in item:
            self._broadcast(Down(item["Down"]), relayed=True)
        else:
            self._broadcast(Removed(item["Removed"]), relayed=True)
            self.stopping.set()  # the reading process has ended its feed: so does this one

    def _lease_lost(self):
        if self.stream is not None:
            self.stream.cancel()

    def _lead(self, relay):
        """Read the Engine's stream while this process may (always, without Redis); True
        once the container is gone."""
        self.relay, down = relay, False
        try:
            while not self.stopping.is_set() and (relay is None or relay.leading):
                try:
                    self.stream = gateway.container_stats_stream(self.host, self.container_id)
                except DockerNotFound:
                    self._broadcast(Removed(f"The container was removed from host {self.host.name}."))
                    return True
                except WharfError as exc:
                    if not down:
                        self._broadcast(Down(f"{exc}; trying again every {RETRY_SECONDS} s."))
                    down = True
                    self.stopping.wait(RETRY_SECONDS)
                    continue
                down = False
                if self._read(self.stream):
                    return True
        finally:
            self.relay = None
        return False

    def _read(self, stream):
        """Pass the stream's samples on until it ends; True once the container is gone."""
        if self.stopping.is_set():  # stopped while it opened: `stop()` missed this stream
            stream.close()
            return True
        samples, idle = 0, 0
        try:
            for raw in json_lines(stream):
                samples += 1
                usage = usage_of(raw)
                self._broadcast(usage)
                # the Engine streams empty samples for a container removed as the
                # stream opened: a stopped one's existence is checked now and then
                idle = 0 if usage.running else idle + 1
                if idle % CHECK_STOPPED == 1 and self._removed():
                    return True
        except WharfError:  # cut or silent: opened again, unless the container is gone
            pass
        except Exception:
            log.exception("stats of %s on host %s", self.container_id, self.host.name)
        finally:
            stream.close()
        if self.stopping.is_set() or self._removed():
            return True
        if not samples:  # an open that gives nothing: not again at once
            self.stopping.wait(RETRY_SECONDS)
        return False

    def _removed(self):
        """Says so if the container no longer exists (a daemon may miss a stream's end)."""
        try:
            gateway.container_inspect(self.host, self.container_id)
        except DockerNotFound:
            self._broadcast(Removed(f"The container was removed from host {self.host.name}."))
            return True
        except WharfError:
            pass  # the host: opening the stream again tells
        return False

    def stop(self):
        self.stopping.set()
        if self.stream is not None:
            self.stream.cancel()


class Hub:
    """The feeds of this process, by (host, container)."""

    def __init__(self):
        self.feeds = {}
        self.lock = threading.Lock()

    def join(self, host, container_id, watch):
        """Watch a container: its feed starts if it is the first watcher; the watch gets
        the feed's latest item at once."""
        key = (host.pk, container_id)
        with self.lock:
            feed = self.feeds.get(key)
            start = feed is None
            if start:
                feed = self.feeds[key] = Feed(host, container_id)
            with feed.lock:
                feed.watchers.add(watch)
                if feed.latest is not None:
                    watch.offer(container_id, feed.latest)
        if start:
            feed.thread.start()

    def leave(self, host, container_id, watch):
        key = (host.pk, container_id)
        with self.lock:
            feed = self.feeds.get(key)
            if feed is None:
                return
            with feed.lock:
                feed.watchers.discard(watch)
                last = not feed.watchers
            if last:
                del self.feeds[key]
        if last:
            feed.stop()

    def streams(self):
        """How many Engine stats streams this process keeps (one per container watched)."""
        with self.lock:
            return len(self.feeds)


hub = Hub()


# --- sessions: a container's page, a host's table ------------------------------------------


class StatsSession:
    """One socket's stats: a long action, open while the socket is. `next()` gives a
    message: {"t": "stats", "rows": [usage], "down": [{id, text}], "gone": [{id, text}]}
    with the latest of each container watched; `ended` says why a container page's
    stream is over (its container was removed)."""

    def __init__(self, host, action, progress, table):
        self.host, self.action, self.progress, self.table = host, action, progress, table
        self.watch, self.watched, self.ended = Watch(), set(), ""
        self.starts = None  # a table's share of the host's events feed
        self.lock = threading.Lock()  # joins and leaves of this session, one at a time

    def add(self, container_id):
        """From the socket's thread or the events feed's; never blocks for long."""
        with self.lock:
            if not self.watch.closed and container_id not in self.watched:
                self.watched.add(container_id)
                hub.join(self.host, container_id, self.watch)

    def drop(self, container_id):
        with self.lock:
            self.watched.discard(container_id)
            hub.leave(self.host, container_id, self.watch)

    def next(self):
        taken = self.watch.next()
        if taken is None:
            return None
        message = {"t": "stats", "rows": [], "down": [], "gone": []}
        for container_id, item in taken.items():
            if isinstance(item, Down):
                message["down"].append({"id": container_id, "text": item.text})
            elif isinstance(item, Removed):
                message["gone"].append({"id": container_id, "text": item.text})
                self.drop(container_id)
                self.ended = self.ended or ("" if self.table else item.text)
            elif self.table and not item.running:  # `docker stats` shows running containers
                message["gone"].append({"id": container_id, "text": "stopped"})
                self.drop(container_id)
            else:
                message["rows"].append({**item.message(), "id": container_id})
        return message

    def close(self):
        """From any thread; never blocks for long."""
        if self.starts is not None:
            self.starts.close()
        self.watch.close()
        with self.lock:
            for container_id in self.watched:
                hub.leave(self.host, container_id, self.watch)
            self.watched = set()

    def finish(self, count, size, note, failure=None):
        self.close()
        complete(self.action, self.progress, size, f"{count} updates sent; {note}", failure)


def _opened(actor, host, target, table):
    action = long_action(actor, "container.stats", host=host, target=target)
    return StatsSession(host, action, progress=action.__enter__(), table=table)


def open_container_stats(*, actor, host, ref):
    """Authorize (recorded either way: a container the actor may not see is answered as
    a missing one) and watch one container: `docker stats CONTAINER`."""
    target = container_target(actor, host, ref, "container.stats")
    session = _opened(actor, host, target, table=False)
    session.add(target.id)
    return session


class _Starts(events.Subscription):
    """The host's events feed, passing the containers that start (and that the user may
    see) to a table; nothing is queued."""

    def __init__(self, hub, feed, accept, session):
        super().__init__(hub, feed, accept)
        self.session = session

    def offer(self, item):
        if isinstance(item, dict) and item["action"] == "start" and self.accept(item):
            self.session.add(item["id"])


def open_host_stats(*, actor, host):
    """Authorize and watch the running containers of a host that the actor may see
    (`docker stats`): those running now and those that start later."""
    pairs = label_scope(actor, "container.stats", host)
    # the target stands for the containers shown: one of the actor's labels if scoped
    target = Target(name="(running containers)", labels=dict(pairs[:1] if pairs else []))
    session = _opened(actor, host, target, table=True)
    visible = events.visible_to(pairs)
    try:
        # the events first, then the list: a container starting in between is in either
        session.starts = events.hub.join(host, lambda e: e["type"] == "container" and visible(e),
                                         subscription=partial(_Starts, session=session))  # fmt: skip
        running = gateway.containers_of(host)
    except BaseException as exc:
        session.close()
        session.action.__exit__(type(exc), exc, exc.__traceback__)
        raise
    for summary in running:
        if pairs is None or carries_one(summary.get("Labels") or {}, pairs):
            session.add(summary["Id"])
    return session
