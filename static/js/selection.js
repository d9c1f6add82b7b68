// The bulk buttons of a list act on the ticked rows: they are enabled while a row is ticked.
function updateBulkButtons(form) {
  const ticked = form.querySelector("input[name=i]:checked") !== null;
  for (const button of form.querySelectorAll(".bulk-bar button")) button.disabled = !ticked;
}
document.addEventListener("change", (event) => {
  const form = event.target.closest("form[data-selection]");
  if (form) updateBulkButtons(form);
});
document.addEventListener("htmx:afterSwap", () => {
  for (const form of document.querySelectorAll("form[data-selection]")) updateBulkButtons(form);
});
document.addEventListener("DOMContentLoaded", () => {
  for (const form of document.querySelectorAll("form[data-selection]")) updateBulkButtons(form);
});
