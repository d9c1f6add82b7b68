"""Host events (`docker events`), the action host.events: one live subscription per host
shared by every page that watches it (the hub), and the history the daemon still holds.

- The hub starts a host's feed (one `docker events` stream, read in a thread of its own)
  when its first subscriber comes and stops it a while after the last leaves
  (`EVENTS_LINGER_SECONDS`); the feed keeps the host's state for the lists (state.py).
- Each subscriber has a bounded queue; the feed never waits for one. Events that find
  the queue full are counted, and the page is told "N events skipped" (it reloads).
- A host that goes away: its subscribers get a notice, the feed retries, and once the
  host answers again it resubscribes with `since` = the last event's time (nothing is
  missed) and says so.
- What a subscriber receives is filtered for it, in the feed's thread, before it is
  queued: a label-scoped user gets only the events of containers carrying their label,
  and no image/network/volume events; then the page's own filters.

With `REDIS_URL`, one console process reads a host's events and the others get them
through the Redis channel layer (console/streams/relay.py); without it, each process
reads its own.
"""

import json
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlencode

from django.conf import settings

from console import gateway
from console.actions import Target, allows, label_scope, long_action, perform
from console.errors import WharfError
from console.streams.lines import parse_time
from console.streams.relay import relay_for, run_feed
from console.streams.services import complete, time_range
from console.streams.state import HostState

log = logging.getLogger("wharf.events")

QUEUE = 500  # events waiting for one subscriber; past that they are counted, not kept
RETRY_SECONDS = 2  # between attempts to reach a host that went away
HISTORY = 2000  # events one history request shows at most


# --- what a page asks for -----------------------------------------------------------------


@dataclass
class EventFilter:
    """The page's filters (`docker events --filter` type, event, object, label), and
    `since`/`until` (Docker's "seconds.nanoseconds") for history."""

    type: str = ""
    action: str = ""
    object: str = ""  # an id (or its start) or a name
    label: str = ""  # key or key=value
    since: str = ""
    until: str = ""

    @classmethod
    def from_params(cls, params):
        def text(key):
            return (params.get(key) or "").strip()[:128]

        return cls(type=text("type").lower(), action=text("action").lower(), object=text("object"),
                   label=text("label"), **time_range(params))  # fmt: skip

    def matches(self, event):
        if self.type and event["type"] != self.type:
            return False
        if self.action and event["action"].split(":")[0] != self.action:
            return False
        if self.object and not (event["id"].startswith(self.object) or event["name"] == self.object):
            return False
        if self.label:
            key, sep, value = self.label.partition("=")
            labels = event["attributes"]
            if key not in labels or (sep and labels[key] != value):
                return False
        return True

    def params(self):
        return {k: v for k, v in vars(self).items() if v}

    def live_query(self):
        """The filters of a live stream, as its socket's query string."""
        return urlencode({k: v for k, v in self.params().items() if k not in ("since", "until")})


def event_of(raw, host_name):
    """A daemon's event as the pages get it."""
    actor = raw.get("Actor") or {}
    attributes = {str(k): str(v) for k, v in (actor.get("Attributes") or {}).items()}
    nanos = int(raw.get("timeNano") or int(raw.get("time") or 0) * 10**9)
    return {
        "host": host_name,
        "type": raw.get("Type") or "",
        "action": raw.get("Action") or raw.get("status") or "",
        "id": actor.get("ID") or raw.get("id") or "",
        "name": attributes.get("name", ""),
        "time": nanos,
        "at": datetime.fromtimestamp(nanos / 10**9, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:23],
        "attributes": attributes,
    }


def visible_to(pairs):
    """Who may see an event: `pairs` is the actor's label scope for container.view on the
    host (None: the whole host). Container events need one of the labels; other events
    (images, networks, volumes) belong to the host, not to a label."""

    def visible(event):
        if pairs is None:
            return True
        if event["type"] != "container":
            return False
        labels = event["attributes"]  # the container's labels, plus name, image, exitCode
        return any(k not in ("name", "image", "exitCode") and labels.get(k) == v for k, v in pairs)

    return visible


# --- the hub: one feed per host, shared --------------------------------------------------


class Skipped:
    def __init__(self, count):
        self.count = count


class Notice:
    """Said to every subscriber of a feed: the host went away (`up` False) or came back."""

    def __init__(self, text, up):
        self.text, self.up = text, up


