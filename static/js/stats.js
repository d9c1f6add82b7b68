// Live `docker stats` (console/streams/consumers.py StatsConsumer). Two uses:
// - a container's Stats tab (#stats-charts): CPU %, memory (use and limit), network and
//   block I/O per second, charted with uPlot (static/vendor/uplot);
// - a host's table (#stats-table): a row per running container the user may see.
// Messages: {t: "stats", rows: [...], down: [{id, text}], gone: [{id, text}]}, then
// {t: "end", notice} when the container was removed. Text is set with textContent.
"use strict";
(function () {
  const charts = document.getElementById("stats-charts");
  const table = document.getElementById("stats-table");
  const root = charts || table;
  if (!root) return;
  const statusText = document.getElementById("stats-status");
  const reconnect = document.getElementById("stats-reconnect");
  const POINTS = 300; // five minutes of samples
  let socket = null, attempt = 0, retryTimer = null, ended = false;

  function say(text, down) {
    statusText.textContent = text;
    statusText.classList.toggle("stats-down", !!down);
    root.dataset.state = down ? "down" : text.startsWith("Live") ? "live" : "other";
  }

  // --- charts ---
  const SIZES = ["B", "kB", "MB", "GB", "TB"];
  function human(n) {
    let i = 0;
    while (Math.abs(n) >= 1000 && i < SIZES.length - 1) { n /= 1000; i++; }
    return (i ? n.toPrecision(3) : Math.round(n)) + SIZES[i];
  }
  const series = {}; // chart id -> {plot, data: [xs, ...ys]}
  function chart(id, labels, colours, format) {
    const element = document.getElementById(id);
    const data = [[]].concat(labels.map(function () { return []; }));
    const options = {
      width: Math.max(element.clientWidth, 300), height: 180,
      series: [{}].concat(labels.map(function (label, i) {
        return { label: label, stroke: colours[i], width: 1.5, value: function (u, v) { return v == null ? "—" : format(v); } };
      })),
      axes: [{}, { values: function (u, ticks) { return ticks.map(format); }, size: 70 }],
      scales: { y: { range: function (u, min, max) { return [0, Math.max(max, 1)]; } } },
    };
    series[id] = { plot: new uPlot(options, data, element), data: data, element: element };
  }
  function push(id, time, values) {
    const s = series[id];
    s.data[0].push(time);
    values.forEach(function (v, i) { s.data[i + 1].push(v); });
    if (s.data[0].length > POINTS) s.data.forEach(function (column) { column.shift(); });
    s.plot.setData(s.data);
  }
  let previous = null;
  function plot(row) {
    const time = Date.parse(row.read) / 1000;
    document.getElementById("stats-cpu-text").textContent = row.text.CPUPerc;
    document.getElementById("stats-mem-text").textContent = row.text.MemUsage + " (" + row.text.MemPerc + ")";
    document.getElementById("stats-net-text").textContent = row.text.NetIO;
    document.getElementById("stats-block-text").textContent = row.text.BlockIO;
    document.getElementById("stats-pids").textContent = row.text.PIDs;
    push("chart-cpu", time, [row.cpu]);
    push("chart-mem", time, [row.memory, row.limit]);
    if (previous && time > previous.time) {
      const rate = function (now, then) { return Math.max(0, (now - then) / (time - previous.time)); };
      push("chart-net", time, [rate(row.net_rx, previous.row.net_rx), rate(row.net_tx, previous.row.net_tx)]);
      push("chart-block", time, [rate(row.block_read, previous.row.block_read), rate(row.block_write, previous.row.block_write)]);
    }
    previous = { time: time, row: row };
    root.dataset.samples = Number(root.dataset.samples || 0) + 1; // samples charted so far
  }
  if (charts) {
    chart("chart-cpu", ["CPU %"], ["#1e88e5"], function (v) { return v.toFixed(2) + "%"; });
    chart("chart-mem", ["Used", "Limit"], ["#43a047", "#9e9e9e"], function (v) { return human(v); });
    chart("chart-net", ["In", "Out"], ["#8e24aa", "#fb8c00"], function (v) { return human(v) + "/s"; });
    chart("chart-block", ["Read", "Write"], ["#00897b", "#e53935"], function (v) { return human(v) + "/s"; });
    window.addEventListener("resize", function () {
      Object.values(series).forEach(function (s) { s.plot.setSize({ width: Math.max(s.element.clientWidth, 300), height: 180 }); });
    });
  }

  // --- the host's table ---
  const COLUMNS = ["CPUPerc", "MemUsage", "MemPerc", "NetIO", "BlockIO", "PIDs"];
  function tableRow(row) {
    const rows = document.getElementById("stats-rows");
    const empty = rows.querySelector("tr.empty");
    if (empty) empty.remove();
    let tr = document.getElementById("stats-" + row.id);
    if (!tr) {
      tr = document.createElement("tr");
      tr.id = "stats-" + row.id;
      tr.dataset.name = row.name;
      const id = tr.insertCell();
      id.className = "mono";
      id.textContent = row.id.slice(0, 12);
      const link = document.createElement("a");
      link.href = table.dataset.containerUrl + encodeURIComponent(row.id.slice(0, 12)) + "/stats/";
      link.textContent = row.name;
      tr.insertCell().appendChild(link);
      COLUMNS.forEach(function () { tr.insertCell().className = "mono"; });
      const after = Array.from(rows.rows).find(function (r) { return r.dataset.name > row.name; });
      rows.insertBefore(tr, after || null);
    }
    COLUMNS.forEach(function (key, i) { tr.cells[i + 2].textContent = row.text[key]; });
    tr.classList.remove("stats-down");
  }
  function tableGone(item) {
    const tr = document.getElementById("stats-" + item.id);
    if (tr) tr.remove();
  }

  // --- the socket ---
  function onMessage(message) {
    const m = JSON.parse(message.data);
    if (m.t === "end") {
      ended = true;
      say(m.notice, true);
      return;
    }
    if (m.t !== "stats") return;
    m.rows.forEach(function (row) {
      if (table) tableRow(row);
      else if (row.running) { plot(row); say("Live."); }
      else { previous = null; say("The container is stopped: no figures until it starts again."); }
    });
    if (table) m.gone.forEach(tableGone);
    if (m.down.length) {
      say((table ? m.down.length + " container(s): " : "") + "host unreachable (" + m.down[0].text + ")", true);
      if (table) m.down.forEach(function (d) { const tr = document.getElementById("stats-" + d.id); if (tr) tr.classList.add("stats-down"); });
    } else if (table && m.rows.length) {
      say("Live: " + document.getElementById("stats-rows").querySelectorAll("tr[id]").length + " running containers.");
    }
    root.dataset.messages = Number(root.dataset.messages || 0) + 1;
  }

  function open() {
    clearTimeout(retryTimer);
    reconnect.hidden = true;
    say("Connecting…");
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + root.dataset.socket);
    socket.onopen = function () { attempt = 0; say("Connected; waiting for the first sample…"); };
    socket.onmessage = onMessage;
    socket.onclose = function (event) {
      if (ended) return;
      if (event.code === 4401) { say("Log in again to see the stats.", true); return; }
      if (event.code === 4403 || event.code === 4404) { say(event.reason || "Not allowed.", true); return; }
      // the host failed, or the connection dropped: try again, and offer to at once
      say("Disconnected (host unreachable or the console restarted); reconnecting…", true);
      reconnect.hidden = false;
      attempt += 1;
      retryTimer = setTimeout(open, Math.min(30000, 1000 * 2 ** attempt));
    };
  }
  reconnect.addEventListener("click", function () { attempt = 0; open(); });
  open();
})();
