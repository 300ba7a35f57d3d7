// What the Tasks, Logs, Alerts, Connect and Admin pages share: a form's fields as a JSON body, a
// confirmation dialog (a <dialog>, not window.confirm), and a reload after a change.

import { flash } from "./console.js";

// The form's named fields as an object: numbers for type=number, booleans for checkboxes, empty
// optional fields left out (the API applies its defaults), <select multiple> as a list.
export function formJson(form) {
  const body = {};
  for (const field of form.elements) {
    if (!field.name || field.disabled || field.type === "submit" || field.type === "button") continue;
    if (field.type === "checkbox") body[field.name] = field.checked;
    else if (field.multiple) body[field.name] = [...field.selectedOptions].map((option) => option.value);
    else if (field.value === "") continue;
    else if (field.type === "number") body[field.name] = Number(field.value);
    else body[field.name] = field.value;
  }
  return body;
}

// Resolves true when the user confirms: a modal <dialog> with the question, Cancel and the action.
export function confirmDialog(question, action = "Confirm") {
  return new Promise((resolve) => {
    const dialog = document.createElement("dialog");
    dialog.dataset.testid = "confirm-dialog";
    const text = document.createElement("p");
    text.textContent = question;
    const buttons = document.createElement("div");
    buttons.className = "row";
    const cancel = document.createElement("button");
    cancel.type = "button";
    cancel.textContent = "Cancel";
    const ok = document.createElement("button");
    ok.type = "button";
    ok.className = "danger";
    ok.textContent = action;
    ok.dataset.testid = "confirm";
    buttons.append(cancel, ok);
    dialog.append(text, buttons);
    document.body.append(dialog);
    const close = (answer) => { dialog.close(); dialog.remove(); resolve(answer); };
    cancel.addEventListener("click", () => close(false));
    ok.addEventListener("click", () => close(true));
    dialog.addEventListener("cancel", () => close(false));
    dialog.showModal();
  });
}

// Fetch a console fragment (HTML rendered by the server from the REST API) into an element.
export async function reloadFragment(element) {
  const response = await fetch(element.dataset.fragmentUrl, { credentials: "same-origin", headers: { "HX-Request": "true" } });
  if (response.ok) element.innerHTML = await response.text();
}

// Reload the page and then show a message (kept in sessionStorage across the reload; never a secret).
const PENDING_FLASH = "mcps-console-flash";

export function reloadWithFlash(text) {
  sessionStorage.setItem(PENDING_FLASH, text);
  window.location.reload();
}

const pending = sessionStorage.getItem(PENDING_FLASH);
if (pending) {
  sessionStorage.removeItem(PENDING_FLASH);
  flash(pending);
}
