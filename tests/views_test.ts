// The attention views (lib/plot/views): spec shapes, sparse rows against a brute-force top-k,
// escaping of hostile labels, errors for mismatched shapes, the neuron view's numbers against
// float64 loops over the trace, SVG well-formedness and the 512-token size bound. The browser
// behaviour (hover, click) is tested in headless Chromium under tests/browser/.
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  attentionRoles,
  headView,
  jupyterDisplay,
  modelView,
  neuronView,
  traceAttention,
  trainingScrubber,
  viewsRendererJs,
} from "../lib/plot/mod.ts";
import type { HeadViewSpec, NeuronHeadSpec, ScrubberSpec } from "../lib/plot/mod.ts";
import { _float32Json, _neuronColumns } from "../lib/plot/views/_neuron_math.ts";
import { seq2seq } from "../lib/models/seq2seq.ts";
import { gpt } from "../lib/models/gpt.ts";
import { multiHeadAttention } from "../lib/models/multi_head_attention.ts";
import { causalMask, paddingMask } from "../lib/attention/masks.ts";
import { randn, type Tensor } from "../lib/tensor/tensor.ts";
import { Rng } from "../lib/tensor/rng.ts";
import { checkXml } from "./_xml.ts";
import { reverseTask } from "../train/tasks.ts";
import { trainTask } from "../train/trainer.ts";

// ---------------------------------------------------------------------------------------- helpers

/** Random attention weights [H, Tq, Tk]: each row a softmax of random scores. */
function randomHeads(h: number, tq: number, tk: number, rng: Rng, sharp = 1): number[][][] {
  return Array.from({ length: h }, () =>
    Array.from({ length: tq }, () => {
      const e = Array.from({ length: tk }, () => Math.exp(sharp * rng.normal()));
      const z = e.reduce((a, b) => a + b, 0);
      return e.map((v) => v / z);
    }));
}

/** The kept (key, milli) pairs of one row, brute force: all weights >= min that round above 0, top k. */
function bruteRow(row: number[], topK: number, minWeight: number): number[] {
  const keep = row.map((w, j) => ({ w, j })).filter((e) =>
    e.w >= minWeight && Math.round(e.w * 1000) > 0
  );
  keep.sort((a, b) => b.w - a.w || a.j - b.j);
  return keep.slice(0, topK).sort((a, b) => a.j - b.j).flatMap((
    e,
  ) => [e.j, Math.round(e.w * 1000)]);
}

const HOSTILE = `</script><script>alert("x")</script>`;
const QUOTES = `"a" & 'b' <c>`;

/** The spec embedded in a view fragment's drawing script (`var spec = …;`). */
function embeddedSpec(html: string): unknown {
  const m = /var spec = (.*);\n/.exec(html);
  assert.ok(m, "the fragment holds `var spec = …;`");
  return JSON.parse(m[1]);
}

// ---------------------------------------------------------------------------------------- head view

Deno.test("headView() writes one sparse map per role, layer and head", async (t) => {
  const rng = new Rng(1);
  const layers = [randomHeads(3, 5, 7, rng), randomHeads(3, 5, 7, rng)];
  await t.step("every key is kept up to 64 keys, weights in thousandths, keys ascending", () => {
    const view = headView(layers, { queryLabels: ["a", "b", "c", "d", "e"] });
    const spec = view.spec as HeadViewSpec;
    assert.equal(spec.view, "head");
    assert.equal(spec.roles.length, 1);
    assert.equal(spec.roles[0].layers.length, 2);
    assert.equal(spec.roles[0].layers[1].length, 3);
    assert.deepEqual(spec.kept, { topK: 7, minWeight: 0.001 });
    assert.deepEqual(spec.roles[0].keyLabels, ["0", "1", "2", "3", "4", "5", "6"]);
    for (let l = 0; l < 2; l++) {
      for (let h = 0; h < 3; h++) {
        for (let i = 0; i < 5; i++) {
          assert.deepEqual(spec.roles[0].layers[l][h].rows[i], bruteRow(layers[l][h][i], 7, 0.001));
        }
      }
    }
    assert.deepEqual(spec.initial, { role: 0, layer: 0, heads: [0, 1, 2] });
    assert.equal(spec.headColors.length, 3);
    assert.equal(new Set(spec.headColors).size, 3);
  });
  await t.step("topK and minWeight select the largest weights per query", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.double({ min: 0, max: 0.5, noNaN: true }),
        fc.integer({ min: 0, max: 1000 }),
        (topK, minWeight, seed) => {
          const heads = randomHeads(2, 4, 9, new Rng(seed), 2);
          const spec = headView([heads], { topK, minWeight }).spec as HeadViewSpec;
          heads.forEach((head, h) =>
            head.forEach((row, i) =>
              assert.deepEqual(spec.roles[0].layers[0][h].rows[i], bruteRow(row, topK, minWeight))
            )
          );
        },
      ),
      { numRuns: 100 },
    );
  });
  await t.step("initial role by name, layer and heads", () => {
    const roles = [
      { name: "encoder", layers: [randomHeads(2, 3, 3, rng)] },
      { name: "cross", layers: [randomHeads(2, 4, 3, rng), randomHeads(2, 4, 3, rng)] },
    ];
    const spec = headView(roles, { role: "cross", layer: 1, heads: [1] }).spec as HeadViewSpec;
    assert.deepEqual(spec.initial, { role: 1, layer: 1, heads: [1] });
    assert.equal(spec.roles[1].queryLabels.length, 4);
  });
});

