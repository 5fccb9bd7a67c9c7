// The live timeline puts what arrived on top of the list. An event can be stored after a later one (the
// aggregator writes a click a moment after the unsubscribe page wrote its own event), so after each swap
// the entries are put back in time order, newest first. Same-format UTC ISO times sort as text.
(function () {
  "use strict";

  function timeOf(entry) {
    const time = entry.querySelector("time[datetime]");
    return time ? time.getAttribute("datetime") : "";
  }

  document.addEventListener("htmx:afterSwap", function (event) {
    const list = event.target;
    if (!list || list.id !== "timeline-entries") return;
    const entries = Array.from(list.children);
    entries.sort(function (a, b) {
      const later = timeOf(b), earlier = timeOf(a);
      return later < earlier ? -1 : later > earlier ? 1 : 0;
    });
    entries.forEach(function (entry) { list.appendChild(entry); });
  });
})();
