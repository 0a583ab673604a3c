// Self-service before a chat (conversations/widget_self_service_views.py): a signed-in customer's
// recent orders with their questions (where is it, it is late, cancel it, an item is missing), a
// courier's current delivery, a partner's store today; each answer with one click to an agent.
// A customer's first message goes to the server first (`selfServiceAsk`): when it asks about an
// order, the answer shows here and no chat opens; else it is sent as a chat message, as always.
//
// The answers' sentences come from the server in the visitor's language; the buttons' words from
// words.js. Everything is put in with textContent. Hooks elsewhere: session.js tells us the session
// ("supportdesk:session"), chat.js hands us the composer's message, and the panel steps aside
// while a chat is going ("End chat" shown: render.js endButtonUpdate).

import { sync } from "./connection.js";
import { messageSend, newClientId } from "./outbox.js";
import { browserTimeZone } from "./session.js";
import { state } from "./state.js";
import { root, showError, ui } from "./ui.js";
import { t } from "./words.js";

const BASE_URL = root.dataset.selfServiceUrl || "";
const WIDGET_LANGUAGE = root.dataset.widgetLanguage || "";
const TITLES = { customer: "orders_title", courier: "delivery_title", partner: "store_title" };
const QUESTIONS = { order_status: "ask_order_status", late: "ask_late", cancel: "ask_cancel",
  missing_item: "ask_missing_item" };

const selfService = { kind: "", orders: [], loaded: false };

const panel = document.createElement("section");
panel.className = "chat-self-service";
panel.dataset.testid = "self-service";
panel.hidden = true;
const title = document.createElement("h2");
title.className = "self-service-title";
title.dataset.testid = "self-service-title";
const list = document.createElement("ul");
list.className = "self-service-orders";
list.dataset.testid = "order-list";
const answerBox = document.createElement("div");
answerBox.className = "self-service-answer";
answerBox.dataset.testid = "self-service-answer";
answerBox.setAttribute("role", "status");
answerBox.setAttribute("aria-live", "polite");
answerBox.hidden = true;
panel.append(title, list, answerBox);
ui.list.before(panel);

async function post(path, body = {}) {
  const response = await fetch(BASE_URL + path, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify({ session: state.token, language: WIDGET_LANGUAGE, time_zone: browserTimeZone(), ...body }),
    credentials: "omit",
  });
  let data = null;
  try { data = await response.json(); } catch { /* not JSON: a proxy's error page */ }
  if (!response.ok) {
    const error = new Error((data && data.error && data.error.message) || t("something_wrong"));
    error.status = response.status;
    throw error;
  }
  return data;
}

function chatGoing() {
  return !ui.end.hidden; // "End chat" is there exactly while a chat is going (render.js)
}

function button(word, testid, onClick) {
  const element = document.createElement("button");
  element.type = "button";
  element.className = "self-service-button";
  element.dataset.testid = testid;
  element.textContent = t(word);
  element.addEventListener("click", onClick);
  return element;
}

function paragraph(text, className, testid) {
  const p = document.createElement("p");
  p.className = className;
  if (testid) p.dataset.testid = testid;
  p.textContent = text;
  return p;
}

function ordersRender() {
  list.replaceChildren();
  for (const order of selfService.orders) {
    const li = document.createElement("li");
    li.className = "self-service-order";
    li.dataset.testid = "order-card";
    li.dataset.orderId = String(order.id);
    li.dataset.status = order.status;
    li.append(paragraph(`${order.reference} · ${order.status_text}`, "order-head", "order-head"));
    for (const line of order.lines) li.append(paragraph(line, "order-line"));
    const questions = document.createElement("div");
    questions.className = "order-questions";
    for (const topic of order.topics) {
      questions.append(button(QUESTIONS[topic], `ask-${topic}`, () => answerAsk({ topic, order_id: order.id })));
    }
    li.append(questions);
    list.append(li);
  }
}

