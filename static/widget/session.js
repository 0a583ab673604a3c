// The visitor's session: POST /widget/session for a token (kept in localStorage for a guest,
// never for a signed-in visitor), retried with the socket's backoff while support is unreachable.

import { Backoff } from "../common/reconnect.js";
import { state, tellHost } from "./state.js";
import { emailFormUpdate, hoursShow } from "./render.js";
import { root, setStatus, showError, ui } from "./ui.js";
import { t, wordsApply } from "./words.js";

const SESSION_URL = root.dataset.sessionUrl;
const SESSION_KEY = "supportdesk.widget.session";
const WIDGET_LANGUAGE = root.dataset.widgetLanguage || ""; // the embed snippet's data-language

// One backoff for the session requests and the socket: a failure of either slows both.
export const backoff = new Backoff({ firstMs: 1000, maxMs: 15000 });

function storageGet(key) {
  try { return localStorage.getItem(key) || ""; } catch { return ""; } // storage may be off in iframes
}
function storageSet(key, value) {
  try { localStorage.setItem(key, value); } catch { /* the session then lasts as long as the page */ }
}
function storageRemove(key) {
  try { localStorage.removeItem(key); } catch { /* nothing stored */ }
}

// The session is no longer valid (the socket was closed as not signed in): start afresh.
export function sessionForget() {
  storageRemove(SESSION_KEY);
  state.token = "";
}

function delay(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function identityFromFragment() {
  // The host's identity token comes in the fragment, which never reaches a server's logs.
  return new URLSearchParams(location.hash.slice(1)).get("identity") || "";
}

export function browserTimeZone() {
  try { return Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch { return ""; }
}

async function postSession(body) {
  const response = await fetch(SESSION_URL, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    // The browser's time zone: the desk says when the team is back on the visitor's clock.
    body: JSON.stringify({ ...body, time_zone: browserTimeZone(), language: WIDGET_LANGUAGE }),
    credentials: "omit",
  });
  let data = null;
  try { data = await response.json(); } catch { /* not JSON: a proxy's error page */ }
  return { status: response.status, data, retryAfter: Number(response.headers.get("Retry-After")) || 0 };
}

export async function sessionStart() {
  let identity = identityFromFragment();
  for (;;) {
    // A signed-in visitor's session is not kept: after they sign out of the host site, the next
    // visitor on the same computer must not continue their chat.
    const stored = identity ? "" : storageGet(SESSION_KEY);
    let answer;
    try {
      answer = await postSession(identity ? { identity } : stored ? { session: stored } : {});
    } catch {
      const wait = backoff.next();
      setStatus(t("cannot_reach", { seconds: Math.ceil(wait / 1000) }), "offline");
      await delay(wait);
      continue;
    }
    if (answer.status === 200 && answer.data && answer.data.session) {
      sessionApply(answer.data);
      return;
    }
    const error = (answer.data && answer.data.error) || {};
    if (answer.status === 401 && identity) {
      identity = "";
      showError(t("signin_failed"));
      continue;
    }
    if (answer.status === 401 && stored) {
      storageRemove(SESSION_KEY); // expired or from another desk: start afresh
      continue;
    }
    const wait = answer.status === 429 && answer.retryAfter ? answer.retryAfter * 1000 : backoff.next();
    setStatus(`${error.message || t("could_not_start")} ${t("retry_in", { seconds: Math.ceil(wait / 1000) })}`,
      "error");
    await delay(wait);
  }
}

function sessionApply(data) {
  state.token = data.session;
  state.wsPath = data.ws_path || "/ws/chat/";
  state.anonymous = Boolean(data.anonymous);
  state.hasEmail = Boolean(data.has_email);
  state.agentsOnline = Boolean(data.agents_online);
  if (state.anonymous) storageSet(SESSION_KEY, data.session);
  if (wordsApply(data.language, data.dir, data.words)) { // the contact's language outranks the frame's guess
    tellHost({ type: "ready", labels: { open: t("title"), close: t("launcher_close") } });
  }
  if (data.name && !ui.agent.dataset.agent) {
    ui.agent.textContent = t("greeting", { name: data.name });
  }
  emailFormUpdate();
  hoursShow(data.hours);
  // Who the widget speaks for is known: self-service (orders.js) shows what it has for them.
  document.dispatchEvent(new CustomEvent("supportdesk:session", { detail: data }));
}
