// The reports' tables: totals (with the previous period and the change when comparing), one
// table per dimension, the agents, the periods of the range, and the hour of the week. Every
// figure links to the drill-down page listing the conversations behind it (a count of none or a
// figure that cannot be measured links nowhere). Everything is written with textContent, so a queue
// or agent name cannot inject markup.

import { changeText, valueText } from "./format.js";
import { periodParams } from "./state.js";

const HOURS = Array.from({ length: 24 }, (_, hour) => hour);

function element(tag, { text, className, scope, title } = {}) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  if (scope) node.scope = scope;
  if (title) node.title = title;
  return node;
}

function headRow(cells) {
  const tr = document.createElement("tr");
  tr.append(...cells);
  return tr;
}

export class ReportTables {
  // `drillUrl(params)`: the drill-down page's address for a figure (metric, dimension, value...).
  constructor(root, { labels, language, drillUrl }) {
    this.root = root;
    this.labels = labels;
    this.language = language;
    this.drillUrl = drillUrl;
  }

  #table(testid) {
    return this.root.querySelector(`[data-testid="${testid}"]`);
  }

  // One figure's cell: its words, and a link to the conversations behind it.
  #figure(value, metric, drill) {
    const td = element("td", { className: "num" });
    td.dataset.metric = metric.key;
    const text = valueText(value, metric.format, this.language);
    if (value === null || value === undefined) {
      td.textContent = text;
      td.title = this.labels.not_measurable;
    } else if (value === 0 && metric.format === "count") {
      td.textContent = text; // nothing behind a count of none
    } else {
      const link = element("a", { text, title: this.labels.drill_title });
      link.href = this.drillUrl({ metric: metric.key, ...drill });
      link.dataset.testid = "drill";
      td.append(link);
    }
    return td;
  }

  #fill(table, headCells, rows, columns) {
    table.tHead.replaceChildren(headRow(headCells));
    const tbody = table.tBodies[0];
    if (rows.length) {
      tbody.replaceChildren(...rows);
      return;
    }
    const td = element("td", { text: this.labels.no_rows });
    td.colSpan = columns;
    const tr = element("tr", { className: "empty" });
    tr.append(td);
    tbody.replaceChildren(tr);
  }

  draw(report) {
    this.#totals(report);
    this.#selfService(report.self_service);
    for (const table of this.root.querySelectorAll("table[data-dimension]")) {
      this.#dimension(table, table.dataset.dimension, report);
    }
    this.#series(report);
  }

  #totals(report) {
    const table = this.#table("table-totals");
    const comparing = Boolean(report.previous);
    for (const th of table.querySelectorAll("[data-compare]")) th.hidden = !comparing;
    const totals = report.totals || {};
    const rows = this.#metricRows(report.metrics || [], totals, report.previous,
      (metric) => this.#figure(totals[metric.key], metric, {}));
    table.tHead.hidden = false;
    table.tBodies[0].replaceChildren(...rows);
  }

  // A row per metric: its name, this period's cell, and (comparing) the previous figure and the change.
  #metricRows(metrics, totals, previous, cell) {
    return metrics.map((metric) => {
      const tr = element("tr");
      tr.dataset.metric = metric.key;
      tr.append(element("th", { text: metric.label, scope: "row", title: metric.help }), cell(metric));
      if (previous) {
        const before = previous[metric.key];
        const change = changeText(totals[metric.key], before, metric.format, this.labels, this.language);
        const changeCell = element("td", { text: change.text, className: "num change" });
        if (change.trend) changeCell.dataset.trend = change.trend;
        tr.append(element("td", { text: valueText(before, metric.format, this.language), className: "num previous" }),
          changeCell);
      }
      return tr;
    });
  }

  // The widget's self-service sessions (reports/self_service.py): their own counts, behind which
  // there are no conversations to open, so no figure links anywhere.
  #selfService(block) {
    const table = this.#table("table-self-service");
    if (!table) return;
    const note = this.root.querySelector("[data-testid=self-service-note]");
    const applies = Boolean(block && block.applies);
    if (note) note.hidden = applies;
    table.hidden = !applies;
    if (!applies) return;
    const comparing = Boolean(block.previous);
    for (const th of table.querySelectorAll("[data-compare]")) th.hidden = !comparing;
    const rows = this.#metricRows(block.metrics, block.totals, block.previous,
      (metric) => element("td", { text: valueText(block.totals[metric.key], metric.format, this.language),
        className: "num" }));
    table.tBodies[0].replaceChildren(...rows);
  }

  #dimension(table, dimension, report) {
    const metrics = (dimension === "agent" ? report.agent_metrics : report.metrics) || [];
    const rows = ((report.tables || {})[dimension] || []).map((row) => {
      const tr = element("tr");
      tr.dataset.value = row.value;
      tr.append(element("th", { text: row.label, scope: "row" }),
        ...metrics.map((metric) => this.#figure(row[metric.key], metric, { dimension, value: row.value })));
      return tr;
    });
    const head = [element("th", { text: this.labels.dimensions[dimension], scope: "col" }),
      ...metrics.map((metric) => element("th", { text: metric.label, scope: "col", className: "num", title: metric.help }))];
    this.#fill(table, head, rows, metrics.length + 1);
  }

  // A day's figures drill into that day; an hour's (a one-day range) into that hour.
  #series(report) {
    const table = this.#table("table-series");
    const first = (report.series || [])[0] || {};
    const metrics = (report.metrics || []).filter((metric) => metric.key in first);
    const rows = (report.series || []).map((point) => {
      const tr = element("tr");
      tr.dataset.at = point.at;
      const drill = periodParams(point);
      tr.append(element("th", { text: point.label, scope: "row" }),
        ...metrics.map((metric) => this.#figure(point[metric.key], metric, drill)));
      return tr;
    });
    const head = [element("th", { text: this.labels.period, scope: "col" }),
      ...metrics.map((metric) => element("th", { text: metric.label, scope: "col", className: "num", title: metric.help }))];
    this.#fill(table, head, rows, metrics.length + 1);
  }

  // 7 rows (Monday first) of 24 hours, each cell shaded by its share of the largest figure and
  // linked to the conversations of that hour of the week.
  drawHourOfWeek(report, metric) {
    const table = this.#table("table-hour-of-week");
    const cells = new Map((report.hour_of_week || []).map((entry) => [`${entry.weekday}/${entry.hour}`, entry]));
    const values = [...cells.values()].map((entry) => entry[metric.key]).filter((v) => typeof v === "number");
    const largest = metric.format === "percent" ? 1 : Math.max(0, ...values);
    const head = [element("th", { text: this.labels.hour, scope: "col" }),
      ...HOURS.map((hour) => element("th", { text: String(hour).padStart(2, "0"), scope: "col", className: "num" }))];
    const rows = this.labels.weekdays.map((weekday, index) => {
      const tr = element("tr");
      tr.append(element("th", { text: weekday, scope: "row" }));
      for (const hour of HOURS) {
        const value = (cells.get(`${index}/${hour}`) || {})[metric.key];
        const td = this.#figure(value ?? null, metric, { weekday: index, hour_of_day: hour });
        const strength = typeof value === "number" && largest > 0 ? value / largest : 0;
        td.style.setProperty("--strength", strength.toFixed(3));
        if (strength > 0.55) td.classList.add("strong");
        tr.append(td);
      }
      return tr;
    });
    this.#fill(table, head, rows, HOURS.length + 1);
  }
}
