/**
 * Locating plotly.js offline and registering it for notebook display.
 *
 * plotly.js comes from the npm package pinned in the import map
 * (`plotly.js-dist-min`, its minified bundle `plotly.min.js`, about 4.8 MB).
 * Nothing here runs at import time: reading the bundle is the explicit call
 * {@link loadPlotlyJs}, and {@link usePlotly} hands the text to the
 * figures' Jupyter display.
 *
 * @module
 */

import { gzipSync } from "node:zlib";
import { _DISPLAY_BUDGET, jupyterDisplay } from "./jupyter_display.ts";

let statusCounter = 0;

/** Session state of the notebook display: the registered source and whether a display carried it. */
const registry: { source?: string; loader?: string; included: boolean } = { included: false };

/**
 * Reads the plotly.js bundle from the npm package that Deno resolved for
 * `plotly.js-dist-min` (no CDN, no network once the package is cached).
 *
 * How it is found, in order:
 * 1. A text import, `import("plotly.js-dist-min/plotly.min.js", { with: { type: "text" } })`:
 *    Deno resolves the specifier through the import map, downloads the package
 *    into its npm cache if needed (or uses `node_modules` when `nodeModulesDir`
 *    is set), and returns the file's text. This needs **no permission**: module
 *    loading is not a read of the file system. Works in `deno run`, `deno test`
 *    and the Jupyter kernel (Deno 2.4 or later).
 * 2. If that fails (an older Deno without text imports), the same specifier is
 *    resolved with `import.meta.resolve` to a `file:` URL inside Deno's npm cache
 *    (`$DENO_DIR/npm/registry.npmjs.org/plotly.js-dist-min/<version>/plotly.min.js`)
 *    or `node_modules`, and read with `Deno.readTextFile`: this needs
 *    `--allow-read` for that file (the Jupyter kernel has all permissions).
 *
 * @returns The plotly.js source, for {@link usePlotly} or `toHtml(…, { plotlyJs })`.
 * @throws {Error} When neither way finds the bundle; the message says what to run or grant.
 *
 * @example Load it once, then register it for notebook display
 * ```ts
 * import { loadPlotlyJs, usePlotly } from "./plotly_js.ts";
 * import assert from "node:assert/strict";
 * const source = await loadPlotlyJs();
 * assert.ok(source.length > 1_000_000 && source.includes("window.Plotly"));
 * usePlotly(source);
 * ```
 */
export async function loadPlotlyJs(): Promise<string> {
  let importError: unknown;
  try {
    const mod = await import("plotly.js-dist-min/plotly.min.js", { with: { type: "text" } });
    if (typeof mod.default === "string" && mod.default.length > 0) return mod.default;
  } catch (e) {
    importError = e;
  }
  try {
    return await _readPlotlyJsFile();
  } catch (readError) {
    throw new Error(
      `loadPlotlyJs: cannot load plotly.js from the npm package "plotly.js-dist-min": ` +
        `the text import failed (${errorText(importError)}) and reading the file failed (${
          errorText(readError)
        }). Run \`deno install\` (or \`deno cache\`) so the package is in Deno's npm cache, ` +
        `and grant --allow-read to that file, or pass the source to usePlotly() yourself.`,
      { cause: readError },
    );
  }
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message.split("\n")[0] : String(e ?? "no error");
}

/**
 * The second way of {@link loadPlotlyJs}: resolves the bundle to a `file:` URL
 * and reads it (needs `--allow-read` for that file).
 */
export async function _readPlotlyJsFile(): Promise<string> {
  // A literal specifier, so that publishing rewrites it like the import above.
  const url = new URL(import.meta.resolve("plotly.js-dist-min/plotly.min.js"));
  if (url.protocol !== "file:") {
    throw new Error(`plotly.js-dist-min/plotly.min.js resolved to ${url.href}, not a local file`);
  }
  return await Deno.readTextFile(url);
}

/** What a {@link PlotlyDisplay} shows in a notebook. */
export interface PlotlyMimeBundle {
  /** The compressed plotly.js and the script that unpacks and runs it. */
  "text/html": string;
  /** A one-line status. */
  "text/plain": string;
}

/**
 * The value {@link usePlotly} returns: as the last expression of a notebook
 * cell it displays plotly.js itself (compressed, about 2 MB, under the
 * kernel's message limit), so figures after it only wait for `window.Plotly`.
 */
export class PlotlyDisplay {
  /** Characters of the registered plotly.js source. */
  readonly length: number;

  /** Made by {@link usePlotly}. */
  constructor(length: number) {
    this.length = length;
  }

  /**
   * The MIME bundle: a loader script (plus a status line). Displaying it
   * marks plotly.js as sent for this session.
   *
   * @returns The bundle.
   *
   * @example The loader unpacks plotly.js in the page
   * ```ts
   * import { usePlotly } from "./plotly_js.ts";
   * import { jupyterDisplay } from "./jupyter_display.ts";
   * import assert from "node:assert/strict";
   * const bundle = usePlotly("window.Plotly = {};")[jupyterDisplay]();
   * assert.match(bundle["text/html"], /DecompressionStream/);
   * ```
   */
  [jupyterDisplay](): PlotlyMimeBundle {
    const html = _plotlyLoaderHtml();
    registry.included = true;
    // Where scripts do not run (an untrusted notebook, GitHub), the status says so; a
    // script that runs replaces it.
    const id = `alp${(++statusCounter).toString(36)}${
      Math.floor(Math.random() * 36 ** 5).toString(36)
    }`;
    return {
      "text/html": `<div id="${id}" style="font:12px sans-serif;color:#666">plotly.js is not ` +
        `running here (an untrusted notebook, or a viewer without scripts): the figures below ` +
        `are static images</div>\n<script type="text/javascript">document.getElementById(` +
        `"${id}").textContent = "plotly.js registered: figures below are interactive, offline";` +
        `</script>\n${html}`,
      "text/plain":
        `plotly.js registered (${this.length} characters): figures are interactive offline`,
    };
  }

