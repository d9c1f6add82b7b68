"""Values written the way the docker CLI writes them, so that a page and the command
agree character for character (tests/test_parity_*.py compare them)."""

import json

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


def since(seconds):
    """CREATED of `docker ps` and `docker images` (go-units `HumanDuration` + " ago")."""
    if seconds < 1:
        return "Less than a second ago"
    if seconds < 60:
        return "1 second ago" if int(seconds) == 1 else f"{int(seconds)} seconds ago"
    minutes, hours = int(seconds // 60), int(seconds / 3600 + 0.5)
    if minutes < 60:
        return "About a minute ago" if minutes == 1 else f"{minutes} minutes ago"
    for limit, text in (
        (2, "About an hour"), (48, f"{hours} hours"), (24 * 7 * 2, f"{hours // 24} days"),
        (24 * 30 * 2, f"{hours // 24 // 7} weeks"), (24 * 365 * 2, f"{hours // 24 // 30} months"),
    ):  # fmt: skip
        if hours < limit:
            return f"{text} ago"
    return f"{int(seconds // 3600) // 24 // 365} years ago"


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
