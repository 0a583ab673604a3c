// The open conversation's suggested replies (templates/desk/_suggestions.html): Ctrl+Shift+1..3
// or a click puts one into the composer (composer.js remembers it for the reply's `inserted`
// labels); drawn again by the server when the customer writes (workspace.js's event).
// Ctrl+Shift, not Alt: Alt+1..9 open the n-th conversation (shortcuts.js).

import { composerInsert } from "./composer.js";
import { $, $$ } from "./dom.js";

const CUSTOMER_WROTE_EVENT = "desk-customer-wrote";
const RELOAD_WAIT_MS = 300; // a burst of messages costs one reload

let reloadTimer = null;

function suggestionInsert(button) {
  if (button) composerInsert(button.dataset.text, button.dataset.label);
}

document.addEventListener("keydown", (event) => {
  if (!event.ctrlKey || !event.shiftKey || event.altKey || event.metaKey) return;
  // event.code: with Shift held, event.key is "!" or "@" (or another sign on other layouts).
  const digit = /^Digit([1-3])$/.exec(event.code);
  if (!digit) return;
  const button = $$("[data-testid=suggestion]")[Number(digit[1]) - 1];
  if (!button) return;
  event.preventDefault();
  suggestionInsert(button);
});

document.addEventListener("click", (event) => {
  suggestionInsert(event.target.closest?.("[data-testid=suggestion]"));
});

document.addEventListener(CUSTOMER_WROTE_EVENT, (event) => {
  clearTimeout(reloadTimer);
  reloadTimer = setTimeout(() => {
    const box = $("#suggestions");
    if (!box || Number(box.dataset.conversationId) !== event.detail.conversationId) return;
    htmx.ajax("GET", box.dataset.url, { target: box, swap: "outerHTML" });
  }, RELOAD_WAIT_MS);
});