  /**
   * A short description.
   *
   * @returns The status line.
   *
   * @example Describe it
   * ```ts
   * import { usePlotly } from "./plotly_js.ts";
   * import assert from "node:assert/strict";
   * assert.equal(String(usePlotly("x")), "PlotlyDisplay(1 characters)");
   * ```
   */
  toString(): string {
    return `PlotlyDisplay(${this.length} characters)`;
  }
}

/**
 * Registers plotly.js for the Jupyter display of figures in this kernel
 * session, so that their `text/html` becomes interactive (offline: the
 * bundle travels inside the notebook, never from a CDN). plotly.js is sent to
 * the page once: by displaying the returned {@link PlotlyDisplay} (make
 * `usePlotly(await loadPlotlyJs())` the last line of a cell), or else with the
 * next figure displayed. It travels gzip-compressed and base64-encoded (about
 * 2 MB for the 4.8 MB bundle, as Deno's kernel drops messages over about
 * 3.5 MB) and is unpacked in the page with `DecompressionStream`; a guard
 * keeps a page from running it twice. Later figures wait for `window.Plotly`.
 * Call it again (e.g. after clearing that output) to send it again. Without
 * it, a figure's `text/html` is its static SVG.
 *
 * @param source The plotly.js bundle, usually `await loadPlotlyJs()`.
 * @returns A {@link PlotlyDisplay} that sends plotly.js when displayed.
 * @throws {TypeError} When `source` is not a non-empty string.
 *
 * @example Register a bundle (here a stand-in); the next figure carries it
 * ```ts
 * import { usePlotly } from "./plotly_js.ts";
 * import { heatmap } from "./heatmap.ts";
 * import { type Figure, jupyterDisplay } from "./figure.ts";
 * import assert from "node:assert/strict";
 * usePlotly("window.Plotly = { newPlot() {} };");
 * const html = (f: Figure) => f[jupyterDisplay]()["text/html"];
 * assert.ok(html(heatmap([[1]])).includes("DecompressionStream"));
 * assert.ok(!html(heatmap([[1]])).includes("DecompressionStream"));
 * ```
 */
export function usePlotly(source: string): PlotlyDisplay {
  if (typeof source !== "string" || source.length === 0) {
    throw new TypeError(
      `usePlotly: source must be the plotly.js bundle as a non-empty string (await loadPlotlyJs()), got ${
        typeof source === "string" ? "an empty string" : typeof source
      }`,
    );
  }
  registry.source = source;
  registry.loader = undefined;
  registry.included = false;
  return new PlotlyDisplay(source.length);
}

/** The registered source, if any. */
export function _registeredPlotlyJs(): string | undefined {
  return registry.source;
}

/** Whether plotly.js is registered, and whether a display already sent it to the page. */
export function _plotlyState(): { available: boolean; included: boolean } {
  return { available: registry.source !== undefined, included: registry.included };
}

/** Records that a figure's display carried the loader. */
export function _markPlotlyIncluded(): void {
  registry.included = true;
}

/** Base64 of bytes, in chunks (a spread of 2 MB of arguments would overflow the stack). */
function base64(bytes: Uint8Array): string {
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(bin);
}

/**
 * The loader for notebooks: the registered plotly.js, gzip-compressed and
 * base64-encoded, and a script that unpacks it with `DecompressionStream` and
 * runs it once per page. Computed once per `usePlotly()`.
 */
export function _plotlyLoaderHtml(): string {
  if (registry.source === undefined) return "";
  if (registry.loader !== undefined) return registry.loader;
  const packed = base64(gzipSync(new TextEncoder().encode(registry.source), { level: 9 }));
  if (packed.length > _DISPLAY_BUDGET - 4000) {
    throw new RangeError(
      `usePlotly: plotly.js compresses to ${packed.length} characters, more than one notebook output can carry (${_DISPLAY_BUDGET})`,
    );
  }
  registry.loader = `<script type="text/javascript">(function () {
  if (window.Plotly || window.__attentionLabPlotly) return;
  window.__attentionLabPlotly = "loading";
  var packed = "${packed}";
  var bytes = Uint8Array.from(atob(packed), function (c) { return c.charCodeAt(0); });
  var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  new Response(stream).text().then(function (source) {
    var script = document.createElement("script");
    script.textContent = source;
    document.head.appendChild(script);
    window.__attentionLabPlotly = "loaded";
  }).catch(function (e) {
    window.__attentionLabPlotly = undefined;
    console.error("attention-lab: could not unpack plotly.js", e);
  });
})();</script>`;
  return registry.loader;
}

/** Forgets the registered source (tests use it to see the SVG-only display). */
export function _forgetPlotly(): void {
  registry.source = undefined;
  registry.loader = undefined;
  registry.included = false;
}
