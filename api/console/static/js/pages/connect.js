// Connect a client: API keys (create: the key is shown once and filled into the snippets; revoke), and
// copy-ready configurations of the MCP front door for Cursor, Claude Desktop and VS Code, over HTTP
// and through the stdio bridge of this installation.
import { api } from "../api.js";
import { flash, showError } from "../console.js";
import { confirmDialog, formJson, reloadFragment } from "../forms.js";

const PLACEHOLDER_KEY = "mcps_...";
const MCP_REMOTE = "mcp-remote@0.15.1"; // npm: a stdio-to-HTTP bridge for clients that only start commands
const door = document.getElementById("snippets");
const cards = document.getElementById("snippet-cards");
const endpoint = document.getElementById("snippet-endpoint");
const rows = document.getElementById("api-key-rows");
let currentKey = PLACEHOLDER_KEY;

function frontDoorUrl() {
  return new URL(endpoint.value, door.dataset.url).href;
}

export function snippets(url, key, python, pythonpath) {
  const bridge = { command: python, args: ["-m", "api.mcp_proxy", "--stdio", "--url", url],
                   env: { MCPS_API_KEY: key, PYTHONPATH: pythonpath } };
  const remote = ["-y", MCP_REMOTE, url, "--header", "X-API-Key:${MCPS_API_KEY}"];
  if (url.startsWith("http:")) remote.push("--allow-http");
  const cursorFile = "~/.cursor/mcp.json, or .cursor/mcp.json in a project";
  return [
    { id: "cursor-http", client: "Cursor", form: "http", file: cursorFile,
      config: { mcpServers: { mcps: { url, headers: { "X-API-Key": key } } } } },
    { id: "cursor-stdio", client: "Cursor", form: "stdio", file: cursorFile,
      note: "Starts this installation's stdio bridge (on a machine that has it), which talks HTTP to the front door.",
      config: { mcpServers: { mcps: bridge } } },
    { id: "claude-http", client: "Claude Desktop", form: "http", file: "claude_desktop_config.json",
      note: "Claude Desktop starts commands: mcp-remote (from npm, needs Node.js) carries them over HTTP to the front door.",
      config: { mcpServers: { mcps: { command: "npx", args: remote, env: { MCPS_API_KEY: key } } } } },
    { id: "claude-stdio", client: "Claude Desktop", form: "stdio", file: "claude_desktop_config.json",
      note: "Starts this installation's stdio bridge, which talks HTTP to the front door.",
      config: { mcpServers: { mcps: bridge } } },
    { id: "vscode-http", client: "VS Code", form: "http", file: ".vscode/mcp.json",
      config: { servers: { mcps: { type: "http", url, headers: { "X-API-Key": key } } } } },
    { id: "vscode-stdio", client: "VS Code", form: "stdio", file: ".vscode/mcp.json",
      config: { servers: { mcps: { type: "stdio", ...bridge } } } },
  ];
}

function card(snippet) {
  const section = document.createElement("article");
  section.className = "snippet";
  section.dataset.testid = `snippet-${snippet.id}`;
  const head = document.createElement("div");
  head.className = "row";
  const title = document.createElement("h3");
  title.textContent = `${snippet.client} · ${snippet.form === "http" ? "HTTP" : "stdio"}`;
  const copy = document.createElement("button");
  copy.type = "button";
  copy.textContent = "Copy";
  copy.dataset.copyFrom = `code-${snippet.id}`;
  copy.dataset.testid = `copy-${snippet.id}`;
  const spacer = document.createElement("span");
  spacer.className = "spacer";
  head.append(title, spacer, copy);
  const file = document.createElement("p");
  file.className = "hint";
  file.textContent = snippet.note ? `${snippet.file}. ${snippet.note}` : snippet.file;
  const code = document.createElement("pre");
  code.id = `code-${snippet.id}`;
  code.dataset.testid = `code-${snippet.id}`;
  code.textContent = JSON.stringify(snippet.config, null, 2);
  section.append(head, file, code);
  return section;
}

function render() {
  const offered = snippets(frontDoorUrl(), currentKey, door.dataset.python, door.dataset.pythonpath)
    .filter((snippet) => door.dataset[snippet.form] === "true");
  cards.replaceChildren(...offered.map(card));
}

async function copy(button) {
  const text = document.getElementById(button.dataset.copyFrom).textContent;
  try {
    await navigator.clipboard.writeText(text);
    button.textContent = "Copied";
    setTimeout(() => { button.textContent = "Copy"; }, 2000);
    flash("Copied to the clipboard");
  } catch (error) {
    flash(`The browser did not allow copying (${error.message}): select the text instead.`, "error");
  }
}

document.addEventListener("click", async (event) => {
  const copyButton = event.target.closest("[data-copy-from]");
  const revoke = event.target.closest("[data-revoke]");
  if (copyButton) {
    await copy(copyButton);
  } else if (revoke) {
    if (!(await confirmDialog(`Revoke the key ${revoke.dataset.name}? Clients using it are refused at once.`, "Revoke"))) return;
    try {
      await api.del(`/auth/api-keys/${revoke.dataset.revoke}`);
      flash(`Key ${revoke.dataset.name} revoked`);
      await reloadFragment(rows);
    } catch (error) {
      showError(error);
    }
  }
});

const form = document.getElementById("new-key");
if (form) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = formJson(form);
    if (!body.tool_scope || body.tool_scope.length === 0) delete body.tool_scope; // no choice: every tool
    try {
      const created = await api.post("/auth/api-keys", body);
      currentKey = created.key;
      document.getElementById("new-key-value").textContent = created.key;
      document.getElementById("new-key-shown").hidden = false;
      document.getElementById("snippet-key-hint").textContent = `The snippets below carry the key ${created.name}.`;
      form.reset();
      render();
      await reloadFragment(rows);
    } catch (error) {
      showError(error);
    }
  });
}

endpoint.addEventListener("change", render);
render();
