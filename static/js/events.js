// Live host events (console/streams/consumers.py EventConsumer), one socket per host in
// data-sockets. Two uses:
// - the events page (#events): each event becomes a row, built from text nodes;
// - a live container or image list, or container page (data-live-events on an element):
//   a change of what it shows re-fetches that element (an htmx GET of the same URL).
//   The server has brought the host's state up to date before it sends the event
//   (console/streams/state.py), so the list read then already shows the change.
"use strict";
(function () {
  const MAX_ROWS = 1000;
  const CHANGES = {
    container: new Set(["create", "start", "stop", "die", "kill", "destroy", "pause", "unpause", "rename", "restart",
                        "health_status"]),
    image: new Set(["delete", "import", "load", "pull", "tag", "untag"]),
  };
  const table = document.getElementById("events");
  const live = document.querySelector("[data-live-events]");
  const root = table || live;
  if (!root || !root.dataset.sockets && !root.dataset.liveEvents) return;
  const paths = (table ? root.dataset.sockets : root.dataset.liveEvents).split(" ").filter(Boolean);
  function say(text) {
    // looked up each time: a live refresh replaces the element that holds it
    const statusText = document.getElementById(table ? "event-status" : "live-status");
    if (statusText) statusText.textContent = text;
  }

  function cell(row, text, mono) {
    const td = row.insertCell();
    td.textContent = text;
    if (mono) td.className = "mono";
  }

  function addRow(e) {
    const rows = document.getElementById("event-rows");
    const row = rows.insertRow(0);
    cell(row, e.at, true);
    if (root.dataset.showHost === "1") cell(row, e.host);
    cell(row, e.type);
    cell(row, e.action);
    cell(row, e.name || e.id.slice(0, 12), true);
    const attrs = Object.entries(e.attributes).filter(([k]) => k !== "name").map(([k, v]) => k + "=" + v);
    cell(row, attrs.join(", "));
    row.cells[row.cells.length - 1].className = "muted";
    while (rows.rows.length > MAX_ROWS) rows.deleteRow(-1);
  }

  let refreshTimer = null;
  function refresh() {
    // a burst of events (stop = kill + die + stop) gives one request
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(function () {
      if (live.querySelector("tbody input[type=checkbox]:checked")) {
        say("The list changed: it refreshes once nothing is selected.");
        refreshTimer = null;
        return;
      }
      const target = "#" + live.id;
      htmx.ajax("GET", window.location.href, { target: target, select: live.dataset.select || undefined, swap: live.dataset.select ? "outerHTML" : "innerHTML" });
    }, 200);
  }

  // a container page whose container is removed says so, instead of re-fetching a 404
  let gone = false;
  function removed(e, socket) {
    gone = true;
    clearTimeout(refreshTimer);
    say(live.dataset.removed + " (" + e.at + ").");
    document.querySelectorAll(".container-actions button").forEach(function (b) { b.disabled = true; });
    socket.close();
  }

  function open(path, attempt) {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const socket = new WebSocket(scheme + location.host + path);
    socket.onopen = function () {
      attempt = 0;
      root.dataset.connected = Number(root.dataset.connected || 0) + 1; // sockets opened so far
      if (table) say("Live.");
    };
    socket.onmessage = function (message) {
      const m = JSON.parse(message.data);
      if (m.t === "event") {
        if (table) addRow(m);
        else if (m.type === "container" && m.action === "destroy" && live.dataset.removed) removed(m, socket);
        else if (CHANGES[m.type] && CHANGES[m.type].has(m.action.split(":")[0])) refresh();
      } else if (m.t === "notice") {
        say(m.text);
        if (m.up && live) refresh();
      } else if (m.t === "skipped") {
        say(m.count + " events skipped (this page was too slow): reload the page.");
      }
    };
    socket.onclose = function (event) {
      if (gone || event.code === 4401 || event.code === 4403 || event.code === 4404) return; // refused
      say("Disconnected from the events; reconnecting…");
      setTimeout(function () { open(path, attempt + 1); }, Math.min(30000, 1000 * 2 ** attempt));
    };
  }

  paths.forEach(function (path) { open(path, 0); });
})();
