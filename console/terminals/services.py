"""Terminals: `docker exec -it` and `docker attach` sessions (container.exec,
container.attach, container.attach_input). A session is a long action: recorded when it
opens (with its options, never the values of its environment variables) and completed
when it ends with its duration, the bytes each way, the exit code and its recording.

A session is used by two threads of its socket: one reads the output (`read`), one
writes the input (`write`, `resize`); `cancel()` from any thread ends both.
"""

import re
import secrets
import shlex
import threading
import time
from contextlib import suppress
from dataclasses import dataclass, field
from functools import partial

from console import gateway
from console.actions import Target, authorize, long_action, perform
from console.containers.services import container_start, container_target
from console.errors import DockerConflict, DockerNotFound, InvalidInput, WharfError
from console.hosts.models import Host
from console.hosts.services import host_for
from console.params import whole_number
from console.streams.services import complete
from console.terminals.recording import Recorder

SHELL = ["/bin/sh", "-c", "if command -v bash >/dev/null 2>&1; then exec bash; fi; exec sh"]
DEFAULT_DETACH_KEYS = "ctrl-p,ctrl-q"
# Docker's detach keys: a comma-separated sequence of letters or ctrl-<letter or @[\]^_>
DETACH_KEYS = re.compile(r"(?:ctrl-[a-z@\[\\\]^_]|[a-zA-Z0-9])(?:,(?:ctrl-[a-z@\[\\\]^_]|[a-zA-Z0-9])){0,7}")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,127}")
USER = re.compile(r"[A-Za-z0-9_.-]{1,64}(?::[A-Za-z0-9_.-]{1,64})?")
CTRL_C = b"\x03"


def _size(params, key, default, largest):
    value = whole_number(params.get(key, ""))
    if value is None:
        return default
    if not 1 <= value <= largest:
        raise InvalidInput(f"The terminal's {key} is between 1 and {largest}.", field=key)
    return value


@dataclass
class ExecOptions:
    """`docker exec -it [-u USER] [-w DIR] [-e K=V] CONTAINER [COMMAND]`: no command is a
    shell (bash where the image has it, else sh)."""

    command: list = field(default_factory=list)
    user: str = ""
    workdir: str = ""
    env: dict = field(default_factory=dict)
    cols: int = 80
    rows: int = 24
    tty: bool = True  # off: `docker exec -i` (stdout and stderr as they come, no terminal)

    @classmethod
    def from_params(cls, params):
        text = (params.get("cmd") or "").strip()[:4000]
        try:
            command = shlex.split(text)
        except ValueError as exc:
            raise InvalidInput(f"The command cannot be read: {exc}.", field="cmd") from None
        user = (params.get("user") or "").strip()
        if user and not USER.fullmatch(user):
            raise InvalidInput("A user is a name or number, optionally :group.", field="user")
        workdir = (params.get("workdir") or "").strip()
        if workdir and (not workdir.startswith("/") or "\0" in workdir or len(workdir) > 1024):
            raise InvalidInput("The working folder is an absolute path (/app).", field="workdir")
        env = {}
        for line in (params.get("env") or "").splitlines():
            if not line.strip():
                continue
            name, equals, value = line.strip().partition("=")
            if not equals or not ENV_NAME.fullmatch(name):
                raise InvalidInput(f"“{name[:40]}” is not NAME=value.", field="env")
            env[name] = value
        tty = (params.get("tty") or "").strip().lower() not in ("0", "off", "false", "no")
        return cls(command, user, workdir, env, _size(params, "cols", 80, 1000), _size(params, "rows", 24, 500), tty)

    def audit_params(self):
        # variables' values may be secrets: only their names are kept
        return {"command": shlex.join(self.command) or "(shell)", "user": self.user, "workdir": self.workdir,
                "env": sorted(self.env), "tty": self.tty}  # fmt: skip


