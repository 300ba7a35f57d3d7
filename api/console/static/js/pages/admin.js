// Admin: users (create, role and active, reset password / unlock: a generated password is shown once),
// backups (take one, restore one after a confirmation), periodic jobs (run now). Jobs are followed as
// tasks until they finish.
import { api, followTask } from "../api.js";
import { flash, showError } from "../console.js";
import { confirmDialog, formJson, reloadFragment, reloadWithFlash } from "../forms.js";

const userRows = document.getElementById("user-rows");

function showPassword(username, password) {
  if (!password) return;
  document.getElementById("password-for").textContent = `The password of ${username}`;
  document.getElementById("password-value").textContent = password;
  document.getElementById("password-shown").hidden = false;
}

// A job started by an admin (backup, restore, run now): follow its task, then show the page again.
async function runJob(button, start, doneText) {
  button.disabled = true;
  const label = button.textContent;
  button.textContent = "Running…";
  try {
    const accepted = await start();
    const task = await followTask(accepted.task_id);
    if (task.status === "succeeded") {
      reloadWithFlash(doneText);
      return;
    }
    flash(`${label}: ${task.status}${task.error ? ` (${task.error})` : ""}`, "error");
  } catch (error) {
    showError(error);
  }
  button.disabled = false;
  button.textContent = label;
}

document.addEventListener("submit", async (event) => {
  const form = event.target;
  if (form.id === "new-user") {
    event.preventDefault();
    const body = formJson(form);
    try {
      const user = await api.post("/users", body);
      flash(`User ${user.username} created`);
      showPassword(user.username, user.password);
      form.reset();
      await reloadFragment(userRows);
    } catch (error) {
      showError(error);
    }
  } else if (form.dataset.editUser) {
    event.preventDefault();
    try {
      const user = await api.put(`/users/${form.dataset.editUser}`, formJson(form));
      flash(`${user.username}: ${user.role}, ${user.is_active ? "active" : "inactive"}`);
    } catch (error) {
      showError(error);
      await reloadFragment(userRows);
    }
  }
});

document.addEventListener("click", async (event) => {
  const reset = event.target.closest("[data-reset-password]");
  const restore = event.target.closest("[data-restore]");
  const runSchedule = event.target.closest("[data-run-schedule]");
  if (reset) {
    const username = reset.closest("[data-username]").dataset.username;
    const what = "unlock" in reset.dataset ? "Unlock" : "Reset the password of";
    if (!(await confirmDialog(`${what} ${username}? A new password is generated and their sessions end.`, "Set a new password"))) return;
    try {
      const answer = await api.post(`/users/${reset.dataset.resetPassword}/reset-password`, {});
      showPassword(username, answer.password);
      await reloadFragment(userRows);
    } catch (error) {
      showError(error);
    }
  } else if (restore) {
    const name = restore.dataset.restore;
    if (!(await confirmDialog(`Replace the whole database with the backup ${name}? Everything changed since it was taken is lost.`, "Restore"))) return;
    await runJob(restore, () => api.post(`/system/backups/${encodeURIComponent(name)}/restore`), `Restored ${name}`);
  } else if (runSchedule) {
    const name = runSchedule.dataset.runSchedule;
    await runJob(runSchedule, () => api.post(`/system/schedules/${encodeURIComponent(name)}/run`), `${name} done`);
  } else if (event.target.closest("#take-backup")) {
    await runJob(event.target.closest("#take-backup"), () => api.post("/system/backups"), "Backup taken");
  }
});
