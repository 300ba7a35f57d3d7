// The live event stream of a page: one EventSource on /api/v1/events for the kinds the page declares
// in <body data-live-kinds="tool_status,log" data-live-tools="3">. Each event is re-dispatched on
// document.body as a DOM event "mcps:<kind>" (detail: {id, kind, tool_id, user_id, data}), so that
//   - a module listens:   onLive("tool_status", (event) => ...)
//   - htmx refreshes:     <div hx-get="/tools/_rows" hx-trigger="mcps:tool_status from:body throttle:1s">
// A stream that breaks (server restart, 429 when too many are open) is reopened with back-off, resuming
// after the last event seen.

import { apiUrl } from "./api.js";

const KINDS = ["tool_status", "log", "task", "alert", "proxy"];
let source = null;
let lastEventId = null;
let retryMs = 1000;

export function onLive(kind, handler) {
  document.body.addEventListener(`mcps:${kind}`, (event) => handler(event.detail));
}

let stopped = false;

export function stopLive() {
  stopped = true;
  if (source) source.close();
  source = null;
}

export function startLive() {
  if (stopped) return;
  const kinds = (document.body.dataset.liveKinds || "").trim();
  if (!kinds || source) return;
  const query = { kinds, tools: (document.body.dataset.liveTools || "").trim(), last_event_id: lastEventId };
  source = new EventSource(apiUrl("/events", query), { withCredentials: true });
  source.addEventListener("open", () => { retryMs = 1000; document.body.dataset.live = "open"; });
  for (const kind of KINDS) {
    source.addEventListener(kind, (message) => {
      lastEventId = message.lastEventId || lastEventId;
      let event;
      try { event = JSON.parse(message.data); } catch { return; }
      document.body.dispatchEvent(new CustomEvent(`mcps:${kind}`, { detail: event }));
    });
  }
  source.addEventListener("error", () => {
    if (source.readyState !== EventSource.CLOSED) return; // the browser reconnects by itself
    source = null;
    document.body.dataset.live = "closed";
    setTimeout(startLive, retryMs);
    retryMs = Math.min(retryMs * 2, 30000);
  });
  window.addEventListener("pagehide", () => { if (source) source.close(); }, { once: true });
}
