// #/tasks : the task history (GET /tasks) with filters in the URL's hash, cursor paging, and live
// updates: while on the first page, any task event refreshes it (throttled), so a new task shows
// within a second without a reload.
import { api, query } from "./api.js";
import { h, link, replace, seconds, stateBadge, table, time, flash } from "./dom.js";
import { subscribe, throttle } from "./events.js";
import { revokeButton } from "./task.js";

const STATES = ["", "PENDING", "RECEIVED", "STARTED", "RETRY", "SUCCESS", "FAILURE", "REVOKED"];
const FILTERS = ["state", "task", "queue", "worker", "since", "until", "q"];

function toLocalInput(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  if (isNaN(date)) return "";
  return new Date(date.getTime() - date.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
}

function filterForm(current) {
  const field = (name, label, input) => h("label", null, label, input);
  const text = (name, placeholder) => h("input", { name, id: "filter-" + name, value: current.get(name) || "", placeholder });
  const state = h("select", { name: "state", id: "filter-state" },
    STATES.map((s) => h("option", { value: s, selected: current.get("state") === s && s !== "" }, s || "any")));
  const when = (name) => h("input", { name, id: "filter-" + name, type: "datetime-local", value: toLocalInput(current.get(name)) });
  const form = h("form", { class: "filters", id: "task-filters" },
    field("state", "State", state), field("task", "Task", text("task", "name")),
    field("queue", "Queue", text("queue", "celery")), field("worker", "Worker", text("worker", "celery@host")),
    field("since", "Since", when("since")), field("until", "Until", when("until")),
    field("q", "Id", text("q", "id or part of it")),
    h("button", { type: "submit" }, "Filter"),
    h("button", { type: "button", class: "secondary", onclick: () => { location.hash = "#/tasks"; } }, "Clear"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const params = {};
    for (const name of FILTERS) {
      let value = form.elements[name].value.trim();
      if ((name === "since" || name === "until") && value) value = new Date(value).toISOString();
      params[name] = value;
    }
    location.hash = "#/tasks" + query(params);
  });
  return form;
}

function row(task, session, onChange) {
  return h("tr", { "data-task-id": task.id, "data-state": task.state },
    h("td", { class: "id" }, link(task.id, "tasks", task.id)),
    h("td", null, task.task ?? "—"), h("td", null, stateBadge(task.state)),
    h("td", { class: "wide" }, task.queue ?? "—"), h("td", { class: "wide mono" }, task.worker ?? "—"),
    h("td", null, time(task.submitted_at)), h("td", { class: "wide" }, seconds(task.runtime)),
    h("td", { class: "wide" }, task.retries ?? 0),
    h("td", null, session.canAdmin() ? revokeButton(task, onChange) : null));
}

export async function renderTasks({ session, query: params, main }) {
  const filters = {};
  for (const name of FILTERS) filters[name] = params.get(name) || "";
  const limit = params.get("limit") || 50;   // #/tasks?limit=N: another page size
  const cursors = [];   // cursors of the pages before this one (for "Newer")
  let cursor = null;
  const body = h("div", { id: "task-list" });
  const pager = h("div", { class: "pager" });
  replace(main, h("h1", null, "Tasks"), filterForm(params), body, pager);
  let known = new Set();

  async function load() {
    const page = await api("/tasks" + query({ ...filters, cursor, limit }));
    const fresh = new Set(page.items.map((t) => t.id));
    const rows = page.items.map((task) => {
      const tr = row(task, session, () => load().catch(() => {}));
      if (known.size && !known.has(task.id)) tr.classList.add("fresh");
      return tr;
    });
    known = fresh;
    replace(body, rows.length
      ? table([["Id"], ["Task"], ["State"], ["Queue", true], ["Worker", true], ["Submitted"], ["Runtime", true], ["Retries", true], [""]],
        rows, { id: "task-table" })
      : h("p", { class: "muted", id: "no-tasks" }, "No task matches."));
    replace(pager,
      h("button", { type: "button", class: "secondary", id: "page-newer", disabled: !cursors.length,
        onclick: () => { cursor = cursors.pop() ?? null; load().catch(show); } }, "← Newer"),
      h("button", { type: "button", class: "secondary", id: "page-older", disabled: !page.next_cursor,
        onclick: () => { cursors.push(cursor); cursor = page.next_cursor; load().catch(show); } }, "Older →"),
      h("span", { class: "muted" }, `${page.count} shown` + (cursor ? " (older page; live updates paused)" : "")));
  }
  const show = (error) => flash(main, "Could not load tasks: " + error.message, true);

  try {
    await load();
  } catch (error) {
    if (error.status === 401) throw error;
    show(error);
  }
  const soon = throttle(() => { if (cursor === null) load().catch(() => {}); }, 300);
  const unsubscribe = subscribe((event) => {
    if (event.type === "reset" || event.type.startsWith("task-")) soon();
  });
  return unsubscribe;
}
