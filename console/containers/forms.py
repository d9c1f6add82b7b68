"""Forms for running, committing and the file browser: they parse and check what a
person typed, and turn it into what the services take (a RunSpec, commit arguments)."""

import ipaddress
import posixpath
import re
import shlex

from django import forms
from django.conf import settings

from console.containers.run_services import (
    DETACHED,
    INTERACTIVE,
    ONESHOT,
    PortSpec,
    RunSpec,
    VolumeSpec,
)
from console.containers.services import CONTAINER_NAME
from console.params import whole_number

# distribution/reference's grammar: [domain[:port]/]path[:tag][@digest]
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*(?::[0-9]+)?"
_NAME = rf"(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
IMAGE_REFERENCE = re.compile(rf"^{_NAME}(?::{_TAG})?(?:@{_DIGEST})?$")
IMAGE_ID = re.compile(r"^(?:sha256:)?[0-9a-f]{12,64}$")
REPOSITORY_TAG = re.compile(rf"^(?P<repository>{_NAME})(?::(?P<tag>{_TAG}))?$")
VOLUME_NAME = CONTAINER_NAME
ENV_KEY = re.compile(r"^[^=\s]+$")
CAPABILITY = re.compile(r"^(?:CAP_)?[A-Z_]+$")
MEMORY = re.compile(r"^(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?$", re.IGNORECASE)
MIN_MEMORY = 6 * 1024 * 1024  # Docker's own minimum
COMMIT_INSTRUCTIONS = ("CMD", "ENTRYPOINT", "ENV", "EXPOSE", "LABEL", "ONBUILD", "USER", "VOLUME", "WORKDIR")

TEXTAREA = {"rows": 2, "spellcheck": "false", "autocapitalize": "off"}


def valid_image_reference(text):
    return len(text) <= 255 and bool(IMAGE_REFERENCE.match(text) or IMAGE_ID.match(text))


def _lines(text):
    """Non-empty lines, without comments (# …)."""
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if line and not line.startswith("#"):
            yield number, line


def _words(text):
    return [w for w in re.split(r"[\s,]+", text.strip()) if w]


def _absolute(path, what):
    if not path.startswith("/"):
        raise forms.ValidationError(f"{what} must be an absolute path: {path}")
    return posixpath.normpath(path)


def parse_pairs(text, what):
    """KEY=VALUE lines; a malformed line is an error that names it."""
    pairs = []
    for number, line in _lines(text):
        key, equals, value = line.partition("=")
        if not equals or not ENV_KEY.match(key):
            raise forms.ValidationError(f"line {number}: “{line}” is not KEY=VALUE ({what})")
        pairs.append((key, value))
    return pairs


def parse_port(text):
    """[host ip:][host port:]container port[/protocol], e.g. 127.0.0.1:8080:80/tcp."""
    rest, _, protocol = text.partition("/")
    protocol = protocol.lower() or "tcp"
    if protocol not in ("tcp", "udp", "sctp"):
        raise forms.ValidationError(f"“{text}”: the protocol is tcp, udp or sctp")
    host_ip = ""
    if rest.startswith("["):  # [IPv6]:host:container
        host_ip, _, rest = rest[1:].partition("]")
        rest = rest.removeprefix(":")
    parts = rest.split(":")
    if not host_ip and len(parts) == 3:
        host_ip = parts.pop(0)
    numbers = [whole_number(p) for p in parts]  # None: empty, or not a number
    if len(parts) > 2 or any(p and whole_number(p) is None for p in parts) or numbers[-1] is None:
        raise forms.ValidationError(f"“{text}” is not [host ip:][host port:]container port[/protocol]")
    if host_ip:
        try:
            ipaddress.ip_address(host_ip)
        except ValueError:
            raise forms.ValidationError(f"“{text}”: {host_ip} is not an IP address") from None
    if any(n is not None and not 1 <= n <= 65535 for n in numbers):
        raise forms.ValidationError(f"“{text}”: ports go from 1 to 65535")
    host_port = numbers[0] if len(numbers) == 2 else None
    return PortSpec(container_port=numbers[-1], protocol=protocol, host_ip=host_ip, host_port=host_port)


