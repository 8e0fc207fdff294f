/// <reference lib="dom" />
/**
 * Notebooks in headless Chromium. Each is executed once with nbconvert
 * (`scripts/run_notebooks.ts`: the Deno kernel, PNG fallbacks; in CI the copy
 * `.ci/run` just made), then:
 *
 * 1. its nbconvert HTML export, opened from file:// offline, draws every plot
 *    with plotly.js and every attention view with the views' renderer;
 * 2. in a live classic Notebook (Debian's `jupyter-notebook`, Notebook 6)
 *    started by the test on 127.0.0.1, running every cell of the unexecuted notebook
 *    gives the same figures and views per cell as nbconvert did, each drawn
 *    in the page (trusted: the outputs were made in this session), no cell
 *    errs, and nothing but the server is requested;
 * 3. the executed copy, opened in that Notebook without being trusted, shows
 *    each figure and view as a PNG `<img>` (Notebook 6 strips scripts and
 *    `<svg>` from untrusted HTML) and runs none of them.
 *
 * Screenshots: `out/screenshots/nbconvert/*.png`, `out/screenshots/notebook/*.png`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { basename, join } from "node:path";
import type { Page } from "playwright-core";
import { installDenoKernel, nbconvertVersion, runNotebook } from "../../scripts/run_notebooks.ts";
import {
  assertQuiet,
  browserTest,
  launchChromium,
  onFilePage,
  openPage,
  screenshot,
} from "./_chromium.ts";
import { type JupyterServer, startJupyter } from "./_jupyter.ts";

const OUT = "out/browser/notebooks";
/**
 * A folder of executed notebooks to reuse (`<name>.ipynb` and `<name>.html`, as
 * `deno task notebooks` writes them to out/notebooks/): `.ci/run` executes the
 * notebooks just before the tests and names that folder, so CI runs each notebook
 * once less. A copy older than its notebook is not used; without the variable the
 * test executes each notebook itself.
 */
const EXECUTED = Deno.env.get("BROWSER_EXECUTED_NOTEBOOKS");

/** The executed copy of `nb` and its HTML export: reused from {@link EXECUTED}, else made now. */
async function executedCopy(nb: string): Promise<{ ipynb: string; html: string }> {
  if (EXECUTED) {
    const stem = basename(nb, ".ipynb");
    const ipynb = join(EXECUTED, `${stem}.ipynb`), html = join(EXECUTED, `${stem}.html`);
    try {
      const [src, a, b] = await Promise.all([nb, ipynb, html].map((p) => Deno.stat(p)));
      if (a.mtime! >= src.mtime! && b.mtime! >= src.mtime!) return { ipynb, html };
    } catch {
      // not there: execute it below
    }
  }
  const run = await runNotebook(nb, OUT, { timeout: 300 });
  assert.ok(run.ok, `${nb} failed to execute with nbconvert:\n${run.error}`);
  return { ipynb: run.ipynb!, html: run.html! };
}

/**
 * The notebooks checked here: the views notebook when it exists, and 05_masks (plotly figures);
 * `BROWSER_NOTEBOOKS=a.ipynb,b.ipynb` checks others instead.
 */
const NOTEBOOKS = (Deno.env.get("BROWSER_NOTEBOOKS")?.split(",") ??
  ["notebooks/12_attention_views.ipynb", "notebooks/05_masks.ipynb"]).filter((p) => {
    try {
      return Deno.statSync(p).isFile;
    } catch {
      return false;
    }
  });

// deno-lint-ignore no-explicit-any
type Json = any;

/**
 * Errors the classic Notebook 6 page logs by itself, with or without our
 * outputs: a font it loads from `about:blank` (refused by Chromium's CORS
 * rule) and that failed load. Anything else fails the test.
 */
const NOTEBOOK_OWN_ERRORS = [
  /^console\.error: Access to font at 'about:blank' from origin 'http:\/\/127\.0\.0\.1:\d+' has been blocked by CORS policy/,
  /^console\.error: Failed to load resource: net::ERR_FAILED$/,
];

