import assert from "node:assert/strict";
import { attentionDemo, SOURCE_VOCAB, TARGET_VOCAB } from "../examples/demo.ts";

Deno.test("attentionDemo() builds the demo page", async (t) => {
  const demo = attentionDemo();

  await t.step("one section per mask, the positional encoding and each attention kind", () => {
    assert.deepEqual(demo.sections.map((s) => s.heading), [
      "Source padding mask",
      "Causal (look-ahead) mask",
      "Cross-attention mask",
      "Sinusoidal positional encoding",
      "Encoder self-attention, every layer and head",
      "Decoder self-attention, every layer and head",
      "Cross-attention, every layer and head",
    ]);
    for (const s of demo.sections) assert.ok(s.note && s.note.length > 80, `${s.heading}: note`);
    // 3 masks + 1 positional table + 3 kinds × 2 layers × 4 heads
    assert.equal(demo.heatmaps, 3 + 1 + 3 * 2 * 4);
  });

  await t.step("masks block the padding columns and the future", () => {
    const z = (i: number) => {
      const trace = demo.sections[i].figure.data[0];
      assert.ok(trace.type === "heatmap", `section ${i} is not a heatmap`);
      return trace.z as number[][];
    };
    const s = demo.source.length, pads = demo.source.filter((w) => w === "<pad>").length;
    assert.equal(pads, 2);
    assert.deepEqual(z(0)[0], [...Array(s - pads).fill(1), ...Array(pads).fill(0)]);
    const causal = z(1);
    causal.forEach((row, i) =>
      row.forEach((v, j) => assert.equal(v, j <= i ? 1 : 0, `[${i}, ${j}]`))
    );
    assert.equal(z(2).length, demo.decoderInputs.length);
  });

  await t.step("attention rows sum to 1 and padding gets 0", () => {
    for (const [i, row] of demo.crossAttentionMean.entries()) {
      const sum = row.reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(sum - 1) < 1e-5, `row ${i} sums to ${sum}, expected 1`);
      assert.deepEqual(row.slice(-2), [0, 0], `row ${i}: padding columns`);
    }
  });

  await t.step("decoder rows are the start token then the outputs", () => {
    assert.equal(demo.decoderInputs[0], "<s>");
    assert.deepEqual(demo.decoderInputs.slice(1), demo.output.slice(0, -1));
    for (const w of demo.output) assert.ok(TARGET_VOCAB.includes(w), w);
  });

  await t.step("the page says the model is untrained and escapes token text", () => {
    assert.match(demo.html, /untrained/);
    assert.ok(demo.html.includes("&lt;pad&gt;"));
    assert.ok(!demo.html.includes("<pad>"), "a raw <pad> tag in the page");
  });

  await t.step("plotly.js is inlined once and nothing comes from the network", () => {
    const page = attentionDemo({ plotlyJs: "window.Plotly = { newPlot() {} }; /*plotly*/" }).html;
    assert.equal(page.split("/*plotly*/").length - 1, 1);
    assert.ok(!/(src|href)="(https?:)?\/\//.test(page), "a script or link to the network");
  });

  await t.step("a word outside the vocabulary is a RangeError naming it", () => {
    assert.throws(
      () => attentionDemo({ sentence: ["the", "dog"] }),
      (e: unknown) => e instanceof RangeError && e.message.includes('"dog"'),
    );
    assert.ok(SOURCE_VOCAB.includes("cat"));
  });
});
