// The dashboard's entry: learns who the token belongs to (GET /auth/whoami), then routes on the
// URL's hash: #/ overview, #/tasks list, #/tasks/<id>, #/groups/<id>, #/dead-letters, #/login.
import { api, APIError, setToken } from "./api.js";
import { h, replace } from "./dom.js";
import { stop as stopEvents } from "./events.js";
import { renderLogin } from "./login.js";
import { renderOverview } from "./overview.js";
import { renderTasks } from "./tasks.js";
import { renderTask } from "./task.js";
import { renderGroup } from "./group.js";
import { renderDeadLetters } from "./deadletters.js";

const main = document.getElementById("main");
const session = { name: null, scopes: [], auth: false };
let cleanup = null;

/** True when the token may revoke and requeue: only then are action buttons shown. */
session.canAdmin = () => session.scopes.includes("admin");

async function whoami() {
  const me = await api("/auth/whoami");
  session.name = me.name;
  session.scopes = me.scopes || [];
  session.auth = !!me.auth;
  document.getElementById("who").textContent = me.name + " (" + session.scopes.join(", ") + ")";
  document.getElementById("logout").hidden = !session.auth;
}

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, "");
  const [path, search] = raw.split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  return { parts, query: new URLSearchParams(search || "") };
}

function markNav(page) {
  for (const a of document.querySelectorAll("#nav a")) a.classList.toggle("current", a.dataset.page === page);
}

async function route() {
  if (cleanup) { cleanup(); cleanup = null; }
  const { parts, query } = parseHash();
  const context = { session, query, main, onUnauthorized: showLogin };
  try {
    if (parts[0] === "login") return showLogin();
    if (session.name === null) await whoami();
    const [page, id] = parts;
    markNav(page || "overview");
    if (!page) cleanup = await renderOverview(context);
    else if (page === "tasks" && id) cleanup = await renderTask(context, id);
    else if (page === "tasks") cleanup = await renderTasks(context);
    else if (page === "groups" && id) cleanup = await renderGroup(context, id);
    else if (page === "dead-letters") cleanup = await renderDeadLetters(context);
    else replace(main, h("h1", null, "Not found"), h("p", null, "No page here. ", h("a", { href: "#/" }, "Overview")));
    // The first page drawn with its data (the dashboard bench reads it beside first-contentful-paint).
    if (!performance.getEntriesByName("celeriac:first-render").length) performance.mark("celeriac:first-render");
  } catch (error) {
    if (error instanceof APIError && error.status === 401) return showLogin();
    if (error instanceof APIError && error.status === 403 && session.name === null) {
      return showLogin("That token lacks the read scope the dashboard needs.");
    }
    replace(main, h("h1", null, "Something went wrong"), h("p", { class: "error" }, String(error.message || error)));
  }
}

function showLogin(message) {
  stopEvents();
  session.name = null;
  markNav("login");
  renderLogin(main, typeof message === "string" ? message : null, async (value) => {
    setToken(value);
    await whoami();
    if (location.hash === "#/login") location.hash = "#/"; else route();
  });
}

document.getElementById("logout").addEventListener("click", () => {
  setToken("");
  location.hash = "#/login";
});
window.addEventListener("hashchange", route);
route();
