// #/dead-letters : messages no worker could run, newest first, with the reason; a requeue button
// for admin tokens puts one back on its queue.
import { api } from "./api.js";
import { flash, h, link, pre, replace, table, time } from "./dom.js";

export async function renderDeadLetters({ session, main }) {
  const list = h("div", { id: "dead-letter-list" });
  replace(main, h("h1", null, "Dead letters"), list);
  const load = async () => {
    const page = await api("/dead-letters?limit=200");
    const rows = page.items.map((entry) => {
      const actions = h("td");
      if (session.canAdmin()) {
        const button = h("button", { type: "button", class: "action", "data-action": "requeue" }, "Requeue");
        button.addEventListener("click", async () => {
          button.disabled = true;
          try {
            await api("/dead-letters/" + encodeURIComponent(entry.id) + "/requeue", "POST");
            flash(main, `Requeued ${entry.task_id || entry.id} on ${entry.queue}.`);
            await load();
          } catch (error) { button.disabled = false; flash(main, "Requeue failed: " + error.message, true); }
        });
        actions.append(button);
      }
      return h("tr", { "data-dead-letter-id": entry.id }, h("td", null, time(entry.at)),
        h("td", { class: "id" }, entry.task_id ? link(entry.task_id, "tasks", entry.task_id) : "—"),
        h("td", null, entry.task ?? "—"), h("td", null, entry.queue ?? "—"),
        h("td", null, entry.reason ?? "", entry.field ? h("span", { class: "muted" }, " (" + entry.field + ")") : null),
        h("td", { class: "wide" }, h("details", null, h("summary", null, "message"), pre(entry.message ?? ""))), actions);
    });
    replace(list, rows.length
      ? table([["At"], ["Task id"], ["Task"], ["Queue"], ["Reason"], ["Message", true], [""]], rows, { id: "dead-letter-table" })
      : h("p", { class: "muted", id: "no-dead-letters" }, "No dead letters."));
  };
  await load();
  const timer = setInterval(() => load().catch(() => {}), 5000);
  return () => clearInterval(timer);
}
