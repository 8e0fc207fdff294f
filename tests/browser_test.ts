/**
 * Browser tests: the demo page and a notebook's HTML export, opened in headless
 * Chromium (Debian's `chromium`) with the network switched off, must draw every
 * plot with plotly.js and log no error.
 *
 * Chromium is driven over the DevTools protocol (CDP) with Deno's built-in
 * WebSocket: a few lines of client below, no puppeteer and no browser download.
 *
 * Permissions (the `test` task grants them):
 * - `--allow-run=chromium,jupyter,deno`: start Chromium; execute a notebook with
 *   `jupyter nbconvert` after registering the kernel with `deno jupyter --install`
 *   (`scripts/test.ts` names chromium and jupyter only where they are on PATH, or with `CI=true`);
 * - `--allow-write=out`: the demo page, the notebook export, screenshots
 *   (`out/browser_test/*.png`, to look at) and Chromium's profile go under `out/`;
 * - `--allow-net=127.0.0.1`: the CDP WebSocket to Chromium on this machine;
 * - `--allow-env`, `--allow-read`: `CI`, `PATH`, and the files above.
 *
 * With `CI=true` both tests run and fail when Chromium or Jupyter is missing;
 * elsewhere each is skipped with one line.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { writeAttentionPage } from "../examples/demo.ts";
import { installDenoKernel, nbconvertVersion, runNotebook } from "../scripts/run_notebooks.ts";
import { which } from "../scripts/which.ts";

const CI = Deno.env.get("CI") === "true";
const OUT = "out/browser_test";

const chromium = await which("chromium");
const jupyter = await which("jupyter");
// One line per skipped test (deno task test names a tool in --allow-run only when it is here).
if (!CI && !chromium) {
  console.warn(
    "browser_test: browser test skipped, no `chromium` on PATH (apt-get install -y chromium)",
  );
}
if (!CI && (!chromium || !jupyter)) {
  console.warn(
    `browser_test: notebook test skipped, no \`${chromium ? "jupyter" : "chromium"}\` on PATH ` +
      "(apt-get install -y chromium jupyter-nbconvert python3-nbclient jupyter-client)",
  );
}

// ---------------------------------------------------------------- a tiny CDP client

// deno-lint-ignore no-explicit-any
type Json = any;
interface CdpEvent {
  method: string;
  params: Json;
  sessionId?: string;
}

/** Commands and events over one DevTools WebSocket (flat sessions: one socket, many targets). */
class Cdp {
  #ws: WebSocket;
  #next = 0;
  #pending = new Map<number, { resolve(v: Json): void; reject(e: Error): void }>();
  #listeners = new Set<(e: CdpEvent) => void>();
  #closed: Promise<void>;

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    this.#closed = new Promise((resolve) => ws.addEventListener("close", () => resolve()));
    ws.addEventListener("message", (m) => {
      const msg = JSON.parse(m.data as string);
      if (msg.id !== undefined) {
        const p = this.#pending.get(msg.id);
        this.#pending.delete(msg.id);
        if (msg.error) p?.reject(new Error(`CDP ${JSON.stringify(msg.error)}`));
        else p?.resolve(msg.result);
      } else {
        for (const fn of this.#listeners) fn(msg);
      }
    });
  }

  static connect(url: string): Promise<Cdp> {
    const ws = new WebSocket(url);
    return new Promise((resolve, reject) => {
      ws.addEventListener("open", () => resolve(new Cdp(ws)), { once: true });
      ws.addEventListener("error", () => reject(new Error(`cannot connect to ${url}`)), {
        once: true,
      });
    });
  }

  send(method: string, params: Json = {}, sessionId?: string): Promise<Json> {
    const id = ++this.#next;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#ws.send(JSON.stringify({ id, method, params, sessionId }));
    });
  }

  on(fn: (e: CdpEvent) => void): void {
    this.#listeners.add(fn);
  }

  async close(): Promise<void> {
    if (this.#ws.readyState === WebSocket.OPEN) this.#ws.close();
    await this.#closed;
  }
}

