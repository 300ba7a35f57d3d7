// Add or edit a tool (POST /tools, PUT /tools/{id}), or import an mcpServers JSON (POST /tools/import).
import { api, ApiError } from "../api.js";

const form = document.getElementById("tool-form");
const importForm = document.getElementById("import-form");

function lines(text) {
  return text.split("\n").map((line) => line.trim()).filter(Boolean);
}

function pairs(text, separator) {
  const result = {};
  for (const line of lines(text)) {
    const at = line.indexOf(separator);
    if (at <= 0) throw new Error(`"${line}" is not ${separator === "=" ? "NAME=value" : "Name: value"}`);
    result[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  return result;
}

function showTransport() {
  const transport = form.elements.transport.value;
  for (const group of form.querySelectorAll("[data-transport-fields]")) {
    group.hidden = !group.dataset.transportFields.split(" ").includes(transport);
  }
}

function definition() {
  const f = form.elements;
  const body = {
    name: f.name.value.trim(),
    display_name: f.display_name.value.trim(),
    description: f.description.value.trim(),
    category: f.category.value.trim(),
    tags: f.tags.value.split(",").map((tag) => tag.trim()).filter(Boolean),
    auto_start: f.auto_start.checked,
  };
  if (!form.querySelector("fieldset.execution").disabled) {
    body.transport = f.transport.value;
    body.restart_on_failure = f.restart_on_failure.checked;
    if (body.transport === "stdio") {
      Object.assign(body, { command: f.command.value.trim(), args: lines(f.args.value),
                            env: pairs(f.env.value, "="), cwd: f.cwd.value.trim() || null, url: null, headers: null });
    } else {
      Object.assign(body, { url: f.url.value.trim(), headers: pairs(f.headers.value, ":"),
                            command: null, args: [], env: null, cwd: null });
    }
  }
  return body;
}

function explain(error) {
  if (!(error instanceof ApiError)) return error.message;
  const fields = error.body.errors && (error.body.errors.json || error.body.errors);
  if (fields && typeof fields === "object") {
    const details = Object.entries(fields).map(([name, problems]) => `${name}: ${[].concat(problems).flat().join(" ")}`);
    if (details.length) return `${error.message} — ${details.join("; ")}`;
  }
  return error.message;
}

if (form) {
  form.elements.transport.addEventListener("change", showTransport);
  showTransport();
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const failure = document.getElementById("tool-form-error");
    failure.hidden = true;
    try {
      const toolId = form.dataset.toolId;
      const saved = toolId ? await api.put(`/tools/${toolId}`, definition()) : await api.post("/tools", definition());
      window.location.assign(`/tools/${saved.id}`);
    } catch (error) {
      failure.textContent = explain(error);
      failure.hidden = false;
    }
  });
}

if (importForm) {
  importForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const failure = document.getElementById("import-error");
    const result = document.getElementById("import-result");
    failure.hidden = true;
    result.replaceChildren();
    let document_;
    try {
      document_ = JSON.parse(importForm.elements.document.value);
    } catch (error) {
      failure.textContent = `Not valid JSON: ${error.message}`;
      failure.hidden = false;
      return;
    }
    try {
      const report = await api.post("/tools/import", document_, { query: { replace: importForm.elements.replace.checked } });
      for (const [outcome, names] of Object.entries(report)) {
        for (const name of names) {
          const line = document.createElement("p");
          const link = document.createElement("a");
          link.href = `/tools/${encodeURIComponent(name)}`;
          link.textContent = name;
          line.append(link, ` ${outcome}`);
          line.dataset.outcome = outcome;
          result.append(line);
        }
      }
      if (!result.children.length) result.textContent = "Nothing to import.";
    } catch (error) {
      failure.textContent = explain(error);
      failure.hidden = false;
    }
  });
}
