// A tool's page: resources used (GET /tools/{id}/status, refreshed while it runs and on status changes),
// the live tail of its log (GET /tools/{id}/logs?tail=, then `log` events), and the try-it forms.
import { api } from "../api.js";
import { onLive } from "../live.js";
import "../tryit.js";

const head = document.getElementById("tool-page");
const toolId = Number(head.dataset.toolId);
const log = document.getElementById("log");
const follow = document.getElementById("log-follow");
const MAX_LINES = 1000;
const STATUS_EVERY_MS = 5000;

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

const FORMAT = {
  uptime_s: duration,
  memory_mb: (v) => (v === null || v === undefined ? "–" : `${v} MB`),
  cpu_percent: (v) => (v === null || v === undefined ? "–" : `${v} %`),
  health: (v) => (!v ? "–" : v.ok === false ? `failing: ${v.error || ""}` : `ok${v.latency_ms !== undefined ? ` (${v.latency_ms} ms)` : ""}`),
};

async function refreshStatus() {
  try {
    const status = await api.get(`/tools/${toolId}/status`);
    for (const cell of document.querySelectorAll("[data-live-field]")) {
      const name = cell.dataset.liveField;
      const value = status[name];
      cell.textContent = FORMAT[name] ? FORMAT[name](value) : (value === null || value === undefined ? "–" : String(value));
    }
    return status;
  } catch {
    return null;
  }
}

let statusTimer = null;
async function statusLoop() {
  clearTimeout(statusTimer);
  const status = await refreshStatus();
  const running = status && ["RUNNING", "STARTING"].includes(status.status);
  statusTimer = setTimeout(statusLoop, running ? STATUS_EVERY_MS : STATUS_EVERY_MS * 4);
}

function appendLine(entry) {
  const line = document.createElement("span");
  const level = (entry.level || "INFO").toLowerCase();
  line.className = `line level-${level}`;
  const at = entry.created_at ? new Date(entry.created_at) : new Date();
  line.textContent = `${at.toLocaleTimeString()} ${entry.level || ""} [${entry.source || ""}] ${entry.message}\n`;
  log.append(line);
  while (log.childElementCount > MAX_LINES) log.firstElementChild.remove();
  if (follow.checked) log.scrollTop = log.scrollHeight;
}

async function loadTail() {
  try {
    const page = await api.get(`/tools/${toolId}/logs`, { tail: 200 });
    // Before any live line that came in meanwhile.
    const live = [...log.children];
    log.replaceChildren();
    for (const entry of page.items) appendLine(entry);
    log.append(...live);
  } catch { /* the live lines still come */ }
}

onLive("log", (event) => {
  if (event.tool_id === toolId && event.data.source !== "audit") appendLine(event.data);
});
onLive("tool_status", (event) => { if (event.tool_id === toolId) statusLoop(); });

loadTail();
statusLoop();
