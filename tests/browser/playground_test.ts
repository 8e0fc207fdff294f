/// <reference lib="dom" />
/**
 * The playground page (`deno task playground`, examples/playground/) in
 * headless Chromium, opened from file:// with every web request aborted (and
 * counted as a failure): typing into the decode tab gives the model's answer
 * (for `dates` the ISO date, for `reverse` the letters reversed), the
 * cross-attention heatmap and the views (head, model, neuron) follow it, and the second
 * tab's sliders recompute one attention, whose weights match a float64
 * softmax of the page's own Q and K. Hooks: examples/playground/page.ts.
 *
 * Screenshots: `out/screenshots/playground/*.png`.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { buildPlayground } from "../../examples/playground/build.ts";
import { browserTest, screenshot, withFilePage } from "./_chromium.ts";

const PAGE = "out/browser/playground/playground.html";

/** Inputs typed into each model, and the answer worked out here without the model. */
const CASES: Record<string, { input: string; expected: string }> = {
  // 21 July 1969: ISO 8601 is year-month-day
  dates: { input: "21 July 1969", expected: "1969-07-21" },
  reverse: { input: "h e l l o w", expected: "h e l l o w".split(" ").reverse().join(" ") },
};

/** The heatmap's revealed cells, `row,col` -> weight, and its row count. */
function heatmap(page: Page): Promise<{ cells: Record<string, number>; input: string }> {
  return page.evaluate(() => {
    const cells: Record<string, number> = {};
    for (const r of document.querySelectorAll<SVGRectElement>("#cross-heatmap rect[data-weight]")) {
      cells[`${r.dataset.row},${r.dataset.col}`] = Number(r.dataset.weight);
    }
    return { cells, input: document.getElementById("cross-heatmap")!.dataset.input ?? "" };
  });
}

/** Waits until the output for `input` is fully revealed; returns its text. */
async function decoded(page: Page, input: string): Promise<string> {
  await page.waitForFunction(
    (text) => {
      const out = document.getElementById("output")!;
      return out.dataset.state === "done" && out.dataset.input === text ||
        ["error", "invalid"].includes(out.dataset.state ?? "");
    },
    input,
    { timeout: 60_000, polling: 100 },
  );
  return await page.evaluate(() => {
    const out = document.getElementById("output")!;
    if (out.dataset.state !== "done") {
      throw new Error(
        `output ${out.dataset.state}: ${document.getElementById("input-error")!.textContent}`,
      );
    }
    return out.dataset.text!;
  });
}

/** A table of the walk-through as numbers, from its cells' data-value. */
function walkTable(page: Page, id: string): Promise<number[][]> {
  return page.evaluate((id) => {
    const rows: number[][] = [];
    for (const td of document.querySelectorAll<HTMLElement>(`#${id} td[data-row]`)) {
      const i = Number(td.dataset.row), j = Number(td.dataset.col);
      (rows[i] ??= [])[j] = Number(td.dataset.value);
    }
    return rows;
  }, id);
}

/** softmax(Q Kᵀ / (√d_k τ)) in float64, causal mask optional. */
function referenceWeights(q: number[][], k: number[][], tau: number, causal: boolean): number[][] {
  const dk = q[0].length;
  return q.map((qi, i) => {
    const s = k.map((kj, j) => {
      if (causal && j > i) return -Infinity;
      let dot = 0;
      for (let d = 0; d < dk; d++) dot += qi[d] * kj[d];
      return dot / (Math.sqrt(dk) * tau);
    });
    const max = Math.max(...s);
    const e = s.map((x) => Math.exp(x - max));
    const sum = e.reduce((a, b) => a + b, 0);
    return e.map((x) => x / sum);
  });
}

function maxDiff(a: number[][], b: number[][]): number {
  assert.equal(a.length, b.length, "row counts");
  let m = 0;
  a.forEach((row, i) => {
    assert.equal(row.length, b[i].length, `row ${i} lengths`);
    row.forEach((x, j) => (m = Math.max(m, Math.abs(x - b[i][j]))));
  });
  return m;
}

