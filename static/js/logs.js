// The Logs tab: lines from the websocket, in a bounded window of the DOM.
// Log text is never markup: every line is built from text nodes (no innerHTML).
"use strict";
(function () {
  const root = document.getElementById("logs");
  if (!root) return;
  const MAX_DOM = 5000; // lines kept in the page; older ones are fetched again on demand
  const OLDER = 1000; // lines fetched per "Load older lines"
  const view = document.getElementById("log-view");
  const list = document.getElementById("log-lines");
  const statusText = document.getElementById("log-status");
  const jump = document.getElementById("log-jump");
  const reconnectButton = document.getElementById("log-reconnect");
  const options = document.getElementById("log-options");
  const search = document.getElementById("log-search");
  const matches = document.getElementById("log-matches");
  const download = document.getElementById("log-download");

  let socket = null;
  let cursor = { ts: "", seen: 0 }; // the last line received: resume from here
  let paused = false; // scrolled up: new lines wait in `waiting`, the view stays put
  let waiting = []; // lines received while paused (at most MAX_DOM)
  let gap = false; // `waiting` overflowed: the view is re-drawn from it on jump
  let retries = 0;
  let retryTimer = null;
  let matcher = null;

  const ansiSegments = window.wharfAnsiSegments; // static/js/ansi.js

  // --- search ---
  function compileSearch() {
    const data = new FormData(search);
    const q = data.get("q") || "";
    matches.textContent = "";
    if (!q) return null;
    const flags = data.get("case") ? "g" : "gi";
    try {
      return new RegExp(data.get("regex") ? q : q.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"), flags);
    } catch (e) {
      matches.textContent = "Not a regular expression: " + e.message;
      return null;
    }
  }

  function ranges(plain) {
    const found = [];
    if (!matcher) return found;
    matcher.lastIndex = 0;
    let m;
    while ((m = matcher.exec(plain)) && found.length < 100) {
      if (m[0].length === 0) { matcher.lastIndex++; continue; }
      found.push([m.index, m.index + m[0].length]);
    }
    return found;
  }

  // The text of a line as coloured spans, with <mark> around search matches.
  function renderText(target, text) {
    const segments = ansiSegments(text);
    const plain = segments.map((s) => s.text).join("");
    const marks = ranges(plain);
    target.replaceChildren();
    let offset = 0, r = 0;
    for (const seg of segments) {
      const span = document.createElement("span");
      if (seg.fg !== null) span.classList.add("ansi-" + seg.fg);
      if (seg.bold) span.classList.add("ansi-bold");
      let i = 0;
      while (i < seg.text.length) {
        while (r < marks.length && marks[r][1] <= offset + i) r++;
        const mark = marks[r];
        if (!mark || mark[0] >= offset + seg.text.length) {
          span.append(seg.text.slice(i));
          break;
        }
        const start = Math.max(mark[0] - offset, i);
        if (start > i) span.append(seg.text.slice(i, start));
        const end = Math.min(mark[1] - offset, seg.text.length);
        const highlighted = document.createElement("mark");
        highlighted.textContent = seg.text.slice(start, end);
        span.append(highlighted);
        i = end;
      }
      offset += seg.text.length;
      target.append(span);
    }
    return marks.length > 0;
  }

  function lineElement(line) {
    const el = window.wharfLogLine(line[0], line[1]);
    el.logLine = line;
    paint(el);
    return el;
  }

  function paint(el) {
    const hit = renderText(el.querySelector(".msg"), el.logLine[2]);
    el.classList.toggle("hidden", Boolean(matcher) && search.elements.filter.checked && !hit);
    return hit;
  }

  function repaint() {
    matcher = compileSearch();
    let hits = 0;
    for (const el of list.querySelectorAll(".line")) if (paint(el)) hits++;
    if (matcher) matches.textContent = hits + " matching lines shown";
  }

  // --- the window of lines in the DOM ---
  function atBottom() {
    return view.scrollTop + view.clientHeight >= view.scrollHeight - 4;
  }

  function trimTop() {
    let extra = list.children.length - MAX_DOM;
    while (extra-- > 0) list.firstElementChild.remove();
  }

  function append(lines) {
    const fragment = document.createDocumentFragment();
    for (const line of lines) fragment.append(lineElement(line));
    list.append(fragment);
    trimTop();
    view.scrollTop = view.scrollHeight;
  }

  function receive(lines) {
    if (!paused && !atBottom()) paused = true; // scrolled up since the last scroll event
    for (const [ts] of lines) {
      if (ts === cursor.ts) cursor.seen++;
      else cursor = { ts, seen: 1 };
    }
    if (!paused) return append(lines);
    waiting.push(...lines);
    if (waiting.length > MAX_DOM) {
      waiting.splice(0, waiting.length - MAX_DOM);
      gap = true;
    }
    jump.textContent = "↓ " + waiting.length + (gap ? "+" : "") + " new lines";
    jump.hidden = false;
  }

  function resume() {
    paused = false;
    jump.hidden = true;
    if (gap) list.replaceChildren(); // older lines stay reachable through "Load older lines"
    const lines = waiting;
    waiting = [];
    gap = false;
    append(lines);
  }

  view.addEventListener("scroll", () => {
    if (!paused && !atBottom()) paused = true;
    else if (paused && atBottom() && !gap) resume();
  });
  jump.addEventListener("click", resume);

  function note(text, className) {
    const el = document.createElement("div");
    el.className = className || "notice";
    el.textContent = text;
    list.append(el);
    if (!paused) view.scrollTop = view.scrollHeight;
    return el;
  }

  // Lines left out while the page was behind: fetched on request, in place.
  function skipped(message) {
    const el = note("", "skipped");
    const label = document.createElement("span");
    label.textContent = message.count + " lines skipped (the page fell behind)";
    const show = document.createElement("button");
    show.type = "button";
    show.className = "small outline";
    show.textContent = "Show them";
    show.addEventListener("click", async () => {
      const answer = await fetchLines({ since: message.since, until: message.until, tail: "all" });
      if (!answer) return;
      const fragment = document.createDocumentFragment();
      for (const line of answer.lines) fragment.append(lineElement(line));
      el.before(fragment);
      if (answer.more) label.textContent = "More lines were skipped here than the page shows: download the log";
      else el.remove();
    });
    el.append(label, show);
  }

  async function fetchLines(params) {
    const response = await fetch(root.dataset.lines + "?" + new URLSearchParams(params), {
      headers: { Accept: "application/json" },
    });
    const answer = await response.json().catch(() => ({ error: "The console did not answer." }));
    if (!response.ok || answer.error) {
      setStatus(answer.error || "The console refused the request.");
      return null;
    }
    return answer;
  }

  const older = document.getElementById("log-older");
  older.addEventListener("click", async () => {
    const first = list.querySelector(".line");
    const params = { tail: String(OLDER) };
    if (first) params.until = first.logLine[0];
    else if (cursor.ts) params.until = cursor.ts;
    const answer = await fetchLines(params);
    if (!answer) return;
    const lines = first ? answer.lines.filter((l) => l[0] < first.logLine[0]) : answer.lines;
    if (!lines.length) {
      older.textContent = "This is the start of the log";
      older.disabled = true;
      return;
    }
    const height = view.scrollHeight;
    const fragment = document.createDocumentFragment();
    for (const line of lines) fragment.append(lineElement(line));
    list.prepend(fragment);
    paused = true; // reading back: new lines wait for the jump button
    let extra = list.children.length - MAX_DOM;
    const cut = [];
    while (extra-- > 0) {
      const last = list.lastElementChild;
      if (last.logLine) cut.unshift(last.logLine);
      last.remove();
    }
    if (cut.length) {
      waiting = cut.concat(waiting);
      if (waiting.length > MAX_DOM) { waiting.splice(MAX_DOM); gap = true; }
      jump.textContent = "↓ " + waiting.length + (gap ? "+" : "") + " new lines";
      jump.hidden = false;
    }
    view.scrollTop += view.scrollHeight - height;
  });

  // --- the socket ---
  function setStatus(text) {
    statusText.textContent = text;
  }

  function settings() {
    const data = new FormData(options);
    return {
      follow: data.get("follow") ? "1" : "0",
      tail: (data.get("tail") || "").trim(),
      since: (data.get("since") || "").trim(),
      until: (data.get("until") || "").trim(),
      timestamps: data.get("timestamps") ? "1" : "0",
    };
  }

  function connect(resuming) {
    clearTimeout(retryTimer);
    if (socket) { socket.onclose = null; socket.close(); }
    const chosen = settings();
    const params = { follow: chosen.follow, tail: chosen.tail, since: chosen.since, until: chosen.until };
    if (resuming && cursor.ts) Object.assign(params, { after: cursor.ts, seen: String(cursor.seen) });
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const ws = new WebSocket(scheme + location.host + root.dataset.socket + "?" + new URLSearchParams(params));
    let opened = false;
    socket = ws;
    reconnectButton.hidden = true;
    setStatus(resuming ? "Reconnecting…" : "Connecting…");
    ws.onopen = () => {
      opened = true;
      retries = 0;
      setStatus(chosen.follow === "1" ? "Following the log." : "Reading the log…");
    };
    ws.onmessage = (event) => {
      const message = JSON.parse(event.data);
      if (message.t === "lines") {
        receive(message.lines);
        ws.send(JSON.stringify({ ack: message.n }));
      } else if (message.t === "skipped") {
        skipped(message);
      } else if (message.t === "end") {
        note(message.notice);
        setStatus(message.notice);
        reconnectButton.textContent = chosen.follow === "1" ? "Follow again" : "Read again";
        reconnectButton.hidden = false;
      }
    };
    ws.onclose = (event) => {
      if (socket !== ws || event.code === 4000) return; // replaced, or ended with its notice
      if (!opened) {
        // Daphne answers a refused handshake with HTTP 403: the page only sees that
        // the socket never opened (logged out, access changed, container gone, or down).
        setStatus("The console refused this stream or could not be reached (reload the page to see why).");
        reconnectButton.textContent = "Retry";
        reconnectButton.hidden = false;
        return;
      }
      retries++;
      const wait = Math.min(1000 * 2 ** (retries - 1), 10000);
      setStatus("Connection lost: reconnecting in " + Math.round(wait / 1000) + " s…");
      reconnectButton.textContent = "Reconnect now";
      reconnectButton.hidden = false;
      retryTimer = setTimeout(() => connect(true), wait);
    };
  }

  function restart() {
    list.replaceChildren();
    waiting = [];
    gap = false;
    paused = false;
    jump.hidden = true;
    cursor = { ts: "", seen: 0 };
    older.disabled = false;
    older.textContent = "Load older lines";
    updateDownload();
    connect(false);
  }

  function updateDownload() {
    const chosen = settings();
    const params = { tail: chosen.tail || "all", since: chosen.since, until: chosen.until, timestamps: chosen.timestamps };
    download.href = root.dataset.download + "?" + new URLSearchParams(params);
  }

  options.addEventListener("submit", (event) => {
    event.preventDefault();
    restart();
  });
  options.elements.timestamps.addEventListener("change", () => {
    view.classList.toggle("no-ts", !options.elements.timestamps.checked);
    updateDownload();
  });
  options.elements.wrap.addEventListener("change", () => {
    view.classList.toggle("nowrap", !options.elements.wrap.checked);
  });
  options.elements.follow.addEventListener("change", restart);
  search.addEventListener("submit", (event) => event.preventDefault());
  search.addEventListener("input", repaint);
  reconnectButton.addEventListener("click", () => connect(true));

  updateDownload();
  connect(false);
})();
