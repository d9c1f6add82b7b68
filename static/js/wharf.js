// Small behaviours the templates ask for with data- attributes: the Content-Security-Policy
// allows no inline script or event handler (console/middleware.py).
document.addEventListener("click", (event) => {
  if (event.target.closest("[data-back]")) {
    event.preventDefault();
    history.back();
  }
  // "Follow logs of selected": the merged log view of the ticked rows (?c=host/id ...)
  const follow = event.target.closest("[data-follow-selected]");
  if (follow) {
    const picked = Array.from(follow.form.querySelectorAll("input[name=c]:checked"), (box) => ["c", box.value]);
    if (picked.length) window.location.href = follow.dataset.followSelected + "?" + new URLSearchParams(picked);
    else follow.nextElementSibling.hidden = false;
  }
});
document.addEventListener("change", (event) => {
  const all = event.target.closest("[data-select-all]");
  if (!all) return;
  for (const box of all.closest("table").querySelectorAll(all.dataset.selectAll)) box.checked = all.checked;
});