Deno.test("headView() and modelView() report bad input with clear errors", async (t) => {
  const rng = new Rng(2);
  await t.step("layers of different shapes", () => {
    assert.throws(
      () => headView([randomHeads(2, 3, 3, rng), randomHeads(2, 3, 4, rng)]),
      (e: Error) =>
        e instanceof RangeError &&
        /^headView: attention\.layers\[1\] has shape \[2, 3, 4\], layers\[0\] has \[2, 3, 3\]; every layer of a role must have the same \[H, Tq, Tk\]$/
          .test(e.message),
    );
    assert.throws(
      () => modelView([randomHeads(2, 3, 3, rng), randomHeads(3, 3, 3, rng)]),
      /^RangeError: modelView: attention\.layers\[1\] has shape \[3, 3, 3\]/,
    );
  });
  await t.step("a batch of 2 is not one sequence's heads", () => {
    const batch = [randomHeads(1, 2, 2, rng), randomHeads(1, 2, 2, rng)]; // [B=2, H=1, 2, 2]
    assert.throws(
      () => headView([batch as never]),
      /^RangeError: headView: attention\.layers\[0\] must have shape \[H, Tq, Tk\] or \[1, H, Tq, Tk\] \(leading axes of size 1 are dropped\), got \[2, 1, 2, 2\]/,
    );
  });
  await t.step("labels that do not match their axis", () => {
    assert.throws(
      () => headView([randomHeads(1, 3, 3, rng)], { labels: ["a", "b"] }),
      /^RangeError: headView: attention\.queryLabels must have one label per query: got 2 labels for 3 queries$/,
    );
    assert.throws(
      () => headView([{ name: "cross", layers: [randomHeads(1, 2, 3, rng)], keyLabels: ["x"] }]),
      /headView: attention\[0\]\.keyLabels must have one label per key: got 1 labels for 3 keys/,
    );
  });
  await t.step("weights that are NaN or outside [0, 1] are named, not drawn", () => {
    const bad = randomHeads(2, 2, 2, rng);
    bad[1][0][1] = NaN;
    assert.throws(
      () => headView([bad]),
      /^RangeError: headView: attention\.layers\[0\] head 1 has weight NaN at query 0, key 1; attention weights must be finite numbers in \[0, 1\]$/,
    );
    bad[1][0][1] = 1.5;
    assert.throws(() => headView([bad]), /head 1 has weight 1\.5 at query 0, key 1/);
  });
  await t.step("options out of range", () => {
    const ok = [randomHeads(2, 2, 2, rng)];
    assert.throws(
      () => headView(ok, { layer: 1 }),
      /headView: options\.layer must be an integer in \[0, 1\)/,
    );
    assert.throws(
      () => headView(ok, { heads: [2] }),
      /headView: options\.heads\[0\] must be an integer in \[0, 2\)/,
    );
    assert.throws(
      () => headView(ok, { role: "cross" }),
      /options\.role "cross" is not one of "attention"/,
    );
    assert.throws(
      () => headView(ok, { topK: 0 }),
      /options\.topK must be a positive integer, got 0/,
    );
    assert.throws(
      () => headView(ok, { minWeight: 1 }),
      /options\.minWeight must be in \[0, 1\), got 1/,
    );
    assert.throws(() => headView([]), TypeError);
    assert.throws(() => headView([ok[0], { name: "x", layers: ok }] as never), /mixes roles/);
  });
});

// ---------------------------------------------------------------------------------------- roles

const smallSeq2seq = () =>
  seq2seq({
    srcVocab: 7,
    tgtVocab: 7,
    dModel: 8,
    numHeads: 2,
    numEncoderLayers: 2,
    numDecoderLayers: 2,
    dFF: 16,
    maxLen: 8,
    padToken: 0,
    seed: 3,
  });

