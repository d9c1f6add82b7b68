"""What a host holds (its containers and images), kept current by the host's events, so
that the lists need not ask the daemon while the events are live.

- A host's events feed (console/streams/events.py) keeps one `HostState`: read in full
  once the feed's stream is open (on the first subscription and after every gap), then
  brought up to date by each batch of events BEFORE the events are passed on to the
  pages: a page that reloads its list on an event reads the new state.
- An event does not carry everything a list shows, so the state asks the daemon again
  about what changed: the container of a container event (its summary as the Engine's
  list gives it, and its inspect State, from which the time-derived status text, "Up 3
  minutes (healthy)", is computed when the list is read, as the daemon computes it); the
  image list (and the containers' image names, which follow tags) on an image event. A
  batch naming many containers re-reads the whole list in one call.
- While the stream is down, or a re-read failed, the state is not live and the lists
  ask the daemon (`containers_of_hosts`, `images_of_hosts` fall back by themselves).
"""

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from console import cli, gateway
from console.errors import DockerNotFound, WharfError

log = logging.getLogger("wharf.events")

_inspecting = ThreadPoolExecutor(max_workers=4, thread_name_prefix="host-state")
# Container events after which a container's list line is unchanged.
UNCHANGED = frozenset((
    "attach", "detach", "resize", "top", "export", "copy", "archive-path", "extract-to-dir",
    "exec_create", "exec_start", "exec_die", "exec_detach", "commit", "prune",
))  # fmt: skip
IMAGE_UNCHANGED = frozenset(("push", "save", "prune"))  # image events that change no list
ONE_BY_ONE = 8  # a batch naming more containers than this re-reads the whole list
TIMED = frozenset(("running", "paused", "restarting", "exited"))  # states whose status tells a time
RUNNING = frozenset(("running", "paused", "restarting"))  # what `docker ps` without -a shows

_live = {}  # host pk -> its HostState, while live
_live_lock = threading.Lock()


def live(host):
    """The host's state if its events are live and it is current, else None."""
    state = _live.get(host.pk)
    return state if state is not None and state.host.url == host.url else None