class Subscription:
    """One page's share of a feed: a bounded queue filled by the feed's thread."""

    def __init__(self, hub, feed, accept):
        self.hub, self.feed, self.accept = hub, feed, accept
        self.items, self.skipped, self.closed = deque(), 0, False
        self.ready = threading.Condition()

    def offer(self, item):
        """From the feed's thread: never blocks."""
        if not isinstance(item, Notice) and not self.accept(item):
            return
        with self.ready:
            if len(self.items) >= QUEUE:
                self.skipped += 1
            else:
                self.items.append(item)
            self.ready.notify()

    def next(self):
        """The next event, Notice or Skipped (blocks); None once closed."""
        with self.ready:
            while not self.closed and not self.items and not self.skipped:
                self.ready.wait()
            if self.closed:
                return None
            if self.items:
                return self.items.popleft()
            count, self.skipped = self.skipped, 0
            return Skipped(count)

    def close(self):
        """From any thread; never blocks for long. Leaves the feed."""
        with self.ready:
            self.closed = True
            self.ready.notify_all()
        self.hub.leave(self)


class Feed:
    """The `docker events` stream of one host, read in a thread of its own (or, with
    Redis, relayed from the console process that reads it)."""

    def __init__(self, host):
        self.host = host
        self.subscribers = []
        self.left = None  # when the last subscriber left (time.monotonic()), while nobody is subscribed
        self.timed = False  # a timer will look whether to stop it
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.stream = None
        self.relay = None  # while this process reads the events, with Redis
        self.link = None  # this feed's relay (with Redis): reading or following
        self.state = HostState(host)  # what the host holds, for the lists (see state.py), while this process reads it
        # timeNano of the last event passed on; from the start, so that what happens while
        # the stream opens is not missed (a daemon's clock ahead or behind shifts this)
        self.last = time.time_ns()
        self.down = False
        self.streams_opened = 0  # daemon streams this feed has opened (tests, benchmarks)
        self.thread = threading.Thread(target=self._run, daemon=True, name=f"events-{host.name}")

    def _broadcast(self, item, relayed=False):
        with self.lock:
            subscribers = list(self.subscribers)
        for subscription in subscribers:
            subscription.offer(item)
        if self.relay is not None and not relayed:
            self.relay.send({"notice": item.text, "up": item.up} if isinstance(item, Notice) else item)

    def _run(self):
        self.link = relay_for(f"events.{self.host.pk}")
        run_feed(self.link, self.stopping, self._lead, self._relayed, self._lease_lost)

    def _relayed(self, item):
        """An item of this feed read by another console process."""
        if "notice" in item:
            self._broadcast(Notice(item["notice"], item["up"]), relayed=True)
        elif item["time"] > self.last:
            self.last = item["time"]
            self._broadcast(item, relayed=True)

    def _lead(self, relay):
        """Read the daemon's events while this process may (always, without Redis)."""
        self.relay = relay
        try:
            while not self.stopping.is_set() and (relay is None or relay.leading):
                self._read_once()
        finally:
            self.relay = None

    def _lease_lost(self):
        if self.stream is not None:
            self.stream.cancel()

    def _read_once(self):
        since = f"{self.last // 10**9}.{self.last % 10**9:09d}"
        try:
            self.stream = gateway.host_event_stream(self.host, since=since)
        except WharfError as exc:
            if not self.down:
                self._broadcast(Notice(f"Host {self.host.name} went away ({exc}); waiting for it.", up=False))
            self.down = True
            self.stopping.wait(RETRY_SECONDS)
            return
        self.streams_opened += 1
        if self.stopping.is_set():  # stopped while it opened: `stop()` missed this stream
            self.stream.close()
            return
        if self.down:
            self._broadcast(Notice(f"Host {self.host.name} is back; its events go on from where they stopped.", up=True))
            self.down = False
        try:
            self._load_state()
            self._read(self.stream)
        except WharfError:
            pass
        except Exception:
            log.exception("events of host %s", self.host.name)
        finally:
            self.state.lost()
            self.stream.close()
        if not self.stopping.is_set() and (self.relay is None or self.relay.leading):
            self._broadcast(Notice(f"Host {self.host.name} stopped sending events; reconnecting.", up=False))
            self.down = True
            self.stopping.wait(RETRY_SECONDS)

    def _load_state(self):
        """Read the host's state in full, the stream being open (so nothing is missed)."""
        try:
            self.state.load()
        except WharfError as exc:
            log.info("host %s: state not read (%s); the lists ask the daemon", self.host.name, exc)

    def _read(self, stream):
        rest = b""
        while data := stream.read():
            *lines, rest = (rest + data).split(b"\n")
            events = []
            for line in lines:
                if not line.strip():
                    continue
                event = event_of(json.loads(line), self.host.name)
                if event["time"] <= self.last:  # passed on before a resubscription
                    continue
                self.last = event["time"]
                events.append(event)
            self.state.apply(events)  # first: a page told of an event reads the new state
            for event in events:
                self._broadcast(event)

    def stop(self):
        self.stopping.set()
        self.state.lost(closed=True)
        if self.stream is not None:
            self.stream.cancel()


