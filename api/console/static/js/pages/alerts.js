// Alerts: acknowledge / resolve, raise one by hand, the rules (add, change, delete); the list follows
// the live `alert` events.
import { api } from "../api.js";
import { flash, showError } from "../console.js";
import { confirmDialog, formJson, reloadFragment, reloadWithFlash } from "../forms.js";
import { onLive } from "../live.js";

const rows = document.getElementById("alert-rows");

async function act(work, done) {
  try {
    await work();
    if (done) flash(done);
    return true;
  } catch (error) {
    showError(error);
    return false;
  }
}

document.addEventListener("click", async (event) => {
  const ack = event.target.closest("[data-ack]");
  const resolve = event.target.closest("[data-resolve]");
  const remove = event.target.closest("[data-delete-rule]");
  if (ack) {
    ack.disabled = true;
    await act(() => api.post(`/monitoring/alerts/${ack.dataset.ack}/acknowledge`), "Alert acknowledged");
    await reloadFragment(rows);
  } else if (resolve) {
    resolve.disabled = true;
    await act(() => api.post(`/monitoring/alerts/${resolve.dataset.resolve}/resolve`), "Alert resolved");
    await reloadFragment(rows);
  } else if (remove) {
    if (!(await confirmDialog(`Delete the rule ${remove.dataset.name}? Its firing alerts resolve at the next evaluation.`, "Delete"))) return;
    if (await act(() => api.del(`/monitoring/alert-rules/${remove.dataset.deleteRule}`))) reloadWithFlash(`Rule ${remove.dataset.name} deleted`);
  }
});

document.addEventListener("submit", async (event) => {
  const form = event.target;
  if (form.id === "new-rule") {
    event.preventDefault();
    if (await act(() => api.post("/monitoring/alert-rules", formJson(form)))) reloadWithFlash("Rule added");
  } else if (form.dataset.editRule) {
    event.preventDefault();
    await act(() => api.patch(`/monitoring/alert-rules/${form.dataset.editRule}`, formJson(form)), "Rule saved");
  } else if (form.id === "raise-alert") {
    event.preventDefault();
    if (await act(() => api.post("/monitoring/alerts", formJson(form)), "Alert raised")) {
      form.reset();
      await reloadFragment(rows);
    }
  }
});

let pending = null;
onLive("alert", () => { // a burst of events: one reload
  clearTimeout(pending);
  pending = setTimeout(() => reloadFragment(rows).catch(showError), 300);
});
