// Replays a recorded terminal session (templates/audit/replay.html): the asciicast v2 file
// is fetched from the console (a read that is itself audited) and played in xterm.js, with
// play, pause, speed and seek. Output is written to the screen and resizes applied; input
// events are not shown (the session's own echo shows what was typed).
(function () {
  "use strict";
  const root = document.getElementById("replay");
  if (!root) return;
  const play = document.getElementById("replay-play");
  const speed = document.getElementById("replay-speed");
  const seek = document.getElementById("replay-seek");
  const clock = document.getElementById("replay-time");
  const status = document.getElementById("replay-status");
  const MAX_WAIT = 250; // ms between two updates of the clock while nothing is written

  let header = { width: 80, height: 24 };
  let events = [];
  let duration = 0;
  let next = 0; // the first event not yet applied
  let position = 0; // seconds into the recording
  let timer = null;
  let last = 0; // performance.now() of the last step while playing
  const term = new Terminal({ disableStdin: true, cursorBlink: false, scrollback: 10000 });
  term.open(document.getElementById("replay-screen"));

  function parse(text) {
    const lines = text.split("\n");
    const found = [];
    const first = JSON.parse(lines[0]);
    const size = (value, fallback) => (Number.isInteger(value) && value > 0 && value <= 1000 ? value : fallback);
    header = { width: size(first.width, 80), height: size(first.height, 24) };
    for (const line of lines.slice(1)) {
      if (!line) continue;
      let event;
      try {
        event = JSON.parse(line);
      } catch (error) {
        continue;
      }
      if (Array.isArray(event) && typeof event[0] === "number" && typeof event[2] === "string") found.push(event);
    }
    return found;
  }

  function format(seconds) {
    const s = Math.floor(seconds);
    const h = Math.floor(s / 3600);
    const m = Math.floor(s / 60) % 60;
    const rest = String(s % 60).padStart(2, "0");
    return h ? `${h}:${String(m).padStart(2, "0")}:${rest}` : `${m}:${rest}`;
  }

  function showTime() {
    seek.value = position;
    clock.value = `${format(position)} / ${format(duration)}`;
  }

  // Apply every event up to `until` (seconds): the output in one write, resizes in order.
  function advance(until) {
    let out = "";
    while (next < events.length && events[next][0] <= until) {
      const [, kind, data] = events[next++];
      if (kind === "o") {
        out += data;
      } else if (kind === "r") {
        const size = /^(\d+)x(\d+)$/.exec(data);
        if (!size) continue;
        if (out) term.write(out);
        out = "";
        term.resize(Number(size[1]), Number(size[2]));
      }
    }
    if (out) term.write(out);
  }

  function jump(to) {
    to = Math.max(0, Math.min(duration, to));
    if (to < position || to === 0) {
      term.reset();
      term.resize(header.width, header.height);
      next = 0;
    }
    position = to;
    advance(position);
    last = performance.now();
    showTime();
  }

  function step() {
    timer = null;
    const now = performance.now();
    position = Math.min(duration, position + ((now - last) / 1000) * Number(speed.value));
    last = now;
    advance(position);
    showTime();
    if (next >= events.length) {
      pause();
      return;
    }
    const wait = ((events[next][0] - position) / Number(speed.value)) * 1000;
    timer = setTimeout(step, Math.max(10, Math.min(MAX_WAIT, wait)));
  }

  function start() {
    if (next >= events.length) jump(0);
    play.textContent = "Pause";
    last = performance.now();
    step();
  }

  function pause() {
    clearTimeout(timer);
    timer = null;
    play.textContent = "Play";
  }

  play.addEventListener("click", () => (play.textContent === "Play" ? start() : pause()));
  seek.addEventListener("input", () => {
    const to = Number(seek.value); // the browser rounds it: its end may fall short of the last event
    jump(to >= duration - 0.001 ? duration : to);
  });

  fetch(root.dataset.src, { credentials: "same-origin" })
    .then((response) => {
      if (!response.ok) {
        throw new Error(response.status === 404 ? "its file is missing" : `the console answered ${response.status}`);
      }
      return response.text();
    })
    .then((text) => {
      events = parse(text);
      duration = events.length ? events[events.length - 1][0] : 0;
      term.resize(header.width, header.height);
      seek.max = duration;
      for (const control of [play, speed, seek]) control.disabled = false;
      status.textContent = `${events.length} events, ${format(duration)} long.`;
      showTime();
    })
    .catch((error) => {
      status.textContent = `The recording could not be read: ${error.message}.`;
    });
})();
