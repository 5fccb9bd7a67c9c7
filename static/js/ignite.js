// Behaviour shared by every page: what htmx does with errors, confirmations, toasts.
// No inline script anywhere (the Content-Security-Policy forbids it): pages opt in with data- attributes.
(function () {
  "use strict";

  function toastRegion() {
    return document.getElementById("toasts");
  }

  function showToast(message, kind) {
    const region = toastRegion();
    if (!region) return;
    const toast = document.createElement("div");
    toast.className = "toast toast--" + (kind || "error");
    toast.setAttribute("role", kind === "error" ? "alert" : "status");
    toast.dataset.testid = "toast";
    toast.textContent = message;
    const close = document.createElement("button");
    close.type = "button";
    close.className = "toast-close";
    close.setAttribute("aria-label", "Dismiss");
    close.textContent = "×";
    close.addEventListener("click", function () { toast.remove(); });
    toast.appendChild(close);
    region.appendChild(toast);
    setTimeout(function () { toast.remove(); }, 12000);
  }

  const FALLBACK = {
    403: "You can't do that here.",
    404: "That no longer exists. Reload the page.",
    409: "That changed meanwhile. Reload the page and try again.",
    413: "That was too large.",
    429: "Too many requests. Wait a moment and try again.",
  };

  function messageOf(xhr) {
    const header = xhr.getResponseHeader("X-Ignite-Message");
    if (header) return decodeURIComponent(header);
    return FALLBACK[xhr.status] || "Something went wrong on our side (" + xhr.status + "). Try again in a moment.";
  }

  // A new submission makes earlier success banners stale: clear them before the answer arrives.
  document.addEventListener("htmx:beforeRequest", function (event) {
    if (event.detail.requestConfig && event.detail.requestConfig.verb !== "get") {
      document.querySelectorAll("#flash .flash--success, #flash .flash--info").forEach(function (el) { el.remove(); });
    }
  });

  document.addEventListener("htmx:beforeSwap", function (event) {
    const detail = event.detail;
    const status = detail.xhr.status;
    // A link followed to an error page shows that page, as a full navigation would.
    if (status >= 400 && status !== 422 && detail.boosted && detail.requestConfig.verb === "get") {
      detail.shouldSwap = true;
      detail.isError = false;
    }
  });

  document.addEventListener("htmx:responseError", function (event) {
    showToast(messageOf(event.detail.xhr), "error");
  });

  document.addEventListener("htmx:sendError", function () {
    showToast("The server could not be reached. Check your connection and try again.", "error");
  });

  // Confirmation before destructive actions: data-confirm on the form or on the button that submits it;
  // data-confirm-type="878" also asks for that text to be typed. data-confirm-needs="reason" asks only
  // once that field is filled in: until then the server's message next to the field is the answer.
  function confirmationFor(form, submitter) {
    const source = (submitter && submitter.dataset.confirm) ? submitter : form;
    if (!source || !source.dataset || !source.dataset.confirm) return null;
    const needed = source.dataset.confirmNeeds && form.elements.namedItem(source.dataset.confirmNeeds);
    if (needed && !String(needed.value || "").trim()) return null;
    return { message: source.dataset.confirm, typed: source.dataset.confirmType || "" };
  }

  function confirmed(question) {
    if (question.typed) {
      const answer = window.prompt(question.message + "\n\nType " + question.typed + " to confirm.");
      return answer !== null && answer.trim() === question.typed;
    }
    return window.confirm(question.message);
  }

  document.addEventListener("submit", function (event) {
    const form = event.target;
    const question = confirmationFor(form, event.submitter);
    if (!question) return;
    if (!confirmed(question)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);

  // A select that submits its form when it changes (the workspace switcher, filters).
  document.addEventListener("change", function (event) {
    const field = event.target;
    if (field.matches && field.matches("[data-autosubmit]") && field.form) field.form.requestSubmit();
  });

  // A button with data-copy="#field" copies that field's value (a secret shown once) to the clipboard.
  document.addEventListener("click", function (event) {
    const button = event.target.closest && event.target.closest("[data-copy]");
    const field = button && document.querySelector(button.dataset.copy);
    if (!field) return;
    field.select();
    navigator.clipboard.writeText(field.value).then(function () { showToast("Copied.", "success"); },
      function () { showToast("Copy it by hand: it is selected.", "error"); });
  });

  window.ignite = { showToast: showToast };
})();