/** What a cell displays: plotly figures, their heatmap traces, attention views. */
interface Shown {
  figures: number;
  heatmaps: number;
  views: number;
}

/** {@link Shown} for each cell of a notebook (markdown cells: zeros). */
function shownByCell(nb: Json): Shown[] {
  return nb.cells.map((cell: Json) => {
    const s = { figures: 0, heatmaps: 0, views: 0 };
    for (const out of cell.outputs ?? []) {
      const fig = out.data?.["application/vnd.plotly.v1+json"];
      if (fig) {
        s.figures++;
        s.heatmaps += (fig.data ?? []).filter((t: Json) => t.type === "heatmap").length;
      }
      const html = [out.data?.["text/html"] ?? ""].flat().join("");
      if (html.includes('class="attention-lab-view"')) s.views++;
    }
    return s;
  });
}

const sum = (xs: Shown[]) =>
  xs.reduce((a, c) => ({
    figures: a.figures + c.figures,
    heatmaps: a.heatmaps + c.heatmaps,
    views: a.views + c.views,
  }), { figures: 0, heatmaps: 0, views: 0 });

/** What the page drew in each notebook cell (cell elements in order). */
function drawnByCell(page: Page): Promise<(Shown & { svgs: number; images: number })[]> {
  return page.evaluate(() =>
    [...document.querySelectorAll("#notebook-container > .cell")].map((cell) => {
      const plots = [...cell.querySelectorAll(".attention-lab-figure.js-plotly-plot")];
      return {
        figures: plots.length,
        svgs: plots.filter((p) => p.querySelector("svg.main-svg path")).length,
        heatmaps: cell.querySelectorAll("g.hm").length,
        views: cell.querySelectorAll(
          ".attention-lab-view[data-al-rendered=true] svg[data-al=canvas]",
        ).length,
        images: [...cell.querySelectorAll<HTMLImageElement>(".output_area img")]
          .filter((i) => i.src.startsWith("data:image/png") && i.complete && i.naturalWidth > 0)
          .length,
      };
    })
  );
}

/** Opens a notebook in the classic Notebook and waits until its kernel is connected. */
async function openNotebook(page: Page, server: JupyterServer, name: string): Promise<void> {
  await page.goto(server.notebookUrl(name));
  await page.waitForFunction(
    () => {
      // deno-lint-ignore no-explicit-any
      const nb = (globalThis as any).Jupyter?.notebook;
      return nb?._fully_loaded && nb.kernel?.is_connected() && nb.kernel.info_reply?.status;
    },
    undefined,
    { timeout: 90_000, polling: 250 },
  );
  // No autosave: the test's outputs stay in the page.
  // deno-lint-ignore no-explicit-any
  await page.evaluate(() => (globalThis as any).Jupyter.notebook.set_autosave_interval(0));
}

/**
 * Clears every output and runs the cells in order, as Shift-Enter through the
 * notebook would: each code cell is started once the one before it is done
 * (its execution count shown, the kernel idle) and 300 ms have passed. Not
 * the menu's "Run all", which queues every request at once: Deno's kernel
 * (2.9) now and then publishes a cell's result just after reporting it idle
 * (see the README), and with the next request already queued the classic
 * Notebook then showed a figure under the next cell (seen once in a few runs
 * of 05_masks). Stops at the first cell with an error; `ms` is per cell.
 */
