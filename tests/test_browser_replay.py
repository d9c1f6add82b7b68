"""In a browser: a recorded terminal session replays from the audit trail in xterm.js:
the recorded text appears on the terminal's screen, pause holds it, seek jumps (back
to a screen without the later output, forward to the end), and a cut recording says so."""

import re

import pytest
from playwright.sync_api import expect

from console.actions import Target, long_action
from console.hosts.models import Host
from console.terminals.recording import Recorder
from tests.conftest import login
from tests.test_audit import actor

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def recordings_dir(settings, tmp_path):
    settings.RECORDINGS_DIR = tmp_path / "recordings"


def recorded(monkeypatch, events, cap=None):
    """A recorded `container.logs` session whose output `events` ((seconds, text), ...)
    come at the given times into the recording. Returns its entry id."""
    clock = [0.0]
    monkeypatch.setattr(Recorder, "_now", lambda self: clock[0])
    host = Host.objects.create(name="unix-1", url="unix:///nonexistent/docker.sock")
    with long_action(actor(), "container.logs", host=host, target=Target(id="c0ffee", name="web-1")) as progress:
        recorder = Recorder(width=60, height=12, cap=cap)
        for at, text in events:
            clock[0] = at
            recorder.output(text.encode())
        progress.recording = recorder.close()
    monkeypatch.undo()
    from console.audit.models import AuditEntry

    return AuditEntry.objects.get(action="container.logs").id


def screen(page):
    return page.locator("#replay-screen .xterm-rows")


def test_replay_plays_pauses_and_seeks(page, make_user, monkeypatch):
    entry = recorded(monkeypatch, [(0.0, "$ echo first\r\nfirst line\r\n"), (0.5, "second line\r\n"),
                                   (900.0, "\x1b[32mlast line\x1b[0m\r\n")])  # fmt: skip
    make_user("admin", role="Admin")
    login(page, "admin")
    page.goto("/audit/")
    page.get_by_role("link", name=f"Replay the session of entry #{entry}").click()
    expect(page.get_by_role("heading", name=f"Session recording of entry #{entry}")).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="events")).to_have_text("3 events, 15:00 long.")
    expect(page.locator("#replay-time")).to_have_text("0:00 / 15:00")
    expect(page.locator("#replay-cut")).to_have_count(0)

    page.get_by_label("Speed").select_option("4x")
    page.get_by_role("button", name="Play").click()
    expect(screen(page)).to_contain_text("first line")
    expect(screen(page)).to_contain_text("second line")
    page.get_by_role("button", name="Pause").click()
    expect(page.get_by_role("button", name="Play")).to_be_visible()
    held = page.locator("#replay-time").inner_text()
    assert held != "15:00 / 15:00", held  # 15 minutes at 4x: far from the last line
    page.wait_for_timeout(1200)  # paused: the clock does not move, nothing more is written
    expect(page.locator("#replay-time")).to_have_text(held)
    expect(screen(page)).not_to_contain_text("last line")

    seek = page.get_by_label("Position")
    seek.focus()
    page.keyboard.press("End")  # to the end: the last line, in its colour
    expect(screen(page)).to_contain_text("last line")
    expect(page.locator("#replay-time")).to_have_text("15:00 / 15:00")
    expect(screen(page).locator("span", has_text="last line")).to_have_class(re.compile(r"xterm-fg-2"))

    seek.evaluate("s => { s.value = '0.2'; s.dispatchEvent(new Event('input')); }")  # back: before line two
    expect(screen(page)).to_contain_text("first line")
    expect(screen(page)).not_to_contain_text("second line")
    expect(screen(page)).not_to_contain_text("last line")
    expect(page.locator("#replay-time")).to_have_text("0:00 / 15:00")

    page.get_by_role("button", name="Play").click()  # plays on from there
    expect(screen(page)).to_contain_text("second line")
    page.get_by_role("button", name="Pause").click()


def test_a_cut_recording_says_so(page, make_user, monkeypatch):
    entry = recorded(monkeypatch, [(0.1 * n, f"line {n} " + "x" * 60 + "\r\n") for n in range(40)], cap=1500)
    make_user("admin", role="Admin")
    login(page, "admin")
    page.goto(f"/audit/{entry}/replay/")
    expect(page.locator("#replay-cut")).to_contain_text("Cut:")
    expect(page.get_by_label("Position")).to_be_enabled()  # the recording is loaded
    page.get_by_label("Position").focus()
    page.keyboard.press("End")
    expect(screen(page)).to_contain_text("[recording cut:")


def test_replay_refused_without_the_audit_trail(page, make_user, monkeypatch):
    entry = recorded(monkeypatch, [(0.0, "secret output\r\n")])
    make_user("dev", role="Developer")
    login(page, "dev")
    response = page.goto(f"/audit/{entry}/replay/")
    assert response.status == 403
    expect(page.get_by_text("not allowed to see the audit trail")).to_be_visible()
    assert page.request.get(f"/audit/{entry}/recording.cast").status == 403
