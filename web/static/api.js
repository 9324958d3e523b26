// api.js: the API key (this tab's session storage only) and calls to the codebox API.

const KEY = "codebox.key";
const BETA = "code-execution-2025-08-25,files-api-2025-04-14";

export function apiKey() { return sessionStorage.getItem(KEY) || ""; }
export function setKey(k) { sessionStorage.setItem(KEY, k); }
export function forgetKey() { sessionStorage.removeItem(KEY); }

export function headers(extra = {}) {
  return { "x-api-key": apiKey(), "anthropic-version": "2023-06-01", "anthropic-beta": BETA, ...extra };
}

// APIError carries the message of the API's error envelope, so that it is shown in words.
export class APIError extends Error {
  constructor(status, type, message) {
    super(message);
    this.status = status;
    this.type = type;
  }
  toString() { return `${this.message} (${this.type || "error"}, HTTP ${this.status})`; }
}

// errorFrom reads a failed response's error envelope.
export async function errorFrom(resp) {
  const body = await resp.text();
  try {
    const e = JSON.parse(body).error;
    if (e && e.message) return new APIError(resp.status, e.type, e.message);
  } catch (_) { /* not JSON: fall through to the raw text */ }
  return new APIError(resp.status, "", body.trim() || resp.statusText || "request failed");
}

// call sends a request and returns its response, throwing APIError when it failed.
export async function call(method, path, { json, ...init } = {}) {
  const opts = { method, headers: headers(), ...init };
  if (json !== undefined) {
    opts.headers["content-type"] = "application/json";
    opts.body = JSON.stringify(json);
  }
  const resp = await fetch(path, opts);
  if (!resp.ok) throw await errorFrom(resp);
  return resp;
}

export async function getJSON(path) { return (await call("GET", path)).json(); }

// fileBlob fetches a stored file's content with the key.
export async function fileBlob(id) {
  return (await call("GET", `/v1/files/${encodeURIComponent(id)}/content`)).blob();
}

// upload sends one file to /v1/files, reporting progress as a fraction; XMLHttpRequest
// because fetch has no upload progress.
export function upload(file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/v1/files");
    for (const [k, v] of Object.entries(headers())) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded / e.total); };
    xhr.onload = () => {
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch (_) { /* shown below */ }
      if (xhr.status >= 200 && xhr.status < 300 && body) { onProgress(1); resolve(body); return; }
      const e = body && body.error;
      reject(new APIError(xhr.status, e ? e.type : "", e ? e.message : (xhr.responseText || "upload failed")));
    };
    xhr.onerror = () => reject(new APIError(0, "network_error", "the upload could not reach the server"));
    const form = new FormData();
    form.append("file", file, file.name);
    xhr.send(form);
  });
}

// stream posts a streaming Messages request and calls onEvent(type, data) for each
// server-sent event as it arrives.
export async function stream(body, onEvent, signal) {
  const resp = await call("POST", "/v1/messages", { json: { ...body, stream: true }, signal });
  const reader = resp.body.getReader();
  const dec = new TextDecoder();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += dec.decode(value, { stream: true }).replace(/\r\n?/g, "\n");
    let cut;
    while ((cut = buf.indexOf("\n\n")) >= 0) {
      const frame = buf.slice(0, cut);
      buf = buf.slice(cut + 2);
      let event = "message", data = "";
      for (const line of frame.split("\n")) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data += line.slice(5).replace(/^ /, "");
      }
      if (data) onEvent(event, JSON.parse(data));
    }
  }
}