function panelUpdate() {
  const going = chatGoing();
  const hasSomething = selfService.orders.length > 0 || !answerBox.hidden;
  panel.hidden = !selfService.kind || (going && answerBox.dataset.outcome !== "chat_opened") || !hasSomething;
  title.hidden = going || (selfService.kind === "customer" && !selfService.orders.length);
  list.hidden = going;
  title.textContent = t(TITLES[selfService.kind] || "orders_title");
}

// One answer (conversations/services/self_service.py Answer): its lines, a confirmation for a
// cancel, and "Talk to an agent" (a chat carrying the order, with the customer's words if any).
function answerShow(answer) {
  answerBox.replaceChildren();
  answerBox.dataset.outcome = answer.outcome;
  answerBox.dataset.topic = answer.topic;
  if (answer.question) answerBox.append(paragraph(answer.question, "answer-question", "answer-question"));
  for (const line of answer.lines) answerBox.append(paragraph(line, "answer-line", "answer-line"));
  const orderId = answer.order ? answer.order.id : null;
  if (answer.order) orderUpdate(answer.order);
  const actions = document.createElement("div");
  actions.className = "answer-actions";
  if (answer.outcome === "confirm") {
    actions.append(button("cancel_confirm", "cancel-confirm",
      () => answerAsk({ topic: "cancel", order_id: orderId, confirm: true })));
  }
  if (answer.outcome !== "chat_opened") {
    // One id for this answer's request for an agent: pressed twice, or retried, it opens one chat
    // with one copy of the question.
    const clientId = newClientId();
    const talk = button("talk_to_agent", "talk-to-agent",
      () => agentAsk({ topic: answer.topic, order_id: orderId, text: answer.question || "", client_id: clientId },
        talk));
    actions.append(talk);
  }
  answerBox.append(actions);
  answerBox.hidden = false;
  answerBox.scrollIntoView({ block: "nearest" }); // below the orders: the answer is what they asked for
  if (answer.outcome === "chat_opened") sync(); // the socket follows the new chat and shows it
  panelUpdate();
}

function orderUpdate(card) {
  const index = selfService.orders.findIndex((order) => order.id === card.id);
  if (index >= 0) {
    selfService.orders[index] = card;
    ordersRender();
  }
}

async function answerAsk(body) {
  try {
    const data = await post("/answer", body);
    answerShow(data.answer);
  } catch (error) {
    showError(error.message);
  }
}

async function agentAsk(body, pressed) {
  pressed.disabled = true; // until the server answers
  try {
    await post("/agent", body);
    answerBox.hidden = true;
    delete answerBox.dataset.outcome;
    sync(); // the chat is open: the socket follows it and shows what it holds
    panelUpdate();
  } catch (error) {
    showError(error.message);
  } finally {
    pressed.disabled = false;
  }
}

async function overviewLoad() {
  try {
    const data = await post("");
    selfService.kind = data.kind || "";
    selfService.orders = data.orders || [];
    selfService.loaded = true;
    ordersRender();
    if (data.answer) answerShow(data.answer);
    panelUpdate();
  } catch {
    // Self-service is a shortcut: without it the chat works as before.
  }
}

// The composer's message, before it goes to a chat: true when self-service takes it (it then
// either answers it here or, when it does not, sends it as a chat message after all).
export function selfServiceAsk(body) {
  if (selfService.kind !== "customer" || !selfService.orders.length || chatGoing()) return false;
  const clientId = newClientId();
  post("/ask", { text: body, client_id: clientId })
    .then((data) => {
      if (data && data.answer) answerShow(data.answer);
      else messageSend(body, clientId);
    })
    // Never lose a message to a failed shortcut; the same id, should the server have stored it.
    .catch(() => messageSend(body, clientId));
  return true;
}

document.addEventListener("supportdesk:session", (event) => {
  if (event.detail && !event.detail.anonymous && BASE_URL) overviewLoad();
});

new MutationObserver(panelUpdate).observe(ui.end, { attributes: true, attributeFilter: ["hidden"] });
