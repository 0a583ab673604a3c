// Times are put into words here and nowhere else, in the browser's time zone and language.
// The server writes <time datetime="ISO" data-format="clock"> with no text; pushes carry ISO
// timestamps; both are drawn by this module, so one page never shows two clocks.

const FORMATS = {
  clock: new Intl.DateTimeFormat([], { hour: "2-digit", minute: "2-digit" }),
  "clock-seconds": new Intl.DateTimeFormat([], { hour: "2-digit", minute: "2-digit", second: "2-digit" }),
  datetime: new Intl.DateTimeFormat([], { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit",
    minute: "2-digit" }),
};

export function timeText(iso, format = "clock") {
  const date = iso ? new Date(iso) : new Date();
  return Number.isNaN(date.getTime()) ? "" : (FORMATS[format] || FORMATS.clock).format(date);
}

// A <time> element as the templates write it, drawn at once.
export function timeElement(iso, format = "clock") {
  const time = document.createElement("time");
  if (iso) time.dateTime = iso;
  time.dataset.format = format;
  time.textContent = timeText(iso, format);
  return time;
}

// Every <time data-format> under `scope` that the server wrote.
export function timesRender(scope = document) {
  for (const time of scope.querySelectorAll("time[data-format]")) {
    time.textContent = timeText(time.getAttribute("datetime"), time.dataset.format);
  }
}

// A translated sentence with Python's named placeholders ("%(start)s") filled in: the desk's
// words come from gettext on the server (JSON in the page), the values from the script.
export function wordsFill(template, values) {
  return template.replace(/%\((\w+)\)s/g, (whole, name) => (name in values ? String(values[name]) : whole));
}
