// Start / stop / restart / delete of tools (the list and a tool's page), and their live status.
//   <button data-tool-action="start" data-tool-id="3">   → POST /tools/3/start, then the task's progress
//   <span data-tool-status="3">                         ← tool_status events
//   <button data-tool-delete="3" data-tool-name="x">    → a confirmation dialog, then DELETE /tools/3
import { api, followTask } from "./api.js";
import { flash, showError } from "./console.js";
import { onLive } from "./live.js";

// Which actions make sense in which status (the API accepts them all; these avoid pointless clicks).
const ENABLED = {
  start: new Set(["STOPPED", "ERROR"]),
  stop: new Set(["RUNNING", "STARTING", "ERROR"]),
  restart: new Set(["RUNNING", "ERROR"]),
};

export function showStatus(toolId, status, error) {
  for (const badge of document.querySelectorAll(`[data-tool-status="${toolId}"]`)) {
    badge.textContent = status;
    badge.className = `status status-${status.toLowerCase()}`;
  }
  for (const holder of document.querySelectorAll(`[data-tool-id="${toolId}"][data-status]`)) holder.dataset.status = status;
  for (const line of document.querySelectorAll(`[data-tool-error="${toolId}"]`)) {
    line.textContent = status === "ERROR" ? (error || line.textContent) : "";
    line.hidden = status !== "ERROR" || !line.textContent;
  }
  enableActions(toolId, status);
}

function enableActions(toolId, status) {
  for (const button of document.querySelectorAll(`[data-tool-action][data-tool-id="${toolId}"]`)) {
    if (button.dataset.busy) continue;
    button.disabled = !ENABLED[button.dataset.toolAction].has(status);
  }
}

function progressLine(toolId, text, done) {
  const box = document.querySelector(`[data-task-for="${toolId}"]`);
  if (!box) return;
  box.hidden = false;
  box.querySelector(".progress").hidden = done;
  box.querySelector(".task-line").textContent = text;
  box.dataset.state = done ? "done" : "running";
}

async function runAction(button) {
  const toolId = button.dataset.toolId;
  const action = button.dataset.toolAction;
  const buttons = document.querySelectorAll(`[data-tool-action][data-tool-id="${toolId}"]`);
  for (const other of buttons) { other.disabled = true; other.dataset.busy = "1"; }
  progressLine(toolId, `${action}: sending…`, false);
  try {
    const accepted = await api.post(`/tools/${toolId}/${action}`);
    progressLine(toolId, `${action}: ${accepted.status}`, false);
    const task = await followTask(accepted.task_id, (update) => progressLine(toolId, `${action}: ${update.status}`, false));
    const took = task.duration_ms ? ` in ${Math.round(task.duration_ms)} ms` : "";
    progressLine(toolId, task.status === "succeeded" ? `${action}: done${took}` : `${action}: ${task.status} — ${task.error || ""}`, true);
    if (task.status !== "succeeded") flash(`${action} failed: ${task.error || task.status}`, "error");
  } catch (error) {
    progressLine(toolId, `${action}: ${error.message}`, true);
    showError(error);
  } finally {
    for (const other of buttons) delete other.dataset.busy;
    try {
      const status = await api.get(`/tools/${toolId}/status`);
      showStatus(toolId, status.status, status.last_error);
    } catch { /* the live event will tell */ }
  }
}

async function confirmDelete(button) {
  const dialog = document.getElementById("delete-dialog");
  dialog.querySelector("[data-delete-name]").textContent = button.dataset.toolName;
  dialog.returnValue = "";
  dialog.showModal();
  const answer = await new Promise((resolve) => dialog.addEventListener("close", () => resolve(dialog.returnValue), { once: true }));
  if (answer !== "delete") return;
  const toolId = button.dataset.toolDelete;
  progressLine(toolId, "deleting…", false);
  try {
    await api.del(`/tools/${toolId}`);
    flash(`Deleted ${button.dataset.toolName}.`);
    if (button.dataset.afterDelete) {
      window.location.assign(button.dataset.afterDelete);
    } else {
      const row = document.querySelector(`tr[data-tool-id="${toolId}"]`);
      if (row) row.remove();
    }
  } catch (error) {
    progressLine(toolId, `delete: ${error.message}`, true);
    showError(error);
  }
}

document.addEventListener("click", (event) => {
  const action = event.target.closest("[data-tool-action]");
  if (action) { runAction(action); return; }
  const deletion = event.target.closest("[data-tool-delete]");
  if (deletion) confirmDelete(deletion);
});

onLive("tool_status", (event) => {
  if (event.tool_id !== null) showStatus(event.tool_id, event.data.status, event.data.error);
});

for (const holder of document.querySelectorAll("[data-tool-id][data-status]")) {
  enableActions(holder.dataset.toolId, holder.dataset.status);
}
