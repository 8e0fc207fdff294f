/// <reference lib="dom" />
/**
 * The attention views (lib/plot/views) in headless Chromium, from one offline
 * page the test writes with each view's `toHtml()` (every web request aborted
 * and counted as a failure). Hooks: the `data-al` attributes documented in
 * lib/plot/views/_renderer.ts.
 *
 * - head view (made-up weights, so each line is known): hovering a query or a
 *   key token draws exactly its lines with their weights, click toggles a
 *   head, double-click keeps only it, the layer selector redraws;
 * - model view (the shipped `reverse` model: encoder, decoder, cross): a
 *   thumbnail per layer × head, a click opens it large, Close closes it;
 * - neuron view (a traced forward of `reverse`): one row per key with
 *   q·k, scaled, masked and softmax equal to a float64 computation from the
 *   view's own q and k, −∞ and 0 where the causal mask blocks;
 * - training scrubber: the slider changes the drawn matrix to that snapshot's;
 * - "Save SVG" / "Save PNG" of each view download an SVG and a PNG;
 * - 512 tokens: a few dozen line paths, and hover still draws one token's lines.
 *
 * Screenshots and the downloads: `out/screenshots/views/`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import type { Locator, Page } from "playwright-core";
import {
  attentionRoles,
  headView,
  modelView,
  neuronView,
  traceAttention,
  trainingScrubber,
} from "../../lib/plot/mod.ts";
import type { NeuronView } from "../../lib/plot/mod.ts";
import { loadCheckpoint, shippedCheckpoint } from "../../train/checkpoint.ts";
import { noGrad } from "../../mod.ts";
import { browserTest, screenshot, SCREENSHOTS, withFilePage } from "./_chromium.ts";

const PAGE = "out/browser/views/views.html";
const SAVED = join(SCREENSHOTS, "views");

// ---------------------------------------------------------------- the views' data

const TOKENS = ["the", "cat", "sat", "on", "the", "mat"];
const T = TOKENS.length;
const HEADS = 3;

/** Made-up weights: in layer l, head h, query i puts 0.7 on key (i + h + l) mod T, 0.2 on the next, 0.025 on the rest. */
function weight(l: number, h: number, i: number, j: number): number {
  const d = (j - i - h - l + 2 * T) % T;
  return d === 0 ? 0.7 : d === 1 ? 0.2 : 0.1 / (T - 2);
}
const layers = [0, 1].map((l) =>
  Array.from(
    { length: HEADS },
    (_, h) =>
      Array.from({ length: T }, (_, i) => Array.from({ length: T }, (_, j) => weight(l, h, i, j))),
  )
);

/** The shipped reverse model on one input, teacher-forced: its roles and a neuron view. */
async function reverseViews() {
  const ck = await loadCheckpoint(shippedCheckpoint("reverse"));
  const input = "a b c d";
  const output = input.split(" ").reverse().join(" ");
  const v = ck.charVocab;
  const src = [...v.encode(input), v.eos];
  const tgt = [v.bos, ...v.encode(output)];
  const sourceTokens = [...input, "<eos>"];
  const targetTokens = ["<bos>", ...output];
  const result = noGrad(() => ck.model.forward(src, tgt));
  const roles = attentionRoles(result, { sourceTokens, targetTokens });
  const traced = noGrad(() => traceAttention(ck.model, () => ck.model.forward(src, tgt)));
  const neuron = neuronView(traced, { sourceTokens, targetTokens, title: "reverse neuron view" });
  return { roles, neuron, sourceTokens, targetTokens, config: ck.config };
}

/** Four snapshots whose maps differ: snapshot s puts 0.9 on key (i + s) mod 4. */
const SNAPSHOTS = [0, 1, 2, 3].map((s) => ({
  step: s * 100,
  loss: 2 / (s + 1),
  weights: Array.from(
    { length: 4 },
    (_, i) => Array.from({ length: 4 }, (_, j) => (j === (i + s) % 4 ? 0.7 : 0.1)),
  ),
}));

