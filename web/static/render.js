// render.js: turns the conversation's messages into the page, block by block.

import { fileBlob, getJSON } from "./api.js";
import { highlight } from "./highlight.js";

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

// Files already fetched this page load: id → Promise of {meta, url}.
const fetched = new Map();

function load(id) {
  if (!fetched.has(id)) {
    const p = Promise.all([getJSON(`/v1/files/${encodeURIComponent(id)}`), fileBlob(id)])
      .then(([meta, blob]) => ({ meta, url: URL.createObjectURL(blob) }));
    p.catch(() => fetched.delete(id)); // a later render tries again
    fetched.set(id, p);
  }
  return fetched.get(id);
}

// downloadLink is a link that fetches the file with the key when clicked, then saves it.
export function downloadLink(id, name, onError) {
  const a = el("a", "download", name || id);
  a.href = "#";
  a.dataset.fileId = id;
  a.addEventListener("click", async (ev) => {
    ev.preventDefault();
    try {
      const { meta, url } = await load(id);
      const save = el("a");
      save.href = url;
      save.download = meta.filename || id;
      document.body.append(save);
      save.click();
      save.remove();
    } catch (err) {
      onError(err);
    }
  });
  return a;
}

// fileOutput shows one generated file: inline when it is an image, always with a link.
function fileOutput(id, ctx) {
  const fig = el("figure", "file");
  const cap = el("figcaption", "files");
  const link = downloadLink(id, id, ctx.onError);
  cap.append(link);
  fig.append(cap);
  load(id).then(({ meta, url }) => {
    link.textContent = `Download ${meta.filename}`;
    ctx.onFile(id, meta.filename);
    if ((meta.mime_type || "").startsWith("image/")) {
      const img = el("img");
      img.alt = meta.filename;
      img.src = url;
      fig.prepend(img);
    }
  }, ctx.onError);
  return fig;
}

// A heredoc fed to python ("python3 - <<'PY' … PY") is highlighted as Python.
const PY_HEREDOC = /^(.*\bpython3?\b.*<<-?\s*['"]?(\w+)['"]?\n)([\s\S]*?\n)(\2\s*)$/;

function codeCell(label, code, lang) {
  const cell = el("div", "cell");
  cell.append(el("div", "label", label));
  const pre = el("pre", "code");
  pre.dataset.lang = lang;
  const m = lang === "bash" && PY_HEREDOC.exec(code || "");
  if (m) pre.append(highlight(m[1], "bash"), highlight(m[3], "python"), highlight(m[4], "bash"));
  else pre.append(highlight(code || "", lang));
  cell.append(pre);
  return cell;
}

function output(r, ctx) {
  const box = el("div", "cell output");
  if (!r) return box;
  if (r.type && r.type.endsWith("_error")) {
    box.append(el("pre", "stderr failed", `error: ${r.error_code || r.type}`));
    return box;
  }
  if (r.stdout) box.append(el("pre", "stdout", r.stdout));
  if (r.stderr) box.append(el("pre", "stderr", r.stderr));
  if (typeof r.return_code === "number" && r.return_code !== 0) {
    box.append(el("pre", "stderr failed", `exit code ${r.return_code}`));
  }
  // text_editor results: a viewed file's content, or what changed.
  if (r.type === "text_editor_code_execution_view_result") box.append(el("pre", "stdout", r.content || ""));
  if (r.type === "text_editor_code_execution_create_result") box.append(el("div", "label", r.is_file_update ? "file updated" : "file created"));
  if (r.type === "text_editor_code_execution_str_replace_result") box.append(el("pre", "stdout", (r.lines || []).join("\n")));
  for (const f of r.content || []) if (f && f.file_id) box.append(fileOutput(f.file_id, ctx));
  return box;
}

function toolUse(b) {
  const input = b.input || {};
  if (b.name === "bash_code_execution") return codeCell("bash", input.command, "bash");
  if (b.name === "code_execution") return codeCell("python", input.code, "python");
  if (b.name === "text_editor_code_execution") {
    const what = `${input.command || "edit"} ${input.path || ""}`;
    if (input.command === "create") return codeCell(what, input.file_text, input.path && input.path.endsWith(".py") ? "python" : "bash");
    if (input.command === "str_replace") return codeCell(what, `- ${input.old_str || ""}\n+ ${input.new_str || ""}`, "text");
    return codeCell(what, "", "text");
  }
  return codeCell(b.name, JSON.stringify(input, null, 2), "text");
}

// block renders one content block.
export function block(b, ctx) {
  switch (b.type) {
    case "text": return el("div", "text", b.text);
    case "thinking": return el("div", "text muted", b.thinking);
    case "server_tool_use": case "tool_use": return toolUse(b);
    case "bash_code_execution_tool_result":
    case "code_execution_tool_result":
    case "text_editor_code_execution_tool_result":
      return output(b.content, ctx);
    case "container_upload": return el("div", "label", `attached ${ctx.fileName(b.file_id)}`);
  }
  return el("div", "muted", `[${b.type}]`);
}

// turn renders one message.
export function turn(m, ctx) {
  const box = el("div", `turn ${m.role}`);
  const content = typeof m.content === "string" ? [{ type: "text", text: m.content }] : m.content;
  for (const b of content) box.append(block(b, ctx));
  return box;
}
