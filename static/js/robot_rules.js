// The robot rule form shows only the fields its kind uses (the others stay in the form, ignored on save).
(function () {
  "use strict";

  const FORM = '[data-testid="robot-rule-form"]';

  function showFieldsOfKind(form) {
    const kind = form.querySelector('select[name="kind"]');
    if (!kind) return;
    form.querySelectorAll("[data-robot-kinds]").forEach(function (box) {
      box.hidden = box.dataset.robotKinds.split(" ").indexOf(kind.value) < 0;
    });
  }

  function showFieldsOfEveryForm() {
    document.querySelectorAll(FORM).forEach(showFieldsOfKind);
  }

  // A burst of links is something only clicks make: choosing it chooses Clicks (the server refuses it otherwise).
  function clicksForBursts(form) {
    const kind = form.querySelector('select[name="kind"]');
    const applies = form.querySelector('select[name="applies_to"]');
    if (kind && applies && kind.value === "link_burst") applies.value = "click";
  }

  document.addEventListener("change", function (event) {
    if (!event.target.matches(FORM + ' select[name="kind"]')) return;
    showFieldsOfKind(event.target.form);
    clicksForBursts(event.target.form);
  });
  document.addEventListener("DOMContentLoaded", showFieldsOfEveryForm);
  // Pages arrive by htmx (boosted links, re-rendered forms): new content is shown the same way.
  document.addEventListener("htmx:load", showFieldsOfEveryForm);
})();