@dataclass
class AttachOptions:
    """`docker attach [--no-stdin] [--sig-proxy] [--detach-keys]`; `start`: a container
    just created by an interactive run is started once attached (no byte is lost)."""

    input: bool = True
    sig_proxy: bool = True
    detach_keys: str = DEFAULT_DETACH_KEYS
    start: bool = False
    cols: int = 80
    rows: int = 24

    @classmethod
    def from_params(cls, params):
        def flag(key, default):
            value = (params.get(key) or "").strip().lower()
            return default if not value else value not in ("0", "off", "false", "no")

        keys = (params.get("detach_keys") or DEFAULT_DETACH_KEYS).strip()
        if not DETACH_KEYS.fullmatch(keys):
            raise InvalidInput("Detach keys are like ctrl-p,ctrl-q.", field="detach_keys")
        return cls(flag("input", True), flag("sig_proxy", True), keys, flag("start", False),
                   _size(params, "cols", 80, 1000), _size(params, "rows", 24, 500))  # fmt: skip

    @property
    def code(self):
        return "container.attach_input" if self.input else "container.attach"

    def audit_params(self):
        return {"input": self.input, "sig_proxy": self.sig_proxy, "detach_keys": self.detach_keys,
                "start": self.start}  # fmt: skip


def terminal_host(actor, code, host_name, ref):
    """The host of a terminal the actor may see (a hidden one looks missing). An
    anonymous request is refused and recorded as such."""
    if actor.user is None:
        authorize(actor, code, host=Host.named(host_name), target=Target(ref, ref))
    return host_for(actor, host_name)


class TerminalSession:
    """One open terminal (a long action whose entry stays open until `finish`)."""

    def __init__(self, *, kind, host, target, action, progress, terminal, recorder, sig_proxy=False, exit_wait=None,
                 marker=""):  # fmt: skip
        self.kind, self.host, self.target = kind, host, target
        self.action, self.progress, self.terminal, self.recorder = action, progress, terminal, recorder
        self.sig_proxy, self.exit_wait, self.marker = sig_proxy, exit_wait, marker
        self.bytes_out = self.bytes_in = self.signals = 0
        self.exit_code = None
        self.started = time.monotonic()
        self._finished = threading.Lock()

    @property
    def tty(self):
        return self.terminal.tty

    def read(self):
        """The next output (b"" at the end), recorded."""
        data = self.terminal.read()
        if data:
            self.bytes_out += len(data)
            self.recorder.output(data)
        return data

    def write(self, data):
        """Input for the process. With --sig-proxy and no TTY (where Ctrl-C is only a
        byte), Ctrl-C sends SIGINT to the process instead, as the CLI's proxy does."""
        self.recorder.input(data)
        self.bytes_in += len(data)
        if self.sig_proxy and not self.tty and CTRL_C in data:
            with suppress(WharfError):  # stopped meanwhile: its end says so
                gateway.container_kill(self.host, self.target.id, "SIGINT", self.target.name)
                self.signals += 1
            data = data.replace(CTRL_C, b"")
        if data:
            self.terminal.write(data)

    def resize(self, cols, rows):
        gateway.terminal_resize(self.host, self.terminal, self.target.id, cols, rows)
        self.recorder.resize(cols, rows)

    def end_notice(self):
        """Why the terminal ended by itself, with the exit code where there is one."""
        if self.kind == "exec":
            for _ in range(40):  # Docker marks the exec ended a moment after its output
                try:
                    self.exit_code = gateway.exec_exit_code(self.host, self.terminal.exec_id)
                except WharfError as exc:
                    return f"The command ended: {exc}"
                if self.exit_code is not None:
                    break
                time.sleep(0.05)
            return f"The command ended (exit code {self.exit_code})."
        try:
            state = gateway.container_inspect(self.host, self.target.id).get("State") or {}
        except DockerNotFound:
            state = {}
        except WharfError as exc:
            return f"The terminal ended: {exc}"
        if state.get("Running"):
            return f"Detached from container {self.target.name}: it keeps running."
        if self.exit_wait is not None:  # --rm: its code once Docker has removed it
            self.exit_code = self.exit_wait.code()
            return f"Container {self.target.name} stopped (exit code {self.exit_code}) and was removed (--rm)."
        self.exit_code = state.get("ExitCode")
        return f"Container {self.target.name} stopped (exit code {self.exit_code})."

    def cancel(self):
        """End a pending read or write from any thread (never blocks)."""
        self.terminal.cancel()

    def finish(self, note, failure=None):
        """Release the connection and complete the audit entry (once)."""
        if not self._finished.acquire(blocking=False):
            return
        self.terminal.close()
        if self.exit_wait is not None:
            self.exit_wait.close()
        if self.marker and self.exit_code is None:
            self._hang_up()
        self.progress.recording = self.recorder.close()
        exit_code = "" if self.exit_code is None else f"exit code {self.exit_code}; "
        signals = f"{self.signals} SIGINT sent (--sig-proxy); " if self.signals else ""
        text = f"{self.bytes_out} bytes out, {self.bytes_in} bytes in; {signals}{exit_code}{note}"
        complete(self.action, self.progress, self.bytes_out + self.bytes_in, text, failure)

    def _hang_up(self):
        """A TTY exec left by the browser: its processes get SIGHUP, as from a closed terminal."""
        try:
            if gateway.exec_exit_code(self.host, self.terminal.exec_id) is None:
                gateway.exec_hangup(self.host, self.target.id, self.marker)
        except WharfError:
            pass  # the container is gone or stopped: so are its processes


