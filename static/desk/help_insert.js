// The help center beside the composer: search the articles in the conversation's language
// (GET /api/v1/help/articles/) and insert an article's link where the caret is (composer.js,
// which remembers the article for the reply's `inserted` labels).
// Its own module: workspace.js only needs the composer to stay a textarea.

import { composerInsert } from "./composer.js";
import { $ } from "./dom.js";

const SEARCH_DELAY_MS = 250;
let timer = null;
let asked = 0;

function resultsShow(box, items, message) {
  const list = $("[data-testid=help-insert-results]", box);
  list.replaceChildren();
  if (message) {
    const item = document.createElement("li");
    item.className = "muted";
    item.textContent = message;
    list.append(item);
    return;
  }
  for (const article of items) {
    const item = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.url = article.url;
    button.dataset.key = article.key;
    button.dataset.testid = "help-insert-result";
    button.title = article.snippet;
    button.textContent = article.title;
    item.append(button);
    list.append(item);
  }
}

async function search(box, query) {
  const mine = ++asked;
  const params = new URLSearchParams({ q: query, language: box.dataset.language });
  let body = null;
  try {
    const response = await fetch(`/api/v1/help/articles/?${params}`, {
      credentials: "same-origin", headers: { Accept: "application/json" },
    });
    body = await response.json();
    if (mine !== asked) return; // a newer search is on its way
    if (!response.ok) return resultsShow(box, [], body?.error?.message || box.dataset.failed);
  } catch {
    if (mine === asked) resultsShow(box, [], box.dataset.failed);
    return;
  }
  resultsShow(box, body.results, body.results.length ? "" : box.dataset.none);
}

document.addEventListener("input", (event) => {
  const input = event.target.closest?.("[data-testid=help-insert-query]");
  if (!input) return;
  const box = input.closest("[data-testid=help-insert]");
  clearTimeout(timer);
  const query = input.value.trim();
  if (query.length < 2) return resultsShow(box, [], "");
  timer = setTimeout(() => search(box, query), SEARCH_DELAY_MS);
});

document.addEventListener("click", (event) => {
  const button = event.target.closest?.("[data-testid=help-insert-result]");
  if (button) composerInsert(button.dataset.url, button.dataset.key ? `article:${button.dataset.key}` : "");
});
