// console.cjs drives the web console in headless Chromium against a running codebox serve:
// enter the key, drop the seed CSV, ask, watch the chart appear inline, download it,
// reload and find the conversation's files; then the Files (list,
// delete), Containers (status, files inside, stop, delete) and Usage panels. cmd/codebox's TestConsoleInBrowser runs it.
//
// Environment: CODEBOX_URL, CODEBOX_KEY, CHROMIUM (the browser binary), CSV (the file to
// upload), MODEL, ARTIFACTS (the directory screenshots are written to). playwright-core
// is found through NODE_PATH (scripts/nodedeps.sh).
"use strict";
const fs = require("fs");
const path = require("path");
const { chromium } = require("playwright-core");

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set`);
  return v;
};
const base = env("CODEBOX_URL"), key = env("CODEBOX_KEY"), artifacts = env("ARTIFACTS");
const csv = env("CSV"), model = env("MODEL");
const timeout = 120000;

let step = 0;
async function shot(page, name) {
  const file = path.join(artifacts, `${String(++step).padStart(2, "0")}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  console.log(`screenshot ${file}`);
}

function check(cond, msg) { if (!cond) throw new Error(msg); }

async function main() {
  fs.mkdirSync(artifacts, { recursive: true });
  const browser = await chromium.launch({ executablePath: env("CHROMIUM"), args: ["--no-sandbox"] });
  try {
    for (const [name, viewport] of [["laptop", { width: 1280, height: 800 }], ["phone", { width: 390, height: 844 }]]) {
      await run(browser, name, viewport);
    }
  } finally {
    await browser.close();
  }
}

