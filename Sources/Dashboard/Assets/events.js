// The live feed: `GET /events` (Server-Sent Events) read with fetch(), not EventSource, because
// EventSource cannot send the Authorization header and the token must not go in a URL (logs,
// history). One stream per page; it reconnects with Last-Event-ID after a drop.
import { authHeaders } from "./api.js";

const listeners = new Set();
let controller = null;
let lastID = null;

function setStatus(live) {
  const badge = document.getElementById("live");
  if (!badge) return;
  badge.textContent = live ? "live" : "offline";
  badge.classList.toggle("on", live);
}

// A browser allows six HTTP/1.1 connections per host, and each open stream holds one: a tab that is
// hidden, or a page left for another (and kept in the back/forward cache), gives its stream up and
// picks it up again (with Last-Event-ID) when shown, so many tabs cannot starve each other.
function pause() {
  if (controller) controller.abort();
  controller = null;
  setStatus(false);
}
function resume() {
  if (!controller && listeners.size && document.visibilityState === "visible") start();
}
window.addEventListener("pagehide", pause);
window.addEventListener("pageshow", resume);
document.addEventListener("visibilitychange", () => (document.visibilityState === "visible" ? resume() : pause()));

/** Calls `listener({id, type, data})` for every event until the returned function is called. */
export function subscribe(listener) {
  listeners.add(listener);
  resume();
  return () => listeners.delete(listener);
}

/** Ends the stream (log out). */
export function stop() {
  pause();
}

function dispatch(block) {
  const event = { id: null, type: "message", data: "" };
  const data = [];
  for (const line of block.split("\n")) {
    if (!line || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "id") event.id = value;
    else if (field === "event") event.type = value;
    else if (field === "data") data.push(value);
  }
  if (event.id) lastID = event.id;
  if (!data.length && event.type === "message") return;
  try { event.data = JSON.parse(data.join("\n")); } catch { event.data = data.join("\n"); }
  for (const listener of [...listeners]) {
    try { listener(event); } catch (error) { console.error("event listener", error); }
  }
}

async function start() {
  const mine = new AbortController();
  controller = mine;
  while (controller === mine) {
    try {
      const headers = authHeaders({ Accept: "text/event-stream" });
      if (lastID) headers["Last-Event-ID"] = lastID;
      const response = await fetch("/events", { headers, signal: mine.signal, cache: "no-store" });
      if (!response.ok || !response.body) throw new Error("GET /events: HTTP " + response.status);
      setStatus(true);
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        // Normalise line ends, keeping a trailing CR that may be the first half of a CRLF.
        const keep = buffer.endsWith("\r") ? "\r" : "";
        buffer = buffer.slice(0, buffer.length - keep.length).replace(/\r\n?/g, "\n");
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          dispatch(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
        }
        buffer += keep;
      }
    } catch (error) {
      if (controller !== mine) return;
    }
    setStatus(false);
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

/** `fn`, run at most once per `ms` (trailing call kept): a burst of events makes one refresh. */
export function throttle(fn, ms) {
  let timer = null, last = 0;
  const run = () => { timer = null; last = Date.now(); fn(); };
  return () => {
    if (timer) return;
    const wait = Math.max(0, last + ms - Date.now());
    timer = setTimeout(run, wait);
  };
}