async function runCells(page: Page, ms: number): Promise<Json> {
  const stop = await page.evaluate(async (ms) => {
    // deno-lint-ignore no-explicit-any
    const nb = (globalThis as any).Jupyter.notebook;
    nb.clear_all_output();
    const cells = nb.get_cells();
    for (let i = 0; i < cells.length; i++) {
      const c = cells[i];
      c.execute();
      if (c.cell_type !== "code") continue;
      const start = Date.now();
      while (!(typeof c.input_prompt_number === "number" && !nb.kernel_busy)) {
        // deno-lint-ignore no-explicit-any
        if (c.output_area.outputs.some((o: any) => o.output_type === "error")) return "";
        if (Date.now() - start > ms) return `cell ${i} still running after ${ms} ms`;
        await new Promise((r) => setTimeout(r, 100));
      }
      await new Promise((r) => setTimeout(r, 300));
    }
    return "";
  }, ms);
  assert.equal(stop, "", "the live notebook did not finish");
  return await page.evaluate(() =>
    // deno-lint-ignore no-explicit-any
    JSON.parse(JSON.stringify((globalThis as any).Jupyter.notebook.toJSON()))
  );
}

/** A screenshot of the whole notebook (its #site scroller unrolled into the page). */
async function notebookScreenshot(page: Page, name: string): Promise<void> {
  await page.addStyleTag({
    content: "html, body, #site { height: auto !important; overflow: visible !important; }",
  });
  await screenshot(page, name);
}

const trusted = (page: Page) =>
  // deno-lint-ignore no-explicit-any
  page.evaluate(() => (globalThis as any).Jupyter.notebook.trusted as boolean);

