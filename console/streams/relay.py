"""Fan-out across console processes when `REDIS_URL` is set.

A shared feed (a host's `docker events`) is read from the daemon by ONE console
process: the one holding the feed's lease in Redis (a key with an expiry, renewed while
it reads). It passes each item to its own subscribers and sends it to the feed's group
on the Redis channel layer. Every other process with subscribers to that feed is a member
of the group and passes what arrives to its own; every LEASE/3 seconds it tries the
lease, so when the reader stops (its last subscriber left, or the process died) another
takes over and reads on from the last item it saw (nothing is missed).

Without Redis (`relay_for` gives None) each process reads its own feeds.
"""

import asyncio
import logging
import uuid

from channels.layers import channel_layers
from django.conf import settings

log = logging.getLogger("wharf.streams")

LEASE_SECONDS = 6

# Renew the lease only if it is still ours; give it up the same way.
_RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


def relay_for(name):
    """The relay of the feed `name` (e.g. "events.12"), or None without Redis."""
    if not settings.REDIS_URL:
        return None
    return Relay(name)


class Relay:
    """One process's end of a feed's relay; used by the feed's own thread only."""

    def __init__(self, name):
        import redis  # noqa: PLC0415 - only with REDIS_URL (channels_redis brings it)

        self.group, self.key = f"wharf.{name}", f"wharf:lease:{name}"
        self.token = uuid.uuid4().hex
        self.redis = redis.Redis.from_url(settings.REDIS_URL)
        self.loop = asyncio.new_event_loop()  # this thread's: the layer's connections live on it
        self.layer = channel_layers.make_backend("default")  # its own, not shared with other loops
        self.leading = False
        self.following = False  # a member of the group (tests wait for it)

    def _run(self, coroutine):
        return self.loop.run_until_complete(coroutine)

    # --- the reader ---

    def lead(self):
        """Take the lease if it is free: True when this process reads the feed now."""
        self.leading = bool(self.redis.set(self.key, self.token, nx=True, px=LEASE_SECONDS * 1000))
        return self.leading

    def keep(self, stopped, lost):
        """While reading (in a thread of its own): renew the lease until `stopped` is
        set; if it is lost (Redis unreachable past the lease), call `lost()`."""
        while not stopped.wait(LEASE_SECONDS / 3):
            try:
                kept = self.redis.eval(_RENEW, 1, self.key, self.token, LEASE_SECONDS * 1000)
            except Exception:  # noqa: BLE001 - a Redis hiccup: try again before the lease ends
                log.warning("could not renew the lease of %s", self.key, exc_info=True)
                continue
            if not kept:
                self.leading = False
                lost()
                return

    def send(self, item):
        try:
            self._run(self.layer.group_send(self.group, {"type": "relay.item", "item": item}))
        except Exception:  # noqa: BLE001 - the other processes miss it; this one goes on
            log.warning("could not relay an item of %s", self.group, exc_info=True)

    def release(self):
        if self.leading:
            self.leading = False
            try:
                self.redis.eval(_RELEASE, 1, self.key, self.token)
            except Exception:  # noqa: BLE001 - it expires by itself
                log.warning("could not release the lease of %s", self.key, exc_info=True)

    # --- the others ---

    def follow(self, stopping, deliver):
        """Pass the group's items to `deliver` until `stopping` is set (False) or the lease
        is free and taken (True: read the feed now). A layer of its own: its pending
        receive is cancelled at the end, which leaves its connection unusable."""
        layer = channel_layers.make_backend("default")
        channel = self._run(layer.new_channel())
        self._run(layer.group_add(self.group, channel))
        self.following = True
        receiving = self.loop.create_task(layer.receive(channel))
        try:
            while not stopping.is_set():
                if self.lead():
                    return True
                deadline = self.loop.time() + LEASE_SECONDS / 3
                while not stopping.is_set() and self.loop.time() < deadline:
                    self._run(asyncio.wait({receiving}, timeout=0.5))
                    if receiving.done():
                        deliver(receiving.result()["item"])
                        receiving = self.loop.create_task(layer.receive(channel))
            return False
        finally:
            self.following = False
            receiving.cancel()
            self._run(asyncio.gather(receiving, return_exceptions=True))
            try:
                self._run(layer.group_discard(self.group, channel))
                self._run(layer.close_pools())
            except Exception:  # noqa: BLE001 - the group forgets it after its expiry
                log.debug("leaving the group %s", self.group, exc_info=True)

    def close(self):
        self.release()
        try:
            self._run(self.layer.close_pools())
        except Exception:  # noqa: BLE001 - closing anyway
            log.debug("closing the relay of %s", self.group, exc_info=True)
        self.loop.close()
        self.redis.close()
