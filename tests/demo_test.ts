import assert from "node:assert/strict";
import { attentionDemo, datesAlignment, loadDemoModels } from "../examples/demo.ts";

Deno.test("attentionDemo() shows the shipped trained models", async (t) => {
  const models = await loadDemoModels();
  const demo = attentionDemo(models);

  await t.step("one section per trained model's attention, then the machinery", () => {
    assert.deepEqual(demo.sections.map((s) => s.heading), [
      "dates: which input characters each output character reads",
      "dates: another form, in the same batch",
      "reverse: the anti-diagonal",
      "induction: the previous-token head and the induction head",
      "Source padding mask",
      "Causal (look-ahead) mask",
      "Sinusoidal positional encoding",
    ]);
    for (const s of demo.sections) assert.ok(s.note && s.note.length > 80, `${s.heading}: note`);
    // 2 dates and 1 reverse grid of 2 layers × 4 heads, the 2 induction heads, 2 masks, 1 table
    assert.equal(demo.heatmaps, 3 * 2 * 4 + 2 + 2 + 1);
  });

  await t.step("the models translate: ISO dates and the reversed letters", () => {
    assert.deepEqual(demo.dates.map((d) => d.text), ["1998-05-03", "1998-05-03"]);
    assert.equal(demo.reverse.text, "p o i u y t r e w q");
    for (const d of [...demo.dates, demo.reverse]) {
      assert.equal(d.output.at(-1), "<eos>");
      assert.equal(d.output.length, [...d.text].length + 1);
    }
  });

  await t.step(
    "cross-attention: output steps × input characters, rows sum to 1, <pad> gets 0",
    () => {
      const [long, short] = demo.dates;
      assert.equal(long.source.length, short.source.length);
      const pads = short.source.filter((x) => x === "<pad>").length;
      assert.equal(pads, "Sunday, 3 May 1998".length - "03.05.1998".length);
      assert.deepEqual(long.source.slice(0, 3), ["S", "u", "n"]);
      for (const d of [long, short, demo.reverse]) {
        for (const w of d.cross) {
          const [h, tq, s] = w.shape;
          assert.deepEqual([tq, s], [d.output.length, d.source.length]);
          for (let i = 0; i < h * tq; i++) {
            const row = w.data.subarray(i * s, (i + 1) * s);
            const sum = row.reduce((a, b) => a + b, 0);
            assert.ok(Math.abs(sum - 1) < 1e-5, `row ${i} sums to ${sum}`);
            d.source.forEach((x, j) => {
              if (x === "<pad>") assert.equal(row[j], 0, `row ${i}, pad column ${j}`);
            });
          }
        }
      }
    },
  );

  await t.step("trained heads read what they copy: alignment far above uniform", () => {
    // uniform attention over the 19 source tokens of the long date scores about 1/19 per target
    assert.ok(demo.dates[0].best.score > 0.5, `dates best head ${demo.dates[0].best.score}`);
    assert.ok(demo.dates[1].best.score > 0.5, `dates best head ${demo.dates[1].best.score}`);
    // uniform over the 20 source tokens of reverse: 0.05
    assert.ok(demo.reverse.best.score > 0.4, `reverse best head ${demo.reverse.best.score}`);
    const { best, alignment } = demo.reverse;
    assert.equal(alignment[best.layer][best.head], best.score);
    assert.ok(alignment.flat().every((v) => v <= best.score));
  });

  await t.step("induction: the heads found by their scores, in different layers", () => {
    const ih = demo.induction;
    assert.equal(ih.tokens.length, 1 + 2 * ih.period);
    assert.deepEqual(ih.tokens.slice(1 + ih.period), ih.tokens.slice(1, 1 + ih.period));
    assert.ok(ih.previousTokenHead.score > 0.9, `previous-token ${ih.previousTokenHead.score}`);
    assert.ok(ih.inductionHead.score > 0.8, `prefix-matching ${ih.inductionHead.score}`);
    assert.ok(ih.inductionHead.layer > ih.previousTokenHead.layer);
    // the previous-token map's subdiagonal, and the induction map's shifted diagonal on the repeat
    const p = ih.period;
    for (let i = 1; i < ih.tokens.length; i++) {
      assert.ok(ih.maps.previousToken[i][i - 1] > 0.5, `query ${i}`);
    }
    for (let i = 1 + p; i < ih.tokens.length; i++) {
      assert.ok(ih.maps.induction[i][i - p + 1] > 0.5, `query ${i}`);
    }
  });

  await t.step("titles name the trained checkpoints; no figure comes from random weights", () => {
    const titles = demo.sections.slice(0, 4).map((s) => String(s.figure.layout.title?.text ?? ""));
    for (const title of titles) assert.match(title, /\(trained, \d+ steps\)/);
    assert.doesNotMatch(demo.html, /untrained|random weights/);
  });

  await t.step("the page escapes token text", () => {
    assert.ok(demo.html.includes("&lt;pad&gt;"));
    assert.ok(!demo.html.includes("<pad>"), "a raw <pad> tag in the page");
  });

  await t.step("plotly.js is inlined once and nothing comes from the network", () => {
    const page = attentionDemo(models, {
      plotlyJs: "window.Plotly = { newPlot() {} }; /*plotly*/",
    }).html;
    assert.equal(page.split("/*plotly*/").length - 1, 1);
    assert.ok(!/(src|href)="(https?:)?\/\//.test(page), "a script or link to the network");
  });

  await t.step("a character outside a vocabulary is a RangeError naming it", () => {
    assert.throws(
      () => attentionDemo(models, { reverse: "a B c" }),
      (e: unknown) => e instanceof RangeError && e.message.includes('"B"'),
    );
  });
});

Deno.test("datesAlignment: where each ISO character is read from, in every form", () => {
  // "03.05.1998": day 0-1, month 3-4, year 6-9
  const dotted = datesAlignment("03.05.1998");
  assert.deepEqual([0, 1, 2, 3].map(dotted), [[6], [7], [8], [9]]);
  assert.deepEqual([5, 6, 8, 9].map(dotted), [[3], [4], [0], [1]]);
  assert.deepEqual([4, 7, 10].map(dotted), [[], [], []]);
  // "1998/05/03": year first
  const slashed = datesAlignment("1998/05/03");
  assert.deepEqual([0, 5, 6, 8, 9].map(slashed), [[0], [5], [6], [8], [9]]);
  // the weekday is not the month; a one-digit day is read for both places
  const weekday = datesAlignment("SUNDAY, 3 MAY 1998");
  assert.deepEqual([5, 6, 8, 9, 0].map(weekday), [[10, 11, 12], [10, 11, 12], [8], [8], [14]]);
  const ordinal = datesAlignment("23rd SEPTEMBER 2041");
  assert.deepEqual(ordinal(5), [5, 6, 7, 8, 9, 10, 11, 12, 13]);
  assert.deepEqual([8, 9].map(ordinal), [[0], [1]]);
  assert.throws(() => datesAlignment("3 May 98"), /no four-digit year/);
});
