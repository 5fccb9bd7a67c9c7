// The subscribers table's bulk form: "tick every row", and the question asked before an action runs.
// Every destructive or whole-filter action asks with the count ("Delete 878 subscribers?", through
// data-confirm, which ignite.js asks before htmx sends); deleting a whole filter asks for the count to be typed.
// The count is the one the server rendered with the rows on screen; when it was capped ("1,000+"), the exact
// number is fetched before the question can be asked.
(function () {
  "use strict";

  const DESTRUCTIVE = new Set(["move", "unsubscribe", "delete"]);

  function formOf(element) {
    return element && element.closest ? element.closest("#bulk-form") : null;
  }

  function subscribers(n) {
    return n + (n === "1" ? " subscriber" : " subscribers");
  }

  function targetName(form, action) {
    if (action === "tag" || action === "untag") return "“" + form.elements.tag_name.value.trim() + "”";
    const list = form.elements.target_list;
    return list.selectedIndex > 0 ? "“" + list.options[list.selectedIndex].text + "”" : "the chosen list";
  }

  function question(form, action, label) {
    const who = subscribers(label);
    switch (action) {
      case "tag": return "Add tag " + targetName(form, action) + " to " + who + "?";
      case "untag": return "Remove tag " + targetName(form, action) + " from " + who + "?";
      case "copy": return "Copy " + who + " to " + targetName(form, action) + "?";
      case "move": return "Move " + who + " to " + targetName(form, action) + "?";
      case "unsubscribe": return "Unsubscribe " + who + "?";
      default: return "Delete " + who + "? This cannot be undone.";
    }
  }

  function ticked(form) {
    return form.querySelectorAll("input[name=ids]:checked").length;
  }

  // Whole filter: the exact count, or "" while a capped count is being fetched.
  function filterCount(form) {
    return form.dataset.filterTotal || "";
  }

  function update(form) {
    const action = form.elements.action.value;
    const wholeFilter = form.elements.scope.value === "filter";
    const button = form.querySelector("[data-bulk-apply]");
    const summary = form.querySelector("[data-bulk-summary]");
    const confirmed = form.querySelector("[data-bulk-confirmed-count]");
    const count = wholeFilter ? filterCount(form) : String(ticked(form));
    const label = wholeFilter ? Number(count).toLocaleString("en-US") : count;
    button.disabled = wholeFilter && count === "";
    confirmed.value = wholeFilter ? count : "";
    summary.textContent = wholeFilter && count === "" ? "Counting…" : "Applies to " + subscribers(label) + ".";
    if (wholeFilter || DESTRUCTIVE.has(action)) {
      button.dataset.confirm = question(form, action, label);
    } else {
      delete button.dataset.confirm;
    }
    if (wholeFilter && action === "delete") {
      button.dataset.confirmType = count;
    } else {
      delete button.dataset.confirmType;
    }
  }

  function countExactly(form) {
    if (form.dataset.filterTotal || form.dataset.counting) return;
    form.dataset.counting = "true";
    fetch(form.dataset.countUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error(String(response.status));
        return response.json();
      })
      .then(function (answer) {
        form.dataset.filterTotal = String(answer.count);
      })
      .catch(function () {
        if (window.ignite) window.ignite.showToast("The subscribers matching the filter could not be counted. Try again.", "error");
      })
      .finally(function () {
        delete form.dataset.counting;
        if (form.isConnected) update(form);
      });
  }

  function refresh(form) {
    if (!form) return;
    if (form.elements.scope.value === "filter") countExactly(form);
    update(form);
  }

  // The search box filters as it is typed in (or pasted into); the change it fires when it loses the focus
  // would redraw the same rows a second time and clear the boxes ticked meanwhile.
  document.addEventListener("change", function (event) {
    if (event.target.id === "filter-q") event.stopPropagation();
  }, true);

  document.addEventListener("change", function (event) {
    const field = event.target;
    const form = formOf(field);
    if (!form) return;
    if (field.matches("[data-select-all]")) {
      form.querySelectorAll("input[name=ids]").forEach(function (box) { box.checked = field.checked; });
    }
    refresh(form);
  });

  document.addEventListener("input", function (event) {
    refresh(formOf(event.target));
  });

  // New rows (a new filter, the next page) or a new bulk form after a swap.
  document.addEventListener("htmx:load", function (event) {
    refresh(formOf(event.target) || event.target.querySelector && event.target.querySelector("#bulk-form"));
  });
  document.addEventListener("DOMContentLoaded", function () {
    refresh(document.getElementById("bulk-form"));
  });
})();
