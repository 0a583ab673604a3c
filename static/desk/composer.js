// The composer as the other workspace modules write into it: text put in where the caret is, and
// what the agent put in from the desk's own texts (a macro, a help article, a suggestion),
// remembered as labels ("macro:refund", "article:where-is-my-order") that the reply sends along
// (the `inserted` field), so the suggested replies learn from what agents really use.

import { $ } from "./dom.js";

// label -> the text put in; forgotten when the conversation changes or the reply is stored.
const inserted = new Map();
// A label is sent only while its text is still (mostly) there: its opening, this long, is looked for.
const STILL_THERE_CHARS = 40;

export function composer() {
  return $("[data-testid=composer]");
}

// Put `text` in at the caret (a space before it if it would touch a word), and remember `label`.
export function composerInsert(text, label) {
  const textarea = composer();
  if (!textarea) return false;
  const start = textarea.selectionStart ?? textarea.value.length;
  const before = textarea.value.slice(0, start);
  const spaced = (before && !/\s$/.test(before) ? " " : "") + text + " ";
  textarea.setRangeText(spaced, start, textarea.selectionEnd ?? start, "end");
  textarea.dispatchEvent(new Event("input", { bubbles: true }));
  textarea.focus();
  if (label) insertedRecord(label, text);
  return true;
}

export function insertedRecord(label, text) {
  inserted.set(label, text);
}

// The labels whose text the reply still holds, space-separated, as the server takes them.
export function insertedIn(body) {
  const labels = [];
  for (const [label, text] of inserted) {
    const opening = text.trim().slice(0, STILL_THERE_CHARS);
    if (opening && body.includes(opening)) labels.push(label);
  }
  return labels.join(" ");
}

export function insertedForget() {
  inserted.clear();
}