async function run(browser, name, viewport) {
  const context = await browser.newContext({ viewport, acceptDownloads: true });
  const page = await context.newPage();
  page.setDefaultTimeout(timeout);
  const consoleErrors = [];
  // The one failed load expected is the wrong key's 401 below.
  page.on("console", (m) => {
    if (m.type() === "error" && !/status of 401/.test(m.text())) consoleErrors.push(m.text());
  });
  page.on("pageerror", (e) => consoleErrors.push(String(e)));

  await page.goto(base + "/");
  await page.waitForSelector("#key-form:not([hidden])");
  // A wrong key is refused in words.
  await page.fill("#key-input", "sk-cbx-wrong");
  await page.click("#key-form button[type=submit]");
  await page.waitForSelector("#error:not([hidden])");
  const refused = await page.textContent("#error");
  check(/API answered/.test(refused) && /authentication_error/.test(refused), `wrong key error = ${refused}`);
  await shot(page, `${name}-wrong-key`);

  await page.waitForSelector("#key-form:not([hidden])");
  await page.fill("#key-input", key);
  await page.click("#key-form button[type=submit]");
  await page.waitForSelector("#chat:not([hidden])");
  await page.waitForFunction(() => document.getElementById("model").value !== "");
  check(await page.evaluate(() => sessionStorage.getItem("codebox.key")) === key, "key not in sessionStorage");
  check(await page.evaluate(() => localStorage.length) === 0, "something was written to localStorage");
  // The model field starts at the first model GET /v1/models lists: the scripted one.
  const picked = await page.inputValue("#model");
  check(picked === model, `model field = ${picked}, want ${model}`);
  await shot(page, `${name}-key-entered`);

  // Drop the CSV on the drop zone, as a user drags it from their desktop.
  const data = fs.readFileSync(csv).toString("base64");
  const dt = await page.evaluateHandle(([b64, fname]) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const t = new DataTransfer();
    t.items.add(new File([bytes], fname, { type: "text/csv" }));
    return t;
  }, [data, path.basename(csv)]);
  await page.dispatchEvent("#drop", "drop", { dataTransfer: dt });
  await page.waitForSelector("#uploads li[data-file-id]");
  check(await page.$eval("#uploads progress", (p) => p.value) === 1, "upload progress did not reach 100%");
  await shot(page, `${name}-uploaded`);

  await page.fill("#prompt", "Revenue by region, with a chart.");
  const t0 = Date.now();
  await page.click("#send");
  await page.waitForSelector("#log .turn.assistant .text");
  await page.waitForFunction(() => window.codeboxFirstToken !== undefined);
  const firstToken = await page.evaluate(() => window.codeboxFirstToken);
  console.log(`first streamed token after send (${name}): ${firstToken.toFixed(1)} ms in the browser`);
  await page.waitForSelector("#log figure img", { timeout });
  await page.waitForFunction(() => !document.getElementById("send").disabled);
  const img = await page.$("#log figure img");
  check(await img.evaluate((i) => i.complete && i.naturalWidth > 0), "chart image did not load");
  const cells = await page.$$eval("#log pre.code", (ps) => ps.map((p) => p.textContent));
  check(cells.length === 2 && cells[0].includes("head -5 sales.csv"), `code cells = ${JSON.stringify(cells)}`);
  check(await page.$$eval("#log pre.code span.kw", (s) => s.length) > 0, "code is not highlighted");
  const out = await page.$$eval("#log pre.stdout", (ps) => ps.map((p) => p.textContent).join("\n"));
  check(out.includes("north,3000") && /north\s+5200/.test(out), `stdout = ${out}`);
  check((await page.textContent("#status")).includes("end_turn"), "status does not say the turn ended");
  // The server pauses after each code execution round (--max-tool-iterations 1): the
  // console sent the conversation back by itself, twice.
  check(await page.evaluate(() => window.codeboxResumes) === 2, "the turn was not resumed after pause_turn");
  console.log(`turn (${name}) finished ${Date.now() - t0} ms after send`);
  await shot(page, `${name}-chart`);

  // Download the chart through its link.
  const [download] = await Promise.all([page.waitForEvent("download"), page.click("#log figure a.download")]);
  check(download.suggestedFilename() === "chart.png", `download name = ${download.suggestedFilename()}`);
  const saved = path.join(artifacts, `${name}-downloaded-chart.png`);
  await download.saveAs(saved);
  const png = fs.readFileSync(saved);
  check(png.length > 1000 && png.subarray(1, 4).toString() === "PNG", "downloaded chart is not a PNG");

  // A follow-up continues the same conversation in the same container.
  const first = await page.evaluate(() => JSON.parse(sessionStorage.getItem("codebox.conversation")).container);
  await page.fill("#prompt", "Thanks. Anything else?");
  await page.click("#send");
  await page.waitForFunction(() => document.querySelectorAll("#log .turn").length === 4);
  await page.waitForFunction(() => !document.getElementById("send").disabled);
  check((await page.textContent("#status")).includes("end_turn"), "the follow-up did not end its turn");
  const again = await page.evaluate(() => JSON.parse(sessionStorage.getItem("codebox.conversation")).container);
  check(first && again === first, `follow-up container = ${again}, want ${first}`);

  // Reload: the conversation and its files come back from sessionStorage.
  await page.reload();
  await page.waitForSelector("#chat:not([hidden])");
  await page.waitForSelector("#log figure img");
  const files = await page.$$eval("#conv-file-list a", (as) => as.map((a) => a.textContent));
  check(files.includes("sales.csv") && files.includes("chart.png"), `files after reload = ${files}`);
  check(await page.$$eval("#log .turn", (t) => t.length) === 4, "conversation not restored");
  await shot(page, `${name}-reloaded`);

  // Files panel: both files listed; one deleted.
  await page.click("nav [data-panel=files]");
  await page.waitForSelector("#file-rows tr");
  const listed = await page.$$eval("#file-rows tr a", (as) => as.map((a) => a.textContent));
  check(listed.includes("sales.csv") && listed.includes("chart.png"), `files panel = ${listed}`);
  await shot(page, `${name}-files`);
  const before = listed.length;
  await page.click("#file-rows tr:has(a:text-is('sales.csv')) button:text-is('Delete')");
  await page.waitForFunction((n) => document.querySelectorAll("#file-rows tr").length === n - 1, before);

  // Containers panel: the conversation's container, running, with the chart inside; deleted.
  const container = await page.evaluate(() => JSON.parse(sessionStorage.getItem("codebox.conversation")).container);
  await page.click("nav [data-panel=containers]");
  const crow = `#container-rows tr[data-container-id="${container}"]`;
  await page.waitForSelector(crow);
  check((await page.textContent(`${crow} .status`)) === "running", "container is not running");
  await page.click(`${crow} button:text-is('Files')`);
  await page.waitForSelector("#container-files:not([hidden]) #container-file-rows tr");
  const inside = await page.$$eval("#container-file-rows tr td:first-child", (td) => td.map((d) => d.textContent));
  check(inside.some((p) => p.endsWith("chart.png")), `files in the container = ${inside}`);
  await shot(page, `${name}-containers`);
  await page.click(`${crow} button:text-is('Stop')`);
  await page.waitForFunction((sel) => document.querySelector(sel)?.textContent === "stopped", `${crow} .status`);
  await page.click(`${crow} button:text-is('Delete')`);
  await page.waitForSelector(crow, { state: "detached" });

  // Usage panel: this workspace's requests are counted.
  await page.click("nav [data-panel=usage]");
  await page.waitForSelector("#usage-rows tr[data-key=Requests]");
  const requests = Number(await page.textContent("#usage-rows tr[data-key=Requests] td:last-child"));
  check(requests >= 1, `usage requests = ${requests}`);
  await shot(page, `${name}-usage`);
  check(consoleErrors.length === 0, `browser console errors: ${consoleErrors.join("; ")}`);
  await context.close();
}

main().catch((err) => {
  console.error(err && err.stack || err);
  process.exit(1);
});
