/// <reference lib="dom" />
/**
 * Offline pages in headless Chromium: the demo page (`deno task demo`'s
 * `out/attention.html`) must draw every plot with plotly.js, request nothing
 * from the network and log no error. (The notebooks' nbconvert HTML is
 * checked in notebook_test.ts.)
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { writeAttentionPage } from "../../examples/demo.ts";
import { browserTest, screenshot, withFilePage } from "./_chromium.ts";

const OUT = "out/browser/pages";

/** What plotly drew on a page. */
interface Drawn {
  figures: number;
  plotted: number;
  mainSvgs: number;
  heatmaps: number;
  math: number;
}

/** Waits (60 s at most) until every figure div is a plotly plot with `heatmaps` heatmap layers. */
async function waitForPlots(page: Page, figures: number, heatmaps: number): Promise<Drawn> {
  await page.waitForFunction(
    ([f, h]) =>
      document.querySelectorAll(".attention-lab-figure.js-plotly-plot").length === f &&
      document.querySelectorAll("g.hm").length >= h,
    [figures, heatmaps],
    { timeout: 60_000, polling: 200 },
  ).catch(() => {}); // the counts below say what was missing
  await page.waitForTimeout(300); // let late errors and MathJax arrive
  return await page.evaluate(() => ({
    figures: document.querySelectorAll(".attention-lab-figure").length,
    plotted: document.querySelectorAll(".attention-lab-figure.js-plotly-plot").length,
    mainSvgs: document.querySelectorAll("svg.main-svg").length,
    heatmaps: document.querySelectorAll("g.hm").length,
    math: document.querySelectorAll("mjx-container").length,
  }));
}

function assertDrawn(seen: Drawn, figures: number, heatmaps: number, page: string): void {
  assert.equal(seen.figures, figures, `${page}: figure divs`);
  assert.equal(
    seen.plotted,
    figures,
    `${page}: figures plotly drew (plotly.js missing or failing?)`,
  );
  assert.ok(
    seen.mainSvgs >= 2 * figures,
    `${page}: expected at least 2 svg.main-svg per figure (${2 * figures}), found ${seen.mainSvgs}`,
  );
  assert.equal(seen.heatmaps, heatmaps, `${page}: heatmap layers (g.hm)`);
}

browserTest("demo page draws every mask and head offline in Chromium", [], async () => {
  const demo = await writeAttentionPage(join(OUT, "attention.html"));
  const seen = await withFilePage(demo.path, {}, async (page) => {
    const seen = await waitForPlots(page, demo.sections.length, demo.heatmaps);
    await screenshot(page, "demo/attention");
    return seen;
  });
  assertDrawn(seen, demo.sections.length, demo.heatmaps, demo.path);
});
