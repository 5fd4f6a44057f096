// #/tasks/<id> : one task: arguments, result or traceback, retries, the timeline submitted →
// received → started → finished, its worker and group; a revoke button for admin tokens.
import { api, APIError } from "./api.js";
import { flash, h, link, pre, replace, seconds, stateBadge, time } from "./dom.js";
import { subscribe, throttle } from "./events.js";

const FINAL = ["SUCCESS", "FAILURE", "REVOKED"];

/** A revoke button for a task that has not finished (admin tokens only; the caller checks). */
export function revokeButton(task, done) {
  if (FINAL.includes(task.state)) return null;
  const button = h("button", { type: "button", class: "danger action", "data-action": "revoke" }, "Revoke");
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      await api("/tasks/" + encodeURIComponent(task.id) + "/revoke", "POST");
      button.textContent = "Revoked";
      done && done();
    } catch (error) {
      button.disabled = false;
      button.textContent = "Revoke failed: " + error.message;
    }
  });
  return button;
}

function timeline(task) {
  const steps = [["submitted", task.submitted_at], ["received", task.received_at],
    ["started", task.started_at], ["finished", task.finished_at]];
  return h("ol", { class: "timeline", id: "task-timeline" }, steps.map(([name, at], i) => {
    const previous = steps.slice(0, i).reverse().find(([, t]) => t);
    const delta = at && previous ? (new Date(at) - new Date(previous[1])) / 1000 : null;
    return h("li", { class: at ? null : "missing", "data-step": name },
      h("span", { class: "k" }, name + (delta != null ? " (+" + seconds(delta) + ")" : "")), time(at));
  }));
}

function view(task, session, reload) {
  const fields = [
    ["Task", task.task ?? "—"], ["State", stateBadge(task.state)], ["Queue", task.queue ?? "—"],
    ["Worker", h("span", { id: "task-worker", class: "mono" }, task.worker ?? "—")],
    ["Group", task.group ? link(task.group, "groups", task.group) : "—"],
    ["Retries", String(task.retries ?? 0)], ["Attempts", String(task.attempts ?? 0)], ["Runtime", seconds(task.runtime)],
  ];
  const parts = [h("h1", null, "Task ", h("span", { class: "mono" }, task.id)),
    h("dl", { class: "fields" }, fields.map(([k, v]) => [h("dt", null, k), h("dd", null, v)])),
    h("h2", null, "Timeline"), timeline(task)];
  if (session.canAdmin()) {
    const revoke = revokeButton(task, reload);
    if (revoke) parts.push(h("div", { class: "actions" }, revoke));
  }
  parts.push(h("h2", null, "Arguments"));
  parts.push(h("h3", null, "args"), pre(task.args ?? "—", { id: "task-args" }));
  parts.push(h("h3", null, "kwargs"), pre(task.kwargs ?? "—", { id: "task-kwargs" }));
  if (task.state === "SUCCESS") parts.push(h("h2", null, "Result"), pre(task.result, { id: "task-result" }));
  if (task.meta != null) parts.push(h("h2", null, "Progress"), pre(task.meta, { id: "task-meta" }));
  if (task.error) {
    parts.push(h("h2", null, "Error"), h("p", { id: "task-error", class: "error" },
      `${task.error.module ? task.error.module + "." : ""}${task.error.type}: ${task.error.message}`));
  }
  if (task.traceback) parts.push(h("h2", null, "Traceback"), pre(task.traceback, { id: "task-traceback", class: "traceback" }));
  return parts;
}

export async function renderTask({ session, main }, id) {
  let task;
  const load = async () => {
    task = await api("/tasks/" + encodeURIComponent(id));
    replace(main, view(task, session, () => load().catch(() => {})));
  };
  try {
    await load();
  } catch (error) {
    if (error instanceof APIError && error.status === 404) {
      replace(main, h("h1", null, "Unknown task"), h("p", null, "No task with id ", h("span", { class: "mono" }, id),
        " was submitted, or its record expired."));
      return null;
    }
    throw error;
  }
  const soon = throttle(() => load().catch((e) => flash(main, e.message, true)), 300);
  const unsubscribe = subscribe((event) => {
    if (event.type === "reset" || (event.data && event.data.uuid === id)) soon();
  });
  // Until the task finishes, also look every 2 s (events may be off: workers without -E).
  const timer = setInterval(() => { if (!FINAL.includes(task.state)) soon(); }, 2000);
  return () => { unsubscribe(); clearInterval(timer); };
}
