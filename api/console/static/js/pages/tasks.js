// Tasks: the list (and one task's page) kept live. A finished job comes as a live `task` event (the rows
// are fetched again); a task in flight shows its progress from its own event stream, /tasks/{id}/events
// (progress events, then its result), at most MAX_STREAMS at a time (each holds a server thread).
import { api, apiUrl } from "../api.js";
import { flash, showError } from "../console.js";
import { onLive } from "../live.js";

const MAX_STREAMS = 2;
const POLL_MS = 5000;
const streams = new Map(); // task id -> EventSource
const progress = new Map(); // task id -> last progress event
const table = document.getElementById("tasks");
const detail = document.getElementById("task");

function showProgress(taskId) {
  const event = progress.get(taskId);
  const cell = document.querySelector(`[data-progress-for="${CSS.escape(taskId)}"]`);
  if (!cell || !event) return;
  const bar = document.createElement("progress");
  if (event.total) { bar.max = event.total; bar.value = event.progress; }
  const text = document.createElement("span");
  text.className = "progress-text";
  const figures = event.total ? `${event.progress}/${event.total}` : `${event.progress}`;
  text.textContent = event.message ? `${figures} · ${event.message}` : figures;
  cell.replaceChildren(bar, text);
}

function stopFollowing(taskId) {
  const source = streams.get(taskId);
  if (source) source.close();
  streams.delete(taskId);
}

function follow(taskId) {
  if (streams.has(taskId) || streams.size >= MAX_STREAMS) return;
  const source = new EventSource(apiUrl(`/tasks/${encodeURIComponent(taskId)}/events`), { withCredentials: true });
  streams.set(taskId, source);
  source.addEventListener("progress", (message) => {
    try { progress.set(taskId, JSON.parse(message.data)); } catch { return; }
    showProgress(taskId);
  });
  source.addEventListener("result", () => { // the stream ends here: do not let the browser reopen it
    stopFollowing(taskId);
    setTimeout(refresh, 300); // the worker writes the task's row just after its reply
  });
  source.addEventListener("error", () => {
    if (source.readyState === EventSource.CLOSED) stopFollowing(taskId);
  });
}

function followLiveTasks() {
  const live = [...document.querySelectorAll("[data-task-id][data-live]")].map((row) => row.dataset.taskId);
  for (const taskId of streams.keys()) if (!live.includes(taskId)) stopFollowing(taskId);
  for (const taskId of live) { follow(taskId); showProgress(taskId); }
  return live.length;
}

let refreshing = null;
let again = false;
async function refresh() {
  if (detail) { window.location.reload(); return; }
  if (refreshing) { again = true; return; }
  refreshing = (async () => {
    try {
      const response = await fetch(table.dataset.rowsUrl, { credentials: "same-origin", headers: { "HX-Request": "true" } });
      if (response.ok) document.getElementById("task-rows").innerHTML = await response.text();
      followLiveTasks();
    } catch (error) {
      showError(error);
    }
  })();
  await refreshing;
  refreshing = null;
  if (again) { again = false; refresh(); }
}

document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-cancel]");
  if (!button) return;
  button.disabled = true;
  try {
    await api.post(`/tasks/${encodeURIComponent(button.dataset.cancel)}/cancel`);
    flash("Cancel sent");
  } catch (error) {
    showError(error);
  }
  refresh();
});

onLive("task", (event) => {
  const shown = document.querySelector(`[data-task-id="${CSS.escape(String(event.data.id))}"]`);
  if (table || (shown && shown.dataset.status !== event.data.status)) refresh();
});

followLiveTasks();
if (table) {
  // Queued tasks become running, new ones appear: look again now and then while some are in flight.
  setInterval(() => {
    if (document.visibilityState === "visible" && document.querySelector("[data-task-id][data-live]")) refresh();
  }, POLL_MS);
}
