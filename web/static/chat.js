// chat.js: the console's chat. The conversation (messages, container id, files) lives in
// this tab's session storage, so a reload shows it again.

import * as api from "./api.js";
import { setupPanels } from "./panels.js";
import { block, downloadLink, turn } from "./render.js";

const CONV = "codebox.conversation";
const $ = (id) => document.getElementById(id);

let conv = loadConv();
let attached = []; // files uploaded for the next message: {id, filename}

function loadConv() {
  try {
    const c = JSON.parse(sessionStorage.getItem(CONV));
    if (c && Array.isArray(c.messages)) return { container: null, files: [], ...c };
  } catch (_) { /* a damaged entry starts a new conversation */ }
  return { messages: [], container: null, files: [] };
}
function saveConv() { sessionStorage.setItem(CONV, JSON.stringify(conv)); }

export function showError(err) {
  const box = $("error");
  box.textContent = err instanceof api.APIError ? `The API answered: ${err}` : `Error: ${err && err.message || err}`;
  box.hidden = false;
}
function clearError() { $("error").hidden = true; }

function rememberFile(id, filename, origin) {
  if (conv.files.some((f) => f.id === id)) return;
  conv.files.push({ id, filename, origin });
  saveConv();
  renderFiles();
}

const ctx = {
  onError: showError,
  onFile: (id, name) => rememberFile(id, name, "generated"),
  fileName: (id) => (conv.files.find((f) => f.id === id) || { filename: id }).filename,
};

function renderFiles() {
  const list = $("conv-file-list");
  list.replaceChildren();
  for (const f of conv.files) {
    const li = document.createElement("li");
    li.append(downloadLink(f.id, f.filename, showError), ` ${f.origin}`);
    list.append(li);
  }
  $("conv-files").hidden = conv.files.length === 0;
}

function renderLog() {
  $("log").replaceChildren(...conv.messages.map((m) => turn(m, ctx)));
  renderFiles();
}

function setStatus(s) { $("status").textContent = s; }

// ---- key ----

function showKeyForm(show) {
  $("key-form").hidden = !show;
  $("chat").hidden = show;
  $("forget-key").hidden = show;
  $("key-status").textContent = show ? "" : "key set for this tab";
}

async function loadModels() {
  try {
    const list = await api.getJSON("/v1/models?limit=100");
    const data = list.data || [];
    // A provider whose models cannot be listed is "name/*": offered as the prefix to complete.
    $("models").replaceChildren(...data.map((m) => Object.assign(document.createElement("option"),
      { value: m.id.replace(/\*$/, ""), label: m.display_name || m.id })));
    const first = data.find((m) => !m.id.endsWith("*"));
    if (!$("model").value && first) $("model").value = first.id;
  } catch (err) {
    showError(err);
    if (err.status === 401) { api.forgetKey(); showKeyForm(true); }
  }
}

// ---- uploads ----

async function uploadFiles(files) {
  clearError();
  for (const file of files) {
    const li = document.createElement("li");
    const bar = Object.assign(document.createElement("progress"), { max: 1, value: 0 });
    li.append(file.name, bar);
    $("uploads").append(li);
    try {
      const f = await api.upload(file, (p) => { bar.value = p; });
      attached.push({ id: f.id, filename: f.filename });
      rememberFile(f.id, f.filename, "uploaded");
      li.dataset.fileId = f.id;
      li.append("attached");
    } catch (err) {
      li.append("failed");
      showError(err);
    }
  }
}

// ---- messages ----

function request() {
  const body = {
    model: $("model").value.trim(),
    max_tokens: 8192,
    messages: conv.messages,
    tools: [{ type: $("tool").value, name: "code_execution" }],
  };
  if (conv.container) body.container = conv.container;
  return body;
}

