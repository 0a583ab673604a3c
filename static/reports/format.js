// The reports' figures put into words, in one place for the charts' ticks and tooltips and for
// every table. The API sends raw figures with a format per metric ("percent", "seconds",
// "count", "number"); null is "not measurable" (no answered work, no ratings) and reads "—".
// Durations and shares read as the live view's do (conversations/live.py duration_text and
// _percent): "1m 05s", "2h 03m", "42s", "83 %"; tests/browser/test_reports.py holds them equal.

const DASH = "—";
const formatters = new Map();

function numberFormat(language, fractionDigits) {
  const key = `${language}/${fractionDigits}`;
  if (!formatters.has(key)) {
    formatters.set(key, new Intl.NumberFormat(language || undefined, { maximumFractionDigits: fractionDigits }));
  }
  return formatters.get(key);
}

export function durationText(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(Number(seconds))) return DASH;
  const whole = Math.max(Math.trunc(Number(seconds)), 0);
  const hours = Math.floor(whole / 3600);
  const minutes = Math.floor((whole % 3600) / 60);
  const rest = whole % 60;
  const two = (n) => String(n).padStart(2, "0");
  if (hours) return `${hours}h ${two(minutes)}m`;
  if (minutes) return `${minutes}m ${two(rest)}s`;
  return `${rest}s`;
}

export function percentText(share) {
  if (share === null || share === undefined || Number.isNaN(Number(share))) return DASH;
  return `${Math.round(Number(share) * 100)} %`;
}

// One figure as a table cell shows it.
export function valueText(value, format, language) {
  if (value === null || value === undefined) return DASH;
  switch (format) {
    case "percent": return percentText(value);
    case "seconds": return durationText(value);
    case "count": return numberFormat(language, 0).format(value);
    default: return numberFormat(language, 2).format(value);
  }
}

// This period against the previous one: points for shares, a relative change for the rest.
// Returns {text, trend} where trend is "up", "down" or "" (no change, or nothing to compare).
export function changeText(value, previous, format, labels, language) {
  if (value === null || value === undefined || previous === null || previous === undefined) {
    return { text: DASH, trend: "" };
  }
  const sign = (n) => (n > 0 ? "+" : n < 0 ? "−" : "±");
  const trend = value > previous ? "up" : value < previous ? "down" : "";
  if (format === "percent") {
    const points = Math.round((value - previous) * 100);
    return { text: `${sign(points)}${Math.abs(points)} ${labels.points}`, trend };
  }
  if (previous === 0) return value === 0 ? { text: "±0 %", trend } : { text: DASH, trend: "" }; // from nothing
  const relative = Math.round(((value - previous) / Math.abs(previous)) * 100);
  return { text: `${sign(relative)}${numberFormat(language, 0).format(Math.abs(relative))} %`, trend };
}

// A translated sentence with its placeholders filled in: one function for the desk's scripts.
export { wordsFill } from "../common/format.js";