Deno.test("attentionRoles() groups a model's maps by role with their labels", async (t) => {
  const model = smallSeq2seq();
  await t.step("encoder, decoder and cross of a batched Seq2Seq, one sequence of the batch", () => {
    const result = model.forward([[1, 2, 3, 0], [4, 5, 6, 1]], [[0, 3, 4], [0, 2, 2]]);
    const roles = attentionRoles(result, {
      sourceTokens: ["a", "b", "c", "d"],
      targetTokens: ["<s>", "x", "y"],
      batch: 1,
    });
    assert.deepEqual(roles.map((r) => r.name), ["encoder", "decoder", "cross"]);
    assert.deepEqual(roles[2].queryLabels, ["<s>", "x", "y"]);
    assert.deepEqual(roles[2].keyLabels, ["a", "b", "c", "d"]);
    const cross = roles[2].layers[1] as Tensor;
    assert.deepEqual(cross.shape, [2, 3, 4]);
    const full = result.decoderCrossWeights[1];
    // sequence 1 of [B=2, H=2, T=3, S=4]: element (h, i, j) is full[1, h, i, j]
    assert.equal(cross.data[1 * 12 + 2 * 4 + 3], full.get(1, 1, 2, 3));
    const view = headView(roles);
    assert.equal((view.spec as HeadViewSpec).roles.length, 3);
  });
  await t.step("a GPT's self-attention and a lone attention's weights", () => {
    const m = gpt({ vocabSize: 5, blockSize: 8, dModel: 8, numHeads: 2, numLayers: 3 });
    const roles = attentionRoles(m.forward([1, 2, 3]), { tokens: ["a", "b", "c"] });
    assert.deepEqual(roles.map((r) => [r.name, r.layers.length]), [["self", 3]]);
    const mha = multiHeadAttention({ dModel: 4, numHeads: 2 });
    const x = randn([3, 4], new Rng(0));
    assert.deepEqual(attentionRoles(mha.forward(x, x, x)).map((r) => r.name), ["attention"]);
  });
  await t.step("errors: no maps, batch out of range", () => {
    const out = model.forward([1, 2], [0, 3], { needWeights: false });
    assert.throws(
      () => attentionRoles(out),
      /^RangeError: attentionRoles: result holds no attention maps \(keys: output\)/,
    );
    const batched = model.forward([[1, 2]], [[0, 3]]);
    assert.throws(
      () => attentionRoles(batched, { batch: 1 }),
      /attentionRoles: options\.batch must be in \[0, 1\) for result\.encoderSelfWeights\[0\] of shape \[1, 2, 2, 2\], got 1/,
    );
  });
});

// ---------------------------------------------------------------------------------------- escaping

