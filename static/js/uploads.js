// Upload forms (form[data-upload-form]): a file over data-max-bytes is refused before it is sent, and the
// upload's progress fills the form's bar while htmx sends it. Bound on document, since forms arrive by swaps.
(function () {
  "use strict";

  function uploadForm(event) {
    const target = event.target;
    return target && target.closest ? target.closest("form[data-upload-form]") : null;
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    const form = uploadForm(event);
    if (!form) return;
    const input = form.querySelector("input[type=file]");
    const file = input && input.files && input.files[0];
    const tooBig = Boolean(file) && file.size > Number(form.dataset.maxBytes);
    const warning = form.querySelector("[data-upload-too-big]");
    if (warning) warning.hidden = !tooBig;
    if (tooBig) event.preventDefault();
  });

  document.addEventListener("htmx:xhr:progress", function (event) {
    const form = uploadForm(event);
    const bar = form && form.querySelector("progress[data-upload-progress]");
    if (!bar) return;
    bar.hidden = false;
    if (event.detail.lengthComputable && event.detail.total) {
      bar.value = Math.round(event.detail.loaded / event.detail.total * 100);
    }
  });
})();