// runTurn streams one response into the last assistant message (started here unless it
// is a paused one being continued), and returns its stop reason.
async function runTurn(t0) {
  let msg = conv.messages[conv.messages.length - 1];
  let box = $("log").lastElementChild;
  const body = request();
  if (msg.role !== "assistant") {
    msg = { role: "assistant", content: [] };
    box = document.createElement("div");
    box.className = "turn assistant";
    $("log").append(box);
  }
  const base = msg.content.length;
  const blocks = [], els = [], json = [];
  let stop = null;
  await api.stream(body, (type, d) => {
    switch (type) {
      case "content_block_start": {
        blocks[d.index] = d.content_block;
        json[d.index] = "";
        els[d.index] = block(d.content_block, ctx);
        box.append(els[d.index]);
        break;
      }
      case "content_block_delta": {
        const b = blocks[d.index];
        if (d.delta.type === "text_delta") {
          if (window.codeboxFirstToken === undefined) {
            window.codeboxFirstToken = performance.now() - t0;
            setStatus(`first token after ${Math.round(window.codeboxFirstToken)} ms`);
          }
          b.text += d.delta.text;
          els[d.index].textContent = b.text;
        } else if (d.delta.type === "thinking_delta") {
          b.thinking += d.delta.thinking;
          els[d.index].textContent = b.thinking;
        } else if (d.delta.type === "signature_delta") {
          b.signature = d.delta.signature;
        } else if (d.delta.type === "input_json_delta") {
          json[d.index] += d.delta.partial_json;
        }
        break;
      }
      case "content_block_stop": {
        const b = blocks[d.index];
        if (json[d.index]) b.input = JSON.parse(json[d.index]);
        if (b.type.endsWith("tool_use")) {
          const fresh = block(b, ctx);
          els[d.index].replaceWith(fresh);
          els[d.index] = fresh;
        }
        break;
      }
      case "message_delta":
        stop = d.delta.stop_reason;
        if (d.delta.container) conv.container = d.delta.container.id;
        break;
      case "message_start":
        if (d.message.container) conv.container = d.message.container.id;
        break;
      case "error":
        throw new api.APIError(0, d.error && d.error.type, d.error && d.error.message || "the stream failed");
    }
  });
  msg.content.splice(base, 0, ...blocks.filter(Boolean));
  if (conv.messages[conv.messages.length - 1] !== msg) conv.messages.push(msg);
  saveConv();
  return stop;
}

async function send(ev) {
  ev.preventDefault();
  clearError();
  const text = $("prompt").value.trim();
  if (!text) return;
  const content = [{ type: "text", text }, ...attached.map((f) => ({ type: "container_upload", file_id: f.id }))];
  const user = { role: "user", content };
  conv.messages.push(user);
  $("log").append(turn(user, ctx));
  $("prompt").value = "";
  attached = [];
  $("uploads").replaceChildren();
  $("send").disabled = true;
  setStatus("waiting for the model…");
  delete window.codeboxFirstToken;
  const t0 = performance.now();
  try {
    let stop;
    let resumes = -1;
    // pause_turn: the server paused a long turn; sending the conversation back resumes it.
    do {
      stop = await runTurn(t0);
      resumes++;
    } while (stop === "pause_turn");
    window.codeboxResumes = resumes;
    setStatus(`${window.codeboxFirstToken !== undefined ? `first token after ${Math.round(window.codeboxFirstToken)} ms; ` : ""}done (${stop})` +
      (resumes > 0 ? `, resumed ${resumes}× after pause_turn` : ""));
  } catch (err) {
    // A turn that failed is not part of the conversation the API has seen.
    if (conv.messages[conv.messages.length - 1] === user) conv.messages.pop();
    saveConv();
    renderLog();
    $("prompt").value = text;
    setStatus("");
    showError(err);
  } finally {
    $("send").disabled = false;
  }
}

// ---- wiring ----

function init() {
  $("key-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    api.setKey($("key-input").value.trim());
    $("key-input").value = "";
    showKeyForm(false);
    clearError();
    loadModels();
  });
  $("forget-key").addEventListener("click", () => { api.forgetKey(); showKeyForm(true); });
  $("composer").addEventListener("submit", send);
  $("reset").addEventListener("click", () => {
    conv = { messages: [], container: null, files: [] };
    attached = [];
    saveConv();
    $("uploads").replaceChildren();
    renderLog();
    clearError();
  });
  const drop = $("drop");
  drop.addEventListener("dragover", (ev) => { ev.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (ev) => {
    ev.preventDefault();
    drop.classList.remove("over");
    uploadFiles([...ev.dataTransfer.files]);
  });
  setupPanels(showError);
  $("pick").addEventListener("change", (ev) => { uploadFiles([...ev.target.files]); ev.target.value = ""; });

  if (api.apiKey()) {
    showKeyForm(false);
    loadModels();
    renderLog();
  } else {
    showKeyForm(true);
  }
}

init();
