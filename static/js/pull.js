// Pulls and pushes with live progress: one websocket per host (/ws/hosts/<h>/images/<verb>/),
// one <progress> per layer and one for the host's total. Closing the socket cancels.
"use strict";
(function () {
  const box = document.getElementById("transfers");
  const template = document.getElementById("transfer-template");
  if (!box || !template) return;

  // The image list below the form shows what a pull brought (htmx swaps its table).
  function refreshList() {
    if (window.htmx && document.getElementById("image-table")) htmx.ajax("GET", location.href, "#image-table");
  }

  function megabytes(n) { return (n / 1e6).toFixed(1) + " MB"; }

  function start(verb, host, ref) {
    const section = template.content.firstElementChild.cloneNode(true);
    const part = (name) => section.querySelector("[data-" + name + "]");
    const status = part("status"), total = part("total"), bytes = part("bytes"), list = part("layers");
    const cancel = part("cancel");
    const layers = {};
    part("title").textContent = verb + " " + ref + " on " + host;
    section.dataset.host = host;
    box.prepend(section);
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const url = scheme + location.host + "/ws/hosts/" + encodeURIComponent(host) + "/images/" + verb +
      "/?ref=" + encodeURIComponent(ref);
    const socket = new WebSocket(url);
    let ended = false;
    status.textContent = "starting";
    cancel.addEventListener("click", () => { socket.close(); });

    function layer(id) {
      if (!layers[id]) {
        const item = document.createElement("li");
        const name = document.createElement("code");
        const bar = document.createElement("progress");
        const text = document.createElement("small");
        name.textContent = id;
        bar.max = 1; bar.value = 0;
        item.append(name, " ", bar, " ", text);
        list.append(item);
        layers[id] = { bar, text };
      }
      return layers[id];
    }

    socket.addEventListener("message", (event) => {
      const message = JSON.parse(event.data);
      if (message.t === "progress") {
        for (const [id, state] of Object.entries(message.layers)) {
          const row = layer(id);
          if (state.total) { row.bar.max = state.total; row.bar.value = state.current; }
          if (/complete|exists|Pushed/.test(state.status)) { row.bar.max = 1; row.bar.value = 1; }
          row.text.textContent = state.status;
        }
        const [done, size] = message.total;
        if (size) { total.max = size; total.value = done; bytes.textContent = megabytes(done) + " of " + megabytes(size); }
        if (message.status) status.textContent = message.status;
      } else if (message.t === "end") {
        ended = true;
        status.textContent = message.notice;
        section.classList.add(message.failed ? "failed" : "done");
        if (!message.failed) { total.max = 1; total.value = 1; refreshList(); }
        cancel.remove();
      }
    });
    socket.addEventListener("close", (event) => {
      if (ended) return;
      status.textContent = event.code === 1000 || event.code === 1005 ? "cancelled" :
        (event.reason || "refused, or the connection was lost");
      section.classList.add("failed");
      cancel.remove();
    });
  }

  const form = document.getElementById("pull-form");
  if (form) {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const data = new FormData(form);
      const ref = (data.get("ref") || "").trim();
      const hosts = data.getAll("host");
      if (!ref || !hosts.length) { box.textContent = "Give an image and tick at least one host."; return; }
      if (box.firstChild && box.firstChild.nodeType === Node.TEXT_NODE) box.textContent = "";
      for (const host of hosts) start("pull", host, ref);
    });
  }
  for (const button of document.querySelectorAll("[data-push]")) {
    button.addEventListener("click", () => start("push", button.dataset.host, button.dataset.push));
  }
})();
