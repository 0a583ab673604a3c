// The reports page's state lives in its query string, so a URL can be shared and the back
// button steps through what the supervisor looked at: `range` (today, 7 or 30 days back from
// the desk's today) or `start` and `end` (a custom range, end inclusive), one parameter per
// filtered dimension, and `compare=1`. The same parameters, with the range as dates, go to
// the reports API, the drill-down page and the exports.

export const DEFAULT_RANGE = "7";
const DAYS_BACK = { today: 0, 7: 6, 30: 29 };
const DATE = /^\d{4}-\d{2}-\d{2}$/;

export function stateFromQuery(search, dimensions) {
  const query = new URLSearchParams(search);
  const state = { range: DEFAULT_RANGE, start: "", end: "", compare: query.get("compare") === "1", filters: {} };
  const start = query.get("start") || "";
  const end = query.get("end") || "";
  if (DATE.test(start) && DATE.test(end)) {
    Object.assign(state, { range: "custom", start, end });
  } else if (query.get("range") in DAYS_BACK) {
    state.range = query.get("range");
  }
  for (const dimension of dimensions) {
    const value = query.get(dimension);
    if (value) state.filters[dimension] = value;
  }
  return state;
}

export function queryFromState(state) {
  const query = new URLSearchParams();
  if (state.range === "custom") {
    query.set("start", state.start);
    query.set("end", state.end);
  } else {
    query.set("range", state.range);
  }
  for (const [dimension, value] of Object.entries(state.filters)) {
    if (value) query.set(dimension, value);
  }
  if (state.compare) query.set("compare", "1");
  return query;
}

function daysBefore(isoDate, days) {
  const date = new Date(`${isoDate}T00:00:00Z`); // UTC: no daylight-saving day is 23 hours long
  date.setUTCDate(date.getUTCDate() - days);
  return date.toISOString().slice(0, 10);
}

// The dates a state covers; `today` is the desk's (the page is given it), not the browser's.
export function rangeDates(state, today) {
  if (state.range === "custom") return { start: state.start, end: state.end };
  return { start: daysBefore(today, DAYS_BACK[state.range]), end: today };
}

// What the API, the drill-down and the exports are asked: the range as dates, and the filters.
export function reportQuery(state, today, { compare = state.compare } = {}) {
  const { start, end } = rangeDates(state, today);
  const query = new URLSearchParams({ start, end });
  for (const [dimension, value] of Object.entries(state.filters)) {
    if (value) query.set(dimension, value);
  }
  if (compare) query.set("compare", "1");
  return query;
}

export function withParams(base, query, extra = {}) {
  const params = new URLSearchParams(query);
  for (const [name, value] of Object.entries(extra)) {
    if (value !== undefined && value !== null && value !== "") params.set(name, value);
  }
  return `${base}?${params}`;
}

// The drill-down of one period of the series: the bucket (an hour when the range is one day, a
// day otherwise) starting at the point's time, with its offset as the API wrote it.
export function periodParams(point) {
  return { at: point.at };
}
