// The workspace's keyboard shortcuts (listed in the page's "?" dialog) and the note toggle
// they share with the composer.

import { $, $$ } from "./dom.js";
import { flash } from "./flash.js";
import { LABELS } from "./labels.js";

export function isNote() {
  const toggle = $("[data-testid=note-toggle]");
  if (toggle) return toggle.checked;
  return Boolean($("#composer input[type=hidden][name=note]")); // a call's composer takes notes only
}

export function noteModeShow() {
  const form = $("#composer");
  if (form) form.classList.toggle("note-mode", isNote());
}

function isEditing(target) {
  return target instanceof HTMLElement && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
}

// Submit the form if its choice is made; else put the cursor on the choice to make.
function submitOrChoose(formSelector, choose) {
  const form = $(formSelector);
  if (!form) return;
  const select = $("select", form);
  if (select && !select.value) {
    select.focus();
    flash(choose);
    return;
  }
  form.requestSubmit();
}

const ALT_SHORTCUTS = {
  KeyA: () => $("[data-testid=offer-accept]")?.click(),
  KeyD: () => $("[data-testid=offer-decline]")?.click(),
  KeyN: () => {
    const toggle = $("[data-testid=note-toggle]");
    if (!toggle) return;
    toggle.checked = !toggle.checked;
    noteModeShow();
    $("[data-testid=composer]")?.focus();
  },
  KeyR: () => submitOrChoose("[data-testid=resolve-form]", LABELS.choose_reason),
  KeyT: () => submitOrChoose("[data-testid=transfer-form]", LABELS.choose_target),
};

document.addEventListener("keydown", (event) => {
  if (event.altKey && !event.ctrlKey && !event.metaKey) {
    // event.code, not event.key: Alt+letter types other characters on some layouts (macOS).
    const digit = /^Digit([1-9])$/.exec(event.code);
    const action = digit
      ? () => $$("[data-testid=conversation-entry]")[Number(digit[1]) - 1]?.click()
      : ALT_SHORTCUTS[event.code];
    if (action) {
      event.preventDefault();
      action();
    }
    return;
  }
  if (event.key === "?" && !isEditing(event.target)) {
    event.preventDefault();
    const dialog = document.getElementById("shortcuts");
    if (dialog && !dialog.open) dialog.showModal();
  }
});
