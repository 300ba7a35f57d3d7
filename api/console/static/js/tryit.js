// "Try it": the forms generated from MCP tools' input schemas (templates/console/_capabilities.html,
// api/console/schema_form.py) call POST /tools/{id}/call and show the result: text, JSON, images.
import { api, ApiError } from "./api.js";

function argumentsOf(form) {
  const args = {};
  for (const input of form.querySelectorAll("[data-kind]")) {
    const { kind } = input.dataset;
    const raw = input.value;
    if (kind === "boolean") { args[input.name] = input.checked; continue; }
    if (raw === "" && !input.required) continue;
    if (kind === "number" || kind === "integer") {
      if (raw === "") throw new Error(`${input.name}: a number is required`);
      const value = Number(raw);
      if (Number.isNaN(value) || (kind === "integer" && !Number.isInteger(value))) throw new Error(`${input.name}: not ${kind === "integer" ? "an integer" : "a number"}`);
      args[input.name] = value;
    } else if (kind === "enum" || kind === "json") {
      if (raw === "") throw new Error(`${input.name}: a value is required`);
      try { args[input.name] = JSON.parse(raw); } catch { throw new Error(`${input.name}: not valid JSON`); }
    } else {
      args[input.name] = raw;
    }
  }
  return args;
}

function pre(text) {
  const block = document.createElement("pre");
  block.textContent = text;
  return block;
}

function prettyIfJson(text) {
  const trimmed = text.trim();
  if (!(trimmed.startsWith("{") || trimmed.startsWith("["))) return text;
  try { return JSON.stringify(JSON.parse(trimmed), null, 2); } catch { return text; }
}

const SAFE_IMAGE = /^image\/(png|jpeg|gif|webp|bmp|svg\+xml)$/;

export function renderContent(item) {
  switch (item.type) {
    case "text": {
      const block = pre(prettyIfJson(item.text ?? ""));
      block.dataset.contentType = "text";
      return block;
    }
    case "image": {
      if (!SAFE_IMAGE.test(item.mimeType || "")) return pre(`(an image of type ${item.mimeType})`);
      const image = document.createElement("img");
      image.src = `data:${item.mimeType};base64,${item.data}`;
      image.alt = "an image the tool returned";
      image.dataset.contentType = "image";
      return image;
    }
    case "resource": {
      const resource = item.resource || {};
      if (typeof resource.text === "string") return pre(`${resource.uri}\n\n${prettyIfJson(resource.text)}`);
      return pre(JSON.stringify(resource, null, 2));
    }
    case "resource_link": {
      const line = document.createElement("p");
      line.textContent = `resource ${item.uri}${item.name ? ` (${item.name})` : ""}`;
      return line;
    }
    default:
      return pre(JSON.stringify(item, null, 2));
  }
}

export function renderResult(holder, result) {
  holder.replaceChildren();
  holder.classList.toggle("is-error", Boolean(result.isError));
  if (result.isError) {
    const label = document.createElement("p");
    label.className = "form-error";
    label.textContent = "The tool answered with an error:";
    holder.append(label);
  }
  for (const item of result.content || []) holder.append(renderContent(item));
  if (result.structuredContent !== undefined && result.structuredContent !== null) {
    const label = document.createElement("p");
    label.className = "hint";
    label.textContent = "Structured content";
    const block = pre(JSON.stringify(result.structuredContent, null, 2));
    block.dataset.contentType = "json";
    holder.append(label, block);
  }
  holder.dataset.state = result.isError ? "error" : "ok";
}

document.addEventListener("submit", async (event) => {
  const form = event.target.closest("form.try-it");
  if (!form) return;
  event.preventDefault();
  const error = form.querySelector("[data-call-error]");
  const holder = form.querySelector("[data-call-result]");
  const timing = form.querySelector("[data-call-timing]");
  const button = form.querySelector("button[type=submit]");
  error.hidden = true;
  let args;
  try {
    args = argumentsOf(form);
  } catch (problem) {
    error.textContent = problem.message;
    error.hidden = false;
    return;
  }
  button.disabled = true;
  timing.textContent = "calling…";
  holder.dataset.state = "calling";
  try {
    const result = await api.post(`/tools/${form.dataset.toolId}/call`, { tool: form.dataset.mcpTool, arguments: args });
    renderResult(holder, result);
    timing.textContent = result.total_ms !== undefined ? `${Math.round(result.total_ms * 10) / 10} ms` : "";
  } catch (problem) {
    holder.replaceChildren();
    holder.dataset.state = "failed";
    error.textContent = problem instanceof ApiError ? `${problem.status}: ${problem.message}` : String(problem);
    error.hidden = false;
    timing.textContent = "";
  } finally {
    button.disabled = false;
  }
});
