import os
import signal
import subprocess
import threading

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = (
        "Try the console with no Docker of your own: start throw-away local daemons, register "
        "them as hosts demo-1 and demo-2 with a few containers, and remove it all when the "
        "command given after -- ends (scripts/run --demo gives the server), or on Ctrl-C. "
        "Needs root and dockerd."
    )

    def add_arguments(self, parser):
        parser.add_argument("command", nargs="*", help="run this while the demo is up (after --)")

    def handle(self, command, **options):
        try:
            from console.demo import DemoUnavailable, demo_start, demo_stop
        except ImportError as exc:  # the image leaves tests/ out
            raise CommandError(f"Demo mode needs a source checkout with tests/harness.py ({exc}).") from None
        self.stdout.write("Demo mode: starting throw-away Docker daemons...")
        try:
            demo = demo_start()
        except DemoUnavailable as exc:
            raise CommandError(f"Demo mode is not available: {exc}.") from None
        hosts = ", ".join(host.name for host in demo.hosts)
        self.stdout.write(
            f"Demo hosts {hosts} are up with containers "
            f"{', '.join(f'{c} ({h})' for h, c in demo.containers)}.\n"
            "They are removed, with their daemons, when the console stops."
        )
        try:
            code = _run_until_stopped(command)
        finally:
            demo_stop(demo)
            self.stdout.write(f"Demo stopped: hosts {hosts} removed, their daemons stopped.")
        if code:
            raise CommandError(f"{command[0]} exited with code {code}", returncode=code)


def _run_until_stopped(command):
    """Run `command` to its end (without WHARF_DEMO, so scripts/run serves instead of
    starting another demo), or without one wait for a signal. Ctrl-C, SIGTERM or SIGHUP
    asks the command to end with SIGTERM (it may have been started with SIGINT ignored)."""
    stopping = threading.Event()
    child = None
    if command:
        env = {k: v for k, v in os.environ.items() if k != "WHARF_DEMO"}
        child = subprocess.Popen(command, env=env)

    def on_signal(signum, frame):
        stopping.set()
        if child:
            child.terminate()

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    if child:
        return child.wait()
    while not stopping.wait(1):
        pass
    return 0
