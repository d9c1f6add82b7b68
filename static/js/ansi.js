// What the log views (logs.js, merged-logs.js) share: ANSI colours of log text (text in,
// segments {text, fg, bold} out) and the element of one line, built with textContent.
"use strict";
(function () {
  // SGR 0, 1, 22, 30-37, 39, 90-97; other escapes are dropped
  const ESCAPE = /\x1b\[([0-9;?]*)([A-Za-z])/g;
  window.wharfAnsiSegments = function (text) {
    const out = [];
    let fg = null, bold = false, last = 0, m;
    ESCAPE.lastIndex = 0;
    while ((m = ESCAPE.exec(text))) {
      if (m.index > last) out.push({ text: text.slice(last, m.index), fg, bold });
      last = ESCAPE.lastIndex;
      if (m[2] !== "m") continue;
      for (const part of (m[1] || "0").split(";")) {
        const n = Number(part || 0);
        if (n === 0) { fg = null; bold = false; }
        else if (n === 1) bold = true;
        else if (n === 22) bold = false;
        else if (n >= 30 && n <= 37) fg = n - 30;
        else if (n >= 90 && n <= 97) fg = n - 90 + 8;
        else if (n === 39) fg = null;
      }
    }
    if (last < text.length) out.push({ text: text.slice(last), fg, bold });
    return out;
  };

  // <div class="line [stderr]"><ts>[tag][stderr]<span class="msg"></span></div>; the view fills .msg
  window.wharfLogLine = function (ts, err, tag) {
    const el = document.createElement("div");
    el.className = err ? "line stderr" : "line";
    const stamp = document.createElement("span");
    stamp.className = "ts";
    stamp.textContent = ts.replace("T", " ").slice(0, 23);
    stamp.title = ts;
    el.append(stamp);
    if (tag) el.append(tag);
    if (err) {
      const mark = document.createElement("span");
      mark.className = "err";
      mark.textContent = "stderr";
      el.append(mark);
    }
    const body = document.createElement("span");
    body.className = "msg";
    el.append(body);
    return el;
  };
})();