def _fail(error):
    raise error


def _open(actor, host, target, code, params, kind, opener, options, **extra):
    action = long_action(actor, code, host=host, target=target, params=params)
    progress = action.__enter__()
    recorder = terminal = None
    try:
        recorder = Recorder(width=options.cols, height=options.rows, title=f"{kind} {target.name} on {host.name}")
        terminal = opener()
        session = TerminalSession(kind=kind, host=host, target=target, action=action, progress=progress,
                                  terminal=terminal, recorder=recorder, **extra)  # fmt: skip
    except BaseException as exc:
        if terminal is not None:
            terminal.close()
        if recorder is not None:
            progress.recording = recorder.close()
        action.__exit__(type(exc), exc, exc.__traceback__)
        raise
    return session


def open_exec(*, actor, host, ref, options):
    """Authorize and start `docker exec -it`: a TerminalSession. Refusals are recorded
    and raised (a hidden container looks missing)."""
    target = container_target(actor, host, ref, "container.exec")
    command = options.command or SHELL
    # a TTY's processes are marked, so that they can be hung up when the browser goes
    marker = secrets.token_hex(8) if options.tty else ""
    environment = {**options.env, "WHARF_TERMINAL": marker} if marker else options.env

    def opener():
        return gateway.terminal_exec(host, target.id, name=target.name, command=command, user=options.user,
                                     workdir=options.workdir, environment=environment, tty=options.tty)  # fmt: skip

    session = _open(actor, host, target, "container.exec", options.audit_params(), "exec", opener, options,
                    marker=marker)  # fmt: skip
    if options.tty:
        try:
            session.resize(options.cols, options.rows)
        except WharfError:
            pass  # a command that ended at once: its end says why
    return session


def open_attach(*, actor, host, ref, options):
    """Authorize and open `docker attach` (with input: container.attach_input): a
    TerminalSession. `options.start` starts a created container once attached (an
    interactive run), as the action container.start."""
    code = options.code
    target = container_target(actor, host, ref, code)
    attrs = gateway.container_inspect(host, target.id)
    state = attrs.get("State") or {}
    starting = options.start and state.get("Status") == "created"
    if not state.get("Running") and not starting or state.get("Paused"):
        # as the CLI says it: Docker itself would wait for a start that may never come
        problem = DockerConflict(f"Container {target.name} is {'paused: unpause' if state.get('Paused') else 'not running: start'} it first.")
        perform(actor, code, host=host, target=target, params=options.audit_params(), run=partial(_fail, problem))
    exit_wait = None

    def opener():
        nonlocal exit_wait
        terminal = gateway.terminal_attach(host, target.id, stdin=options.input, detach_keys=options.detach_keys)
        if (attrs.get("HostConfig") or {}).get("AutoRemove"):
            exit_wait = gateway.ExitWait(host, target.id)  # its code outlives the container
        return terminal

    session = _open(actor, host, target, code, options.audit_params(), "attach", opener, options,
                    sig_proxy=options.sig_proxy and options.input)  # fmt: skip
    session.exit_wait = exit_wait
    if starting:
        try:
            container_start(actor=actor, host=host, ref=target.id, target=target)
        except WharfError as exc:
            session.cancel()
            session.finish(str(exc), exc)
            raise
    if (attrs.get("Config") or {}).get("Tty"):
        try:
            session.resize(options.cols, options.rows)
        except WharfError:
            pass  # not running (yet): the page sends its size again when it changes
    return session