browserTest(
  "playground: decode as you type and the attention walk-through, offline",
  [],
  async (t) => {
    const build = await buildPlayground();
    await Deno.mkdir("out/browser/playground", { recursive: true });
    await Deno.writeTextFile(PAGE, build.html);
    const models = Object.keys(build.models);
    assert.ok(models.length > 0, "the playground embeds no model");

    await withFilePage(PAGE, {}, async (page) => {
      await page.waitForSelector("body[data-ready]", { timeout: 60_000 });
      const ready = await page.getAttribute("body", "data-ready");
      assert.equal(ready, "true", `the page failed to start: ${await page.textContent("#status")}`);

      assert.deepEqual(models.filter((m) => !CASES[m]), [], "an embedded model with no case here");
      for (const name of models) {
        const c = CASES[name];
        await t.step(`${name}: typing "${c.input}" shows "${c.expected}"`, async () => {
          await page.selectOption("#model-select", name);
          const first = await page.inputValue("#input");
          await decoded(page, first);
          const before = await heatmap(page);
          assert.equal(before.input, first);
          assert.ok(Object.keys(before.cells).length > 0, "no heatmap cells for the first input");

          await page.fill("#input", "");
          await page.locator("#input").pressSequentially(c.input, { delay: 20 });
          const text = await decoded(page, c.input);
          assert.equal(text, c.expected, `${name}: output for ${JSON.stringify(c.input)}`);
          assert.equal((await page.textContent("#output"))?.trim(), c.expected, "#output text");

          const after = await heatmap(page);
          assert.equal(after.input, c.input, "the heatmap follows the input");
          assert.notDeepEqual(after.cells, before.cells, "the heatmap did not change");
          const steps = await page.locator("#steps li[data-step]").count();
          const rows = new Set(Object.keys(after.cells).map((k) => k.split(",")[0]));
          assert.equal(rows.size, steps, "one revealed heatmap row per decoding step");
          // each revealed row is a softmax over the input: sums to 1 (weights shown to 4 decimals)
          for (const r of rows) {
            const sum = Object.entries(after.cells).filter(([k]) => k.split(",")[0] === r)
              .reduce((a, [, w]) => a + w, 0);
            assert.ok(Math.abs(sum - 1) < 5e-3, `heatmap row ${r} sums to ${sum}`);
          }

          // the views follow too (lib/plot/views' renderer, its data-al hooks): the head view's
          // cross-attention joins the output so far (queries) to the typed input (keys)
          const hv = page.locator("#head-view[data-al-rendered=true]");
          const labels = (side: string) =>
            hv.locator(`g[data-al=token][data-side=${side}] text`).allTextContents();
          const shown = (s: string) => [...s].map((ch) => (ch === " " ? "\u2423" : ch));
          assert.equal(await hv.locator("select[data-al=role]").inputValue(), "0", "cross first");
          assert.deepEqual(await labels("key"), [...shown(c.input), "<eos>"], "head view keys");
          assert.deepEqual(
            await labels("query"),
            ["<bos>", ...shown(c.expected)],
            "head view queries",
          );
          const pressed = () =>
            hv.evaluate((el) =>
              [...el.querySelectorAll("g[data-al=head-toggle][aria-pressed=true]")]
                .map((g) => Number(g.getAttribute("data-head")))
            );
          const drawn = () =>
            hv.evaluate((el) =>
              [
                ...new Set(
                  [...el.querySelectorAll("path[data-al=lines]")].map((p) =>
                    Number(p.getAttribute("data-head"))
                  ),
                ),
              ]
                .sort((a, b) => a - b)
            );
          const all = await pressed();
          assert.ok(all.length > 1, `head view heads ${all}`);
          assert.deepEqual(await drawn(), all, "every head drawn");
          await hv.locator('g[data-al=head-toggle][data-head="0"]').click();
          assert.deepEqual(await drawn(), all.slice(1), "click hides head 0");
          await hv.locator('g[data-al=head-toggle][data-head="0"]').click();
          assert.deepEqual(await drawn(), all, "a second click shows it again");
          await hv.locator('g[data-al=head-toggle][data-head="1"]').dblclick();
          assert.deepEqual(await drawn(), [1], "double-click keeps only head 1");
          for (const h of all) {
            if (h !== 1) await hv.locator(`g[data-al=head-toggle][data-head="${h}"]`).click();
          }
          assert.deepEqual(await pressed(), all, "every head back");
          // hovering a query token draws only its lines
          await hv.locator('g[data-al=token][data-side=query][data-index="1"]').hover();
          const focus = await hv.locator("line[data-al=focus-line]").evaluateAll((ls) =>
            ls.map((l) => l.getAttribute("data-query"))
          );
          assert.ok(focus.length > 0, "hovering query 1 drew no line");
          assert.deepEqual([...new Set(focus)], ["1"], "hovering query 1 draws only its lines");
          // the model view has each layer x head once; the neuron view shows this input
          const thumbs = await page.locator("#model-view g[data-al=thumb]").evaluateAll((gs) =>
            gs.map((g) => `${g.getAttribute("data-layer")},${g.getAttribute("data-head")}`)
          );
          assert.ok(thumbs.length >= all.length, `model view thumbnails ${thumbs}`);
          assert.equal(new Set(thumbs).size, thumbs.length, "a thumbnail twice");
          await page.waitForSelector(
            `#neuron-view[data-input="${c.input}"] g[data-al=neuron-row]`,
            {
              timeout: 30_000,
            },
          );
          await page.mouse.move(0, 0);
          await screenshot(page, `playground/${name}`);
        });
      }

      await t.step(
        "tab 2: moving the temperature slider and the mask recompute the weights",
        async () => {
          await page.click("#tab-attention");
          assert.equal(await page.isVisible("#panel-attention"), true, "tab 2 panel shown");
          assert.equal(await page.isVisible("#panel-decode"), false, "tab 1 panel hidden");
          await page.waitForSelector("#walk-weights td[data-row]");
          const tau0 = Number(await page.getAttribute("#walk", "data-temperature"));
          const w0 = await walkTable(page, "walk-weights");

          await page.focus("#temperature-slider");
          for (let i = 0; i < 20; i++) await page.keyboard.press("ArrowRight"); // +20 steps of 0.05
          await page.waitForFunction(
            (tau) => Number(document.getElementById("walk")!.dataset.temperature) !== tau,
            tau0,
          );
          const tau = Number(await page.getAttribute("#walk", "data-temperature"));
          assert.ok(
            Math.abs(tau - (tau0 + 1)) < 1e-9,
            `temperature ${tau0} -> ${tau}, expected +1`,
          );
          const w1 = await walkTable(page, "walk-weights");
          assert.ok(maxDiff(w0, w1) > 1e-3, "the weights did not change with the temperature");
          const causal = await page.isChecked("#mask-toggle");
          const q = await walkTable(page, "walk-q"), k = await walkTable(page, "walk-k");
          // the page computes in float32; 1e-5 covers its rounding of weights in [0, 1]
          assert.ok(maxDiff(w1, referenceWeights(q, k, tau, causal)) < 1e-5, "weights vs float64");
          if (causal) w1.forEach((row, i) => row.slice(i + 1).forEach((x) => assert.equal(x, 0)));

          await page.click("#mask-toggle");
          await page.waitForFunction(
            (m) => document.getElementById("walk")!.dataset.mask === String(m),
            !causal,
          );
          const w2 = await walkTable(page, "walk-weights");
          assert.ok(
            maxDiff(w2, referenceWeights(q, k, tau, !causal)) < 1e-5,
            "unmasked vs float64",
          );
          await screenshot(page, "playground/attention-walk");
        },
      );
    });
  },
);
