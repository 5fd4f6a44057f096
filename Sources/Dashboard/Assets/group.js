// #/groups/<id> : a group's members with their states and results, its chord callback, and a
// revoke button for admin tokens.
import { api, APIError } from "./api.js";
import { flash, h, link, pre, replace, stateBadge, table } from "./dom.js";
import { subscribe, throttle } from "./events.js";

const FINAL = ["SUCCESS", "FAILURE", "REVOKED"];

function member(task, role) {
  const outcome = task.state === "SUCCESS" ? pre(task.result)
    : task.error ? h("span", { class: "error" }, `${task.error.type}: ${task.error.message}`) : "—";
  return h("tr", { "data-task-id": task.id }, h("td", null, role),
    h("td", { class: "id" }, link(task.id, "tasks", task.id)), h("td", null, stateBadge(task.state)), h("td", null, outcome));
}

export async function renderGroup({ session, main }, id) {
  const load = async () => {
    const group = await api("/groups/" + encodeURIComponent(id));
    const summary = h("dl", { class: "fields" },
      h("dt", null, "State"), h("dd", null, stateBadge(group.state)),
      h("dt", null, "Members"), h("dd", null, String(group.size)),
      h("dt", null, "Completed"), h("dd", null, `${group.completed} (${group.successful} succeeded, ${group.failed} failed)`));
    const rows = group.tasks.map((task, i) => member(task, "#" + (i + 1)));
    if (group.callback) rows.push(member(group.callback, "callback"));
    const parts = [h("h1", null, "Group ", h("span", { class: "mono" }, group.id)), summary];
    if (session.canAdmin() && !FINAL.includes(group.state)) {
      const button = h("button", { type: "button", class: "danger action", "data-action": "revoke-group" }, "Revoke group");
      button.addEventListener("click", async () => {
        button.disabled = true;
        try {
          const answer = await api("/groups/" + encodeURIComponent(id) + "/revoke", "POST");
          flash(main, `Revoked ${answer.revoked.length} task(s).`);
          await load();
        } catch (error) { button.disabled = false; flash(main, "Revoke failed: " + error.message, true); }
      });
      parts.push(h("div", { class: "actions" }, button));
    }
    parts.push(h("h2", null, "Members"), table([["Role"], ["Id"], ["State"], ["Result"]], rows, { id: "group-table" }));
    replace(main, parts);
    return group;
  };
  let group;
  try {
    group = await load();
  } catch (error) {
    if (error instanceof APIError && error.status === 404) {
      replace(main, h("h1", null, "Unknown group"), h("p", null, "No group with id ", h("span", { class: "mono" }, id), "."));
      return null;
    }
    throw error;
  }
  const soon = throttle(() => load().then((g) => { group = g; }).catch(() => {}), 500);
  const unsubscribe = subscribe((event) => { if (event.type.startsWith("task-")) soon(); });
  const timer = setInterval(() => { if (!FINAL.includes(group.state)) soon(); }, 2000);
  return () => { unsubscribe(); clearInterval(timer); };
}
