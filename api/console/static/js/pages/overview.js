// The overview: headline figures from GET /monitoring/dashboard (15-minute window), a chart point from the
// same endpoint over the last minute, the history before it and the host series from the sampler
// (GET /monitoring/metrics?source=jobs and ?source=host, the last hour). Refreshed
// on live events and every MAX_GAP_MS: a tool's status or an alert within STATUS_GAP_MS, finished tasks
// (many, when calls are busy) at most every CALLS_GAP_MS; so a few requests a minute, well within the
// API's management rate limit (60/min by default).
// The chart points are kept in sessionStorage, so the charts go on across page loads of this tab.
import { api } from "../api.js";
import { lineChart } from "../charts.js";
import { showError } from "../console.js";
import { onLive } from "../live.js";

const WINDOW = Number(document.getElementById("overview-script").dataset.windowMinutes) || 15;
const STATUS_GAP_MS = 2000;
const CALLS_GAP_MS = 10000;
const MAX_GAP_MS = 30000;
const KEEP_S = 3600;
const STORE = "mcps.overview.points";

const charts = {
  calls: lineChart(document.getElementById("chart-calls"), [{ label: "calls/min" }]),
  errors: lineChart(document.getElementById("chart-errors"), [{ label: "error rate %", stroke: "#c01048" }]),
  latency: lineChart(document.getElementById("chart-latency"), [{ label: "p50 ms" }, { label: "p95 ms", stroke: "#b54708" }]),
  host: lineChart(document.getElementById("chart-host"), [{ label: "CPU %" }, { label: "memory %", stroke: "#12805c" }]),
};

function loadPoints() {
  try { return JSON.parse(sessionStorage.getItem(STORE)) || []; } catch { return []; }
}
let points = loadPoints();

function text(selector, value) {
  for (const element of document.querySelectorAll(selector)) element.textContent = value;
}

function fmt(value, digits = 1) {
  return value === null || value === undefined ? "–" : Number(value).toFixed(digits).replace(/\.0+$/, "");
}

function showDashboard(board) {
  for (const [status, count] of Object.entries(board.tools || {})) text(`[data-tools-status="${status}"]`, String(count));
  text('[data-figure="calls"]', String(board.calls));
  text('[data-figure="failed"]', String(board.failed));
  text('[data-figure="error_rate"]', `${fmt(board.error_rate * 100, 2)} %`);
  text('[data-figure="p50_ms"]', fmt(board.p50_ms));
  text('[data-figure="p95_ms"]', fmt(board.p95_ms));
  const host = board.host || {};
  for (const name of ["cpu_percent", "memory_percent", "disk_percent"]) text(`[data-host="${name}"]`, host[name] === undefined ? "–" : `${fmt(host[name])} %`);
  text('[data-host="load_1"]', fmt(host.load_1, 2));
  text('[data-host="sampled_at"]', host.sampled_at ? `sampled ${new Date(host.sampled_at).toLocaleTimeString()}` : "no sample yet");
  showAlerts(board.alerts || []);
  showTopTools(board.top_tools || []);
  text("#generated-at", `updated ${new Date(board.generated_at).toLocaleTimeString()}`);
}

function showAlerts(alerts) {
  const list = document.getElementById("alerts");
  const template = document.getElementById("alert-item");
  list.replaceChildren(...alerts.map((alert) => {
    const item = template.content.firstElementChild.cloneNode(true);
    item.querySelector(".severity").textContent = alert.severity;
    item.querySelector(".severity").className = `severity status status-${alert.severity === "critical" ? "error" : "starting"}`;
    item.querySelector(".rule").textContent = alert.rule;
    item.querySelector(".subject").textContent = alert.subject || "";
    item.querySelector(".message").textContent = alert.message || "";
    return item;
  }));
  document.getElementById("no-alerts").hidden = alerts.length > 0;
}

function showTopTools(tools) {
  const body = document.getElementById("top-tools");
  body.replaceChildren(...tools.map((tool) => {
    const row = document.createElement("tr");
    const link = document.createElement("a");
    link.href = `/tools/${tool.tool_id}`;
    link.textContent = tool.tool || `#${tool.tool_id}`;
    const cells = [link, String(tool.calls), String(tool.failed), fmt(tool.p95_ms)];
    for (const content of cells) {
      const cell = document.createElement("td");
      cell.append(content);
      row.append(cell);
    }
    return row;
  }));
}

function addPoint(lastMinute) {
  const now = Math.floor(Date.now() / 1000);
  points.push([now, lastMinute.calls_per_minute, lastMinute.calls ? lastMinute.error_rate * 100 : 0,
               lastMinute.p50_ms, lastMinute.p95_ms]);
  points = points.filter((point) => point[0] > now - KEEP_S);
  try { sessionStorage.setItem(STORE, JSON.stringify(points)); } catch { /* full or disabled: keep in memory */ }
  text('[data-figure="calls_per_minute"]', fmt(lastMinute.calls_per_minute, 2));
  drawCalls();
}

// The sampler's points before this tab's own, then the tab's (one a refresh).
let history = [];

function drawCalls() {
  const first = points.length ? points[0][0] : Infinity;
  const shown = history.filter((point) => point[0] < first).concat(points);
  const column = (i) => shown.map((point) => point[i]);
  charts.calls.update([column(0), column(1)]);
  charts.errors.update([column(0), column(2)]);
  charts.latency.update([column(0), column(3), column(4)]);
}

async function refreshHost() {
  try {
    const [series, jobs] = await Promise.all([api.get("/monitoring/metrics", { source: "host" }),
                                              api.get("/monitoring/metrics", { source: "jobs" })]);
    const at = series.points.map((p) => Math.floor(Date.parse(p.at) / 1000));
    charts.host.update([at, series.points.map((p) => p.cpu_percent ?? null), series.points.map((p) => p.memory_percent ?? null)]);
    history = jobs.points.filter((p) => p.per_minute !== undefined).map((p) => [
      Math.floor(Date.parse(p.at) / 1000), p.per_minute, p.error_percent ?? 0, p.p50_ms ?? null, p.p95_ms ?? null]);
    drawCalls();
  } catch (error) {
    showError(error);
  }
}

let lastRefresh = 0;
let pending = null;
let dueAt = Infinity;

async function refresh() {
  pending = null;
  dueAt = Infinity;
  lastRefresh = Date.now();
  try {
    const [board, lastMinute] = await Promise.all([
      api.get("/monitoring/dashboard", { minutes: WINDOW }),
      api.get("/monitoring/dashboard", { minutes: 1, top: 1 }),
    ]);
    showDashboard(board);
    addPoint(lastMinute);
    document.getElementById("overview").dataset.refreshed = String(lastRefresh);
  } catch (error) {
    showError(error);
  }
  if (!pending) schedule(MAX_GAP_MS); // unless an event came meanwhile and planned the next one
}

function schedule(delay) {
  if (pending) clearTimeout(pending);
  dueAt = Date.now() + delay;
  pending = setTimeout(refresh, delay);
}

function soon(gapMs) {
  const at = Math.max(Date.now(), lastRefresh + gapMs);
  if (at >= dueAt) return; // an earlier refresh is already planned
  dueAt = at;
  schedule(at - Date.now());
}

onLive("tool_status", () => soon(STATUS_GAP_MS));
onLive("alert", () => soon(STATUS_GAP_MS));
onLive("task", () => soon(CALLS_GAP_MS));
refresh();
refreshHost();
setInterval(refreshHost, 60000);