def parse_volume(text):
    """/container/path (anonymous volume), name:/path (named volume) or /host:/path (bind
    mount), each optionally followed by :ro or :rw."""
    parts = text.split(":")
    read_only = False
    if len(parts) > 1 and parts[-1] in ("ro", "rw"):
        read_only = parts.pop() == "ro"
    if len(parts) == 1:
        return VolumeSpec(target=_absolute(parts[0], "A volume's path in the container"), read_only=read_only)
    if len(parts) != 2:
        raise forms.ValidationError(f"“{text}” is not [source:]/path[:ro]")
    source, target = parts
    if source.startswith("/"):
        source = _absolute(source, "A bind mount's host folder")
    elif not VOLUME_NAME.match(source):
        raise forms.ValidationError(f"“{source}” is not a volume name or an absolute host path")
    return VolumeSpec(
        target=_absolute(target, "A mount's path in the container"), source=source, read_only=read_only
    )


def parse_memory(text):
    """512m, 1g, 1.5G, 1048576 → bytes."""
    match = MEMORY.match(text.strip())
    if not match:
        raise forms.ValidationError("Give a size such as 512m or 2g.")
    number, unit = float(match[1]), match[2].lower()
    size = int(number * 1024 ** " kmgt".index(unit or " "))
    if size < MIN_MEMORY:
        raise forms.ValidationError("Docker needs at least 6m of memory.")
    return size