Deno.test("views escape hostile labels in HTML, script JSON and SVG", async (t) => {
  const rng = new Rng(4);
  const labels = [HOSTILE, QUOTES, "\u2028", "\u0001"];
  const views = {
    head: headView([randomHeads(2, 4, 4, rng)], { labels, title: HOSTILE }),
    model: modelView([randomHeads(2, 4, 4, rng)], { labels, title: QUOTES }),
    scrubber: trainingScrubber([{ step: 0, weights: randomHeads(1, 4, 4, rng)[0] }], {
      labels,
      title: HOSTILE,
    }),
  };
  const mha = multiHeadAttention({ dModel: 4, numHeads: 2 });
  const x = randn([4, 4], rng);
  const traced = traceAttention(mha, () => mha.forward(x, x, x));
  const all = { ...views, neuron: neuronView(traced, { tokens: labels, title: HOSTILE }) };
  for (const [name, view] of Object.entries(all)) {
    await t.step(`${name}: no label ends a script or opens a tag`, () => {
      const html = view.toHtml();
      // The only script ends are the fragment's own: as many "</script" as "<script".
      assert.equal(html.split("</script").length, html.split("<script").length);
      assert.ok(!html.includes(HOSTILE) && !html.includes("<c>"));
      const spec = embeddedSpec(html) as { title: string };
      assert.deepEqual(spec, JSON.parse(JSON.stringify(view.spec)));
      assert.equal(spec.title, view.spec.title);
      const svg = view.toSvg();
      checkXml(svg);
      assert.ok(!svg.includes("<script") && !svg.includes(HOSTILE));
    });
  }
  await t.step("a whitespace token keeps its text and gets a visible mark", () => {
    const view = headView([[[[1, 0], [0, 1]]]], { labels: [" ", "\n"] });
    assert.deepEqual((view.spec as HeadViewSpec).roles[0].queryLabels, [" ", "\n"]);
    const svg = view.toSvg();
    // the text stays exact; a bracket mark is drawn under each whitespace token (2 per column)
    assert.ok(svg.includes("> </text>") && svg.includes(">\n</text>"));
    assert.equal((svg.match(/data-al-mark=""/g) ?? []).length, 4);
  });
  await t.step("labels round-trip exactly through the embedded JSON", () => {
    const spec = embeddedSpec(views.head.toHtml()) as HeadViewSpec;
    assert.deepEqual(spec.roles[0].queryLabels, labels);
  });
  await t.step("the renderer sets text with textContent, never innerHTML or eval", () => {
    const js = viewsRendererJs();
    assert.ok(
      !/innerHTML|outerHTML|insertAdjacentHTML|eval\(|new Function|document\.write/.test(js),
    );
    assert.ok(!/<\/script/i.test(js));
    assert.ok(!/https?:\/\/(?!www\.w3\.org\/2000\/svg)/.test(js), "no URL but the SVG namespace");
  });
});

// ---------------------------------------------------------------------------------------- display

Deno.test("AttentionView's notebook bundle: HTML over a static SVG, renderer once", async (t) => {
  const rng = new Rng(5);
  const a = headView([randomHeads(2, 3, 3, rng)]);
  const b = modelView([randomHeads(2, 3, 3, rng)]);
  const first = a[jupyterDisplay]();
  const second = b[jupyterDisplay]();
  await t.step("three MIME types; the SVG is toSvg() and sits inside the HTML", () => {
    assert.deepEqual(Object.keys(first).sort(), ["image/svg+xml", "text/html", "text/plain"]);
    assert.equal(first["image/svg+xml"], a.toSvg());
    assert.ok(first["text/html"].includes(a.toSvg()));
    assert.match(
      first["text/plain"],
      /^AttentionView\(head: attention, 1 layers, 2 heads, 3×3 tokens\)$/,
    );
  });
  await t.step("the renderer rides with one display of the session only", () => {
    const js = viewsRendererJs();
    const n = (s: string) => s.split(js).length - 1;
    assert.equal(n(first["text/html"]) + n(second["text/html"]) <= 1, true);
    assert.equal(n(a.toHtml()), 1, "a standalone fragment always carries it");
    assert.equal(n(b.toHtml({ page: true })), 1);
  });
  await t.step("a page is a whole offline document", () => {
    const page = a.toHtml({ page: true, title: QUOTES });
    assert.ok(page.startsWith("<!doctype html>"));
    assert.ok(page.includes("<title>&quot;a&quot; &amp; &#39;b&#39; &lt;c&gt;</title>"));
    assert.ok(!/<script[^>]*\ssrc=/.test(page) && !/<link/.test(page) && !page.includes("https:"));
  });
});

// ---------------------------------------------------------------------------------------- neuron view

/** Reference columns from the trace tensors, float64 loops, independent of the view. */
function referenceColumns(
  q: Tensor,
  k: Tensor,
  b: number,
  h: number,
  hk: number,
  i: number,
  allowed: (j: number) => boolean,
) {
  const [, , tq, dh] = q.shape;
  const tk = k.shape[2];
  void tq;
  const dot: number[] = [];
  for (let j = 0; j < tk; j++) {
    let s = 0;
    for (let d = 0; d < dh; d++) s += q.get(b, h, i, d) * k.get(b, hk, j, d);
    dot.push(s);
  }
  const scaled = dot.map((v) => v / Math.sqrt(dh));
  const masked = scaled.map((v, j) => (allowed(j) ? v : -Infinity));
  const m = Math.max(...masked);
  const e = masked.map((v) => (v === -Infinity ? 0 : Math.exp(v - m)));
  const z = e.reduce((a, c) => a + c, 0);
  return { dot, scaled, masked, softmax: e.map((v) => (z > 0 ? v / z : 0)) };
}

function close(actual: number, expected: number, atol: number, rtol: number, what: string) {
  if (actual === expected) return;
  assert.ok(
    Math.abs(actual - expected) <= atol + rtol * Math.abs(expected),
    `${what}: ${actual} vs ${expected} (atol ${atol}, rtol ${rtol})`,
  );
}

Deno.test("neuronView() numbers match float64 loops over the trace", async (t) => {
  await t.step("Seq2Seq, padded batch: encoder, decoder (causal) and cross", () => {
    const model = smallSeq2seq();
    // sequence 1 has source length 3 of 5: keys 3, 4 are padding (pad id 0)
    const src = [[1, 2, 3, 4, 5], [6, 2, 3, 0, 0]];
    const tgt = [[1, 3, 4, 5], [1, 5, 6, 2]];
    const traced = traceAttention(model, () => model.forward(src, tgt));
    const result = traced.result as ReturnType<typeof model.forward>;
    const view = neuronView(traced, { batch: 1 });
    assert.deepEqual(view.spec.roles.map((r) => r.name), ["encoder", "decoder", "cross"]);
    const weights = {
      encoder: result.encoderSelfWeights,
      decoder: result.decoderSelfWeights,
      cross: result.decoderCrossWeights,
    };
    for (const rec of traced.records) {
      const { query, key } = rec.trace;
      const tq = query.shape[2], tk = key.shape[2];
      const allowed = (i: number, j: number) => rec.role === "decoder" ? j <= i : j < 3; // causal; else the 3 real source tokens
      for (let h = 0; h < 2; h++) {
        for (let i = 0; i < tq; i++) {
          const c = view.columns({ role: rec.role, layer: rec.layer, head: h, query: i });
          const ref = referenceColumns(query, key, 1, h, h, i, (j) => allowed(i, j));
          assert.equal(c.dot.length, tk);
          for (let j = 0; j < tk; j++) {
            const at = `${rec.role} L${rec.layer} h${h} q${i} k${j}`;
            // q·k: the same float32 inputs, both float64 sums in the same order: equal
            assert.equal(c.dot[j], ref.dot[j], `${at} q·k`);
            for (let d = 0; d < c.query.length; d++) {
              assert.equal(c.products[j][d], query.get(1, h, i, d) * key.get(1, h, j, d));
            }
            // scaled: the library's float32 scores against q·k/√Dh in float64
            close(c.scaled[j], ref.scaled[j], 1e-6, 1e-5, `${at} scaled`);
            assert.equal(c.masked[j] === -Infinity, !allowed(i, j), `${at} masked`);
            close(c.softmax[j], ref.softmax[j], 1e-6, 1e-5, `${at} softmax`);
            // and against the model's own (float32) attention weights
            const w = weights[rec.role as keyof typeof weights][rec.layer].get(1, h, i, j);
            close(c.softmax[j], w, 1e-6, 1e-5, `${at} softmax vs model weights`);
          }
        }
      }
    }
  });
  await t.step("grouped-query attention with a bias and a fully masked query", () => {
    const mha = multiHeadAttention({ dModel: 8, numHeads: 4, numKvHeads: 2, seed: 2 });
    const rng = new Rng(7);
    const x = randn([1, 3, 8], rng);
    const bias = randn([1, 4, 3, 3], rng);
    const m = causalMask(3); // [3, 3]
    // query 0 may attend to nothing: combine causal with a mask that blocks key 0 for query 0
    const block = m.data.slice();
    block[0] = 0;
    const mask = new (m.constructor as typeof import("../lib/tensor/mask.ts").Mask)(block, [3, 3]);
    const traced = traceAttention(mha, () => mha.forward(x, x, x, { mask, bias }));
    const view = neuronView(traced);
    assert.equal(view.spec.roles[0].bias, true);
    const { query, key, scores } = traced.records[0].trace;
    for (let h = 0; h < 4; h++) {
      const hk = Math.floor((h * 2) / 4);
      for (let i = 0; i < 3; i++) {
        const c = view.columns({ head: h, query: i });
        const ref = referenceColumns(query, key, 0, h, hk, i, (j) => block[i * 3 + j] === 1);
        for (let j = 0; j < 3; j++) {
          assert.equal(c.dot[j], ref.dot[j]);
          close(c.scaled[j], ref.scaled[j] + bias.get(0, h, i, j), 1e-6, 1e-5, "scaled + bias");
          assert.equal(c.scaled[j], scores.get(0, h, i, j));
        }
        const expected = i === 0 ? [0, 0, 0] : null; // fully masked: zeros, the library's rule
        if (expected) assert.deepEqual(c.softmax, expected);
        else {
          const e = c.masked.map((v) => (v === -Infinity ? 0 : Math.exp(v)));
          const z = e.reduce((a, b) => a + b, 0);
          e.forEach((v, j) => close(c.softmax[j], v / z, 1e-12, 1e-12, "softmax"));
        }
      }
    }
  });
  await t.step("the browser renderer computes the same numbers", async () => {
    await import(`data:text/javascript,${encodeURIComponent(viewsRendererJs())}`);
    const api = (globalThis as unknown as {
      AttentionLabViews: { neuronColumns(h: NeuronHeadSpec, q: number): unknown };
    }).AttentionLabViews;
    const m = gpt({ vocabSize: 9, blockSize: 8, dModel: 12, numHeads: 3, numLayers: 2, seed: 4 });
    const view = neuronView(traceAttention(m, () => m.forward([1, 5, 2, 7, 3])));
    for (const layer of view.spec.roles[0].layers) {
      for (const head of layer) {
        for (let i = 0; i < 5; i++) {
          // JSON round trip: what the page receives
          const h = JSON.parse(JSON.stringify(head)) as NeuronHeadSpec;
          assert.deepEqual(api.neuronColumns(h, i), _neuronColumns(head!, i));
        }
      }
    }
  });
  await t.step("float32 values survive the spec's short decimals, NaN and ±Infinity too", () => {
    fc.assert(
      fc.property(fc.float({ noDefaultInfinity: false }), (v) => {
        const j = JSON.parse(JSON.stringify(_float32Json(v)));
        const back = Math.fround(Number(j));
        assert.ok(Object.is(back, v) || (v === 0 && back === 0), `${v} -> ${j} -> ${back}`);
      }),
      { numRuns: 2000 },
    );
    assert.deepEqual([NaN, Infinity, -Infinity].map(_float32Json), [
      "NaN",
      "Infinity",
      "-Infinity",
    ]);
  });
  await t.step("errors: step-by-step decoding, labels, indices, left-out heads", () => {
    const m = gpt({ vocabSize: 9, blockSize: 8, dModel: 8, numHeads: 2, numLayers: 1 });
    const twice = traceAttention(m, () => {
      m.forward([1, 2]);
      return m.forward([1, 2]);
    });
    assert.throws(
      () => neuronView(twice),
      /^RangeError: neuronView: h\.0\.attn was called more than once \(self layer 0\); trace one teacher-forced forward/,
    );
    const once = traceAttention(m, () => m.forward([1, 2, 3]));
    assert.throws(
      () => neuronView(once, { tokens: ["a"] }),
      /^RangeError: neuronView: options\.tokens must have one label per query: got 1 labels for 3 queries$/,
    );
    assert.throws(
      () => neuronView(once, { query: 3 }),
      /options\.query must be an integer in \[0, 3\)/,
    );
    assert.throws(
      () => neuronView(once, { batch: 1 }),
      /options\.batch is 1 but h\.0\.attn's scores have shape \[1, 2, 3, 3\]/,
    );
    const some = neuronView(once, { heads: [1] });
    assert.throws(() => some.columns({ head: 0 }), /self layer 0 head 0 was left out of this view/);
    assert.equal(some.columns({ head: 1, query: 2 }).softmax.length, 3);
    assert.throws(() => neuronView([]), TypeError);
  });
});

Deno.test("traceAttention() records every attention and leaves the model as it was", async (t) => {
  const model = smallSeq2seq();
  const src = [[1, 2, 3]], tgt = [[1, 4]];
  const plain = model.forward(src, tgt);
  const traced = traceAttention(model, () => model.forward(src, tgt));
  await t.step("paths, roles and layers in call order", () => {
    assert.deepEqual(traced.records.map((r) => `${r.role}${r.layer}:${r.path}`), [
      "encoder0:transformer.encoder.layers.0.self_attn",
      "encoder1:transformer.encoder.layers.1.self_attn",
      "decoder0:transformer.decoder.layers.0.self_attn",
      "cross0:transformer.decoder.layers.0.multihead_attn",
      "decoder1:transformer.decoder.layers.1.self_attn",
      "cross1:transformer.decoder.layers.1.multihead_attn",
    ]);
  });
  await t.step("outputs are bit-identical and no trace leaks into results", () => {
    const r = traced.result as typeof plain;
    assert.deepEqual([...r.output.data], [...plain.output.data]);
    assert.deepEqual([...r.decoderCrossWeights[1].data], [...plain.decoderCrossWeights[1].data]);
  });
  await t.step("the recording wrapper is gone afterwards, also when run throws", () => {
    const mha = model.transformer.decoder.layers[0].crossAttn;
    assert.equal(Object.hasOwn(mha, "forward"), false);
    assert.throws(() =>
      traceAttention(model, () => {
        throw new Error("boom");
      }), /boom/);
    assert.equal(Object.hasOwn(mha, "forward"), false);
    assert.throws(() => traceAttention(model, () => Promise.resolve(1)), /must be synchronous/);
    assert.equal(Object.hasOwn(mha, "forward"), false);
    assert.throws(() => traceAttention({} as never, () => 1), /must be a Module holding/);
  });
});

// ---------------------------------------------------------------------------------------- scrubber

Deno.test("trainingScrubber() stores each snapshot's map", async (t) => {
  const rng = new Rng(8);
  await t.step("three weight forms select the same map; steps sorted", () => {
    const layers = [randomHeads(2, 3, 4, rng), randomHeads(2, 3, 4, rng)];
    const a = trainingScrubber([
      { step: 20, loss: 0.5, weights: layers },
      { step: 10, weights: layers },
    ], { layer: 1, head: 1 }).spec as ScrubberSpec;
    const b = trainingScrubber([{ step: 5, weights: layers[1] }], { head: 1 }).spec as ScrubberSpec;
    const c = trainingScrubber([{ step: 5, weights: layers[1][1] }]).spec as ScrubberSpec;
    const milli = layers[1][1].map((r) => r.map((w) => Math.round(w * 1000)));
    assert.deepEqual(a.snapshots.map((s) => [s.step, s.loss]), [[10, null], [20, 0.5]]);
    for (const s of [a.snapshots[0], a.snapshots[1], b.snapshots[0], c.snapshots[0]]) {
      assert.deepEqual(s.cells, milli);
    }
    assert.equal(a.initial, 1);
  });
  await t.step("large maps become block means, labels block ranges", () => {
    const big = randomHeads(1, 10, 10, rng)[0];
    const spec = trainingScrubber([{ step: 0, weights: big }], { maxCells: 4 })
      .spec as ScrubberSpec;
    assert.equal(spec.snapshots[0].cells.length, 4); // blocks of 3: rows 0-2, 3-5, 6-8, 9
    let s = 0;
    for (let i = 3; i < 6; i++) for (let j = 0; j < 3; j++) s += big[i][j];
    assert.equal(spec.snapshots[0].cells[1][0], Math.round((s / 9) * 1000));
    assert.equal(spec.snapshots[0].cells[3][3], Math.round(big[9][9] * 1000));
    assert.deepEqual(spec.queryLabels, ["0–2", "3–5", "6–8", "9–9"]);
  });
  await t.step("static SVG: up to 6 snapshots side by side, well-formed", () => {
    const snaps = Array.from(
      { length: 9 },
      (_, s) => ({ step: s * 10, loss: 1 / (s + 1), weights: randomHeads(1, 3, 3, rng)[0] }),
    );
    const svg = trainingScrubber(snaps, { labels: ["a", "b", "c"] }).toSvg();
    checkXml(svg);
    assert.equal((svg.match(/data-al="snapshot"/g) ?? []).length, 6);
    assert.ok(svg.includes('data-step="0"') && svg.includes('data-step="80"'));
  });
  await t.step("the trainer's TrainingSnapshot maps onto the scrubber's plain shape", () => {
    const example = { input: "a b", target: "b a", group: "3" };
    const { snapshots } = trainTask(reverseTask, {
      steps: 4,
      batchSize: 4,
      validationSize: 2,
      model: { dModel: 8, numHeads: 2, dFF: 16, numEncoderLayers: 1, numDecoderLayers: 2 },
      snapshots: { every: 2, example },
    });
    const s0 = snapshots[0];
    const view = trainingScrubber(
      snapshots.map((s) => ({ step: s.step, loss: s.loss, weights: s.cross })),
      { layer: 1, head: 1, queryLabels: s0.target, keyLabels: s0.source },
    );
    const spec = view.spec as ScrubberSpec;
    assert.deepEqual(spec.snapshots.map((s) => s.step), [0, 2, 4]);
    assert.deepEqual(spec.keyLabels, ["a", " ", "b", "<eos>"]);
    snapshots.forEach((s, k) =>
      assert.deepEqual(
        spec.snapshots[k].cells,
        s.cross[1][1].map((r) => r.map((w) => Math.round(w * 1000))),
      )
    );
    assert.equal(spec.snapshots[2].loss, snapshots[2].loss);
  });
  await t.step("errors name the snapshot and the shapes", () => {
    assert.throws(
      () =>
        trainingScrubber([{ step: 0, weights: randomHeads(1, 2, 2, rng)[0] }, {
          step: 1,
          weights: randomHeads(1, 2, 3, rng)[0],
        }]),
      /^RangeError: trainingScrubber: snapshots\[1\]\.weights selects a \[2, 3\] map, the first snapshot a \[2, 2\]; every snapshot must have the same \[Tq, Tk\]$/,
    );
    assert.throws(
      () => trainingScrubber([{ step: NaN, weights: [[1]] }]),
      /snapshots\[0\]\.step must be a finite number, got NaN/,
    );
    assert.throws(
      () => trainingScrubber([{ step: 0, weights: randomHeads(2, 2, 2, rng) }], { head: 2 }),
      /options\.head must be an integer in \[0, 2\)/,
    );
    assert.throws(() => trainingScrubber([]), TypeError);
  });
});

// ---------------------------------------------------------------------------------------- SVG, size

Deno.test("toSvg() of every view is well-formed SVG", () => {
  const model = smallSeq2seq();
  const traced = traceAttention(model, () => model.forward([1, 2, 3], [1, 4, 5, 6]));
  const roles = attentionRoles(traced.result as object, {
    sourceTokens: ["a", "b", "c"],
    targetTokens: ["<s>", "x", "y", "z"],
  });
  for (
    const view of [
      headView(roles, { role: "cross", title: "t" }),
      modelView(roles),
      neuronView(traced, { role: "cross", query: 2 }),
    ]
  ) {
    const svg = view.toSvg();
    assert.ok(checkXml(svg) > 10);
    assert.match(
      svg,
      /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" version="1\.1" width="\d+" height="\d+"/,
    );
  }
});

Deno.test("a 512-token model stays within a size bound", async (t) => {
  const m = gpt({ vocabSize: 50, blockSize: 512, dModel: 16, numHeads: 4, numLayers: 2, seed: 1 });
  const rng = new Rng(3);
  const ids = Array.from({ length: 512 }, () => Math.floor(rng.uniform() * 50));
  const roles = attentionRoles(m.forward(ids), { tokens: ids.map((i) => `t${i}`) });
  const view = headView(roles);
  const spec = view.spec as HeadViewSpec;
  await t.step("at most 16 keys per query beyond 64 keys", () => {
    assert.equal(spec.kept.topK, 16);
    for (const layer of spec.roles[0].layers) {
      for (const map of layer) for (const row of map.rows) assert.ok(row.length <= 32);
    }
  });
  await t.step("spec, SVG and notebook bundle sizes", () => {
    // 2 layers × 4 heads × 512 queries × 16 pairs, at most "511,999," (8 characters) a pair
    const json = JSON.stringify(spec).length;
    assert.ok(json < 2 * 4 * 512 * 16 * 8 + 20_000, `spec JSON ${json}`);
    const svg = view.toSvg().length;
    assert.ok(svg < 400_000, `static SVG ${svg}`);
    const bundle = view[jupyterDisplay]();
    const total = bundle["text/html"].length + bundle["image/svg+xml"].length;
    assert.ok(total < 2_500_000, `bundle ${total}`);
    // the dense map would be 2 × 4 × 512² weights: the sparse spec is far smaller
    assert.ok(json < (2 * 4 * 512 * 512) / 4);
  });
  await t.step("the static head view draws at most 4 lines per query and head", () => {
    const segments = (view.toSvg().match(/M/g) ?? []).length;
    assert.ok(segments <= 4 * 512 * 4, `${segments} segments`);
  });
});

Deno.test("paddingMask and causal masks are read with broadcasting in the neuron view", () => {
  // [B, 1, 1, S] padding broadcast over heads and queries
  const mha = multiHeadAttention({ dModel: 4, numHeads: 2, seed: 9 });
  const x = randn([2, 3, 4], new Rng(1));
  const traced = traceAttention(mha, () => mha.forward(x, x, x, { mask: paddingMask([3, 2], 3) }));
  const allowed = neuronView(traced, { batch: 1 }).spec.roles[0].layers[0].map((h) => h!.allowed);
  assert.deepEqual(allowed, [["110", "110", "110"], ["110", "110", "110"]]);
  const first = neuronView(traced, { batch: 0 }).spec.roles[0].layers[0][1]!.allowed;
  assert.deepEqual(first, ["111", "111", "111"]);
});

Deno.test("captions name the role once: a plain list is 'attention', a role 'cross' is 'cross attention'", () => {
  const w = [[[[0.5, 0.5], [0.2, 0.8]]]]; // one layer of [H=1, Tq=2, Tk=2]
  const plain = headView(w, { queryLabels: ["a", "b"], keyLabels: ["a", "b"] }).toSvg();
  assert.match(plain, />attention, layer 0</);
  assert.doesNotMatch(plain, /attention attention/);
  const cross = headView([{
    name: "cross",
    layers: w,
    queryLabels: ["x", "y"],
    keyLabels: ["a", "b"],
  }])
    .toSvg();
  assert.match(cross, />cross attention, layer 0</);
});
