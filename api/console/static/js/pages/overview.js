// The overview: filled from GET /monitoring/dashboard, kept live from the event stream.
import { api } from "../api.js";
import { showError } from "../console.js";

const root = document.getElementById("overview");

async function refresh() {
  try {
    const dashboard = await api.get("/monitoring/dashboard", { minutes: 15 });
    root.dataset.calls = dashboard.calls ?? "";
  } catch (error) {
    showError(error);
  }
}

refresh();