class RunForm(forms.Form):
    host = forms.ModelChoiceField(queryset=None, empty_label=None, required=False)
    image = forms.CharField(
        max_length=255, help_text="An image already on the host (pulls are not done here).",
        widget=forms.TextInput(attrs={"list": "images", "autocomplete": "off", "spellcheck": "false"}),
    )  # fmt: skip
    name = forms.CharField(max_length=128, required=False, help_text="Empty: Docker picks one.")
    command = forms.CharField(
        required=False, max_length=4096, widget=forms.TextInput(attrs={"spellcheck": "false"}),
        help_text='Shell-style quoting: echo "hello world"',
    )  # fmt: skip
    entrypoint = forms.CharField(
        required=False, max_length=4096, widget=forms.TextInput(attrs={"spellcheck": "false"})
    )
    mode = forms.ChoiceField(
        choices=[
            (DETACHED, "Detached: start it and open its page"),
            (ONESHOT, "One-shot: wait for it and show its output"),
            (INTERACTIVE, "Interactive (-i -t): open it in a terminal, from its first byte"),
        ],
        initial=DETACHED, widget=forms.RadioSelect,
    )  # fmt: skip
    environment = forms.CharField(
        required=False, widget=forms.Textarea(attrs=TEXTAREA), help_text="KEY=VALUE, one per line."
    )
    labels = forms.CharField(
        required=False, widget=forms.Textarea(attrs=TEXTAREA), help_text="KEY=VALUE, one per line."
    )
    ports = forms.CharField(
        required=False, widget=forms.Textarea(attrs=TEXTAREA),
        help_text="Published ports, e.g. 127.0.0.1:8080:80/tcp or 8080:80, one per line.",
    )  # fmt: skip
    volumes = forms.CharField(
        required=False, widget=forms.Textarea(attrs=TEXTAREA),
        help_text="/path, volume:/path or /host/folder:/path, optionally :ro, one per line. "
        "A new named volume is made with this container's labels.",
    )  # fmt: skip
    network = forms.ChoiceField(
        choices=[("", "Daemon default"), ("none", "None (no network)"), ("host", "Host's network")],
        required=False,
    )  # fmt: skip
    working_dir = forms.CharField(label="Working directory", required=False, max_length=1024)
    user = forms.CharField(required=False, max_length=255, help_text="name, uid or uid:gid")
    restart = forms.ChoiceField(
        label="Restart policy", required=False,
        choices=[("", "No"), ("on-failure", "On failure"), ("always", "Always"), ("unless-stopped", "Unless stopped")],
    )  # fmt: skip
    restart_retries = forms.IntegerField(
        label="Retries (on failure)", required=False, min_value=0, max_value=1000
    )
    memory = forms.CharField(label="Memory limit", required=False, max_length=32, help_text="e.g. 512m, 2g")
    cpus = forms.FloatField(
        label="CPUs", required=False, min_value=0.01, max_value=1024, help_text="e.g. 0.5"
    )
    auto_remove = forms.BooleanField(label="Remove it when it exits (--rm)", required=False)
    tty = forms.BooleanField(label="Allocate a TTY (-t)", required=False)
    stdin = forms.BooleanField(label="Keep stdin open (-i)", required=False)
    privileged = forms.BooleanField(label="Privileged", required=False)
    pid_host = forms.BooleanField(label="Host's process namespace (--pid host)", required=False)
    ipc_host = forms.BooleanField(label="Host's IPC namespace (--ipc host)", required=False)
    cap_add = forms.CharField(
        label="Added capabilities", required=False, max_length=1024, help_text="e.g. NET_ADMIN SYS_TIME"
    )
    devices = forms.CharField(
        required=False, widget=forms.Textarea(attrs=TEXTAREA),
        help_text="/dev/host[:/dev/container[:rwm]], one per line.",
    )  # fmt: skip

    HOST_ACCESS = ("privileged", "pid_host", "ipc_host", "cap_add", "devices")

    def __init__(self, *args, hosts=None, **kwargs):
        """`hosts`: a queryset to choose from (the /run/ page), or None for a page of one host."""
        super().__init__(*args, **kwargs)
        if hosts is None:
            del self.fields["host"]
        else:
            self.fields["host"].queryset = hosts
            self.fields["host"].required = True
        self.fields["restart_retries"].widget.attrs["placeholder"] = "unlimited"

    def clean_image(self):
        image = self.cleaned_data["image"].strip()
        if not valid_image_reference(image):
            raise forms.ValidationError(
                f"“{image}” is not a valid image reference (e.g. busybox, registry:5000/team/app:1.2)."
            )
        return image

    def clean_name(self):
        name = self.cleaned_data["name"].strip().removeprefix("/")
        if name and not CONTAINER_NAME.match(name):
            raise forms.ValidationError(
                "Names are at least 2 characters: letters, digits, and _ . - after the first."
            )
        return name

    def _split(self, name):
        text = self.cleaned_data[name].strip()
        if not text:
            return None
        try:
            return shlex.split(text)
        except ValueError as exc:
            raise forms.ValidationError(f"Unbalanced quoting: {exc}.") from None

    def clean_command(self):
        return self._split("command")

    def clean_entrypoint(self):
        return self._split("entrypoint")

    def clean_environment(self):
        return [f"{k}={v}" for k, v in parse_pairs(self.cleaned_data["environment"], "environment")]

    def clean_labels(self):
        return dict(parse_pairs(self.cleaned_data["labels"], "label"))

    def clean_ports(self):
        return [parse_port(w) for w in _words(self.cleaned_data["ports"])]

    def clean_volumes(self):
        return [parse_volume(line) for _, line in _lines(self.cleaned_data["volumes"])]

    def clean_working_dir(self):
        path = self.cleaned_data["working_dir"].strip()
        return _absolute(path, "The working directory") if path else ""

    def clean_memory(self):
        text = self.cleaned_data["memory"].strip()
        return parse_memory(text) if text else None

    def clean_cap_add(self):
        caps = [w.upper() for w in _words(self.cleaned_data["cap_add"])]
        for cap in caps:
            if not CAPABILITY.match(cap):
                raise forms.ValidationError(f"“{cap}” is not a capability name.")
        return caps

    def clean_devices(self):
        devices = []
        for _, line in _lines(self.cleaned_data["devices"]):
            parts = line.split(":")
            if len(parts) > 3 or not all(p.startswith("/") for p in parts[:2]):
                raise forms.ValidationError(f"“{line}” is not /dev/host[:/dev/container[:rwm]]")
            devices.append(line)
        return devices

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("auto_remove") and cleaned.get("restart"):
            self.add_error("restart", "A container removed when it exits cannot have a restart policy.")
        if cleaned.get("ports") and cleaned.get("network") in ("none", "host"):
            self.add_error("ports", "Ports are published only with the daemon's default network.")
        return cleaned

    def run_spec(self):
        data = self.cleaned_data
        fields = {f.name for f in RunSpec.__dataclass_fields__.values()}
        values = {k: v for k, v in data.items() if k in fields and v not in (None, "")}
        values["restart_retries"] = data.get("restart_retries") or 0
        return RunSpec(**values)


