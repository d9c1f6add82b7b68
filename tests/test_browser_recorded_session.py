"""End to end: an exec session typed through the websocket against a real daemon is
recorded; its recording, replayed from the audit trail in the browser, ends on the same
screen as the session's own output drawn by the same xterm.js; an edited recording fails
`audit verify`, naming the session's entry."""

import json

import pytest
from playwright.sync_api import expect

from tests.conftest import login, run_async
from tests.test_audit import verify_command
from tests.test_terminals import Terminal, cookie_for, path, wait_for_entry

pytestmark = pytest.mark.browser

# Both screens, row by row, as xterm.js draws them (its DOM renderer's rows).
ROWS = "box => [...box.querySelectorAll('.xterm-rows > div')].map(r => r.textContent.replace(/\\u00a0/g, ' ').trimEnd())"
DRAW = """async ([text, cols, rows]) => {
  const box = document.createElement("div");
  document.body.appendChild(box);
  const term = new Terminal({ cols, rows, scrollback: 10000 });
  term.open(box);
  await new Promise((done) => term.write(text, done));
  await new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)));
  return (%s)(box);
}""" % ROWS  # noqa: UP031 - a JS function inside a JS function


def test_an_exec_session_replays_to_the_same_screen_and_an_edit_fails_verify(
    page, hosts, admin_user, containers, settings, tmp_path
):
    settings.RECORDINGS_DIR = tmp_path / "recordings"
    container = containers(cmd="sleep 300")
    cookie = cookie_for(admin_user)

    async def session():
        terminal = await Terminal.open(path("exec", container.id, cols=80, rows=24), cookie)
        await terminal.type(b"echo hello-$((6*7))\r")
        await terminal.until(lambda t: b"hello-42\r\n" in t.output)
        await terminal.type(b"printf 'abcdef\\rXY\\n\\033[1;32mgreen\\033[0m\\n'\r")  # over-typed: the screen, not the bytes
        await terminal.until(lambda t: b"abcdef\rXY\r\n" in t.output and b"green\x1b[0m\r\n" in t.output)
        await terminal.type(b"exit 3\r")
        await terminal.ended()
        return terminal

    terminal = run_async(session())
    entry = wait_for_entry("container.exec")
    assert entry.recording is not None and entry.recording["cut"] is False
    cast = settings.RECORDINGS_DIR / entry.recording["file"]
    header, *events = (json.loads(line) for line in cast.read_text().splitlines())
    assert (header["width"], header["height"]) == (80, 24)
    shown = "".join(data for _, kind, data in events if kind == "o")
    assert shown == terminal.output.decode(), "the recording is not what the session showed"
    assert verify_command()[0] == 0

    login(page, "admin")
    page.goto(f"/audit/{entry.id}/")
    page.get_by_role("link", name="Replay the session").click()
    expect(page.get_by_role("button", name="Play")).to_be_enabled()
    page.get_by_label("Position").focus()
    page.keyboard.press("End")
    replayed = page.locator("#replay-screen")
    expect(replayed.locator(".xterm-rows")).to_contain_text("hello-42")
    expect(replayed.locator(".xterm-rows")).to_contain_text("XYcdef")
    live = page.evaluate(DRAW, [terminal.output.decode(), 80, 24])
    assert replayed.evaluate(ROWS) == live
    assert any(row.startswith("XYcdef") for row in live)

    lines = cast.read_bytes().splitlines(keepends=True)
    cast.write_bytes(b"".join(line for line in lines if b"hello-42" not in line))  # the evidence, gone
    code, message = verify_command()
    assert code == 1
    assert message.startswith(f"audit chain broken at entry #{entry.id} (")
    assert f"container.exec): its recording {cast.name} was altered" in message
    page.reload()
    expect(page.get_by_role("alert")).to_contain_text("was altered: its SHA-256 no longer matches the entry")