browserTest(
  "notebooks: nbconvert HTML offline, a live classic Notebook, and untrusted images",
  ["nbconvert", "jupyter-notebook"],
  async (t) => {
    assert.ok(NOTEBOOKS.length > 0, "no notebook to check");
    assert.ok(await nbconvertVersion(), "jupyter nbconvert --version failed");
    await installDenoKernel();
    const executed = new Map<string, { ipynb: string; html: string; byCell: Shown[] }>();
    for (const nb of NOTEBOOKS) {
      const { ipynb, html } = await executedCopy(nb);
      const byCell = shownByCell(JSON.parse(await Deno.readTextFile(ipynb)));
      const all = sum(byCell);
      assert.ok(all.figures + all.views > 0, `${nb} displayed no figure or view under nbconvert`);
      executed.set(nb, { ipynb, html, byCell });
    }

    const browser = await launchChromium();
    let server: JupyterServer | undefined;
    try {
      for (const nb of NOTEBOOKS) {
        const name = basename(nb, ".ipynb");
        const { html, byCell } = executed.get(nb)!;
        const want = sum(byCell);
        await t.step(
          `${name}: nbconvert HTML draws ${want.figures} figures, ${want.views} views offline`,
          async () => {
            const seen = await onFilePage(browser, html, {}, async (page) => {
              await page.waitForFunction(
                ([f, h, v]) =>
                  document.querySelectorAll(".attention-lab-figure.js-plotly-plot").length === f &&
                  document.querySelectorAll("g.hm").length >= h &&
                  document.querySelectorAll(".attention-lab-view[data-al-rendered=true]")
                      .length === v,
                [want.figures, want.heatmaps, want.views],
                { timeout: 60_000, polling: 200 },
              ).catch(() => {}); // the counts below say what is missing
              await page.waitForTimeout(300); // late errors, MathJax
              const seen = await page.evaluate(() => ({
                figures: document.querySelectorAll(".attention-lab-figure").length,
                plotted: document.querySelectorAll(".attention-lab-figure.js-plotly-plot").length,
                heatmaps: document.querySelectorAll("g.hm").length,
                views: document.querySelectorAll(".attention-lab-view").length,
                drawn: document.querySelectorAll(
                  ".attention-lab-view[data-al-rendered=true] svg[data-al=canvas]",
                ).length,
                math: document.querySelectorAll("mjx-container").length,
              }));
              await screenshot(page, `nbconvert/${name}`);
              return seen;
            });
            assert.equal(seen.figures, want.figures, `${html}: figure divs`);
            assert.equal(seen.plotted, want.figures, `${html}: figures plotly drew`);
            assert.equal(seen.heatmaps, want.heatmaps, `${html}: heatmap layers (g.hm)`);
            assert.equal(seen.views, want.views, `${html}: view divs`);
            assert.equal(seen.drawn, want.views, `${html}: views the renderer drew`);
            assert.ok(seen.math > 0, `${html}: MathJax typeset no formula offline`);
          },
        );
      }

      const copies: Record<string, string> = {};
      for (const nb of NOTEBOOKS) {
        copies[basename(nb)] = nb;
        copies[`${basename(nb, ".ipynb")}.executed.ipynb`] = executed.get(nb)!.ipynb;
      }
      server = await startJupyter(copies);
      for (const nb of NOTEBOOKS) {
        const name = basename(nb, ".ipynb");
        const want = executed.get(nb)!.byCell;
        const total = sum(want);
        await t.step(
          `${name}: live classic Notebook, every cell run, draws every output`,
          async () => {
            const { page, context, watch } = await openPage(browser, {
              allow: [server!.origin],
              viewport: { width: 1280, height: 1000 },
            });
            try {
              await openNotebook(page, server!, basename(nb));
              const live = await runCells(page, 180_000);
              const errors = live.cells.flatMap((c: Json) =>
                (c.outputs ?? []).filter((o: Json) => o.output_type === "error")
                  .map((o: Json) => `${o.ename}: ${o.evalue}`)
              );
              assert.deepEqual(errors, [], `${nb}: cells failed in the live notebook`);
              const unrun = live.cells.filter((c: Json) =>
                c.cell_type === "code" && typeof c.execution_count !== "number"
              ).length;
              assert.equal(unrun, 0, `${nb}: code cells without an execution count`);
              const liveByCell = shownByCell(live);
              assert.deepEqual(
                liveByCell,
                want,
                `${nb}: outputs per cell, live Notebook vs nbconvert`,
              );
              await page.waitForFunction(
                ([f, v]) =>
                  document.querySelectorAll(".attention-lab-figure.js-plotly-plot").length >= f &&
                  document.querySelectorAll(".attention-lab-view[data-al-rendered=true]").length >=
                    v,
                [total.figures, total.views],
                { timeout: 60_000, polling: 250 },
              ).catch(() => {}); // compared cell by cell below
              const drawn = await drawnByCell(page);
              await notebookScreenshot(page, `notebook/${name}`);
              assert.deepEqual(
                drawn.map(({ figures, heatmaps, views }) => ({ figures, heatmaps, views })),
                liveByCell,
                `${nb}: figures and views drawn in the live notebook, per cell`,
              );
              assert.deepEqual(
                drawn.map((d) =>
                  d.svgs
                ),
                drawn.map((d) => d.figures),
                `${nb}: every plot has an SVG with paths`,
              );
              assert.equal(await trusted(page), true, "outputs made in this session are trusted");
              assertQuiet(watch, `${nb} in the live Notebook`, NOTEBOOK_OWN_ERRORS);
            } finally {
              await context.close();
            }
          },
        );

        await t.step(`${name}: the executed copy, untrusted, shows PNG images`, async () => {
          const { page, context, watch } = await openPage(browser, {
            allow: [server!.origin],
            viewport: { width: 1280, height: 1000 },
          });
          try {
            await openNotebook(page, server!, `${name}.executed.ipynb`);
            assert.equal(await trusted(page), false, "the copy must open untrusted");
            await page.waitForTimeout(500); // images decode
            const drawn = await drawnByCell(page);
            await notebookScreenshot(page, `notebook/${name}-untrusted`);
            assert.deepEqual(
              drawn.map((d) => d.images),
              want.map((w) => w.figures + w.views),
              `${nb}: PNG images per cell, untrusted`,
            );
            assert.deepEqual(
              drawn.map((d) => d.figures + d.views),
              want.map(() => 0),
              `${nb}: untrusted outputs must run no script`,
            );
            assertQuiet(watch, `${nb} untrusted`, NOTEBOOK_OWN_ERRORS);
          } finally {
            await context.close();
          }
        });
      }
    } finally {
      try {
        await server?.stop();
      } finally {
        await browser.close();
      }
    }
  },
);
