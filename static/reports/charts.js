// The reports' four charts, drawn with Chart.js (static/vendor/chart.js-4.6.1, loaded before
// this module as window.Chart). Each chart is made once and given new data on every answer,
// so a redraw is an update, not a new canvas. Shares stay shares (0..1) and are worded by
// format.js on the axes and in the tooltips, like every figure of the tables.
//
// The charts are kept on window.reportsCharts and each canvas says how many points it shows
// (data-points), for the browser test and for anyone curious in the console.

import { percentText, valueText, wordsFill } from "./format.js";

const COLOURS = {
  created: "#2456d6", resolved: "#1f9d55", backlog: "#d98f00", service_level: "#7b3fc4", previous: "#9aa3b2",
};
const reducedMotion = window.matchMedia("(prefers-reduced-motion: reduce)").matches;

function options({ language, shareAxis = "y", countAxis = null }) {
  const scales = {};
  if (countAxis) {
    scales[countAxis] = { beginAtZero: true, ticks: { precision: 0, callback: (v) => valueText(v, "count", language) } };
  }
  if (shareAxis) {
    scales[shareAxis] = { min: 0, max: 1, ticks: { stepSize: 0.2, callback: (v) => percentText(v) } };
    if (countAxis) Object.assign(scales[shareAxis], { position: "right", grid: { drawOnChartArea: false } });
  }
  return {
    responsive: true,
    maintainAspectRatio: false,
    animation: reducedMotion ? false : { duration: 250 },
    interaction: { mode: "index", intersect: false },
    plugins: {
      legend: { position: "bottom" },
      tooltip: {
        callbacks: {
          label: (context) => `${context.dataset.label}: ${valueText(context.raw, context.dataset.format, language)}`,
        },
      },
    },
    scales,
  };
}

function dataset(key, label, data, extra = {}) {
  const format = extra.format || "count";
  return { label, data, format, borderColor: COLOURS[key], backgroundColor: COLOURS[key], ...extra };
}

export class ReportCharts {
  // `onPick(chartKey, index)`: a bar or point was clicked (the page opens the drill-down).
  constructor(root, { language, labels, onPick }) {
    const Chart = window.Chart;
    this.labels = labels;
    this.canvases = {};
    this.charts = {};
    window.reportsCharts = this.charts;
    if (!Chart) return; // the vendored script did not load: the tables still show every figure
    for (const canvas of root.querySelectorAll("canvas[data-chart]")) {
      const key = canvas.dataset.chart;
      const timeline = key === "volume" || key === "service_level";
      const config = key === "service_level"
        ? options({ language, shareAxis: "y" })
        : options({ language, countAxis: "y", shareAxis: timeline ? null : "y1" });
      config.onClick = (event, elements) => {
        if (elements.length) onPick(key, elements[0].index);
      };
      config.onHover = (event, elements) => {
        event.native.target.style.cursor = elements.length ? "pointer" : "";
      };
      this.canvases[key] = canvas;
      this.charts[key] = new Chart(canvas, {
        type: key === "service_level" ? "line" : "bar",
        data: { labels: [], datasets: [] },
        options: config,
      });
    }
  }

  draw(report, metricLabel) {
    const series = report.series || [];
    const at = series.map((point) => point.label);
    const pick = (rows, key) => rows.map((row) => (row[key] === undefined ? null : row[key]));
    this.#set("volume", at, [
      dataset("created", metricLabel("created"), pick(series, "created"), { order: 2 }),
      dataset("resolved", metricLabel("resolved"), pick(series, "resolved"), { order: 2 }),
      dataset("backlog", metricLabel("backlog"), pick(series, "backlog"),
        { type: "line", order: 1, tension: 0.2, pointRadius: 2 }),
    ]);

    const level = [dataset("service_level", metricLabel("service_level"), pick(series, "service_level"),
      { format: "percent", tension: 0.2, spanGaps: false, clip: false })];
    if (report.previous_range) level.push(this.#previousLevel(report, series, metricLabel));
    this.#set("service_level", at, level);

    for (const dimension of ["queue", "language"]) {
      const rows = (report.tables || {})[dimension] || [];
      this.#set(dimension, rows.map((row) => row.label), [
        dataset("created", metricLabel("created"), pick(rows, "created"), { yAxisID: "y", order: 2 }),
        dataset("service_level", metricLabel("service_level"), pick(rows, "service_level"), {
          type: "line", yAxisID: "y1", format: "percent", showLine: false, pointRadius: 6,
          pointStyle: "rectRot", order: 1, clip: false, // a 100 % marker is drawn whole
        }),
      ]);
    }
  }

  // The previous period, dashed: point by point where the API sends its series
  // (`previous_series`, aligned by position), else its service level over the whole period.
  #previousLevel(report, series, metricLabel) {
    const label = wordsFill(this.labels.previous_of, { label: metricLabel("service_level") });
    const previous = report.previous_series;
    const data = Array.isArray(previous)
      ? series.map((_, index) => (previous[index] ? previous[index].service_level ?? null : null))
      : series.map(() => (report.previous ? report.previous.service_level ?? null : null));
    return dataset("previous", label, data, { format: "percent", borderDash: [6, 4], pointRadius: 0, tension: 0.2 });
  }

  #set(key, labels, datasets) {
    const chart = this.charts[key];
    if (!chart) return;
    chart.data.labels = labels;
    chart.data.datasets = datasets;
    chart.update();
    this.canvases[key].dataset.points = String(labels.length);
  }
}
