"""Values written the way the docker CLI writes them, so that a page and the command
agree character for character (tests/test_parity_*.py compare them)."""

import json
import re
from datetime import datetime

_ESCAPES = {"\a": r"\a", "\b": r"\b", "\f": r"\f", "\n": r"\n", "\r": r"\r", "\t": r"\t", "\v": r"\v"}


def quoted(text):
    """Go's `strconv.Quote`, which `docker ps` applies to a command: in double quotes,
    with `"` and `\\` escaped and unprintable characters written as escapes."""
    if text.isprintable() and '"' not in text and "\\" not in text:
        return f'"{text}"'
    out = ['"']
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif char.isprintable():
            out.append(char)
        elif char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif ord(char) < 0x80:
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) < 0x10000:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    out.append('"')
    return "".join(out)


def command(path, args):
    """A container's command as the Engine's list writes it (`Command`): the path, then
    the arguments, each one holding a space put in single quotes."""
    return " ".join([path or "", *(f"'{a}'" if " " in a else a for a in args or ())]).strip()


def ps_command(text, width=None):
    """The COMMAND column of `docker ps` (`--no-trunc` when `width` is None): the Engine's
    `Command`, cut to `width` characters with an ellipsis, then quoted."""
    if width is not None and len(text) > width:
        text = text[: width - 1] + "…"
    return quoted(text)


def container_command(attrs):
    """The command of a container's `docker inspect` as `docker ps --no-trunc` shows it."""
    return ps_command(command(attrs.get("Path"), attrs.get("Args")))


def argv(path, args):
    """The exact argument vector as a JSON array: unambiguous where quoting is not."""
    return json.dumps([path or "", *(args or ())], ensure_ascii=False)


def duration(seconds):
    """go-units `HumanDuration`: how `docker ps` and `docker images` say a span of time."""
    if seconds < 1:
        return "Less than a second"
    if seconds < 60:
        return "1 second" if int(seconds) == 1 else f"{int(seconds)} seconds"
    minutes, hours = int(seconds // 60), int(seconds / 3600 + 0.5)
    if minutes < 60:
        return "About a minute" if minutes == 1 else f"{minutes} minutes"
    for limit, text in (
        (2, "About an hour"), (48, f"{hours} hours"), (24 * 7 * 2, f"{hours // 24} days"),
        (24 * 30 * 2, f"{hours // 24 // 7} weeks"), (24 * 365 * 2, f"{hours // 24 // 30} months"),
    ):  # fmt: skip
        if hours < limit:
            return text
    return f"{int(seconds // 3600) // 24 // 365} years"


def since(seconds):
    """CREATED of `docker ps` and `docker images`."""
    return f"{duration(seconds)} ago"


def docker_seconds(text):
    """A Docker timestamp ("2024-05-01T10:00:00.123456789Z") as Unix seconds; None for
    Go's zero time ("0001-01-01T00:00:00Z", never) or what does not parse."""
    if not text or text.startswith("0001-"):
        return None
    match = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", text)
    if not match:
        return None
    zone = "+00:00" if match[3] == "Z" else match[3]
    return datetime.fromisoformat(match[1] + zone).timestamp() + float(f"0.{match[2] or 0}")


def status_parts(state):
    """STATUS of `docker ps` from a container's `docker inspect` State, as the daemon's
    own `State.String()` writes it when its list is asked, in three parts: (text before,
    since when (Unix seconds; None: the text is all), text after). The middle is the
    time since then, in words: see `status_text`."""
    started, finished = docker_seconds(state.get("StartedAt")), docker_seconds(state.get("FinishedAt"))
    code = state.get("ExitCode", 0)
    if state.get("Running"):
        if state.get("Paused"):
            return "Up ", started or 0.0, " (Paused)"
        if state.get("Restarting"):
            return f"Restarting ({code}) ", finished or 0.0, " ago"
        health = (state.get("Health") or {}).get("Status")
        if health:
            return "Up ", started or 0.0, f" ({'health: starting' if health == 'starting' else health})"
        return "Up ", started or 0.0, ""
    if state.get("Status") == "removing":
        return "Removal In Progress", None, ""
    if state.get("Dead"):
        return "Dead", None, ""
    if started is None:
        return "Created", None, ""
    if finished is None:
        return "", None, ""
    return f"Exited ({code}) ", finished, " ago"


def status_text(parts, now):
    """The STATUS of `status_parts` at `now` (Unix seconds): "Up 3 minutes (healthy)"."""
    before, since, after = parts
    return before if since is None else f"{before}{duration(now - since)}{after}"


def container_status(state, now):
    """STATUS of `docker ps` from an inspect State at `now` (see `status_parts`)."""
    return status_text(status_parts(state), now)


def _scaled(size, base, units):
    size, unit = float(size), 0
    while size >= base and unit < len(units) - 1:
        size /= base
        unit += 1
    return size, units[unit]


def size(n, precision=3):
    """SIZE of `docker images` (go-units `HumanSizeWithPrecision(n, 3)`): 1.98MB."""
    value, unit = _scaled(n, 1000.0, ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"))
    return f"{value:.{precision}g}{unit}"


def memory(n):
    """Total Memory of `docker info` (go-units `BytesSize`): 23.54GiB."""
    value, unit = _scaled(n, 1024.0, ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"))
    return f"{value:.4g}{unit}"
