// The Terminal tab: docker exec -it / docker attach in xterm.js over a websocket
// (console/terminals/consumers.py). Binary frames carry terminal bytes both ways; JSON
// text frames carry the rest: resize (to the server), open / ack / viewers / end (from it).
// Input is sent in blocks with at most WINDOW bytes unacknowledged: a large paste waits
// here, in the page, for the process to read it.
"use strict";
(function () {
  const root = document.getElementById("terminal");
  if (!root || !window.Terminal) return;
  const WINDOW = 64 * 1024; // as INPUT_WINDOW on the server
  const BLOCK = 4096;
  const screen = document.getElementById("terminal-screen");
  const statusText = document.getElementById("terminal-status");
  const viewersText = document.getElementById("terminal-viewers");
  const closeButton = document.getElementById("terminal-close");
  const fullButton = document.getElementById("terminal-full");
  const encoder = new TextEncoder();

  const term = new window.Terminal({
    fontSize: Number(localStorage.getItem("wharf.terminal.font")) || 14,
    scrollback: 5000,
    convertEol: false,
    cursorBlink: true,
  });
  const fit = new window.FitAddon.FitAddon();
  term.loadAddon(fit);
  term.open(screen);
  fit.fit();

  let socket = null;
  let queue = []; // input blocks not yet sent
  let unacked = 0;
  let canType = false;

  function say(text) { statusText.textContent = text; }

  function connect(kind, form) {
    if (socket) socket.close();
    const params = new URLSearchParams(form ? new FormData(form) : undefined);
    if (form) {
      for (const box of form.querySelectorAll("input[type=checkbox]")) params.set(box.name, box.checked ? "1" : "0");
    }
    if (kind === "attach" && root.dataset.start === "1") params.set("start", "1");
    root.dataset.start = "";
    params.set("cols", term.cols);
    params.set("rows", term.rows);
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const base = kind === "exec" ? root.dataset.exec : root.dataset.attach;
    const ws = new WebSocket(scheme + location.host + base + "?" + params.toString());
    ws.binaryType = "arraybuffer";
    socket = ws;
    queue = [];
    unacked = 0;
    canType = false;
    let opened = false, ended = false;
    term.reset();
    screen.classList.remove("ended");
    say("Connecting…");
    closeButton.hidden = false;
    // in view: xterm.js paints nothing while it is scrolled out (an interactive run lands here)
    root.querySelector(".terminal-bar").scrollIntoView({ block: "start" });

    ws.onmessage = (event) => {
      if (ws !== socket) return;
      if (typeof event.data !== "string") {
        term.write(new Uint8Array(event.data)); // xterm joins UTF-8 cut across frames
        return;
      }
      const message = JSON.parse(event.data);
      if (message.t === "open") {
        opened = true;
        canType = message.input;
        term.options.disableStdin = !canType;
        let text = message.kind === "exec" ? "Connected: exec." : "Attached" + (canType ? "" : " (read-only)") + ".";
        if (message.detach_keys) text += " Detach keys: " + message.detach_keys + ".";
        if (message.sig_proxy && !message.tty) text += " Ctrl-C sends SIGINT.";
        say(text);
        term.focus();
      } else if (message.t === "ack") {
        unacked -= message.n;
        pump();
      } else if (message.t === "viewers") {
        viewersText.textContent = "Attached: " + message.names.join(", ");
      } else if (message.t === "end") {
        ended = true;
        say("Ended: " + message.notice);
        term.write("\r\n\x1b[7m " + message.notice.replace(/[\x00-\x1f]/g, " ") + " \x1b[0m\r\n");
      }
    };
    ws.onclose = (event) => {
      if (ws !== socket) return;
      socket = null;
      canType = false;
      closeButton.hidden = true;
      screen.classList.add("ended");
      if (ended) return;
      if (!opened) say("The terminal could not be opened: " + (event.reason || "not allowed, not running, or no longer there") + ".");
      else if (event.code === 4403) say("Closed: " + (event.reason || "not allowed") + ".");
      else if (event.code === 4400) say("Closed: " + (event.reason || "refused") + ".");
      else say("Disconnected.");
    };
  }

  function send(bytes) {
    if (!socket || !canType) return;
    for (let i = 0; i < bytes.length; i += BLOCK) queue.push(bytes.subarray(i, i + BLOCK));
    pump();
  }

  function pump() {
    while (socket && queue.length && unacked + queue[0].length <= WINDOW) {
      const block = queue.shift();
      unacked += block.length;
      socket.send(block);
    }
  }

  term.onData((text) => send(encoder.encode(text)));
  term.onBinary((text) => send(Uint8Array.from(text, (ch) => ch.charCodeAt(0) & 0xff)));
  term.onResize(({ cols, rows }) => {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ t: "resize", cols, rows }));
  });

  function refit() {
    try { fit.fit(); } catch (e) { /* not visible yet */ }
  }
  window.addEventListener("resize", refit);
  // A tab that was in the background: xterm painted nothing meanwhile; paint it all now.
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) { refit(); term.refresh(0, term.rows - 1); }
  });

  for (const [id, kind] of [["exec-form", "exec"], ["attach-form", "attach"]]) {
    const form = document.getElementById(id);
    if (!form) continue;
    form.addEventListener("submit", (event) => { event.preventDefault(); connect(kind, form); });
    form.querySelector("button[type=submit]").disabled = false;
  }
  closeButton.addEventListener("click", () => { if (socket) socket.close(); say("Closed (detached)."); });
  document.getElementById("terminal-copy").addEventListener("click", () => {
    const text = term.getSelection();
    if (text && navigator.clipboard) navigator.clipboard.writeText(text);
    term.focus();
  });
  document.getElementById("terminal-paste").addEventListener("click", async () => {
    if (!navigator.clipboard) return;
    term.paste(await navigator.clipboard.readText());
    term.focus();
  });
  function fontSize(step) {
    const size = Math.min(32, Math.max(8, term.options.fontSize + step));
    term.options.fontSize = size;
    localStorage.setItem("wharf.terminal.font", size);
    refit();
  }
  document.getElementById("terminal-smaller").addEventListener("click", () => fontSize(-1));
  document.getElementById("terminal-larger").addEventListener("click", () => fontSize(1));
  fullButton.addEventListener("click", () => {
    const full = root.classList.toggle("full");
    fullButton.setAttribute("aria-pressed", String(full));
    refit();
    term.focus();
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && event.shiftKey && root.classList.contains("full")) fullButton.click();
  });

  const auto = root.dataset.autostart;
  if (auto) connect(auto, document.getElementById(auto + "-form"));
})();
