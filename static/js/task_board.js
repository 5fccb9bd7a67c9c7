// The task board (/analytics/tasks): drag and drop with the vendored SortableJS, keyboard moves, and what a
// screen reader hears. A drop posts the card's column and the card it landed above (htmx), and the answer is
// the board as the server now has it. The board's stream sends the whole board after anyone's change; while
// a card is being dragged that board waits for the drop, so it is not swapped from under the pointer, and
// the card that had the keyboard focus gets it back after the swap.
(function () {
  "use strict";

  const KEYS = { ArrowLeft: "left", ArrowRight: "right", ArrowUp: "up", ArrowDown: "down" };
  let dragging = false;
  let missedBoard = null;

  function say(text) {
    const region = document.getElementById("task-board-status");
    if (!region || !text) return;
    region.textContent = "";
    // A new text node in a cleared region is announced even when it repeats the last sentence.
    setTimeout(function () { region.textContent = text; }, 30);
  }

  function drop(event) {
    dragging = false;
    const card = event.item;
    const missed = missedBoard;
    missedBoard = null;
    if (event.from === event.to && event.oldIndex === event.newIndex) {
      if (missed !== null) htmx.swap("#task-board-live", missed, { swapStyle: "innerHTML" });
      return;
    }
    const below = card.nextElementSibling;
    htmx.ajax("POST", "/analytics/tasks/cards/" + card.dataset.cardId + "/move", {
      source: card, target: "#task-board", swap: "outerHTML",
      values: { column_id: event.to.dataset.columnId, before_id: below ? below.dataset.cardId : "" },
    });
  }

  function setUp(board) {
    if (board.dataset.editable !== "true" || typeof Sortable === "undefined") return;
    board.querySelectorAll(".task-cards[data-column-id]").forEach(function (list) {
      Sortable.create(list, {
        group: "task-cards", draggable: ".task-card", animation: 120, emptyInsertThreshold: 40,
        filter: "button, input, textarea, select", preventOnFilter: false,
        onStart: function () { dragging = true; },
        onEnd: drop,
      });
    });
    if (board.dataset.announce) say(board.dataset.announce);
    const focused = board.dataset.focusCard && document.getElementById("task-card-" + board.dataset.focusCard);
    if (focused) focused.focus();
  }

  htmx.onLoad(function (element) {
    const board = element.id === "task-board" ? element : element.querySelector && element.querySelector("#task-board");
    if (board) setUp(board);
  });

  // Someone changed the board while this page drags a card: keep their board for after the drop.
  // Otherwise swap it in, and give the focus back to the card that had it.
  let focusedCard = null;
  document.addEventListener("htmx:sseBeforeMessage", function (event) {
    if (event.target.id !== "task-board-live") return;
    if (dragging) {
      event.preventDefault();
      missedBoard = event.detail.data;
      return;
    }
    const active = document.activeElement && document.activeElement.closest && document.activeElement.closest(".task-card");
    focusedCard = active && document.activeElement === active ? active.id : null;
  });

  document.addEventListener("htmx:sseMessage", function (event) {
    if (event.target.id !== "task-board-live" || !focusedCard) return;
    const again = document.getElementById(focusedCard);
    focusedCard = null;
    if (again) again.focus();
  });

  // Alt+arrow on a focused card presses its move button for that direction.
  document.addEventListener("keydown", function (event) {
    const direction = KEYS[event.key];
    if (!direction || !event.altKey || event.ctrlKey || event.metaKey) return;
    const card = event.target.closest && event.target.closest(".task-card");
    if (!card) return;
    const button = card.querySelector('button[data-move="' + direction + '"]');
    if (!button) return;
    event.preventDefault();
    button.click();
  });
})();