/** Headless Chromium with a throwaway profile, and a CDP connection to it. */
async function launchChromium(): Promise<{ cdp: Cdp; close(): Promise<void> }> {
  await Deno.mkdir("out", { recursive: true });
  const profile = await Deno.makeTempDir({ dir: "out", prefix: "chromium-profile-" });
  const child = new Deno.Command("chromium", {
    args: [
      "--headless=new",
      "--no-sandbox",
      "--disable-gpu",
      "--remote-debugging-port=0", // Chromium picks a free port and prints it on stderr
      "--remote-debugging-address=127.0.0.1",
      `--user-data-dir=${profile}`,
      "--no-first-run",
      "--no-default-browser-check",
      "about:blank",
    ],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const lines = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let log = "", url: string | undefined;
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  while (!url) {
    const { value, done } = await lines.read();
    if (done) break;
    log += value;
    url = log.match(/DevTools listening on (ws:\/\/\S+)/)?.[1];
  }
  clearTimeout(timer);
  // Keep reading stderr so Chromium never blocks on a full pipe.
  const drained = (async () => {
    while (!(await lines.read()).done);
  })();
  if (!url) {
    await drained;
    await child.status;
    await Deno.remove(profile, { recursive: true });
    throw new Error(`Chromium printed no DevTools address; its output:\n${log.slice(-2000)}`);
  }
  const cdp = await Cdp.connect(url);
  return {
    cdp,
    async close() {
      const exited = child.status;
      await cdp.send("Browser.close").catch(() => {});
      await cdp.close();
      const kill = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(kill);
      await drained;
      await Deno.remove(profile, { recursive: true }).catch(() => {});
    },
  };
}

/** What the page drew and logged. */
interface PageReport {
  figures: number;
  plotted: number;
  mainSvgs: number;
  heatmaps: number;
  math: number;
  requests: string[];
  errors: string[];
}

/**
 * Opens `file` offline in a new tab, waits until every figure div holds a
 * plotly plot with `heatmaps` heatmap layers (60 s at most), saves a
 * full-page screenshot and reports what it saw.
 */
async function renderOffline(
  cdp: Cdp,
  file: string,
  heatmaps: number,
  screenshot: string,
): Promise<PageReport> {
  const { targetId } = await cdp.send("Target.createTarget", { url: "about:blank" });
  const { sessionId } = await cdp.send("Target.attachToTarget", { targetId, flatten: true });
  const send = (method: string, params: Json = {}) => cdp.send(method, params, sessionId);
  const requests: string[] = [], errors: string[] = [];
  let loaded!: () => void;
  const load = new Promise<void>((resolve) => (loaded = resolve));
  cdp.on(({ method, params, sessionId: s }) => {
    if (s !== sessionId) return;
    if (method === "Network.requestWillBeSent") requests.push(params.request.url);
    if (method === "Runtime.consoleAPICalled" && ["error", "assert"].includes(params.type)) {
      errors.push(
        `console.${params.type}: ${
          params.args.map((a: Json) => a.value ?? a.description).join(" ")
        }`,
      );
    }
    if (method === "Runtime.exceptionThrown") {
      const d = params.exceptionDetails;
      errors.push(`exception: ${d.exception?.description ?? d.text}`);
    }
    if (method === "Log.entryAdded" && params.entry.level === "error") {
      errors.push(`log: ${params.entry.text} ${params.entry.url ?? ""}`);
    }
    if (method === "Page.loadEventFired") loaded();
  });
  await Promise.all(
    ["Page.enable", "Runtime.enable", "Network.enable", "Log.enable"].map((m) => send(m)),
  );
  await send("Network.emulateNetworkConditions", {
    offline: true,
    latency: 0,
    downloadThroughput: -1,
    uploadThroughput: -1,
  });
  await send("Emulation.setDeviceMetricsOverride", {
    width: 1280,
    height: 900,
    deviceScaleFactor: 1,
    mobile: false,
  });
  const url = new URL(file, `file://${Deno.cwd()}/`).href;
  await send("Page.navigate", { url });
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    load,
    new Promise((
      _,
      reject,
    ) => (timer = setTimeout(() => reject(new Error(`${file} did not load in 60 s`)), 60_000))),
  ]).finally(() => clearTimeout(timer));

  const count = `JSON.stringify({
    figures: document.querySelectorAll(".attention-lab-figure").length,
    plotted: document.querySelectorAll(".attention-lab-figure.js-plotly-plot").length,
    mainSvgs: document.querySelectorAll("svg.main-svg").length,
    heatmaps: document.querySelectorAll("g.hm").length,
    math: document.querySelectorAll("mjx-container").length,
  })`;
  let seen: Omit<PageReport, "requests" | "errors"> = {
    figures: 0,
    plotted: 0,
    mainSvgs: 0,
    heatmaps: 0,
    math: 0,
  };
  for (const start = Date.now(); Date.now() - start < 60_000;) {
    const { result } = await send("Runtime.evaluate", { expression: count, returnByValue: true });
    seen = JSON.parse(result.value);
    if (seen.figures > 0 && seen.plotted === seen.figures && seen.heatmaps >= heatmaps) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  await new Promise((r) => setTimeout(r, 500)); // let late errors and MathJax arrive
  const { result } = await send("Runtime.evaluate", { expression: count, returnByValue: true });
  seen = JSON.parse(result.value);
  const { cssContentSize: size } = await send("Page.getLayoutMetrics");
  const { data } = await send("Page.captureScreenshot", {
    format: "png",
    captureBeyondViewport: true,
    clip: { x: 0, y: 0, width: size.width, height: Math.min(size.height, 16_000), scale: 1 },
  });
  await Deno.writeFile(screenshot, Uint8Array.from(atob(data), (c) => c.charCodeAt(0)));
  await cdp.send("Target.closeTarget", { targetId });
  return { ...seen, requests, errors };
}

function assertRendered(report: PageReport, figures: number, heatmaps: number, page: string) {
  const web = report.requests.filter((u) => /^(https?|wss?):/.test(u));
  assert.deepEqual(web, [], `${page} made network requests: ${web.join(", ")}`);
  assert.deepEqual(report.errors, [], `${page} logged errors:\n${report.errors.join("\n")}`);
  assert.equal(
    report.figures,
    figures,
    `${page}: expected ${figures} figure divs, found ${report.figures}`,
  );
  assert.equal(
    report.plotted,
    figures,
    `${page}: plotly drew ${report.plotted} of ${figures} figures (plotly.js missing or failing?)`,
  );
  assert.ok(
    report.mainSvgs >= 2 * figures,
    `${page}: expected at least 2 svg.main-svg per figure (${
      2 * figures
    }), found ${report.mainSvgs}`,
  );
  assert.equal(
    report.heatmaps,
    heatmaps,
    `${page}: expected ${heatmaps} heatmaps (g.hm), found ${report.heatmaps}`,
  );
}

function requireTool(path: string | undefined, name: string, install: string): void {
  if (!path) throw new Error(`${name} is not on PATH (CI=true runs this test): ${install}`);
}

// ---------------------------------------------------------------- the tests

Deno.test({
  name: "demo page (out/attention.html) draws every mask and head offline in Chromium",
  ignore: !CI && !chromium,
  async fn() {
    requireTool(chromium, "chromium", "apt-get install -y chromium");
    await Deno.mkdir(OUT, { recursive: true });
    const demo = await writeAttentionPage(join(OUT, "attention.html"));
    const browser = await launchChromium();
    try {
      const report = await renderOffline(
        browser.cdp,
        demo.path,
        demo.heatmaps,
        join(OUT, "attention.png"),
      );
      assertRendered(report, demo.sections.length, demo.heatmaps, demo.path);
    } finally {
      await browser.close();
    }
  },
});

/** A notebook for when notebooks/ has none yet: math, plotly.js, a mask and a head grid. */
function tinyNotebook(): {
  cells: Json[];
  metadata: Json;
  nbformat: number;
  nbformat_minor: number;
} {
  const lib = (p: string) => new URL(`../${p}`, import.meta.url).href;
  const code = (source: string) => ({
    cell_type: "code",
    execution_count: null,
    metadata: {},
    outputs: [],
    source,
  });
  return {
    cells: [
      {
        cell_type: "markdown",
        metadata: {},
        source: "# Plot check\nAttention is $\\mathrm{softmax}(QK^\\top/\\sqrt{d_k})\\,V$.",
      },
      code(
        `import { headGrid, loadPlotlyJs, maskHeatmap, usePlotly } from "${
          lib("lib/plot/mod.ts")
        }";\n` +
          `import { causalMask, randn, Rng, scaledDotProductAttention } from "${
            lib("mod.ts")
          }";\n` +
          "usePlotly(await loadPlotlyJs())",
      ),
      code('maskHeatmap(causalMask(4), { title: "Causal mask" })'),
      code(
        "const x = randn([2, 4, 8], new Rng(0)); // [H, T, d_k]\n" +
          "headGrid(scaledDotProductAttention(x, x, x).weights)",
      ),
    ],
    metadata: { kernelspec: { name: "deno", display_name: "Deno", language: "typescript" } },
    nbformat: 4,
    nbformat_minor: 5,
  };
}

/** Figures and heatmap traces a notebook displayed (from its plotly MIME outputs). */
function plotsIn(nb: Json): { figures: number; heatmaps: number } {
  let figures = 0, heatmaps = 0;
  for (const cell of nb.cells) {
    for (const out of cell.outputs ?? []) {
      const fig = out.data?.["application/vnd.plotly.v1+json"];
      if (!fig) continue;
      figures++;
      heatmaps += fig.data.filter((t: Json) => t.type === "heatmap").length;
    }
  }
  return { figures, heatmaps };
}

Deno.test({
  name: "a notebook's HTML export draws its plots offline in Chromium",
  ignore: !CI && (!chromium || !jupyter),
  async fn() {
    requireTool(chromium, "chromium", "apt-get install -y chromium");
    requireTool(
      jupyter,
      "jupyter",
      "apt-get install -y jupyter-nbconvert python3-nbclient jupyter-client",
    );
    assert.ok(await nbconvertVersion(), "jupyter nbconvert --version failed");
    await installDenoKernel();
    // notebooks/05_masks.ipynb when it exists; else a notebook made here (inside the
    // repository, so the kernel finds deno.json and its import map).
    let notebook = "notebooks/05_masks.ipynb";
    const own = !(await Deno.stat(notebook).then(() => true, () => false));
    if (own) {
      const dir = join(OUT, "tiny");
      await Deno.mkdir(dir, { recursive: true });
      notebook = join(dir, "plot_check.ipynb");
      await Deno.writeTextFile(notebook, JSON.stringify(tinyNotebook(), null, 1));
    }
    const run = await runNotebook(notebook, join(OUT, "notebook"), { timeout: 300 });
    assert.ok(run.ok, `${notebook} failed to execute:\n${run.error}`);
    const expected = plotsIn(JSON.parse(await Deno.readTextFile(run.ipynb!)));
    assert.ok(expected.figures > 0, `${notebook} displayed no figure`);
    const browser = await launchChromium();
    try {
      const report = await renderOffline(
        browser.cdp,
        run.html!,
        expected.heatmaps,
        join(OUT, "notebook.png"),
      );
      assertRendered(report, expected.figures, expected.heatmaps, run.html!);
      if (own) assert.ok(report.math > 0, `${run.html}: MathJax typeset no formula offline`);
    } finally {
      await browser.close();
    }
  },
});