/** A 512-token self-attention, 2 heads: each query spread over its 40 nearest keys. */
function longAttention(n: number): number[][][] {
  return [0, 1].map((h) =>
    Array.from({ length: n }, (_, i) => {
      const row = Array.from({ length: n }, (_, j) => Math.exp(-Math.abs(j - i - h) / 4));
      const sum = row.reduce((a, b) => a + b, 0);
      return row.map((x) => x / sum);
    })
  );
}

// ---------------------------------------------------------------- page helpers

/** The focus lines drawn now, as sorted "head query key weight" strings. */
function focusLines(view: Locator): Promise<string[]> {
  return view.evaluate((el) =>
    [...el.querySelectorAll("line[data-al=focus-line]")].map((l) =>
      [
        l.getAttribute("data-head"),
        l.getAttribute("data-query"),
        l.getAttribute("data-key"),
        l.getAttribute("data-weight"),
      ]
        .join(" ")
    ).sort()
  );
}

/** Heads that have line paths in the main canvas. */
function drawnHeads(view: Locator): Promise<number[]> {
  return view.evaluate((el) =>
    [
      ...new Set([...el.querySelectorAll("svg[data-al=canvas] path[data-al=lines]")].map((p) =>
        Number(p.getAttribute("data-head"))
      )),
    ]
      .sort((a, b) =>
        a - b
      )
  );
}

function pressedHeads(view: Locator): Promise<number[]> {
  return view.evaluate((el) =>
    [...el.querySelectorAll("g[data-al=head-toggle][aria-pressed=true]")].map((g) =>
      Number(g.getAttribute("data-head"))
    )
  );
}

