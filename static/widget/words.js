// The widget's words in the visitor's language (conversations/widget_words.py): first those the
// frame was drawn with (the widget's or the browser's language), then the session's, once the
// contact's own language is known. English lives only in the server's catalogue, never here.

function drawnWords() {
  try { return JSON.parse(document.getElementById("chat").dataset.words || "{}"); } catch { return {}; }
}
let words = drawnWords();

// `key`'s text with its %(name)s placeholders filled in (as text: callers use textContent).
export function t(key, params = {}) {
  const text = words[key] || key;
  return text.replace(/%\((\w+)\)s/g, (match, name) => (name in params ? String(params[name]) : match));
}

// The session's language: relabel what the frame drew and turn the page (Arabic: right to left).
// True when the language changed.
export function wordsApply(language, dir, newWords) {
  if (!language || !newWords || language === document.documentElement.lang) return false;
  words = newWords;
  document.documentElement.lang = language;
  document.documentElement.dir = dir === "rtl" ? "rtl" : "ltr";
  for (const element of document.querySelectorAll("[data-word]")) element.textContent = t(element.dataset.word);
  for (const element of document.querySelectorAll("[data-word-label]")) {
    element.setAttribute("aria-label", t(element.dataset.wordLabel));
  }
  for (const element of document.querySelectorAll("[data-word-placeholder]")) {
    element.placeholder = t(element.dataset.wordPlaceholder);
  }
  return true;
}
