// panels.js: the Files, Containers and Usage panels, each a view of one API.

import * as api from "./api.js";
import { downloadLink } from "./render.js";

const $ = (id) => document.getElementById(id);

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}
function button(text, onClick) {
  const b = el("button", text);
  b.type = "button";
  b.addEventListener("click", onClick);
  return b;
}
function row(cells) {
  const tr = el("tr");
  for (const c of cells) {
    const td = el("td");
    td.append(c);
    tr.append(td);
  }
  return tr;
}
function when(sec) { return sec ? new Date(sec * 1000).toLocaleString() : ""; }
function size(n) { return n < 1024 ? `${n} B` : n < 1 << 20 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / (1 << 20)).toFixed(1)} MiB`; }

// guard runs an action, showing its error in words.
function guard(showError, fn) {
  return async (...args) => {
    try { await fn(...args); } catch (err) { showError(err); }
  };
}

export function setupPanels(showError) {
  const refreshFiles = guard(showError, async () => {
    const list = await api.getJSON("/v1/files?limit=100");
    $("file-rows").replaceChildren(...(list.data || []).map((f) => {
      const tr = row([downloadLink(f.id, f.filename, showError), size(f.size_bytes || 0), when(Date.parse(f.created_at) / 1000), ""]);
      tr.dataset.fileId = f.id;
      tr.lastChild.append(button("Delete", guard(showError, async () => {
        await api.call("DELETE", `/v1/files/${encodeURIComponent(f.id)}`);
        await refreshFiles();
      })));
      return tr;
    }));
  });

  const refreshContainers = guard(showError, async () => {
    const list = await api.getJSON("/v1/containers?limit=100");
    $("container-rows").replaceChildren(...(list.data || []).map((c) => {
      const tr = row([c.id, c.name || "", c.status, when(c.last_active_at), ""]);
      tr.dataset.containerId = c.id;
      tr.children[2].className = `status ${c.status}`;
      tr.lastChild.append(
        button("Files", guard(showError, () => showContainerFiles(c.id))),
        ...(c.status === "running" ? [button("Stop", guard(showError, async () => {
          await api.call("POST", `/v1/containers/${encodeURIComponent(c.id)}/stop`);
          await refreshContainers();
        }))] : []),
        button("Delete", guard(showError, async () => {
          await api.call("DELETE", `/v1/containers/${encodeURIComponent(c.id)}`);
          $("container-files").hidden = true;
          await refreshContainers();
        })));
      return tr;
    }));
  });

  async function showContainerFiles(id) {
    const list = await api.getJSON(`/v1/containers/${encodeURIComponent(id)}/files?limit=100`);
    $("container-files-title").textContent = `Files in ${id}`;
    $("container-file-rows").replaceChildren(...(list.data || []).map((f) => row([f.path, size(f.bytes || 0), f.source || ""])));
    $("container-files").hidden = false;
  }

  const refreshUsage = guard(showError, async () => {
    const u = await api.getJSON("/v1/usage");
    const rows = [["Period", `${u.start} – ${u.end}`], ["Requests", u.requests], ["Input tokens", u.input_tokens],
      ["Output tokens", u.output_tokens], ["Code execution requests", u.code_execution_requests],
      ["Container seconds", (u.container_seconds || 0).toFixed(1)], ["Container hours billed", u.container_hours_billed]];
    $("usage-rows").replaceChildren(...rows.map(([k, v]) => {
      const tr = row([k, String(v)]);
      tr.dataset.key = k;
      return tr;
    }));
  });

  $("files-pick").addEventListener("change", guard(showError, async (ev) => {
    for (const file of [...ev.target.files]) {
      const bar = $("files-progress");
      bar.hidden = false;
      await api.upload(file, (p) => { bar.value = p; });
    }
    ev.target.value = "";
    await refreshFiles();
  }));

  const panels = { chat: null, files: refreshFiles, containers: refreshContainers, usage: refreshUsage };
  for (const tab of document.querySelectorAll("nav [data-panel]")) {
    tab.addEventListener("click", () => {
      const name = tab.dataset.panel;
      for (const t of document.querySelectorAll("nav [data-panel]")) t.setAttribute("aria-current", String(t === tab));
      for (const p of Object.keys(panels)) $(`panel-${p}`).hidden = p !== name;
      if (panels[name]) panels[name]();
    });
  }
  for (const [id, fn] of [["files-refresh", refreshFiles], ["containers-refresh", refreshContainers], ["usage-refresh", refreshUsage]]) {
    $(id).addEventListener("click", fn);
  }
}
