// Several containers' logs in one view: one log socket per container (the same consumer
// as the Logs tab), lines merged in time order, each marked with its container and host.
// Log text is never markup: lines are built from text nodes.
"use strict";
(function () {
  const root = document.getElementById("merged-logs");
  if (!root) return;
  const MAX_DOM = 5000; // lines kept in the page
  const MERGE_MS = 250; // lines wait this long for others from other containers to sort among
  const view = document.getElementById("log-view");
  const list = document.getElementById("log-lines");
  const statusText = document.getElementById("log-status");
  const jump = document.getElementById("log-jump");
  const search = document.getElementById("log-search");
  const matches = document.getElementById("log-matches");
  const ansiSegments = window.wharfAnsiSegments;
  let pending = []; // [line, source] not yet placed
  let waiting = []; // placed while the reader is scrolled up
  let paused = false;
  let flushTimer = null;

  const sources = Array.from(root.querySelectorAll(".log-sources li")).map((li, i) => ({
    li, path: li.dataset.socket, label: li.dataset.name + " @ " + li.dataset.host,
    colour: "hsl(" + ((i * 67) % 360) + " 70% 68%)", cursor: { ts: "", seen: 0 }, retries: 0, live: false,
  }));
  for (const s of sources) s.li.querySelector(".src").style.color = s.colour;

  function say(text) {
    statusText.textContent = text;
  }

  function summary() {
    const live = sources.filter((s) => s.live).length;
    say("Following " + live + " of " + sources.length + " containers.");
  }

  function lineElement([ts, err, text], source) {
    const tag = document.createElement("span");
    tag.className = "src";
    tag.textContent = source.label;
    tag.style.color = source.colour;
    const el = window.wharfLogLine(ts, err, tag);
    el.plain = text;
    const body = el.querySelector(".msg");
    for (const seg of ansiSegments(text)) {
      const span = document.createElement("span");
      if (seg.fg !== null) span.classList.add("ansi-" + seg.fg);
      if (seg.bold) span.classList.add("ansi-bold");
      span.textContent = seg.text;
      body.append(span);
    }
    filter(el);
    return el;
  }

  function filter(el) {
    const q = search.elements.q.value.toLowerCase();
    el.classList.toggle("hidden", Boolean(q) && !el.plain.toLowerCase().includes(q));
  }

  function atBottom() {
    return view.scrollTop + view.clientHeight >= view.scrollHeight - 4;
  }

  function place(elements) {
    const fragment = document.createDocumentFragment();
    fragment.append(...elements);
    list.append(fragment);
    let extra = list.children.length - MAX_DOM;
    while (extra-- > 0) list.firstElementChild.remove();
    view.scrollTop = view.scrollHeight;
  }

  function flush() {
    flushTimer = null;
    const batch = pending;
    pending = [];
    batch.sort((a, b) => (a[0][0] < b[0][0] ? -1 : a[0][0] > b[0][0] ? 1 : 0)); // stable: per container order kept
    const elements = batch.map(([line, source]) => lineElement(line, source));
    if (!paused && !atBottom()) paused = true;
    if (!paused) return place(elements);
    waiting.push(...elements);
    if (waiting.length > MAX_DOM) waiting.splice(0, waiting.length - MAX_DOM);
    jump.textContent = "↓ " + waiting.length + " new lines";
    jump.hidden = false;
  }

  function receive(source, lines) {
    for (const line of lines) {
      if (line[0] === source.cursor.ts) source.cursor.seen++;
      else source.cursor = { ts: line[0], seen: 1 };
      pending.push([line, source]);
    }
    if (!flushTimer) flushTimer = setTimeout(flush, MERGE_MS);
  }

  function notice(source, text) {
    const el = document.createElement("div");
    el.className = "notice";
    el.textContent = source.label + ": " + text;
    if (paused) waiting.push(el);
    else place([el]);
  }

  function sourceStatus(source, text, again) {
    source.li.querySelector(".source-status").textContent = text;
    source.li.querySelector(".source-again").hidden = !again;
    summary();
  }

  function connect(source) {
    clearTimeout(source.timer);
    const params = { follow: "1", tail: root.dataset.tail || "100" };
    if (source.cursor.ts) Object.assign(params, { after: source.cursor.ts, seen: String(source.cursor.seen) });
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const ws = new WebSocket(scheme + location.host + source.path + "?" + new URLSearchParams(params));
    let opened = false;
    ws.onopen = () => {
      opened = true;
      source.live = true;
      source.retries = 0;
      sourceStatus(source, "live", false);
    };
    ws.onmessage = (event) => {
      const message = JSON.parse(event.data);
      if (message.t === "lines") {
        receive(source, message.lines);
        ws.send(JSON.stringify({ ack: message.n }));
      } else if (message.t === "skipped") {
        notice(source, message.count + " lines skipped (the page fell behind); open its Logs tab to read them");
      } else if (message.t === "end") {
        source.live = false;
        notice(source, message.notice);
        sourceStatus(source, message.notice, true);
      }
    };
    ws.onclose = (event) => {
      source.live = false;
      if (event.code === 4000) return; // ended, with its notice
      if (!opened) {
        sourceStatus(source, "refused or unreachable (open its page to see why)", true);
        return;
      }
      const wait = Math.min(1000 * 2 ** source.retries++, 10000);
      sourceStatus(source, "connection lost: reconnecting in " + Math.round(wait / 1000) + " s…", true);
      source.timer = setTimeout(() => connect(source), wait);
    };
  }

  view.addEventListener("scroll", () => {
    if (!paused && !atBottom()) paused = true;
    else if (paused && atBottom()) resume();
  });
  function resume() {
    paused = false;
    jump.hidden = true;
    const elements = waiting;
    waiting = [];
    place(elements);
  }
  jump.addEventListener("click", resume);
  search.addEventListener("submit", (event) => event.preventDefault());
  search.elements.q.addEventListener("input", () => {
    let shown = 0;
    for (const el of list.querySelectorAll(".line")) {
      filter(el);
      if (!el.classList.contains("hidden")) shown++;
    }
    matches.textContent = search.elements.q.value ? shown + " lines shown" : "";
  });
  search.elements.wrap.addEventListener("change", () => view.classList.toggle("nowrap", !search.elements.wrap.checked));
  for (const source of sources) {
    source.li.querySelector(".source-again").addEventListener("click", () => connect(source));
    connect(source);
  }
})();
