// DOM helpers. Everything shown goes in as text nodes or attributes, never as HTML: task arguments,
// results and tracebacks are user input.

/** An element with attributes (`class`, `on<event>`, anything else set as an attribute) and children. */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value == null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

/** Appends children: nodes as they are, anything else as text. */
export function append(el, children) {
  for (const child of [children].flat(Infinity)) {
    if (child == null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Replaces every child of `el`. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** A link inside the page; the hash is built from encoded parts, so an id cannot change the route. */
export function link(text, ...parts) {
  return h("a", { href: "#/" + parts.map(encodeURIComponent).join("/") }, text);
}

/** A task state as a coloured badge. */
export function stateBadge(state) {
  const known = ["PENDING", "RECEIVED", "STARTED", "RETRY", "SUCCESS", "FAILURE", "REVOKED"];
  return h("span", { class: "state " + (known.includes(state) ? state : "OTHER") }, state || "?");
}

/** A date-time as local time, with the ISO text as the tooltip. */
export function time(iso) {
  if (!iso) return h("span", { class: "muted" }, "—");
  const date = new Date(iso);
  if (isNaN(date)) return String(iso);
  return h("time", { datetime: iso, title: iso }, date.toLocaleString());
}

/** "12 s ago", "3 min ago". */
export function ago(iso) {
  if (!iso) return "—";
  const seconds = Math.max(0, (Date.now() - new Date(iso).getTime()) / 1000);
  if (isNaN(seconds)) return String(iso);
  if (seconds < 90) return Math.round(seconds) + " s ago";
  if (seconds < 5400) return Math.round(seconds / 60) + " min ago";
  return Math.round(seconds / 3600) + " h ago";
}

/** A duration in seconds as "42 ms" or "1.25 s". */
export function seconds(value) {
  if (value == null) return "—";
  if (value < 0.001) return "< 1 ms";
  return value < 1 ? Math.round(value * 1000) + " ms" : value.toFixed(2) + " s";
}

/** A JSON value (or a string the API already rendered) as a <pre>. */
export function pre(value, attrs) {
  const text = typeof value === "string" ? value : JSON.stringify(value, null, 2);
  return h("pre", attrs, text ?? "null");
}

/** A table in a scrolling wrapper; `columns` are [title, wide?] (wide columns hide on phones). */
export function table(columns, rows, attrs) {
  const head = h("tr", null, columns.map(([title, wide]) => h("th", { class: wide ? "wide" : null }, title)));
  return h("div", { class: "table-wrap" }, h("table", attrs, h("thead", null, head), h("tbody", null, rows)));
}

/** A short message above the page's content ("Requeued …"), gone after a while. */
export function flash(main, text, bad) {
  const note = h("p", { class: bad ? "flash bad" : "flash", role: "status" }, text);
  main.prepend(note);
  setTimeout(() => note.remove(), 6000);
}
