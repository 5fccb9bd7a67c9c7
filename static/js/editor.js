// The template editor: CodeMirror over the HTML field, preview widths, the test-send result.
// Pages arrive by htmx swaps, so everything binds by delegation or htmx.onLoad, and starting the
// editor twice must be impossible: a second CodeMirror beside the first is how edits got lost.
(function () {
  "use strict";

  function liveEditorOf(area) {
    const next = area.nextElementSibling;
    return next && next.classList.contains("CodeMirror") && next.CodeMirror ? next.CodeMirror : null;
  }

  function startEditor(area) {
    if (!window.CodeMirror || liveEditorOf(area)) return;
    // A page restored from htmx's history holds the markup of an earlier editor but not the editor.
    while (area.nextElementSibling && area.nextElementSibling.classList.contains("CodeMirror")) {
      area.nextElementSibling.remove();
    }
    const editor = window.CodeMirror.fromTextArea(area, {
      mode: area.dataset.codeEditor, lineNumbers: true, lineWrapping: true,
      // Tab and Shift-Tab move the focus on, as in any field, so keyboard users are never trapped here;
      // Ctrl-] and Ctrl-[ indent.
      extraKeys: { Tab: false, "Shift-Tab": false },
    });
    // The textarea is what the form sends: keep it equal to what CodeMirror shows after every change.
    editor.on("change", function () { editor.save(); });
  }

  function showPreviewWidth() {
    const pressed = document.querySelector('[data-preview-width][aria-pressed="true"]');
    const frame = document.getElementById("preview-frame");
    if (pressed && frame) frame.style.width = pressed.dataset.previewWidth;
  }

  document.addEventListener("click", function (event) {
    const button = event.target.closest && event.target.closest("[data-preview-width]");
    if (!button) return;
    document.querySelectorAll("[data-preview-width]").forEach(function (other) {
      other.setAttribute("aria-pressed", String(other === button));
    });
    showPreviewWidth();
  });

  // A new submission makes the last result line stale (data-result names it), even if it fails unanswered.
  document.addEventListener("htmx:beforeRequest", function (event) {
    const id = event.detail.elt && event.detail.elt.dataset && event.detail.elt.dataset.result;
    const result = id && document.getElementById(id);
    if (result) result.replaceChildren();
  });

  htmx.onLoad(function (root) {
    const scope = root.querySelectorAll ? root : document;
    if (scope.matches && scope.matches("textarea[data-code-editor]")) startEditor(scope);
    scope.querySelectorAll("textarea[data-code-editor]").forEach(startEditor);
    showPreviewWidth();
  });
})();
