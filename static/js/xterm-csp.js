// xterm.js's DOM renderer puts its cell sizes and colours in <style> elements it creates,
// which the Content-Security-Policy (style-src 'self', console/middleware.py) refuses.
// Load this after xterm.js: a <style> element's text then goes into a constructed style
// sheet adopted by the document (CSSOM, which the policy allows), the element stays empty.
(function () {
  "use strict";
  const create = document.createElement;
  document.createElement = function (tag, options) {
    const element = create.call(this, tag, options);
    if (String(tag).toLowerCase() !== "style") return element;
    const sheet = new CSSStyleSheet();
    let text = "";
    document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];
    Object.defineProperty(element, "textContent", {
      get: () => text,
      set: (value) => { text = String(value); sheet.replaceSync(text); },
    });
    const remove = element.remove;
    element.remove = function () {
      document.adoptedStyleSheets = document.adoptedStyleSheets.filter((s) => s !== sheet);
      remove.call(this);
    };
    return element;
  };
})();