class Hub:
    """The feeds of this process, by host: started by the first subscriber, stopped
    `EVENTS_LINGER_SECONDS` after the last one left (unless another came meanwhile), so
    that going from page to page does not read a host's state in full each time."""

    def __init__(self):
        self.feeds = {}
        self.lock = threading.Lock()

    def join(self, host, accept, subscription=Subscription):
        """A new `subscription(hub, feed, accept)` to the host's feed (a Subscription
        queues what `accept` keeps; another kind may pass it on instead)."""
        with self.lock:
            feed = self.feeds.get(host.pk)
            start = feed is None
            if start:
                feed = self.feeds[host.pk] = Feed(host)
            subscription = subscription(self, feed, accept)
            with feed.lock:
                feed.subscribers.append(subscription)
                feed.left = None
        if start:
            feed.thread.start()
        return subscription

    def leave(self, subscription):
        feed = subscription.feed
        with feed.lock:
            if subscription in feed.subscribers:
                feed.subscribers.remove(subscription)
            if feed.subscribers:
                return
            feed.left = time.monotonic()
            timed, feed.timed = feed.timed, True  # one timer at a time per feed
        if not timed:
            self._expire(feed)

    def _expire(self, feed):
        """Stop the feed once nobody has joined it for `EVENTS_LINGER_SECONDS` since it
        was left; until then, look again when that time has come."""
        with self.lock:
            with feed.lock:
                if feed.left is None:  # someone joined meanwhile
                    feed.timed = False
                    return
                wait = feed.left + settings.EVENTS_LINGER_SECONDS - time.monotonic()
                if wait <= 0:
                    feed.timed = False
                    if self.feeds.get(feed.host.pk) is feed:
                        del self.feeds[feed.host.pk]
        if wait > 0:
            timer = threading.Timer(wait, self._expire, (feed,))
            timer.daemon = True
            timer.start()
        else:
            feed.stop()

    def streams(self):
        """How many `docker events` streams this process has open (one per host watched)."""
        with self.lock:
            return len(self.feeds)


hub = Hub()


# --- sessions (a websocket) and history (HTTP) -------------------------------------------


def live_sockets(actor, hosts, query=""):
    """The events sockets a page opens (space-separated): one per host whose events the
    actor may see; the socket filters each event for the actor."""
    return " ".join(f"/ws/hosts/{h.name}/events/?{query}" for h in hosts if allows(actor, "host.events", h))


class EventSession:
    """One page's live events: a long action, open while the socket is."""

    def __init__(self, action, progress, subscription):
        self.action, self.progress, self.subscription = action, progress, subscription

    def next(self):
        return self.subscription.next()

    def close(self):
        self.subscription.close()

    def finish(self, count, size, note, failure=None):
        self.subscription.close()
        complete(self.action, self.progress, size, f"{count} events sent; {note}", failure)


def open_events(*, actor, host, filters):
    """Authorize (recorded either way) and join the host's feed."""
    action = long_action(actor, "host.events", host=host, target=Target(host.pk, host.name), params=filters.params())
    progress = action.__enter__()
    visible = visible_to(label_scope(actor, "container.view", host))
    subscription = hub.join(host, lambda event: visible(event) and filters.matches(event))
    return EventSession(action, progress, subscription)


def event_history(*, actor, host, filters):
    """The events the daemon still holds between `since` and `until` (now if not given)
    that the actor may see and the filters keep: (events, newest first; more were left)."""
    visible = visible_to(label_scope(actor, "container.view", host))

    def read():
        until = filters.until or parse_time("0s")
        stream = gateway.host_event_stream(host, since=filters.since or "0", until=until)
        events, rest = [], b""
        try:
            while data := stream.read():
                *lines, rest = (rest + data).split(b"\n")
                events += [event_of(json.loads(line), host.name) for line in lines if line.strip()]
        finally:
            stream.close()
        if rest.strip():
            events.append(event_of(json.loads(rest), host.name))
        kept = [e for e in events if visible(e) and filters.matches(e)]
        return kept[::-1][:HISTORY], len(kept) > HISTORY

    return perform(actor, "host.events", host=host, target=Target(host.pk, host.name), params=filters.params(), run=read)