/** Clicks a save button and checks the download: its name, type and first bytes. */
async function checkSaves(page: Page, view: Locator, name: string): Promise<void> {
  for (const [button, ext] of [["save-svg", "svg"], ["save-png", "png"]] as const) {
    const [download] = await Promise.all([
      page.waitForEvent("download", { timeout: 30_000 }),
      view.locator(`button[data-al=${button}]`).first().click(),
    ]);
    const file = download.suggestedFilename();
    assert.ok(file.endsWith(`.${ext}`), `${name}: ${button} saved ${file}`);
    const path = join(SAVED, `${name}.${ext}`);
    await download.saveAs(path);
    const bytes = await Deno.readFile(path);
    if (ext === "svg") {
      const text = new TextDecoder().decode(bytes);
      assert.match(
        text,
        /^<\?xml[^>]*>\s*<svg[^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/,
        `${name}: SVG header`,
      );
      assert.ok(text.trimEnd().endsWith("</svg>"), `${name}: SVG not closed`);
      assert.ok(!text.includes("data-al-hit"), `${name}: the SVG keeps the invisible hit boxes`);
    } else {
      assert.deepEqual(
        [...bytes.slice(0, 8)],
        [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a],
        `${name}: PNG signature`,
      );
      const dv = new DataView(bytes.buffer, bytes.byteOffset);
      const [w, h] = [dv.getUint32(16), dv.getUint32(20)];
      const svgW = Number(await view.locator("svg[data-al=canvas]").first().getAttribute("width"));
      assert.equal(w, Math.ceil(2 * svgW), `${name}: PNG width is twice the drawing's`);
      assert.ok(h > 0, `${name}: PNG height`);
    }
  }
}

function softmax(xs: number[]): number[] {
  const m = Math.max(...xs);
  const e = xs.map((x) => (x === -Infinity ? 0 : Math.exp(x - m)));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}

// ---------------------------------------------------------------- the test

browserTest("attention views: head, model, neuron, scrubber and saving, offline", [], async (t) => {
  const rev = await reverseViews();
  const views: Record<string, { html: string }> = {
    head: { html: headView(layers, { labels: TOKENS, title: "made-up head view" }).toHtml() },
    model: { html: modelView(rev.roles, { title: "reverse model view" }).toHtml() },
    neuron: { html: rev.neuron.toHtml() },
    scrubber: {
      html: trainingScrubber(SNAPSHOTS, {
        labels: ["w", "x", "y", "z"],
        title: "made-up scrubber",
        initial: 3,
      })
        .toHtml(),
    },
    long: { html: headView([longAttention(512)], { title: "512 tokens" }).toHtml() },
  };
  const body = Object.entries(views).map(([id, v]) => `<section id="${id}">\n${v.html}\n</section>`)
    .join("\n");
  await Deno.mkdir("out/browser/views", { recursive: true });
  await Deno.mkdir(SAVED, { recursive: true });
  await Deno.writeTextFile(
    PAGE,
    `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>views</title></head>\n<body>\n${body}\n</body></html>\n`,
  );

  await withFilePage(PAGE, { viewport: { width: 1280, height: 1000 } }, async (page) => {
    for (const id of Object.keys(views)) {
      await page.waitForSelector(`#${id} [data-al-rendered=true] svg[data-al=canvas]`, {
        timeout: 30_000,
      });
    }

    await t.step("head view: hover, click, double-click, layer", async () => {
      const view = page.locator("#head [data-al-rendered=true]");
      assert.equal(await view.locator("[data-al-view=head]").count(), 1);
      const all = [0, 1, 2];
      assert.deepEqual(await pressedHeads(view), all, "every head shown at first");
      assert.deepEqual(await drawnHeads(view), all);
      assert.deepEqual(await focusLines(view), [], "no focus lines before hovering");

      // hover query 2: its 6 lines in each head, with their weights
      const expected = (q: number | null, k: number | null, heads: number[], l = 0) =>
        heads.flatMap((h) =>
          Array.from({ length: T }, (_, i) => i).flatMap((i) =>
            Array.from({ length: T }, (_, j) => j)
              .filter((j) => (q === null || i === q) && (k === null || j === k))
              .map((j) => `${h} ${i} ${j} ${weight(l, h, i, j).toFixed(3)}`)
          )
        ).sort();
      await view.locator('g[data-al=token][data-side=query][data-index="2"]').hover();
      assert.deepEqual(await focusLines(view), expected(2, null, all), "lines of query 2");
      assert.equal(
        await view.locator('g[data-al=token][data-side=query][data-index="2"]').getAttribute(
          "data-focused",
        ),
        "true",
      );
      assert.equal(
        await view.locator("g[data-al=line-layer]").getAttribute("opacity"),
        "0.12",
        "others dimmed",
      );
      await screenshot(page, "views/head-hover");
      await view.locator('g[data-al=token][data-side=key][data-index="4"]').hover();
      assert.deepEqual(await focusLines(view), expected(null, 4, all), "lines into key 4");
      await page.mouse.move(0, 0);
      assert.deepEqual(await focusLines(view), [], "leaving the token clears the focus");
      assert.equal(await view.locator("g[data-al=line-layer]").getAttribute("opacity"), "1");

      // click toggles head 1 off and on; double-click keeps only head 2
      await view.locator('g[data-al=head-toggle][data-head="1"]').click();
      assert.deepEqual(await pressedHeads(view), [0, 2], "head 1 toggled off");
      assert.deepEqual(await drawnHeads(view), [0, 2], "head 1's lines gone");
      await view.locator('g[data-al=token][data-side=query][data-index="0"]').hover();
      assert.deepEqual(await focusLines(view), expected(0, null, [0, 2]), "hover without head 1");
      await view.locator('g[data-al=head-toggle][data-head="1"]').click();
      assert.deepEqual(await pressedHeads(view), all, "head 1 back");
      await view.locator('g[data-al=head-toggle][data-head="2"]').dblclick();
      assert.deepEqual(await pressedHeads(view), [2], "double-click keeps only head 2");
      assert.deepEqual(await drawnHeads(view), [2]);

      // layer 1: other lines
      await view.locator('g[data-al=head-toggle][data-head="0"]').click();
      await view.locator('g[data-al=head-toggle][data-head="1"]').click();
      assert.deepEqual(await pressedHeads(view), all);
      await view.locator("select[data-al=layer]").selectOption("1");
      assert.match(await view.locator("svg[data-al=canvas]").textContent() ?? "", /layer 1 of 2/);
      await view.locator('g[data-al=token][data-side=query][data-index="5"]').hover();
      assert.deepEqual(await focusLines(view), expected(5, null, all, 1), "layer 1, query 5");
      await page.mouse.move(0, 0);
      await checkSaves(page, view, "head");
    });

    await t.step("model view: every layer × head of each role; click opens one large", async () => {
      const view = page.locator("#model [data-al-rendered=true]");
      const { numEncoderLayers: le, numDecoderLayers: ld, numHeads: h } = rev.config;
      const roles = view.locator("select[data-al=role] option");
      assert.deepEqual(await roles.allTextContents(), ["encoder", "decoder", "cross"]);
      assert.equal(await view.locator("g[data-al=thumb]").count(), le! * h);
      assert.equal(await view.locator("[data-al=detail]").count(), 0, "no detail before a click");
      await view.locator('g[data-al=thumb][data-layer="1"][data-head="2"]').click();
      const detail = view.locator("[data-al=detail]");
      assert.equal(await detail.getAttribute("data-layer"), "1");
      assert.equal(await detail.getAttribute("data-head"), "2");
      const canvas = detail.locator("svg[data-al=detail-canvas]");
      assert.ok(
        (await canvas.locator('path[data-al=lines][data-head="2"]').count()) > 0,
        "the large head has lines",
      );
      assert.deepEqual(
        await canvas.locator("g[data-al=token][data-side=key] text").allTextContents(),
        rev.sourceTokens,
        "the large head's key labels",
      );
      await canvas.locator('g[data-al=token][data-side=query][data-index="1"]').hover();
      const lines = await focusLines(detail);
      assert.ok(
        lines.length > 0 && lines.every((l) => l.startsWith("2 1 ")),
        `hover in the detail: ${lines}`,
      );
      await page.mouse.move(0, 0);
      await screenshot(page, "views/model-detail");
      await detail.locator("button[data-al=close]").click();
      assert.equal(await view.locator("[data-al=detail]").count(), 0, "Close closes it");

      await view.locator("select[data-al=role]").selectOption({ label: "cross" });
      assert.equal(
        await view.locator("g[data-al=thumb]").count(),
        ld! * h,
        "cross: decoder layers × heads",
      );
      await view.locator('g[data-al=thumb][data-layer="0"][data-head="0"]').click();
      assert.deepEqual(
        await view.locator("[data-al=detail] g[data-al=token][data-side=query] text")
          .allTextContents(),
        rev.targetTokens,
        "cross: queries are the target tokens",
      );
      await checkSaves(page, view, "model");
    });

    await t.step("neuron view: q·k, scaled, masked, softmax per key", async () => {
      const view = page.locator("#neuron [data-al-rendered=true]");
      const roles = await view.locator("select[data-al=role] option").allTextContents();
      assert.deepEqual(roles, ["encoder", "decoder", "cross"]);
      const read = () =>
        view.evaluate((el) =>
          [...el.querySelectorAll("g[data-al=neuron-row]")].map((g) => {
            const v = (c: string) =>
              Number(g.querySelector(`[data-al=cell][data-col=${c}]`)!.getAttribute("data-value"));
            return {
              key: Number(g.getAttribute("data-key")),
              dot: v("dot"),
              scaled: v("scaled"),
              masked: v("masked"),
              softmax: v("softmax"),
              kCells: g.querySelectorAll("[data-al=cell][data-col=k]").length,
              qkCells: g.querySelectorAll("[data-al=cell][data-col=qk]").length,
            };
          })
        );
      const check = async (
        role: string,
        layer: number,
        head: number,
        query: number,
        keys: number,
      ) => {
        await view.locator("select[data-al=role]").selectOption({ label: role });
        await view.locator("select[data-al=layer]").selectOption(String(layer));
        await view.locator("select[data-al=head]").selectOption(String(head));
        await view.locator("select[data-al=query]").selectOption(String(query));
        const rows = await read();
        assert.equal(rows.length, keys, `${role}: one row per key`);
        const c = (rev.neuron as NeuronView).columns({ role, layer, head, query });
        const d = c.query.length;
        // float64 from the view's own q and k (float32 inputs): q·k, /√d, mask, softmax
        const dot = c.keys.map((k) => k.reduce((a, x, m) => a + x * c.query[m], 0));
        const soft = softmax(c.masked);
        rows.forEach((r, j) => {
          assert.equal(r.key, j);
          assert.equal(r.kCells, d, "k column: one cell per dimension");
          assert.equal(r.qkCells, d, "q∘k column: one cell per dimension");
          assert.ok(
            Math.abs(r.dot - dot[j]) <= 1e-4 * (1 + Math.abs(dot[j])),
            `${role} key ${j}: q·k ${r.dot} vs ${dot[j]}`,
          );
          assert.ok(
            Math.abs(r.dot / Math.sqrt(d) - r.scaled) <= 1e-4 * (1 + Math.abs(r.scaled)),
            `${role} key ${j}: scaled`,
          );
          if (r.masked !== -Infinity) {
            assert.ok(Math.abs(r.masked - r.scaled) < 1e-9, `${role} key ${j}: masked = scaled`);
          }
          assert.ok(
            Math.abs(r.softmax - soft[j]) < 1e-5,
            `${role} key ${j}: softmax ${r.softmax} vs ${soft[j]}`,
          );
        });
        return rows;
      };
      const s = rev.sourceTokens.length, tt = rev.targetTokens.length;
      await check("encoder", 0, 1, 2, s);
      const dec = await check("decoder", 1, 3, 2, tt);
      // causal: keys after query 2 are −∞ before the softmax and 0 after it
      dec.forEach((r) => {
        if (r.key > 2) {
          assert.ok(r.masked === -Infinity && r.softmax === 0, `decoder key ${r.key} not masked`);
        } else assert.ok(r.masked > -Infinity && r.softmax > 0, `decoder key ${r.key} masked`);
      });
      const cross = await check("cross", 1, 0, 3, s);
      assert.ok(
        Math.abs(cross.reduce((a, r) => a + r.softmax, 0) - 1) < 1e-5,
        "cross softmax sums to 1",
      );
      assert.match(
        await view.locator("svg[data-al=canvas]").textContent() ?? "",
        /cross attention, layer 1, head 0, query 3/,
      );
      await screenshot(page, "views/neuron");
      await checkSaves(page, view, "neuron");
    });

    await t.step("training scrubber: the slider shows each snapshot's matrix", async () => {
      const view = page.locator("#scrubber [data-al-rendered=true]");
      const matrix = () =>
        view.evaluate((el) => {
          const m: number[][] = [];
          for (const r of el.querySelectorAll("rect[data-al=cell][data-row]")) {
            (m[Number(r.getAttribute("data-row"))] ??= [])[Number(r.getAttribute("data-col"))] =
              Number(r.getAttribute("data-value"));
          }
          return m;
        });
      const slider = view.locator("input[data-al=slider]");
      const root = view.locator("[data-al-view=scrubber]");
      assert.equal(await root.getAttribute("data-al-index"), "3", "the initial snapshot");
      assert.deepEqual(await matrix(), SNAPSHOTS[3].weights);
      await slider.focus();
      await page.keyboard.press("Home");
      assert.equal(await root.getAttribute("data-al-index"), "0");
      assert.deepEqual(await matrix(), SNAPSHOTS[0].weights, "snapshot 0 drawn");
      await page.keyboard.press("ArrowRight");
      assert.equal(await root.getAttribute("data-al-index"), "1");
      assert.deepEqual(await matrix(), SNAPSHOTS[1].weights, "snapshot 1 drawn");
      assert.match(
        await view.locator("[data-al=step-label]").textContent() ?? "",
        /^step 100, loss 1\.0000 \(2 of 4\)/,
      );
      await screenshot(page, "views/scrubber");
      await checkSaves(page, view, "scrubber");
    });

    await t.step(
      "512 tokens: a few paths per head, hover still draws one token's lines",
      async () => {
        const view = page.locator("#long [data-al-rendered=true]");
        const paths = await view.locator("path[data-al=lines]").count();
        assert.ok(
          paths <= 2 * 8,
          `${paths} line paths for 2 heads (at most 8 opacity buckets each)`,
        );
        assert.equal(await view.locator("g[data-al=token]").count(), 2 * 512);
        await view.locator('g[data-al=token][data-side=query][data-index="300"]').hover();
        const lines = await focusLines(view);
        assert.ok(
          lines.length > 0 && lines.length <= 2 * 16,
          `${lines.length} focus lines (top 16 per head)`,
        );
        assert.ok(lines.every((l) => l.split(" ")[1] === "300"), "only query 300's lines");
        await page.mouse.move(0, 0);
      },
    );
    await screenshot(page, "views/page");
  });
});
