// The reports page (templates/reports/overview.html): reads its state from the query string,
// asks the reports API for it with the signed-in session, and draws the charts and tables.
// Every change of the controls becomes a new query string (history.pushState), so the URL can
// be shared and the back button returns to what was shown before; a newer answer always wins
// over an older one still on its way (the older request is aborted). The words come from
// reports/overview_page.py (JS has no gettext), the metrics' names with the API's answer.

import { ReportCharts } from "./charts.js";
import { wordsFill } from "./format.js";
import { ReportTables } from "./tables.js";
import { periodParams, queryFromState, rangeDates, reportQuery, stateFromQuery, withParams } from "./state.js";

const root = document.getElementById("reports");
const CONFIG = JSON.parse(document.getElementById("reports-config").textContent);
const LABELS = JSON.parse(document.getElementById("reports-labels").textContent);
const form = document.getElementById("reports-controls");
const statusEl = root.querySelector("[data-testid=reports-status]");
const errorEl = root.querySelector("[data-testid=reports-error]");
const hourOfWeekSelect = root.querySelector("[data-testid=how-metric]");
const HOUR_OF_WEEK_METRICS = ["created", "arrived", "service_level"];

let state = stateFromQuery(location.search, CONFIG.dimensions);
let report = null;
let inFlight = null;
let generation = 0;

function drillUrl(params) {
  return withParams(CONFIG.drill_url, reportQuery(state, CONFIG.today, { compare: false }), params);
}

function metricOf(key) {
  const found = report && [...(report.metrics || []), ...(report.agent_metrics || [])].find((m) => m.key === key);
  return found || { key, label: key, format: "number" };
}

// A click on a chart opens the conversations behind the bar or point.
function onPick(chartKey, index) {
  if (!report) return;
  if (chartKey === "queue" || chartKey === "language") {
    const row = ((report.tables || {})[chartKey] || [])[index];
    if (row) location.assign(drillUrl({ metric: "created", dimension: chartKey, value: row.value }));
    return;
  }
  const point = (report.series || [])[index];
  if (!point) return;
  const metric = chartKey === "service_level" ? "service_level" : "created";
  location.assign(drillUrl({ metric, ...periodParams(point) }));
}

const tables = new ReportTables(root, { labels: LABELS, language: CONFIG.language, drillUrl });
const charts = new ReportCharts(root, { language: CONFIG.language, labels: LABELS, onPick });

// --- the controls ---------------------------------------------------------------------------------

function selectValue(select, value) {
  if (value && ![...select.options].some((option) => option.value === value)) {
    select.add(new Option(value, value)); // filtered on a value the answer has not named (yet)
  }
  select.value = value;
}

function controlsShow() {
  const { start, end } = rangeDates(state, CONFIG.today);
  form.elements.start.value = start;
  form.elements.end.value = end;
  for (const button of form.querySelectorAll("[data-range]")) {
    button.setAttribute("aria-pressed", String(button.dataset.range === state.range));
  }
  for (const dimension of CONFIG.dimensions) selectValue(form.elements[dimension], state.filters[dimension] || "");
  form.elements.compare.checked = state.compare;
}

function choicesShow(choices) {
  for (const dimension of CONFIG.dimensions) {
    const select = form.elements[dimension];
    const all = select.options[0];
    select.replaceChildren(all, ...(choices[dimension] || []).map((choice) => new Option(choice.label, choice.value)));
    selectValue(select, state.filters[dimension] || "");
  }
}

function exportsShow() {
  const query = reportQuery(state, CONFIG.today);
  for (const link of root.querySelectorAll("a[data-export]")) {
    link.href = withParams(CONFIG.export_url, query, { table: link.dataset.export, format: link.dataset.format });
  }
}

function go(next) {
  state = next;
  history.pushState(null, "", `?${queryFromState(state)}`);
  controlsShow();
  load();
}

