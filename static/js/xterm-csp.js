// xterm.js's DOM renderer styles itself in ways the Content-Security-Policy (style-src
// 'self', console/middleware.py) refuses: <style> elements for its cell sizes and colours,
// and style="" attributes on some cells (24-bit colours, letter spacing). Loaded after
// xterm.js on a page with a terminal, this routes both through the CSSOM, which the policy
// allows: a <style> it asks for is an inert <template> (even an empty <style> is refused)
// whose text goes into a constructed style sheet adopted by the document, and
// setAttribute("style", text) sets style.cssText.
(function () {
  "use strict";
  const create = document.createElement;
  document.createElement = function (tag, options) {
    if (String(tag).toLowerCase() !== "style") return create.call(this, tag, options);
    const element = create.call(this, "template");
    const sheet = new CSSStyleSheet();
    let text = "";
    document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];
    Object.defineProperty(element, "textContent", {
      get: () => text,
      set: (value) => {
        text = String(value);
        sheet.replaceSync(text);
      },
    });
    const remove = element.remove;
    element.remove = function () {
      document.adoptedStyleSheets = document.adoptedStyleSheets.filter((s) => s !== sheet);
      remove.call(this);
    };
    return element;
  };
  const setAttribute = Element.prototype.setAttribute;
  Element.prototype.setAttribute = function (name, value) {
    if (String(name).toLowerCase() === "style" && this.style) {
      this.style.cssText = String(value);
      return;
    }
    setAttribute.call(this, name, value);
  };
})();
