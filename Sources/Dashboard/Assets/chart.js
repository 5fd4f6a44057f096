// Bar charts in SVG, built with DOM calls (no library, nothing inline for the CSP to refuse).
import { h } from "./dom.js";

const NS = "http://www.w3.org/2000/svg";

function svg(tag, attrs, text) {
  const el = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attrs || {})) el.setAttribute(key, String(value));
  if (text != null) el.textContent = String(text);
  return el;
}

/** A chart of `field` for each minute of `minutes` ([{start, succeeded, failed}]), oldest left. */
export function barChart(title, minutes, field, barClass, id) {
  const width = 600, height = 160, left = 34, bottom = 18, top = 8;
  const values = minutes.map((m) => Number(m[field]) || 0);
  const max = Math.max(1, ...values);
  const total = values.reduce((a, b) => a + b, 0);
  const plotW = width - left - 4, plotH = height - top - bottom;
  const step = plotW / Math.max(1, values.length);
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": title, id });
  root.append(svg("line", { x1: left, y1: top + plotH, x2: width - 4, y2: top + plotH, class: "axis" }));
  root.append(svg("line", { x1: left, y1: top, x2: left, y2: top + plotH, class: "axis" }));
  root.append(svg("text", { x: left - 4, y: top + 8, "text-anchor": "end" }, max));
  root.append(svg("text", { x: left - 4, y: top + plotH, "text-anchor": "end" }, 0));
  values.forEach((value, i) => {
    const barH = (value / max) * plotH;
    const bar = svg("rect", { x: left + i * step + 0.5, y: top + plotH - barH, width: Math.max(1, step - 1),
      height: barH, class: barClass, "data-value": value });
    bar.append(svg("title", null, `${new Date(minutes[i].start).toLocaleTimeString()}: ${value}`));
    root.append(bar);
  });
  if (minutes.length) {
    root.append(svg("text", { x: left, y: height - 4 }, new Date(minutes[0].start).toLocaleTimeString()));
    root.append(svg("text", { x: width - 4, y: height - 4, "text-anchor": "end" }, "now"));
  }
  return h("figure", { class: "chart" }, h("figcaption", null, `${title} — ${total} in the last hour`), root);
}
