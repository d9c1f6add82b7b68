// A form marked data-pending="Stopping…" shows that it was sent: its button takes that
// text, a spinner (Pico's aria-busy) and is disabled until the next page arrives; a stop
// may wait its whole timeout for a process that ignores SIGTERM. No inline script: the
// Content-Security-Policy forbids it.
document.addEventListener("submit", (event) => {
  const form = event.target;
  const text = form.dataset.pending;
  const button = event.submitter || form.querySelector("[type=submit]");
  if (!text || !button || event.defaultPrevented) return;
  button.dataset.label = button.textContent;
  button.textContent = text;
  button.setAttribute("aria-busy", "true");
  button.disabled = true;  // after the submit event: the form is sent all the same
});

// Back to a page kept in the browser's cache: its buttons are usable again.
window.addEventListener("pageshow", (event) => {
  if (!event.persisted) return;
  for (const button of document.querySelectorAll("[aria-busy=true][data-label]")) {
    button.textContent = button.dataset.label;
    button.removeAttribute("aria-busy");
    button.disabled = false;
  }
});