form.addEventListener("submit", (event) => event.preventDefault());
for (const button of form.querySelectorAll("[data-range]")) {
  button.addEventListener("click", () => go({ ...state, range: button.dataset.range, start: "", end: "" }));
}
for (const name of ["start", "end"]) {
  form.elements[name].addEventListener("change", () => {
    const start = form.elements.start.value;
    const end = form.elements.end.value;
    if (!start || !end) return; // half typed
    if (start > end) {
      problemShow(LABELS.bad_range);
      return;
    }
    go({ ...state, range: "custom", start, end });
  });
}
for (const dimension of CONFIG.dimensions) {
  form.elements[dimension].addEventListener("change", (event) => {
    go({ ...state, filters: { ...state.filters, [dimension]: event.target.value } });
  });
}
form.elements.compare.addEventListener("change", (event) => go({ ...state, compare: event.target.checked }));
hourOfWeekSelect.addEventListener("change", () => {
  if (report) tables.drawHourOfWeek(report, metricOf(hourOfWeekSelect.value));
});
window.addEventListener("popstate", () => {
  state = stateFromQuery(location.search, CONFIG.dimensions);
  controlsShow();
  load();
});

// --- the answer -----------------------------------------------------------------------------------

function problemShow(message) {
  root.dataset.state = "error";
  root.removeAttribute("aria-busy");
  statusEl.textContent = "";
  errorEl.textContent = message;
  errorEl.hidden = false;
}

async function problemOf(response) {
  if (response.status === 401) return LABELS.signed_out;
  let message = "";
  try {
    message = (await response.json()).error.message || "";
  } catch {
    // not the API's JSON (a proxy's page): the status says enough
  }
  if (response.status >= 500) return message || LABELS.unavailable;
  return wordsFill(LABELS.error, { message: message || `${response.status} ${response.statusText}` });
}

function hourOfWeekChoices() {
  const chosen = hourOfWeekSelect.value || HOUR_OF_WEEK_METRICS[0];
  const options = HOUR_OF_WEEK_METRICS.map(metricOf).map((metric) => new Option(metric.label, metric.key));
  hourOfWeekSelect.replaceChildren(...options);
  hourOfWeekSelect.value = chosen;
}

function show(answer) {
  report = answer;
  errorEl.hidden = true;
  choicesShow(answer.choices || {});
  hourOfWeekChoices();
  charts.draw(answer, (key) => metricOf(key).label);
  tables.draw(answer);
  tables.drawHourOfWeek(answer, metricOf(hourOfWeekSelect.value));
  const range = answer.range || {};
  let words = wordsFill(LABELS.loaded, { start: range.start, end: range.end, time_zone: range.time_zone });
  if (answer.previous_range) words += ` ${wordsFill(LABELS.compared, answer.previous_range)}`;
  statusEl.textContent = words;
  root.removeAttribute("aria-busy");
  generation += 1;
  root.dataset.generation = String(generation);
  root.dataset.state = "ready";
}

async function load() {
  if (inFlight) inFlight.abort();
  const controller = new AbortController();
  inFlight = controller;
  exportsShow();
  root.dataset.state = "loading";
  root.setAttribute("aria-busy", "true");
  statusEl.textContent = LABELS.loading;
  let response;
  let answer = null;
  try {
    response = await fetch(withParams(CONFIG.api_url, reportQuery(state, CONFIG.today)), {
      headers: { Accept: "application/json" }, credentials: "same-origin", signal: controller.signal,
    });
    // A 200 that is not JSON is the login page the request was redirected to.
    if (response.ok && (response.headers.get("Content-Type") || "").includes("json")) answer = await response.json();
  } catch (error) {
    if (error.name !== "AbortError" && controller === inFlight) problemShow(LABELS.network);
    return;
  }
  if (controller !== inFlight) return; // a newer request took over
  if (!answer) {
    problemShow(response.ok ? LABELS.signed_out : await problemOf(response));
    return;
  }
  try {
    show(answer);
  } catch (error) {
    problemShow(wordsFill(LABELS.error, { message: String(error) }));
    throw error;
  }
}

controlsShow();
load();
