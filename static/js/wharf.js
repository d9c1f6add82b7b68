// Small behaviours the templates ask for with data- attributes: the Content-Security-Policy
// allows no inline script or event handler (console/middleware.py).
document.addEventListener("click", (event) => {
  if (event.target.closest("[data-back]")) {
    event.preventDefault();
    history.back();
  }
});
document.addEventListener("change", (event) => {
  const all = event.target.closest("[data-select-all]");
  if (!all) return;
  for (const box of all.closest("table").querySelectorAll(all.dataset.selectAll)) box.checked = all.checked;
});
