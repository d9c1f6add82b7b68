// A form marked data-raw-upload sends its one file as the request body itself (not a
// multipart form), so that the console can pass it on to the daemon as it arrives
// instead of spooling it to disk first. Without JavaScript the form posts as usual.
document.addEventListener("submit", async (event) => {
  const form = event.target;
  if (!form.matches("form[data-raw-upload]")) return;
  const file = form.querySelector("input[type=file]").files[0];
  if (!file) return;
  event.preventDefault();
  form.querySelector("button[type=submit]").setAttribute("aria-busy", "true");
  const response = await fetch(form.action || window.location.href, {
    method: "POST",
    body: file,
    headers: {
      "Content-Type": "application/x-tar",
      "X-CSRFToken": form.querySelector("input[name=csrfmiddlewaretoken]").value,
      "X-File-Name": encodeURIComponent(file.name),
    },
  });
  document.open();
  document.write(await response.text());
  document.close();
});
