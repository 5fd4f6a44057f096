// #/ : queues (waiting, held, scheduled, dead letters), live workers, and the last hour's
// throughput and failures. Refreshed on events (throttled) and every 5 s.
import { api } from "./api.js";
import { ago, h, replace, table } from "./dom.js";
import { subscribe, throttle } from "./events.js";
import { barChart } from "./chart.js";

export async function renderOverview({ main }) {
  const cards = h("div", { class: "cards", id: "queue-totals" });
  const queues = h("div", { id: "queues" });
  const workers = h("div", { id: "workers" });
  const charts = h("div", { class: "grid2", id: "charts" });
  replace(main, h("h1", null, "Overview"), cards, h("div", { class: "grid2" },
    h("section", null, h("h2", null, "Queues"), queues), h("section", null, h("h2", null, "Workers"), workers)),
    h("h2", null, "Last hour"), charts);

  async function refreshQueues() {
    const q = await api("/queues");
    const card = (n, k, id) => h("div", { class: "card", id }, h("div", { class: "n" }, n), h("div", { class: "k" }, k));
    const waiting = q.queues.reduce((sum, queue) => sum + queue.waiting, 0);
    replace(cards, card(waiting, "waiting", "total-waiting"), card(q.held, "held by workers", "total-held"),
      card(q.scheduled, "scheduled (ETA, retries)", "total-scheduled"),
      h("a", { href: "#/dead-letters", class: "card", id: "total-dead" },
        h("div", { class: "n" }, q.dead_letters), h("div", { class: "k" }, "dead letters")));
    replace(queues, table([["Queue"], ["Waiting"]],
      q.queues.map((queue) => h("tr", { "data-queue": queue.name }, h("td", null, queue.name), h("td", null, queue.waiting))),
      { id: "queue-table" }));
  }

  async function refreshWorkers() {
    const w = await api("/workers");
    const rows = w.items.map((worker) => h("tr", { "data-worker": worker.name },
      h("td", { class: "mono" }, worker.name), h("td", null, worker.concurrency ?? "—"),
      h("td", null, worker.active ?? "—"), h("td", null, worker.processed ?? "—"),
      h("td", { class: "wide" }, (worker.queues || []).join(", ")),
      h("td", { title: worker.heartbeat || "" }, ago(worker.heartbeat))));
    replace(workers, rows.length
      ? table([["Worker"], ["Concurrency"], ["Active"], ["Processed"], ["Queues", true], ["Heartbeat"]], rows, { id: "worker-table" })
      : h("p", { class: "muted", id: "no-workers" }, "No live worker (none sent a heartbeat in the last 10 s)."));
  }

  async function refreshCharts() {
    let data;
    try {
      data = await api("/throughput?minutes=60");
    } catch (error) {
      replace(charts, h("p", { class: "muted" }, "Throughput is unavailable: " + error.message));
      return;
    }
    const minutes = data.minutes || [];
    replace(charts,
      barChart("Succeeded per minute", minutes, "succeeded", "bar-ok", "chart-succeeded"),
      barChart("Failed per minute", minutes, "failed", "bar-fail", "chart-failed"));
  }

  const refresh = async () => {
    await Promise.all([refreshQueues(), refreshWorkers(), refreshCharts()]);
  };
  await refresh();
  const soon = throttle(() => refresh().catch(() => {}), 1000);
  const unsubscribe = subscribe((event) => { if (event.type !== "message") soon(); });
  const timer = setInterval(soon, 5000);
  return () => { unsubscribe(); clearInterval(timer); };
}
