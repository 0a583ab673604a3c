// Help-center articles in the widget, before a chat starts (helpcenter/widget_views.py): after a
// pause in the visitor's typing, up to three published articles in the widget's language that
// match it; one opens in a reader inside the widget with "Back", "This answered my question" and
// "Talk to an agent" (the composer's Send reaches an agent in one click all along). Opening an
// article and saying it answered are recorded for the visitor's session, so the conversation they
// then open carries what they read (the agent sees it); `beforeMessage()` lets the first message
// wait for those records. Titles and summaries are written with textContent; an article's body is
// the help center's own HTML, rendered from Markdown and sanitised by nh3 when it was saved.

import { state } from "./state.js";
import { root, showError, ui } from "./ui.js";
import { t } from "./words.js";

const SUGGEST_URL = root.dataset.suggestUrl;
const ARTICLE_URL = root.dataset.articleUrl; // + "<id>/" to read, + "<id>/read" to record
const PAUSE_MS = 400;
const MIN_CHARS = 3;
const MAX_QUERY_CHARS = 100;

let pause = null;
let asking = null; // the suggestions' request in flight (a newer one aborts it)
let shownFor = "";
let openId = null;
const reads = new Set(); // records on their way

function element(tag, className, { word, testid } = {}) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (word) {
    node.dataset.word = word; // words.js relabels it when the session brings the contact's language
    node.textContent = t(word);
  }
  if (testid) node.dataset.testid = testid;
  return node;
}

// --- the elements, put in beside the composer -----------------------------------------------------

const panel = element("section", "chat-articles", { testid: "article-suggestions" });
panel.hidden = true;
panel.setAttribute("aria-live", "polite");
const heading = element("h2", "chat-articles-title", { word: "suggested" });
const list = element("ul", "chat-articles-list");
panel.append(heading, list);

const reader = element("article", "chat-reader", { testid: "article-reader" });
reader.hidden = true;
const back = element("button", "chat-reader-back", { word: "article_back", testid: "article-back" });
back.type = "button";
const title = element("h2", "chat-reader-title", { testid: "article-title" });
const body = element("div", "chat-reader-body", { testid: "article-body" });
const answered = element("button", "chat-reader-answered", { word: "article_answered", testid: "article-answered" });
answered.type = "button";
const talk = element("button", "chat-reader-talk", { word: "talk_to_agent", testid: "article-talk" });
talk.type = "button";
const note = element("p", "chat-reader-note", { testid: "article-note" });
note.setAttribute("role", "status");
const actions = element("div", "chat-reader-actions");
actions.append(answered, talk);
reader.append(back, title, body, actions, note);

ui.list.after(reader);
ui.composerForm.before(panel);

// --- suggestions ----------------------------------------------------------------------------------

function beforeChat() {
  return state.conversationId === null || state.resolved;
}

function typed() {
  return ui.composer.value.trim().replace(/\s+/g, " ").slice(0, MAX_QUERY_CHARS);
}

function suggestionsHide() {
  clearTimeout(pause);
  if (asking) asking.abort();
  asking = null;
  panel.hidden = true;
  shownFor = "";
}

function suggestion(article) {
  const item = document.createElement("li");
  const button = element("button", "chat-article", { testid: "article-suggestion" });
  button.type = "button";
  button.dataset.articleId = String(article.id);
  const name = element("strong", "chat-article-title");
  name.textContent = article.title;
  const summary = element("span", "chat-article-summary");
  summary.textContent = article.summary;
  button.append(name, summary);
  button.addEventListener("click", () => articleOpen(article.id));
  item.append(button);
  return item;
}

async function suggestionsAsk(query) {
  if (asking) asking.abort();
  const controller = new AbortController();
  asking = controller;
  const url = new URL(SUGGEST_URL, location.href);
  url.searchParams.set("q", query);
  url.searchParams.set("lang", document.documentElement.lang || "");
  let answer = null;
  try {
    const response = await fetch(url, { credentials: "omit", signal: controller.signal,
      headers: { Accept: "application/json" } });
    if (response.ok) answer = await response.json();
  } catch {
    return; // aborted by a newer question, or offline: suggestions are a help, never in the way
  }
  if (asking !== controller) return;
  asking = null;
  const results = (answer && answer.results) || [];
  if (!results.length || !beforeChat() || typed() !== query) {
    panel.hidden = true;
    return;
  }
  list.replaceChildren(...results.map(suggestion));
  shownFor = query;
  panel.hidden = false;
}

ui.composer.addEventListener("input", () => {
  clearTimeout(pause);
  const query = typed();
  if (!beforeChat() || [...query].length < MIN_CHARS) {
    suggestionsHide();
    return;
  }
  if (query === shownFor) return;
  pause = setTimeout(() => suggestionsAsk(query), PAUSE_MS);
});

// --- the reader -----------------------------------------------------------------------------------

function record(articleId, extra) {
  if (!state.token) return; // no session yet: nothing to carry to an agent
  const sent = fetch(`${ARTICLE_URL}${articleId}/read`, {
    method: "POST", credentials: "omit",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify({ session: state.token, query: typed(), ...extra }),
  }).catch(() => null).finally(() => reads.delete(sent));
  reads.add(sent);
}

function readerClose() {
  reader.hidden = true;
  ui.list.hidden = false;
  openId = null;
}

async function articleOpen(articleId) {
  let article = null;
  try {
    const response = await fetch(`${ARTICLE_URL}${articleId}/`, { credentials: "omit",
      headers: { Accept: "application/json" } });
    if (response.ok) article = await response.json();
  } catch {
    article = null;
  }
  if (!article) {
    showError(t("article_unavailable"));
    return;
  }
  openId = article.id;
  title.textContent = article.title;
  title.lang = article.language;
  body.lang = article.language;
  body.innerHTML = article.body_html; // the help center's sanitised HTML (see the top of this file)
  for (const link of body.querySelectorAll("a[href]")) {
    link.target = "_blank"; // out of the widget's small frame
    link.rel = "noopener nofollow";
  }
  note.textContent = "";
  answered.disabled = false;
  ui.list.hidden = true;
  reader.hidden = false;
  back.focus();
  record(article.id, { answered: false });
}

back.addEventListener("click", () => {
  readerClose();
  ui.composer.focus();
});

answered.addEventListener("click", () => {
  if (openId === null) return;
  record(openId, { answered: true });
  answered.disabled = true;
  note.textContent = t("article_thanks");
});

talk.addEventListener("click", () => {
  readerClose();
  if (ui.composer.value.trim()) ui.composerForm.requestSubmit(); // their question goes to an agent
  else ui.composer.focus();
});

// chat.js, before sending a message: the suggestions step aside, and the first message waits
// for what was read to be recorded, so the conversation it opens carries it.
export function beforeMessage() {
  suggestionsHide();
  if (!reader.hidden) readerClose();
  return Promise.allSettled([...reads]);
}
