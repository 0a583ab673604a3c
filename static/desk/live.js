// The supervisors' live view: follows /ws/agent/ and redraws the three tables from each
// `supervisor.snapshot` the server pushes. Everything is written with textContent, never as
// HTML, so a queue or agent name cannot inject markup.

const CHANNELS = ["chat", "messaging", "email", "voice"];
const NOT_SIGNED_IN = 4401;
const NOT_AN_AGENT = 4403;
const BACKOFF_FIRST_MS = 1000;
const BACKOFF_MAX_MS = 30000;

const root = document.getElementById("live");
const statusEl = root.querySelector("[data-testid=live-status]");
const atEl = root.querySelector("[data-testid=live-at]");
const conversationUrl = root.dataset.conversationUrl; // the supervisors' page of conversation 0: /desk/supervise/0/

// Same wording as conversations/live.py's duration_text.
export function durationText(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  seconds = Math.max(Math.floor(seconds), 0);
  const hours = Math.floor(seconds / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  const rest = seconds % 60;
  const pad = (n) => String(n).padStart(2, "0");
  if (hours) return `${hours}h ${pad(minutes)}m`;
  if (minutes) return `${minutes}m ${pad(rest)}s`;
  return `${rest}s`;
}

function percent(share) {
  return share === null || share === undefined ? "—" : `${Math.round(share * 100)} %`;
}

function loadText(load, capacity) {
  const parts = CHANNELS.filter((c) => (capacity[c] || 0) || (load[c] || 0))
    .map((c) => `${c} ${load[c] || 0}/${capacity[c] || 0}`);
  return parts.join(" · ") || "—";
}

function atCapacity(load, capacity) {
  return Object.entries(capacity).some(([channel, limit]) => limit && (load[channel] || 0) >= limit);
}

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
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
  const online = queue.agents_online + (queue.agents_at_capacity ? ` (${queue.agents_at_capacity} full)` : "");
  const breached = queue.waiting && queue.longest_wait_seconds >= queue.target_wait_seconds;
  const tr = row("live-queue-row", [
    name, waiting, cell(durationText(queue.longest_wait_seconds), "num"),
    cell(durationText(queue.target_wait_seconds), "num"), cell(String(queue.offered), "num"),
    cell(String(queue.assigned), "num"), cell(online, "num"), cell(percent(queue.service_level_today), "num"),
    cell(String(queue.breached_today), "num"),
  ], breached ? "breached" : "");
  tr.dataset.queue = queue.key;
  return tr;
}

function presenceBadge(presence) {
  const span = document.createElement("span");
  span.className = `presence presence-${presence}`;
  span.textContent = presence;
  return span;
}

function agentRow(agent) {
  const presence = document.createElement("td");
  presence.append(presenceBadge(agent.presence));
  const tr = row("live-agent-row", [cell(agent.name), presence, cell(loadText(agent.load, agent.capacity))],
    atCapacity(agent.load, agent.capacity) ? "full" : "");
  tr.dataset.agent = String(agent.id);
  return tr;
}

function riskRow(item) {
  const link = document.createElement("a");
  link.href = conversationUrl.replace("/0/", `/${Number(item.conversation_id)}/`);
  link.textContent = `#${item.conversation_id}`;
  const conversation = document.createElement("td");
  conversation.append(link);
  const waited = cell(durationText(item.waited_seconds), "num");
  if (item.breached) {
    const tag = document.createElement("span");
    tag.className = "tag";
    tag.textContent = "breached";
    waited.append(" ", tag);
  }
  const tr = row("live-risk-row", [conversation, codeCell(item.queue), cell(item.state), waited,
    cell(durationText(item.target_wait_seconds), "num")], item.breached ? "breached" : "at-risk");
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
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return;
  atEl.dateTime = iso;
  atEl.textContent = at.toLocaleTimeString();
}

export function render(snapshot) {
  fill("live-queues", (snapshot.queues || []).map(queueRow), "No active queues.", 9);
  fill("live-agents", (snapshot.agents || []).map(agentRow), "No agent is online or away.", 3);
  fill("live-at-risk", (snapshot.at_risk || []).map(riskRow), "Nobody is close to their queue’s target wait.", 5);
  presenceCounts(snapshot.agents_by_presence || {});
  showTime(snapshot.at);
}

function setStatus(state, text) {
  statusEl.dataset.state = state;
  statusEl.textContent = text;
}

let backoff = BACKOFF_FIRST_MS;

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}${root.dataset.socketPath}`);
  socket.addEventListener("open", () => {
    backoff = BACKOFF_FIRST_MS;
    setStatus("live", "live");
  });
  socket.addEventListener("message", (event) => {
    let frame;
    try {
      frame = JSON.parse(event.data);
    } catch {
      return;
    }
    if (frame.type === "supervisor.snapshot") render(frame);
  });
  socket.addEventListener("close", (event) => {
    if (event.code === NOT_SIGNED_IN || event.code === NOT_AN_AGENT) {
      // Retrying cannot help: the session ended or the permission was taken away.
      setStatus("stopped", "signed out: reload the page to sign in again");
      return;
    }
    setStatus("reconnecting", "reconnecting…");
    // Jitter, so a server restart is not met by every open view at the same moment.
    const wait = backoff * (0.5 + Math.random() / 2);
    backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
    setTimeout(connect, wait);
  });
}

showTime(atEl.dateTime);
connect();