def repository_tag(text, required=False):
    """"team/app:1.0" -> ("team/app", "1.0"); ("", "") for an empty optional field."""
    text = text.strip()
    if not text and not required:
        return ("", "")
    match = REPOSITORY_TAG.match(text)
    if not match or len(text) > 255:
        raise forms.ValidationError(f"“{text}” is not repository[:tag] (lowercase, e.g. team/app:1.0).")
    return (match["repository"], match["tag"] or "")


def image_changes(text):
    """Dockerfile instructions for a commit or an import (`--change`), one per line."""
    changes = []
    for number, line in _lines(text):
        instruction = line.split(None, 1)[0].upper()
        if instruction not in COMMIT_INSTRUCTIONS:
            raise forms.ValidationError(
                f"line {number}: {instruction} is not one of {', '.join(COMMIT_INSTRUCTIONS)}."
            )
        changes.append(line)
    return changes


class CommitForm(forms.Form):
    repository = forms.CharField(
        label="Repository:tag", required=False, max_length=255,
        widget=forms.TextInput(attrs={"placeholder": "myapp:1.0", "spellcheck": "false"}),
        help_text="Empty: an untagged image.",
    )  # fmt: skip
    author = forms.CharField(required=False, max_length=255, help_text='e.g. "Ada <ada@example.com>"')
    message = forms.CharField(required=False, max_length=4096, widget=forms.Textarea(attrs={"rows": 2}))
    changes = forms.CharField(
        required=False, widget=forms.Textarea(attrs=TEXTAREA),
        help_text=f"Dockerfile instructions, one per line: {', '.join(COMMIT_INSTRUCTIONS)}.",
    )  # fmt: skip
    pause = forms.BooleanField(label="Pause the container while committing", required=False, initial=True)

    def clean_repository(self):
        return repository_tag(self.cleaned_data["repository"])

    def clean_changes(self):
        return image_changes(self.cleaned_data["changes"])

    def commit_arguments(self):
        data = self.cleaned_data
        repository, tag = data["repository"]
        return dict(
            repository=repository, tag=tag, author=data["author"], message=data["message"],
            changes=data["changes"], pause=data["pause"],
        )  # fmt: skip


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        files = data if isinstance(data, (list, tuple)) else [data]
        return [super(MultipleFileField, self).clean(f, initial) for f in files if f]


class UploadForm(forms.Form):
    files = MultipleFileField(label="Files")
    extract = forms.BooleanField(
        label="Extract: the file is a tar (.tar, .tar.gz) to unpack into this folder", required=False
    )

    def clean_files(self):
        files = self.cleaned_data["files"]
        if not files:
            raise forms.ValidationError("Choose at least one file.")
        for f in files:  # browsers send a quote in a file name as %22 (HTML's multipart encoding)
            f.name = f.name.replace("%22", '"')
        if sum(f.size for f in files) > settings.CONTAINER_UPLOAD_MAX_BYTES:
            raise forms.ValidationError(
                f"The upload is over the limit of {settings.CONTAINER_UPLOAD_MAX_BYTES} bytes."
            )
        return files

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("extract") and len(cleaned.get("files") or ()) != 1:
            self.add_error("files", "Extract one tar at a time.")
        return cleaned