class HostState:
    def __init__(self, host):
        self.host = host
        self.lock = threading.Lock()
        self.summaries = {}  # container id -> the Engine's list summary
        self.states = {}  # container id -> its status text's parts (cli.status_parts), for TIMED states
        self.images = []  # the Engine's image summaries, intermediate images included
        self.closed = False  # the feed stopped: never live again

    # --- kept current, from the feed's thread ---

    def load(self):
        """Read everything (raises WharfError); then the state is live."""
        summaries = {c["Id"]: c for c in gateway.containers_of(self.host, stopped=True)}
        states = self._states([i for i, c in summaries.items() if c.get("State") in TIMED])
        summaries = {i: c for i, c in summaries.items() if c.get("State") not in TIMED or i in states}  # gone meanwhile
        images = gateway.images_of(self.host, intermediate=True)
        with self.lock:
            self.summaries, self.states, self.images = summaries, states, images
        with _live_lock:
            if not self.closed:
                _live[self.host.pk] = self

    def lost(self, closed=False):
        """The stream is down (or the state could not be kept): the lists ask the daemon.
        `closed`: the feed stopped, and a load still under way must not make it live."""
        with _live_lock:
            self.closed |= closed
            if _live.get(self.host.pk) is self:
                del _live[self.host.pk]

    def apply(self, events):
        """Bring the state up to date with a batch of events (the pages' form of them)."""
        touched, gone, images = set(), set(), False
        for event in events:
            action = event["action"].split(":")[0]
            if event["type"] == "container" and event["id"]:
                if action == "destroy":
                    gone.add(event["id"])
                elif action not in UNCHANGED:
                    touched.add(event["id"])
                images |= action == "commit"  # a commit may make an untagged image: no image event
            elif event["type"] == "image" and action not in IMAGE_UNCHANGED:
                images = True
            elif event["type"] == "network" and event["attributes"].get("container"):
                touched.add(event["attributes"]["container"])
        if not (touched or gone or images):
            return
        try:
            if _live.get(self.host.pk) is not self:  # an earlier re-read failed: start again
                self.load()
                return
            touched -= gone
            if images or len(touched) > ONE_BY_ONE:
                self._reread(touched, gone, images)
            else:
                self._forget(gone)
                for container_id in touched:
                    self._refresh(container_id)
        except WharfError as exc:
            log.info("host %s: state not kept (%s); the lists ask the daemon", self.host.name, exc)
            self.lost()

    def _forget(self, ids):
        with self.lock:
            for container_id in ids:
                self.summaries.pop(container_id, None)
                self.states.pop(container_id, None)

    def _refresh(self, container_id):
        found = gateway.containers_of(self.host, stopped=True, filters={"id": [container_id]})
        summary = next((c for c in found if c["Id"] == container_id), None)
        state = self._states([container_id]) if summary and summary.get("State") in TIMED else {}
        if summary is None or (summary.get("State") in TIMED and container_id not in state):
            self._forget([container_id])  # removed meanwhile
            return
        with self.lock:
            self.summaries[container_id] = summary
            self.states.pop(container_id, None)
            self.states.update(state)

    def _reread(self, touched, gone, images):
        summaries = {c["Id"]: c for c in gateway.containers_of(self.host, stopped=True)}
        with self.lock:
            known = {i: s for i, s in self.states.items() if i not in touched and i not in gone}
            before = {i: c.get("State") for i, c in self.summaries.items()}
        ask = [i for i, c in summaries.items() if c.get("State") in TIMED and (i not in known or before.get(i) != c["State"])]
        states = {i: s for i, s in known.items() if i in summaries and summaries[i].get("State") in TIMED}
        states.update(self._states(ask))
        summaries = {i: c for i, c in summaries.items() if c.get("State") not in TIMED or i in states}
        found = gateway.images_of(self.host, intermediate=True) if images else None
        with self.lock:
            self.summaries, self.states = summaries, states
            if found is not None:
                self.images = found

    def _states(self, ids):
        """{id: its status text's parts} of these containers, from their inspect State
        (asked a few at a time); one removed meanwhile is left out."""

        def state(container_id):
            try:
                attrs = gateway.container_inspect(self.host, container_id)
                return container_id, cli.status_parts(attrs.get("State") or {})
            except DockerNotFound:
                return container_id, None

        return {i: s for i, s in _inspecting.map(state, ids) if s is not None}

    # --- read, from any thread ---

    def containers(self, *, stopped, filters):
        """The Engine's answer to `docker ps` (`-a` with `stopped`) with these filters
        (status, label), newest first, the status text as of now; None for a filter the
        state cannot apply (then the daemon is asked)."""
        if set(filters) - {"status", "label"}:
            return None
        states, labels = filters.get("status"), [v.partition("=") for v in filters.get("label", ())]
        now = time.time()
        with self.lock:
            summaries, times = list(self.summaries.values()), dict(self.states)
        out = []
        for c in summaries:
            if states is not None:
                if c.get("State") not in states:
                    continue
            elif not stopped and c.get("State") not in RUNNING:
                continue
            if labels:
                have = c.get("Labels") or {}
                if not all(k in have and (not sep or have[k] == v) for k, sep, v in labels):
                    continue
            if c["Id"] in times:
                c = dict(c, Status=cli.status_text(times[c["Id"]], now))
            out.append(c)
        out.sort(key=lambda c: c.get("Created") or 0, reverse=True)
        return out

    def image_summaries(self, *, intermediate):
        """The Engine's answer to `docker images` (`-a` with `intermediate`): without it,
        an untagged image that is the parent of another is left out, as the daemon does."""
        with self.lock:
            images = self.images
        if intermediate:
            return images
        parents = {i.get("ParentId") for i in images}
        return [i for i in images if i["Id"] not in parents or _tagged(i)]

    def containers_by_image(self):
        """How many containers (any state) each image id has."""
        counts = {}
        with self.lock:
            summaries = list(self.summaries.values())
        for c in summaries:
            counts[c.get("ImageID", "")] = counts.get(c.get("ImageID", ""), 0) + 1
        return counts


def _tagged(image):
    return any(t != "<none>:<none>" for t in image.get("RepoTags") or ()) or any(
        d != "<none>@<none>" for d in image.get("RepoDigests") or ()
    )


# --- the lists: from the state where live, else from the daemon ---


def containers_of_hosts(queries):
    """`gateway.containers_of_hosts`, answered from the hosts' states where they are live."""
    listings, asked = {}, {}
    for host, kwargs in queries.items():
        state = live(host)
        found = state.containers(**kwargs) if state else None
        if found is None:
            asked[host] = kwargs
        else:
            listings[host.pk] = gateway.ContainerListing(found)
    if asked:
        listings.update(gateway.containers_of_hosts(asked))
    return listings


def _of_hosts(hosts, from_state, from_daemon):
    answers, asked = {}, []
    for host in hosts:
        state = live(host)
        if state is None:
            asked.append(host)
        else:
            answers[host.pk] = from_state(state)
    if asked:
        answers.update(gateway.gather(asked, from_daemon))
    return answers


def images_of_hosts(hosts, *, intermediate=False):
    """{host pk: the Engine's image summaries, or the WharfError of asking}."""
    return _of_hosts(
        hosts, lambda s: s.image_summaries(intermediate=intermediate),
        lambda h: gateway.images_of(h, intermediate=intermediate),
    )  # fmt: skip


def containers_by_image(hosts):
    """{host pk: {image id: how many containers use it}, or the WharfError of asking}."""
    return _of_hosts(hosts, HostState.containers_by_image, gateway.containers_by_image)
