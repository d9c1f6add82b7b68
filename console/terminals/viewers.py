"""Who is attached to which container, in this console process (several daphne
processes each know only their own viewers). Called on the event loop; each viewer is
told the names of all of them, in the order they came, whenever one comes or goes."""

_attached: dict = {}  # (host pk, container id) -> {consumer: user name}


def join(key, consumer, name):
    _attached.setdefault(key, {})[consumer] = name
    _tell(key)


def leave(key, consumer):
    found = _attached.get(key, {})
    if found.pop(consumer, None) is not None:
        _tell(key)
    if not found:
        _attached.pop(key, None)


def names(key):
    return list((_attached.get(key) or {}).values())


def _tell(key):
    current = names(key)
    for consumer in list(_attached.get(key) or {}):
        consumer.loop.call_soon_threadsafe(consumer.viewers_changed, current)
