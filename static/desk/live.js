// The supervisors' live view: follows /ws/agent/ and redraws the three tables from each
// `supervisor.snapshot` the server pushes. Durations, shares and loads come in words from the
// server (conversations/live.py formats them for the page and the pushes alike), so they are
// formatted in one place. Everything is written with textContent, never as HTML, so a queue or
// agent name cannot inject markup.

import { timeText } from "../common/format.js";
import { CloseCode, Frame } from "../common/protocol.js";
import { Backoff, ReconnectingSocket } from "../common/reconnect.js";

const root = document.getElementById("live");
const statusEl = root.querySelector("[data-testid=live-status]");
const atEl = root.querySelector("[data-testid=live-at]");
const conversationUrl = root.dataset.conversationUrl; // the supervisors' page of conversation 0: /desk/supervise/0/
// The words this module writes, in the supervisor's language (conversations/live.py).
const LABELS = JSON.parse(document.getElementById("live-labels").textContent);

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

// A number cell the tests find by its data-testid.
function testCell(text, testid) {
  const td = cell(text, "num");
  td.dataset.testid = testid;
  return td;
}

function codeCell(text) {
  const td = document.createElement("td");
  const code = document.createElement("code");
  code.textContent = text;
  td.append(code);
  return td;
}

function row(testid, cells, className) {
  const tr = document.createElement("tr");
  tr.dataset.testid = testid;
  if (className) tr.className = className;
  tr.append(...cells);
  return tr;
}

function fill(tableTestid, rows, emptyText, columns) {
  const tbody = root.querySelector(`[data-testid=${tableTestid}] tbody`);
  if (!rows.length) {
    const td = cell(emptyText);
    td.colSpan = columns;
    const tr = document.createElement("tr");
    tr.className = "empty";
    tr.append(td);
    tbody.replaceChildren(tr);
    return;
  }
  tbody.replaceChildren(...rows);
}

function queueRow(queue) {
  const name = document.createElement("td");
  const strong = document.createElement("strong");
  strong.textContent = queue.name;
  const code = document.createElement("code");
  code.textContent = queue.key;
  name.append(strong, " ", code);
  const waiting = cell(String(queue.waiting), "num");
  waiting.dataset.testid = "queue-waiting";
  const online = queue.agents_online + (queue.agents_at_capacity ? ` (${queue.agents_at_capacity} ${LABELS.full})` : "");
  const breached = queue.waiting && queue.longest_wait_seconds >= queue.target_wait_seconds;
  const tr = row("live-queue-row", [
    name, waiting, cell(queue.longest_wait, "num"),
    cell(queue.target_wait, "num"), cell(String(queue.offered), "num"),
    cell(String(queue.assigned), "num"), cell(online, "num"), cell(queue.service_level, "num"),
    cell(String(queue.breached_today), "num"), testCell(queue.answer_speed, "queue-answer-speed"),
    testCell(queue.abandonment, "queue-abandonment"), testCell(queue.satisfaction, "queue-satisfaction"),
  ], breached ? "breached" : "");
  tr.dataset.queue = queue.key;
  return tr;
}

function presenceBadge(presence) {
  const span = document.createElement("span");
  span.className = `presence presence-${presence}`;
  span.textContent = LABELS.presences[presence] || presence;
  return span;
}

function agentRow(agent) {
  const presence = document.createElement("td");
  presence.append(presenceBadge(agent.presence));
  // Time today in each presence, in the order of the columns (conversations/live.py).
  const today = (agent.presence_today || []).map((spent) => testCell(spent, "agent-presence-today"));
  const tr = row("live-agent-row", [cell(agent.name), presence, ...today, cell(agent.load_text)],
    agent.at_capacity ? "full" : "");
  tr.dataset.agent = String(agent.id);
  return tr;
}

function riskRow(item) {
  const link = document.createElement("a");
  link.href = conversationUrl.replace("/0/", `/${Number(item.conversation_id)}/`);
  link.textContent = `#${item.conversation_id}`;
  const conversation = document.createElement("td");
  conversation.append(link);
  const waited = cell(item.waited, "num");
  if (item.breached) {
    const tag = document.createElement("span");
    tag.className = "tag";
    tag.textContent = LABELS.breached;
    waited.append(" ", tag);
  }
  const tr = row("live-risk-row", [conversation, codeCell(item.queue), cell(item.state), waited,
    cell(item.target_wait, "num")], item.breached ? "breached" : "at-risk");
  tr.dataset.conversation = String(item.conversation_id);
  return tr;
}

function presenceCounts(counts) {
  const p = root.querySelector("[data-testid=live-presence]");
  p.replaceChildren(...Object.entries(counts).map(([presence, count]) => {
    const span = presenceBadge(presence);
    span.dataset.presence = presence;
    const strong = document.createElement("strong");
    strong.textContent = String(count);
    span.append(" ", strong);
    return span;
  }));
}

function showTime(iso) {
  const text = timeText(iso, "clock-seconds");
  if (!text) return;
  atEl.dateTime = iso;
  atEl.textContent = text;
}

export function render(snapshot) {
  fill("live-queues", (snapshot.queues || []).map(queueRow), LABELS.no_queues, 12);
  fill("live-agents", (snapshot.agents || []).map(agentRow), LABELS.no_agents,
    3 + Object.keys(LABELS.presences).length);
  fill("live-at-risk", (snapshot.at_risk || []).map(riskRow), LABELS.no_risk, 5);
  presenceCounts(snapshot.agents_by_presence || {});
  showTime(snapshot.at);
}

function setStatus(state, text) {
  statusEl.dataset.state = state;
  statusEl.textContent = text;
}

const scheme = location.protocol === "https:" ? "wss" : "ws";
// It reconnects itself (static/common/reconnect.js), unless the server says retrying cannot help.
new ReconnectingSocket(`${scheme}://${location.host}${root.dataset.socketPath}`, {
  onFrame(frame) {
    if (frame.type === Frame.SUPERVISOR_SNAPSHOT) render(frame);
  },
  onClose(code) {
    // Retrying cannot help: the session ended or the permission was taken away.
    return { stop: code === CloseCode.NOT_SIGNED_IN || code === CloseCode.NOT_AN_AGENT };
  },
  onState(state) {
    if (state === "open") setStatus("live", LABELS.live);
    else if (state === "closed") setStatus("reconnecting", LABELS.reconnecting);
    else if (state === "stopped") setStatus("stopped", LABELS.stopped);
  },
  backoff: new Backoff({ firstMs: 1000, maxMs: 30000 }),
});

showTime(atEl.dateTime);
