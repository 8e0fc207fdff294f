import assert from "node:assert/strict";
import {
  attentionHeatmap,
  colorAt,
  escapeHtml,
  type Figure,
  figureToSvg,
  headGrid,
  heatmap,
  heatmapGrid,
  type HeatmapTrace,
  jupyterDisplay,
  layerHeadGrid,
  LINE_DASHES,
  linePlot,
  loadPlotlyJs,
  MARKER_SYMBOLS,
  maskHeatmap,
  PlotlyDisplay,
  positionalEncodingHeatmap,
  type ScatterTrace,
  sequentialScale,
  toHtml,
  usePlotly,
} from "../lib/plot/mod.ts";
import { _forgetPlotly, _readPlotlyJsFile } from "../lib/plot/plotly_js.ts";
import { _fitText, _markup, _textWidth, _TITLE_TOP } from "../lib/plot/_text.ts";
import { _logTicks, _niceTicks, _plainNumber } from "../lib/plot/_ticks.ts";
import { _dashArray } from "../lib/plot/svg.ts";
import { tensor } from "../lib/tensor/tensor.ts";
import { mask } from "../lib/tensor/mask.ts";
import { checkXml } from "./_xml.ts";

// ---------------------------------------------------------------------------
// Helpers

const heat = (f: Figure, k = 0): HeatmapTrace => {
  const t = f.data[k];
  assert.equal(t.type, "heatmap", `trace ${k} should be a heatmap, got ${t.type}`);
  return t as HeatmapTrace;
};

const display = (f: Figure) => f[jupyterDisplay]();

/** Decodes the compressed plotly.js a notebook loader carries, as the page would. */
async function unpackLoader(html: string): Promise<string> {
  const packed = /var packed = "([A-Za-z0-9+/=]+)";/.exec(html)?.[1];
  assert.ok(packed, "the HTML carries a compressed plotly.js");
  const bytes = Uint8Array.from(atob(packed), (c) => c.charCodeAt(0));
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  return await new Response(stream).text();
}

/** Row-softmax of a seeded pseudo-random matrix, causal when asked. */
function softmaxRows(n: number, causal = false): number[][] {
  let s = 1;
  const rand = () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  return Array.from({ length: n }, (_, i) => {
    const e = Array.from({ length: n }, (_, j) => (causal && j > i ? 0 : Math.exp(3 * rand())));
    const sum = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / sum);
  });
}

/** Heatmap cells in an SVG (colour-bar bands carry more attributes). */
const CELL = /<rect x="\d+" y="\d+" width="\d+" height="\d+" fill="#[0-9a-f]{6}"\/>/g;

const EVIL = `</script><script>alert("x")</script>&'`;

// ---------------------------------------------------------------------------

Deno.test("the XML checker used below rejects malformed documents", async (t) => {
  await t.step("accepts a small document", () => {
    assert.equal(checkXml(`<svg a="1"><g><rect b='2'/></g><text>a &amp; b &#39;</text></svg>`), 4);
  });
  for (
    const bad of [
      "<svg><g></svg>",
      "<svg a=1/>",
      `<svg a="1" a="2"/>`,
      "<svg>a < b</svg>",
      "<svg>a & b</svg>",
      `<svg a="<"/>`,
      "<svg/><svg/>",
      "<svg>\u0001</svg>",
    ]
  ) {
    await t.step(`rejects ${JSON.stringify(bad)}`, () => {
      assert.throws(() => checkXml(bad), /not well-formed/);
    });
  }
});

Deno.test("attentionHeatmap() plots keys on x and queries on y, row 0 on top", async (t) => {
  const tokens = ["the", "cat", "sat"];
  const w = softmaxRows(3, true);
  const fig = attentionHeatmap(w, { queryLabels: tokens, keyLabels: tokens, title: "head 0" });

  await t.step("one heatmap trace with the weights, rounded", () => {
    assert.equal(fig.data.length, 1);
    const tr = heat(fig);
    assert.equal(tr.z.length, 3);
    assert.equal(tr.z[0].length, 3);
    assert.equal(tr.z[0][1], 0);
    assert.ok(Math.abs(tr.z[2][2]! - w[2][2]) < 1e-3);
  });
  await t.step("labels on both axes, y reversed", () => {
    assert.deepEqual(fig.layout.xaxis?.ticktext, tokens);
    assert.deepEqual(fig.layout.yaxis?.ticktext, tokens);
    assert.deepEqual(fig.layout.xaxis?.tickvals, [0, 1, 2]);
    assert.equal(fig.layout.yaxis?.autorange, "reversed");
    assert.equal(fig.layout.xaxis?.title?.text, "key");
    assert.equal(fig.layout.yaxis?.title?.text, "query");
    assert.equal(fig.layout.title?.text, "head 0");
  });
  await t.step("zmin = 0 and zmax = 1 by default, overridable", () => {
    assert.deepEqual([heat(fig).zmin, heat(fig).zmax], [0, 1]);
    const f2 = attentionHeatmap(w, { zmin: 0, zmax: 0.5 });
    assert.deepEqual([heat(f2).zmin, heat(f2).zmax], [0, 0.5]);
    assert.throws(() => attentionHeatmap(w, { zmin: 1, zmax: 1 }), RangeError);
  });
  await t.step("duplicate tokens stay separate columns", () => {
    const f = attentionHeatmap([[0.5, 0.5], [0.5, 0.5]], { keyLabels: ["a", "a"] });
    assert.deepEqual(f.layout.xaxis?.tickvals, [0, 1]);
    assert.deepEqual(f.layout.xaxis?.ticktext, ["a", "a"]);
  });
  await t.step("leading size-1 axes are squeezed", () => {
    const f = attentionHeatmap(tensor(w).reshape([1, 1, 3, 3]));
    assert.deepEqual(heat(f).z, heat(attentionHeatmap(w)).z);
  });
  await t.step("other shapes are a RangeError naming the function and shape", () => {
    const batch = tensor(new Float32Array(18), [2, 3, 3]);
    assert.throws(() => attentionHeatmap(batch), (e: Error) => {
      assert.ok(e instanceof RangeError);
      assert.match(
        e.message,
        /^attentionHeatmap: weights must have shape \[rows, cols\].*\[2, 3, 3\]/,
      );
      return true;
    });
    assert.throws(() => attentionHeatmap(tensor([1, 2, 3])), /attentionHeatmap: .*\[3\]/);
  });
  await t.step("label count mismatch is a RangeError naming the option", () => {
    assert.throws(
      () => attentionHeatmap(w, { keyLabels: ["a", "b"] }),
      /attentionHeatmap: options.keyLabels must have one label per column: got 2 labels for 3/,
    );
  });
  await t.step("non-tensors are a TypeError; ragged arrays a RangeError", () => {
    assert.throws(() => attentionHeatmap("x" as never), TypeError);
    assert.throws(() => attentionHeatmap([[1, 2], [3]]), /attentionHeatmap: weights is ragged/);
  });
  await t.step("long sequences get thinned tick labels", () => {
    const toks = Array.from({ length: 300 }, (_, i) => `t${i}`);
    const f = attentionHeatmap(softmaxRows(300), { queryLabels: toks, keyLabels: toks });
    const ticks = f.layout.xaxis!.tickvals!;
    assert.ok(ticks.length <= 50, `expected at most 50 ticks, got ${ticks.length}`);
    assert.equal(f.layout.xaxis!.ticktext![1], toks[ticks[1]]);
    assert.equal(heat(f).text, undefined, "no per-cell hover text for 90 000 cells");
  });
});

Deno.test("maskHeatmap() draws allowed and blocked in two colours", async (t) => {
  const causal = mask([[1, 0, 0], [1, 1, 0], [1, 1, 1]]);
  const fig = maskHeatmap(causal, { xLabels: ["a", "b", "c"], title: "causal" });
  await t.step("z holds 1 = may attend, 0 = blocked", () => {
    assert.deepEqual(heat(fig).z, [[1, 0, 0], [1, 1, 0], [1, 1, 1]]);
    assert.deepEqual([heat(fig).zmin, heat(fig).zmax], [0, 1]);
  });
  await t.step("two discrete colours and a labelled colour bar", () => {
    const scale = heat(fig).colorscale;
    assert.equal(new Set(scale.map(([, c]) => c)).size, 2);
    assert.deepEqual(heat(fig).colorbar?.ticktext, ["blocked", "may attend"]);
    assert.notEqual(colorAt(scale, 0), colorAt(scale, 1));
  });
  await t.step("axes and orientation", () => {
    assert.deepEqual(fig.layout.xaxis?.ticktext, ["a", "b", "c"]);
    assert.equal(fig.layout.yaxis?.autorange, "reversed");
    assert.match(fig.toString(), /6 of 9 positions may attend/);
  });
  await t.step("nested booleans and a [1, 1, T, T] mask work", () => {
    assert.deepEqual(heat(maskHeatmap([[true, false]])).z, [[1, 0]]);
    assert.deepEqual(heat(maskHeatmap(causal.reshape([1, 1, 3, 3]))).z, heat(fig).z);
  });
  await t.step("bad masks are rejected", () => {
    assert.throws(() => maskHeatmap(causal.reshape([3, 3, 1])), /maskHeatmap: .*\[3, 3, 1\]/);
    assert.throws(() => maskHeatmap([[2]]), TypeError);
    assert.throws(() => maskHeatmap(tensor([[1]]) as never), /maskHeatmap: mask must be a Mask/);
  });
});

Deno.test("heatmap() plots any matrix", async (t) => {
  await t.step("signed values: diverging scale symmetric about 0", () => {
    const tr = heat(heatmap([[-1, 3], [0, 2]]));
    assert.deepEqual([tr.zmin, tr.zmax], [-3, 3]);
    assert.equal(tr.colorscale.length, 17);
  });
  await t.step("non-negative values: sequential over the data range", () => {
    const tr = heat(heatmap([[1, 3], [2, 2]]));
    assert.deepEqual([tr.zmin, tr.zmax], [1, 3]);
    assert.deepEqual(tr.colorscale, sequentialScale());
  });
  await t.step("NaN and ±Infinity become gaps and do not set the range", () => {
    const tr = heat(heatmap([[1, -Infinity], [NaN, 2]]));
    assert.deepEqual(tr.z, [[1, null], [null, 2]]);
    assert.deepEqual([tr.zmin, tr.zmax], [1, 2]);
  });
  await t.step("values are rounded to 4 significant digits", () => {
    assert.deepEqual(heat(heatmap(tensor([[0.123456, 123456.7, 1e-7 * 1.23456]]))).z, [[
      0.1235,
      123500,
      1.235e-7,
    ]]);
  });
  await t.step("explicit range, labels and titles", () => {
    const fig = heatmap([[1, 2, 3]], {
      zmin: 0,
      zmax: 10,
      xLabels: ["q", "k", "v"],
      yLabels: ["x"],
      xTitle: "feature",
      colorbarTitle: "a<b",
    });
    assert.deepEqual([heat(fig).zmin, heat(fig).zmax], [0, 10]);
    assert.equal(fig.layout.xaxis?.title?.text, "feature");
    assert.equal(heat(fig).colorbar?.title?.text, "a&lt;b");
  });
  await t.step("a constant matrix still gets a range", () => {
    const tr = heat(heatmap([[2, 2]]));
    assert.ok(tr.zmin < 2 && tr.zmax > 2);
  });
  await t.step("errors", () => {
    assert.throws(
      () => heatmap([[1]], { zmin: 2, zmax: 1 }),
      /heatmap: options.zmin must be below/,
    );
    assert.throws(() => heatmap([[1]], { zmin: NaN }), TypeError);
    assert.throws(() => heatmap(tensor(new Float32Array(8), [2, 2, 2])), /heatmap: .*\[2, 2, 2\]/);
  });
});

Deno.test("headGrid() draws one subplot per head", async (t) => {
  const H = 6;
  const w = tensor(Array.from({ length: H }, () => softmaxRows(4, true)));
  const fig = headGrid(w, { labels: ["a", "b", "c", "d"], title: "layer 0" });
  await t.step("one heatmap per head on its own axes", () => {
    assert.equal(fig.data.length, H);
    assert.deepEqual(fig.data.map((d) => d.xaxis ?? "x"), ["x", "x2", "x3", "x4", "x5", "x6"]);
    for (let h = 0; h < H; h++) {
      const id = h === 0 ? "" : String(h + 1);
      assert.equal(fig.layout[`yaxis${id}`]?.autorange, "reversed");
      assert.equal(fig.layout[`xaxis${id}`]?.anchor, `y${id}`);
      assert.deepEqual(heat(fig, h).z.length, 4);
    }
  });
  await t.step("a shared colour scale, one colour bar", () => {
    assert.equal(fig.data.filter((d) => (d as HeatmapTrace).showscale).length, 1);
    assert.ok(
      fig.data.every((d) => (d as HeatmapTrace).zmin === 0 && (d as HeatmapTrace).zmax === 1),
    );
  });
  await t.step("subplot titles and a 4-column grid", () => {
    assert.deepEqual(
      fig.layout.annotations?.map((a) => a.text),
      [0, 1, 2, 3, 4, 5].map((h) => `head ${h}`),
    );
    const d1 = fig.layout.xaxis!.domain!;
    const d5 = fig.layout.xaxis5!.domain!;
    assert.deepEqual(d1, d5, "head 4 starts the second row");
    assert.ok(fig.layout.yaxis5!.domain![1] < fig.layout.yaxis!.domain![0]);
    assert.equal(fig.layout.xaxis!.showticklabels, false, "inner x labels hidden");
    assert.equal(fig.layout.xaxis5!.showticklabels, true);
  });
  await t.step("[1, H, Tq, Tk] is squeezed; options are applied", () => {
    const f = headGrid(w.reshape([1, H, 4, 4]), {
      headLabels: ["a", "b", "c", "d", "e", "f"],
      columns: 3,
    });
    assert.equal(f.data.length, H);
    assert.equal(f.layout.annotations?.[5].text, "f");
    assert.deepEqual(f.layout.xaxis4!.domain, f.layout.xaxis!.domain);
  });
  await t.step("a batch or a single matrix is a RangeError naming the shape", () => {
    assert.throws(
      () => headGrid(w.reshape([2, 3, 4, 4])),
      /headGrid: weights must have shape \[H, Tq, Tk\].*\[2, 3, 4, 4\]/,
    );
    assert.throws(() => headGrid(tensor([[1]])), /headGrid: .*\[1, 1\] \(rank 2\)/);
    assert.throws(() => headGrid(w, { headLabels: ["x"] }), /headGrid: options.headLabels/);
    assert.throws(() => headGrid(w, { columns: 0 }), RangeError);
  });
});

Deno.test("layerHeadGrid() draws layers × heads", async (t) => {
  const layer = tensor(Array.from({ length: 3 }, () => softmaxRows(5)));
  const fig = layerHeadGrid([layer, layer.reshape([1, 3, 5, 5])], {
    labels: ["a", "b", "c", "d", "e"],
    title: "encoder",
  });
  await t.step("one trace per (layer, head), titled", () => {
    assert.equal(fig.data.length, 6);
    assert.equal(fig.layout.annotations?.[0].text, "layer 0 · head 0");
    assert.equal(fig.layout.annotations?.[5].text, "layer 1 · head 2");
  });
  await t.step("rows are layers, columns are heads", () => {
    assert.deepEqual(fig.layout.xaxis4!.domain, fig.layout.xaxis!.domain);
    assert.ok(fig.layout.yaxis4!.domain![1] < fig.layout.yaxis!.domain![0]);
    assert.ok(fig.layout.xaxis2!.domain![0] > fig.layout.xaxis!.domain![1]);
  });
  await t.step("layers may have different head counts", () => {
    const one = tensor([softmaxRows(5)]);
    const f = layerHeadGrid([layer, one], { layerLabels: ["enc", "dec"] });
    assert.equal(f.data.length, 4);
    assert.equal(f.layout.annotations?.[3].text, "dec · head 0");
  });
  await t.step("errors", () => {
    assert.throws(() => layerHeadGrid([]), /layerHeadGrid: weights must be a non-empty array/);
    assert.throws(
      () => layerHeadGrid([layer, layer.reshape([3, 1, 5, 5])]),
      /layerHeadGrid: weights\[1\] must have shape .*\[3, 1, 5, 5\]/,
    );
    assert.throws(() => layerHeadGrid([layer], { layerLabels: ["a", "b"] }), RangeError);
  });
});

Deno.test("headGrid() and layerHeadGrid() show any per-head matrices", async (t) => {
  // Signed, unbounded per-head scores: [H=2, 3, 3]
  const scores = tensor([
    [[4, -1, 0], [2, 6, -3], [0.5, 1, 2]],
    [[-8, 1, 0], [3, 2, 1], [0, 0, 7]],
  ]);
  await t.step("scores: data range, diverging about 0, colour bar 'value'", () => {
    const fig = headGrid(scores);
    const tr = heat(fig);
    assert.deepEqual([tr.zmin, tr.zmax], [-8, 8]);
    assert.equal(tr.colorscale[8][0], 0.5);
    assert.notDeepEqual(tr.colorscale, sequentialScale());
    assert.equal(tr.colorbar?.title?.text, "value");
    assert.match(fig.toString(), /2 heads of 3×3 values/);
    assert.ok(fig.data.every((d) => (d as HeatmapTrace).zmin === -8), "one shared range");
  });
  await t.step("attention weights keep [0, 1] and 'weight'", () => {
    const w = tensor([softmaxRows(3), softmaxRows(3, true)]);
    const tr = heat(headGrid(w));
    assert.deepEqual([tr.zmin, tr.zmax], [0, 1]);
    assert.deepEqual(tr.colorscale, sequentialScale());
    assert.equal(tr.colorbar?.title?.text, "weight");
    assert.match(String(headGrid(w)), /attention weights/);
  });
  await t.step("colorbarTitle, zmin/zmax, colorscale and axis titles", () => {
    const fig = headGrid(scores, {
      colorbarTitle: "score <q,k>",
      zmin: -10,
      zmax: 10,
      colorscale: "sequential",
      xTitle: "source",
      yTitle: "target",
    });
    const tr = heat(fig);
    assert.deepEqual([tr.zmin, tr.zmax], [-10, 10]);
    assert.deepEqual(tr.colorscale, sequentialScale());
    assert.equal(tr.colorbar?.title?.text, "score &lt;q,k&gt;");
    assert.equal(fig.layout.xaxis?.title?.text, "source");
    assert.equal(fig.layout.yaxis?.title?.text, "target");
    assert.match(tr.hovertemplate!, /^target %\{y\}<br>source %\{x\}<br>score &lt;q,k&gt;/);
  });
  await t.step("non-negative scores: sequential over their range; one end may be given", () => {
    const pos = tensor([[[1, 5], [2, 3]]]);
    assert.deepEqual([heat(headGrid(pos)).zmin, heat(headGrid(pos)).zmax], [1, 5]);
    assert.deepEqual([heat(headGrid(pos, { zmin: 0 })).zmin, heat(headGrid(pos)).zmax], [0, 5]);
    const bias = tensor([[[0, -1], [-1, 0]]]); // ALiBi-like, all ≤ 0
    assert.deepEqual(heat(headGrid(bias)).colorscale, sequentialScale());
  });
  await t.step("layerHeadGrid() takes the same options", () => {
    const fig = layerHeadGrid([scores, scores], { colorbarTitle: "score", yTitle: "q" });
    assert.deepEqual([heat(fig).zmin, heat(fig).zmax], [-8, 8]);
    assert.equal(heat(fig).colorbar?.title?.text, "score");
    assert.equal(fig.layout.yaxis3?.title?.text, "q");
  });
  await t.step("errors name the function and option", () => {
    assert.throws(
      () => headGrid(scores, { zmin: 1, zmax: 0 }),
      /headGrid: options.zmin must be below options.zmax, got zmin=1, zmax=0/,
    );
    assert.throws(
      () => layerHeadGrid([scores], { colorscale: "viridis" as never }),
      (e: Error) => e instanceof TypeError && /^layerHeadGrid: options.colorscale/.test(e.message),
    );
    assert.throws(() => headGrid(scores, { zmax: Infinity }), /headGrid: options.zmax/);
  });
});

Deno.test("heatmapGrid() compares matrices side by side", async (t) => {
  const ln = [[-1, 1, 0], [1, -1, 0.5]];
  const bn = [[-2, 0.5, 1], [0.5, 1, 3]];
  const w = [[0.2, 0.8, 0], [0.5, 0.25, 0.25]];
  await t.step("one heatmap per matrix, titled, on one shared diverging scale", () => {
    const fig = heatmapGrid([ln, bn], {
      titles: ["LayerNorm", "BatchNorm"],
      title: "norms",
      colorbarTitle: "activation",
      xTitle: "feature",
      yTitle: "token",
      xLabels: ["f0", "f1", "f2"],
    });
    assert.equal(fig.data.length, 2);
    assert.deepEqual(fig.layout.annotations?.map((a) => a.text), ["LayerNorm", "BatchNorm"]);
    assert.ok(fig.data.every((d) => (d as HeatmapTrace).zmin === -3));
    assert.ok(fig.data.every((d) => (d as HeatmapTrace).zmax === 3));
    assert.equal(fig.data.filter((d) => (d as HeatmapTrace).showscale).length, 1);
    assert.equal(heat(fig).colorbar?.title?.text, "activation");
    assert.deepEqual(fig.layout.xaxis2?.ticktext, ["f0", "f1", "f2"]);
    assert.equal(fig.layout.xaxis?.title?.text, "feature");
    assert.equal(fig.layout.yaxis?.title?.text, "token");
    assert.equal(fig.layout.yaxis?.autorange, "reversed");
    assert.deepEqual(fig.layout.yaxis2?.domain, fig.layout.yaxis?.domain, "one row");
    assert.equal(String(fig), 'Figure(heatmapGrid "norms": 2 matrices (2×3))');
  });
  await t.step("defaults: 'matrix k' titles, no colour bar title, up to 4 columns", () => {
    const fig = heatmapGrid([w, w, w, w, w]);
    assert.equal(fig.layout.annotations?.[4].text, "matrix 4");
    assert.equal(heat(fig).colorbar?.title, undefined);
    assert.deepEqual(fig.layout.xaxis5?.domain, fig.layout.xaxis?.domain);
    assert.deepEqual([heat(fig).zmin, heat(fig).zmax], [0, 0.8]);
  });
  await t.step("sharedScale: false gives each matrix its range and colour bar", () => {
    const fig = heatmapGrid([bn, w], { sharedScale: false, colorbarTitle: "v" });
    const [a, b] = [heat(fig, 0), heat(fig, 1)];
    assert.deepEqual([a.zmin, a.zmax], [-3, 3]);
    assert.deepEqual([b.zmin, b.zmax], [0, 0.8]);
    assert.ok(a.showscale && b.showscale);
    assert.ok(a.colorbar!.x! < b.colorbar!.x!, "each bar beside its panel");
    assert.ok(a.colorbar!.x! > fig.layout.xaxis!.domain![1]);
    assert.ok(a.colorbar!.x! < fig.layout.xaxis2!.domain![0]);
    assert.equal(b.colorbar?.title?.side, "right");
    const svg = figureToSvg(fig);
    checkXml(svg);
    assert.equal((svg.match(/stroke="#888888" stroke-width="0.5"/g) ?? []).length, 2, "two bars");
  });
  await t.step("sharedScale: false with both ends given is one shared bar", () => {
    const fig = heatmapGrid([bn, w], { sharedScale: false, zmin: -1, zmax: 1 });
    assert.equal(fig.data.filter((d) => (d as HeatmapTrace).showscale).length, 1);
  });
  await t.step("matrices of different shapes, tensors with leading 1s", () => {
    const fig = heatmapGrid([tensor([ln]), [[1, 2]]], { colorscale: "sequential" });
    assert.deepEqual(heat(fig, 1).z, [[1, 2]]);
    assert.deepEqual(heat(fig).colorscale, sequentialScale());
    assert.match(String(fig), /2 matrices \(2×3, 1×2\)/);
  });
  await t.step("errors name the function, argument and shape", () => {
    assert.throws(() => heatmapGrid([]), /heatmapGrid: matrices must be a non-empty array/);
    assert.throws(
      () => heatmapGrid([ln, tensor(new Float32Array(8), [2, 2, 2])]),
      /heatmapGrid: matrices\[1\] must have shape \[rows, cols\].*\[2, 2, 2\]/,
    );
    assert.throws(
      () => heatmapGrid([ln, bn], { titles: ["a"] }),
      /heatmapGrid: options.titles must have one entry per matrix: got 1 for 2 matrices/,
    );
    assert.throws(
      () => heatmapGrid([ln, [[1, 2]]], { xLabels: ["a", "b", "c"] }),
      /heatmapGrid: options.xLabels must have one label per column: got 3 labels for 2/,
    );
    assert.throws(() => heatmapGrid([ln], { columns: 1.5 }), /heatmapGrid: options.columns/);
    assert.throws(() => heatmapGrid([ln], { sharedScale: "no" as never }), TypeError);
    assert.throws(() => heatmapGrid(["x" as never]), TypeError);
    assert.throws(
      () => heatmapGrid([ln], { colorscale: [[0, "#000"]] as never }),
      /heatmapGrid: options.colorscale must be/,
    );
  });
});

Deno.test("long text fits: titles wrap, legends size to their names", async (t) => {
  const LONG = "Attention weights of head 3 in layer 5 after the ALiBi bias and the causal mask";
  /** The lines of a plotly text, unescaped. */
  const lines = (text: string) => text.split("<br>");
  await t.step("_textWidth() measures wide glyphs wider", () => {
    assert.ok(_textWidth("mmmm", 12) > 2 * _textWidth("iiii", 12));
    assert.ok(_textWidth("注意力", 12) >= 36);
    assert.equal(_textWidth("", 12), 0);
  });
  await t.step("_fitText(): one line, then wrap, then shrink, then cut", () => {
    assert.deepEqual(_fitText("short", { width: 200, size: 16 }).lines, ["short"]);
    const wrapped = _fitText(LONG, { width: 300, size: 16, minSize: 12, maxLines: 3 });
    assert.ok(wrapped.lines.length > 1 && !wrapped.truncated);
    assert.equal(wrapped.lines.join(" "), LONG);
    for (const line of wrapped.lines) assert.ok(_textWidth(line, wrapped.size) <= 300, line);
    const cut = _fitText(LONG, { width: 100, size: 12, minSize: 10, maxLines: 2 });
    assert.ok(cut.truncated && cut.lines.length === 2 && cut.lines[1].endsWith("…"));
    assert.equal(cut.size, 10);
    const word = _fitText("x".repeat(100), { width: 60, size: 12, maxLines: 3 });
    assert.ok(word.lines.every((l) => _textWidth(l, 12) <= 60), "long words break");
  });
  await t.step("a long heatmap title wraps within the figure, below the mode bar", () => {
    const fig = attentionHeatmap(softmaxRows(4), { title: LONG });
    const title = fig.layout.title!;
    assert.ok(lines(title.text).length >= 2 && lines(title.text).length <= 3);
    for (const line of lines(title.text)) {
      assert.ok(_textWidth(line, title.font!.size) <= fig.layout.width - 20, line);
    }
    assert.equal(lines(title.text).join(" "), LONG);
    assert.equal(title.yref, "container");
    assert.ok(title.pad!.t! >= _TITLE_TOP);
    const short = attentionHeatmap(softmaxRows(4), { title: "head 0" });
    assert.ok(
      fig.layout.margin.t > short.layout.margin.t,
      `margin grows: ${fig.layout.margin.t} vs ${short.layout.margin.t}`,
    );
    assert.equal(short.layout.title?.text, "head 0");
    assert.equal(fig.meta.title, LONG, "meta keeps the plain title");
  });
  await t.step("the SVG draws every title line as a tspan, nothing cut", () => {
    const fig = maskHeatmap([[true, false], [true, true]], { title: LONG });
    const svg = figureToSvg(fig);
    checkXml(svg);
    const tspans = [...svg.matchAll(/<tspan[^>]*>([^<]*)<\/tspan>/g)].map((m) => m[1]);
    assert.equal(tspans.join(" "), LONG);
    assert.ok(!svg.includes("…"));
  });
  await t.step("an endless title is cut with an ellipsis, the full text in <title>", () => {
    const endless = Array(40).fill("word").join(" ") + " <end>";
    const fig = maskHeatmap([[true]], { title: endless });
    assert.equal(lines(fig.layout.title!.text).length, 3);
    assert.ok(fig.layout.title!.text.endsWith("…"));
    const svg = figureToSvg(fig);
    checkXml(svg);
    assert.ok(svg.includes(`<title>${escapeHtml(endless)}</title>`));
  });
  await t.step("subplot titles wrap to their panel; a cut one keeps hovertext", () => {
    const w = tensor([softmaxRows(3), softmaxRows(3)]);
    const fig = headGrid(w, {
      headLabels: ["head 0: attends to the previous token", "x ".repeat(80) + "end"],
    });
    const [a, b] = fig.layout.annotations!;
    assert.ok(lines(a.text).length === 2 && a.hovertext === undefined);
    assert.ok(b.text.endsWith("…") && b.hovertext?.endsWith("end"));
    const one = headGrid(w);
    assert.ok(fig.layout.margin.t > one.layout.margin.t, "room for two lines");
    const svg = figureToSvg(fig);
    checkXml(svg);
    assert.ok(svg.includes(`<title>${b.hovertext}</title>`));
  });
  await t.step("the colour bar title runs along the bar, clear of its tick labels", () => {
    const short = heatmapGrid([[[1, -1]]], { colorbarTitle: "v" });
    const long = heatmapGrid([[[1, -1]]], {
      colorbarTitle: "activation after layer normalisation, per token",
    });
    const bar = heat(long).colorbar!;
    assert.equal(bar.title?.side, "right");
    assert.equal(heat(short).colorbar?.title?.side, "right");
    // Longer than the bar: two lines, and the column one line wider.
    assert.deepEqual(lines(bar.title!.text), [
      "activation after layer",
      "normalisation, per token",
    ]);
    assert.equal(long.layout.margin.r - short.layout.margin.r, 16);
    assert.deepEqual(bar.ticktext, ["-1", "-0.5", "0", "0.5", "1"]);
    for (const fig of [short, long]) {
      // In the SVG: right of the widest tick label, and inside the figure.
      const svg = figureToSvg(fig);
      const text = heat(fig).colorbar!.ticktext!;
      const ticks = [
        ...svg.matchAll(/<text x="([\d.]+)" y="[\d.]+" font-size="11">([^<]+)<\/text>/g),
      ]
        .filter((m) => text.includes(m[2]));
      assert.equal(ticks.length, 5);
      const tickRight = Math.max(...ticks.map((m) => Number(m[1]) + _textWidth(m[2], 11)));
      const title = /<text x="([\d.]+)"[^>]*rotate\(90[^>]*>(.*?)<\/text>/.exec(svg);
      assert.ok(title, "the title is drawn turned");
      const x = Number(title[1]);
      const n = (title[2].match(/<tspan/g) ?? [""]).length;
      // Turned by 90°, each next line sits 16 px further left, its glyphs 3 px left of it.
      const left = x - (n - 1) * 16 - 3;
      assert.ok(left >= tickRight + 5, `title from ${left}, tick labels end at ${tickRight}`);
      assert.ok(x + 10 <= fig.layout.width, "inside the figure");
    }
  });
  await t.step("the legend column fits the longest name", () => {
    const s = (name: string) => ({ name, x: [1, 2], y: [1, 2] });
    const narrow = linePlot([s("a"), s("b")]);
    const wide = linePlot([s("a"), s("flash attention (tiled)")]);
    assert.ok(wide.layout.margin.r > narrow.layout.margin.r);
    assert.ok(
      wide.layout.margin.r >= 14 + 26 + _textWidth("flash attention (tiled)", 12),
      `legend column ${wide.layout.margin.r}px`,
    );
    assert.equal(linePlot([s("only")]).layout.margin.r, 30, "no legend, no column");
  });
  await t.step("legend names beyond the bound wrap, then are cut with a tooltip", () => {
    const s = (name: string) => ({ name, x: [1, 2], y: [1, 2] });
    const long = "naive O(n²) attention with float64 accumulation and a mask";
    const endless = "very long ".repeat(30) + "<end>";
    const fig = linePlot([s(long), s(endless), s("ok")]);
    assert.ok(fig.layout.margin.r <= 0.4 * fig.layout.width);
    const [a, b, c] = fig.data as import("../lib/plot/mod.ts").ScatterTrace[];
    assert.equal(lines(a.name).length, 2);
    assert.equal(a.meta?.name, escapeHtml(long));
    assert.match(a.hovertemplate!, /%\{meta.name\}/);
    assert.ok(b.name.endsWith("…"));
    assert.equal(c.name, "ok");
    assert.equal(c.meta, undefined);
    const svg = figureToSvg(fig);
    checkXml(svg);
    assert.ok(svg.includes(`<title>${escapeHtml(endless.trim())}</title>`));
    assert.ok(!svg.includes(`<title>${escapeHtml(long)}</title>`), "a wrapped name is whole");
  });
});

Deno.test("positionalEncodingHeatmap() shows positions × dimensions", async (t) => {
  const T = 16;
  const D = 8;
  const pe = Array.from(
    { length: T },
    (_, p) =>
      Array.from(
        { length: D },
        (_, i) => (i % 2 ? Math.cos : Math.sin)(p / 10000 ** ((i - (i % 2)) / D)),
      ),
  );
  const fig = positionalEncodingHeatmap(pe);
  await t.step("shape, axes and symmetric range", () => {
    const tr = heat(fig);
    assert.equal(tr.z.length, T);
    assert.equal(tr.z[0].length, D);
    assert.equal(tr.zmin, -tr.zmax);
    assert.ok(tr.zmax <= 1 && tr.zmax > 0.99);
    assert.equal(fig.layout.yaxis?.autorange, "reversed");
    assert.equal(fig.layout.xaxis?.title?.text, "dimension");
    assert.equal(fig.layout.title?.text, "Positional encoding");
  });
  await t.step("[1, T, D] works; [2, T, D] does not", () => {
    assert.equal(heat(positionalEncodingHeatmap(tensor([pe]))).z.length, T);
    assert.throws(
      () => positionalEncodingHeatmap(tensor([pe, pe])),
      /positionalEncodingHeatmap: pe .*\[2, 16, 8\]/,
    );
  });
});

Deno.test("linePlot() draws named lines with optional log axes", async (t) => {
  const fig = linePlot([
    { name: "naive", x: [128, 256, 512], y: [1, 4, 16] },
    { name: "<b>tiled</b>", x: new Float32Array([128, 256, 512]), y: [0.5, 2, Infinity] },
  ], { title: "time", xTitle: "n", yTitle: "ms", logX: true, logY: true });
  await t.step("scatter traces with names, values and distinct colours", () => {
    assert.deepEqual(fig.data.map((d) => d.type), ["scatter", "scatter"]);
    const [a, b] = fig.data as import("../lib/plot/mod.ts").ScatterTrace[];
    assert.deepEqual(a.x, [128, 256, 512]);
    assert.deepEqual(b.y, [0.5, 2, null]);
    assert.equal(b.name, "&lt;b&gt;tiled&lt;/b&gt;");
    assert.notEqual(a.line.color, b.line.color);
  });
  await t.step("axis types and titles", () => {
    assert.equal(fig.layout.xaxis?.type, "log");
    assert.equal(fig.layout.yaxis?.type, "log");
    assert.equal(fig.layout.xaxis?.title?.text, "n");
    assert.equal(fig.layout.showlegend, true);
    assert.equal(linePlot([{ name: "a", x: [1], y: [1] }]).layout.xaxis?.type, "linear");
  });
  await t.step("errors", () => {
    assert.throws(() => linePlot([]), /linePlot: series must be a non-empty array/);
    assert.throws(
      () => linePlot([{ name: "a", x: [1, 2], y: [1] }]),
      /linePlot: series\[0\] \("a"\) has 2 x values and 1 y values/,
    );
    assert.throws(() => linePlot([{ name: "a" } as never]), TypeError);
  });
});

Deno.test("linePlot() fixes an axis range (xRange, yRange) in plotly and in the SVG", async (t) => {
  const grow = { name: "loss", x: [1, 25, 50], y: [3, 2, 1.5] };
  const svgTicks = (svg: string, axis: "x" | "y") => {
    // Tick labels: x ones centred below the panel, y ones right-aligned left of it.
    const re = axis === "x"
      ? /<text x="[\d.]+" y="[\d.]+" text-anchor="middle" font-size="11">([^<]+)<\/text>/g
      : /<text x="[\d.]+" y="[\d.]+" text-anchor="end" font-size="11">([^<]+)<\/text>/g;
    return [...svg.matchAll(re)].map((m) => Number(m[1]));
  };
  await t.step("the plotly JSON carries the range; without one, none is set", () => {
    const fig = linePlot([grow], { xRange: [0, 500], yRange: [0, 4] });
    const json = JSON.parse(JSON.stringify(fig));
    assert.deepEqual(json.layout.xaxis.range, [0, 500]);
    assert.deepEqual(json.layout.yaxis.range, [0, 4]);
    assert.equal(linePlot([grow]).layout.xaxis?.range, undefined);
  });
  await t.step("SVG ticks span the range and stay inside it", () => {
    const svg = figureToSvg(linePlot([grow], { xRange: [0, 500] }));
    checkXml(svg);
    const xs = svgTicks(svg, "x");
    assert.ok(xs.length >= 3, `x ticks: ${xs}`);
    assert.ok(xs.every((v) => v >= 0 && v <= 500), `x ticks inside [0, 500]: ${xs}`);
    assert.equal(Math.min(...xs), 0);
    assert.equal(Math.max(...xs), 500, "the axis reaches 500 though the data stop at 50");
    // Without the range, the axis ends near the data.
    const free = svgTicks(figureToSvg(linePlot([grow])), "x");
    assert.ok(Math.max(...free) <= 50, `free x ticks: ${free}`);
  });
  await t.step("SVG scales within the range: x = 250 of [0, 500] is the panel's middle", () => {
    const fig = linePlot([{ name: "a", x: [250, 500], y: [1, 2], marker: "none" }], {
      xRange: [0, 500],
    });
    const { l, r } = fig.layout.margin;
    const mid = l + (fig.layout.width - l - r) / 2;
    const d = /<path d="M([\d.]+) /.exec(figureToSvg(fig));
    assert.ok(d, "a line path");
    assert.ok(Math.abs(Number(d[1]) - mid) < 0.01, `first point at ${d[1]}, middle ${mid}`);
  });
  await t.step("points outside the range are clipped to the panel", () => {
    const fig = linePlot([{ name: "a", x: [0, 1000], y: [1, 2] }], { xRange: [0, 500] });
    const svg = figureToSvg(fig);
    checkXml(svg);
    const { l, r, t: top, b } = fig.layout.margin;
    const w = fig.layout.width - l - r;
    const h = fig.layout.height - top - b;
    assert.ok(
      svg.includes(
        `<svg x="${l}" y="${top}" width="${w}" height="${h}" viewBox="${l} ${top} ${w} ${h}"`,
      ),
      "a clipping viewport over the panel",
    );
    assert.ok(!figureToSvg(linePlot([grow])).includes("<svg x="), "no viewport without a range");
  });
  await t.step("a log axis range is in log10 units, as in plotly", () => {
    const fig = linePlot([{ name: "t", x: [10, 100], y: [1, 2] }], {
      logX: true,
      xRange: [0, 3],
    });
    assert.deepEqual(fig.layout.xaxis?.range, [0, 3]);
    assert.deepEqual(fig.layout.xaxis?.tickvals, [1, 10, 100, 1000], "ticks over 1..1000");
    const xs = svgTicks(figureToSvg(fig), "x");
    assert.deepEqual(xs, [1, 10, 100, 1000]);
    const ys = svgTicks(figureToSvg(linePlot([grow], { logY: true, yRange: [-1, 1] })), "y");
    assert.ok(ys.length >= 2 && ys.every((v) => v >= 0.1 && v <= 10), `y ticks: ${ys}`);
  });
  await t.step("errors name linePlot, the option and the rule", () => {
    const bad: [string, unknown][] = [
      ["xRange", [5, 5]],
      ["xRange", [5, 1]],
      ["yRange", [0, Infinity]],
      ["yRange", [NaN, 1]],
      ["xRange", [0]],
      ["xRange", "0..1"],
      ["yRange", ["0", "1"]],
    ];
    for (const [key, value] of bad) {
      assert.throws(
        () => linePlot([grow], { [key]: value }),
        (e: unknown) =>
          e instanceof RangeError &&
          e.message.startsWith(`linePlot: options.${key} must be `) &&
          /\[lo, hi\]|finite numbers with lo < hi/.test(e.message),
        `${key} = ${JSON.stringify(value)}`,
      );
    }
    assert.throws(
      () => linePlot([grow], { logX: true, xRange: [3, 0] }),
      /linePlot: options\.xRange must be two finite numbers with lo < hi \(log10 units on a log axis/,
    );
  });
});

Deno.test("linePlot() tells lines apart by dash and marker, not by colour alone", async (t) => {
  const x = [1, 2, 3, 4];
  const same = (name: string, extra = {}) => ({ name, x, y: [4, 3, 2, 1], ...extra });
  await t.step("the default cycle gives every series its own dash and marker", () => {
    const fig = linePlot(["a", "b", "c", "d", "e", "f"].map((n) => same(n)));
    const traces = fig.data as ScatterTrace[];
    assert.deepEqual(traces.map((tr) => tr.line.dash), [...LINE_DASHES]);
    // Every second one open (outline only): a marker drawn over another leaves it visible.
    assert.deepEqual(traces.map((tr) => tr.marker?.symbol), [
      "circle",
      "square-open",
      "diamond",
      "triangle-up-open",
      "x",
      "triangle-down-open",
    ]);
    assert.deepEqual(
      MARKER_SYMBOLS.slice(0, 6),
      traces.map((tr) => tr.marker?.symbol.replace("-open", "")),
    );
    assert.ok(traces.every((tr) => tr.mode === "lines+markers"));
    // The marker takes the line's colour; an open one's outline too.
    assert.ok(traces.every((tr) => tr.marker?.color === tr.line.color));
    assert.deepEqual(traces[1].marker?.line, { color: traces[1].line.color, width: 1.5 });
    assert.equal(traces[0].marker?.line, undefined);
  });
  await t.step("long series get dashes but no markers by default", () => {
    const long = { name: "long", x: [...Array(31).keys()], y: Array(31).fill(1) };
    const [a, b] = linePlot([long, { ...long, name: "long 2" }]).data as ScatterTrace[];
    assert.deepEqual([a.mode, b.mode], ["lines", "lines"]);
    assert.equal(a.marker, undefined);
    assert.notEqual(a.line.dash, b.line.dash);
    const thirty = linePlot([{ ...long, x: long.x.slice(0, 30), y: long.y.slice(0, 30) }]);
    assert.equal((thirty.data[0] as ScatterTrace).mode, "lines+markers");
  });
  await t.step("per-series dash, marker and colour", () => {
    const [a, b] = linePlot([
      same("a", { dash: "longdash", marker: "none", color: "rgb(10, 20, 30)" }),
      same("b", { dash: "solid", marker: "diamond", color: "#123456" }),
    ]).data as ScatterTrace[];
    assert.deepEqual([a.line.dash, a.mode, a.marker, a.line.color], [
      "longdash",
      "lines",
      undefined,
      "rgb(10, 20, 30)",
    ]);
    assert.deepEqual(b.marker, { symbol: "diamond", size: 7, color: "#123456" });
    assert.equal(b.line.dash, "solid");
  });
  await t.step("figureToSvg() draws the same dashes and markers, in the legend too", () => {
    const fig = linePlot([
      same("solid circle"),
      same("dashed square"),
      same("dotted x", { dash: "dot", marker: "x" }),
    ]);
    const svg = figureToSvg(fig);
    checkXml(svg);
    // Width 2 draws as 3 px units, as plotly scales its patterns.
    assert.equal((svg.match(/stroke-dasharray="9,9"/g) ?? []).length, 2, "dash: line + legend");
    assert.equal((svg.match(/stroke-dasharray="3,3"/g) ?? []).length, 2, "dot: line + legend");
    const circles = svg.match(/<circle [^>]*fill="#2f6db5"\/>/g) ?? [];
    assert.equal(circles.length, x.length + 1, "a circle per point and one in the legend");
    const squares =
      svg.match(/<path d="M[^"]*Z" fill="none" stroke="#e4572e" stroke-width="1.5"\/>/g) ??
        [];
    assert.equal(squares.length, x.length + 1, "open squares: outlines only");
    const crosses =
      svg.match(/<path d="[^"]*" stroke="#29a36a" stroke-width="[\d.]+" fill="none"\/>/g) ??
        [];
    assert.equal(crosses.length, x.length + 1);
    assert.equal(_dashArray("dashdot", 4), "12,4,4,4");
    assert.equal(_dashArray("solid", 2), undefined);
  });
  await t.step("errors name the series and the allowed values", () => {
    const open = linePlot([same("a", { marker: "circle-open" })]).data[0] as ScatterTrace;
    assert.equal(open.marker?.symbol, "circle-open");
    assert.throws(
      () => linePlot([same("a", { dash: "dashed" })]),
      /linePlot: series\[0\] \("a"\)\.dash must be one of solid, dash, dot, dashdot, longdash, longdashdot, got "dashed"/,
    );
    assert.throws(
      () => linePlot([same("a"), same("b", { marker: "star" })]),
      /linePlot: series\[1\] \("b"\)\.marker must be "none" or one of circle, square/,
    );
    assert.throws(
      () => linePlot([same("a", { color: '"/><script>' })]),
      /linePlot: series\[0\] \("a"\)\.color must be a CSS colour/,
    );
  });
});

Deno.test("log axes get plain tick labels, in plotly and in the SVG", async (t) => {
  const sizes = [128, 256, 512, 1024, 2048, 4096];
  const fig = linePlot([
    { name: "big", x: sizes, y: sizes.map((n) => n ** 4) }, // up to 2.8e14: plotly writes "100T"
    { name: "small", x: sizes, y: sizes.map((n) => 1e-3 / n) }, // down to 2.4e-7: "100n"
  ], { logX: true, logY: true });
  const ya = fig.layout.yaxis!;
  const xa = fig.layout.xaxis!;
  await t.step("linePlot() writes the tick values and labels itself", () => {
    assert.equal(ya.tickmode, "array");
    assert.equal(ya.tickvals?.length, ya.ticktext?.length);
    assert.ok(ya.tickvals!.length >= 3 && ya.tickvals!.length <= 9, String(ya.tickvals));
    for (const [i, v] of ya.tickvals!.entries()) {
      // Each label reads back as its value: 10ⁿ, m×10ⁿ or a plain decimal.
      const text = ya.ticktext![i];
      const m = /^(?:([\d.]+)×)?10([⁻⁰¹²³⁴⁵⁶⁷⁸⁹]+)$/.exec(text);
      const exp = (sup: string) =>
        Number([...sup].map((c) => "-0123456789"["⁻⁰¹²³⁴⁵⁶⁷⁸⁹".indexOf(c)]).join(""));
      const back = m ? Number(m[1] ?? 1) * 10 ** exp(m[2]) : Number(text);
      assert.ok(Math.abs(back / v - 1) < 1e-9, `${ya.ticktext![i]} for ${v}`);
    }
    assert.deepEqual(xa.ticktext, ["200", "500", "1000", "2000"]);
    assert.ok(![...ya.ticktext!, ...xa.ticktext!].some((l) => /[kMGTPµmnp]$/.test(l)));
  });
  await t.step("figureToSvg() draws the figure's ticks", () => {
    const svg = figureToSvg(fig);
    for (const label of [...xa.ticktext!, ...ya.ticktext!]) {
      assert.ok(svg.includes(`>${label}</text>`), `tick label ${label} in the SVG`);
    }
  });
  await t.step("one decade gets 1, 2 and 5 times its powers; linear axes no SI prefix", () => {
    const f = linePlot([{ name: "a", x: [0.001, 0.03], y: [1, 2] }], { logX: true });
    assert.deepEqual(f.layout.xaxis?.ticktext, ["0.001", "0.002", "0.005", "0.01", "0.02"]);
    assert.equal(f.layout.yaxis?.exponentformat, "power");
    assert.equal(f.layout.yaxis?.tickvals, undefined);
  });
  await t.step("_plainNumber() writes numbers plainly", () => {
    assert.deepEqual(
      [1e-7, 2.5e-6, 0.001, 0.5, 1, 1234.5678, 99999, 1e5, 3e12, -2e-9, 0].map(_plainNumber),
      ["10⁻⁷", "2.5×10⁻⁶", "0.001", "0.5", "1", "1235", "10⁵", "10⁵", "3×10¹²", "-2×10⁻⁹", "0"],
    );
  });
  await t.step("round ticks through 0 hit 0 exactly", () => {
    assert.deepEqual(_niceTicks(-0.875, 0, 5), [-0.8, -0.6, -0.4, -0.2, 0]);
    assert.deepEqual(_niceTicks(-0.3, 0.35, 6), [-0.2, 0, 0.2]);
  });
  await t.step("ticks inside a range of less than one tick step", () => {
    const { tickvals } = _logTicks(130, 180);
    assert.ok(
      tickvals.length >= 2 && tickvals.every((v) => v >= 130 && v <= 180),
      String(tickvals),
    );
  });
});

Deno.test("W^Q and d_k in titles and names are typeset, not shown with carets", async (t) => {
  await t.step("_markup() turns the notation into <sup> and <sub>, escaping the rest", () => {
    const cases: [string, string][] = [
      ["Q = X·W^Q", "Q = X·W<sup>Q</sup>"],
      ["Q·Kᵀ / √d_k", "Q·Kᵀ / √d<sub>k</sub>"],
      [
        "d^−0.5 · min(step^−0.5, warmup^-1.5)",
        "d<sup>−0.5</sup> · min(step<sup>−0.5</sup>, warmup<sup>-1.5</sup>)",
      ],
      ["x^{2k} + h_{i,j} and x_(l−1)", "x<sup>2k</sup> + h<sub>i,j</sub> and x<sub>(l−1)</sub>"],
      ["d_model = 512", "d<sub>model</sub> = 512"],
      ["key_padding_mask, a ^ b, 2^", "key_padding_mask, a ^ b, 2^"],
      ["<b>^</b> & W^<i>", "&lt;b&gt;^&lt;/b&gt; &amp; W^&lt;i&gt;"],
    ];
    for (const [plain, markup] of cases) assert.equal(_markup(plain), markup, plain);
  });
  const fig = heatmap([[1, 2], [3, 4]], {
    title: "Q = X·W^Q",
    xTitle: "d_k",
    colorbarTitle: "‖∇W^K‖",
    xLabels: ["a^b", "c_d"],
  });
  const line = linePlot([{ name: "W^V", x: [1, 2], y: [1, 2] }, {
    name: "b",
    x: [1, 2],
    y: [2, 1],
  }], {
    yTitle: "d^−0.5",
  });
  await t.step("plotly gets <sup>/<sub>; token labels stay literal", () => {
    assert.equal(fig.layout.title?.text, "Q = X·W<sup>Q</sup>");
    assert.equal(fig.layout.xaxis?.title?.text, "d<sub>k</sub>");
    assert.equal(heat(fig).colorbar?.title?.text, "‖∇W<sup>K</sup>‖");
    assert.deepEqual(fig.layout.xaxis?.ticktext, ["a^b", "c_d"]);
    assert.equal((line.data[0] as ScatterTrace).name, "W<sup>V</sup>");
    assert.equal(line.layout.yaxis?.title?.text, "d<sup>−0.5</sup>");
  });
  await t.step("figureToSvg() raises and lowers them too", () => {
    for (const f of [fig, line]) {
      const svg = figureToSvg(f);
      checkXml(svg);
      assert.ok(!/W\^|d_k|d\^/.test(svg), "no caret notation left in the drawing");
      assert.ok(!svg.includes("&lt;sup&gt;") && !svg.includes("<sup>"));
    }
    const svg = figureToSvg(fig);
    assert.ok(svg.includes('W<tspan baseline-shift="super" font-size="11">Q</tspan>'), "title");
    assert.ok(svg.includes('d<tspan baseline-shift="sub" font-size="8">k</tspan>'), "axis title");
    assert.ok(
      svg.includes('∇W<tspan baseline-shift="super" font-size="8">K</tspan>‖'),
      "bar title",
    );
    assert.ok(svg.includes(">a^b</text>"), "token labels literal");
    const lsvg = figureToSvg(line);
    assert.ok(lsvg.includes('W<tspan baseline-shift="super" font-size="8">V</tspan>'), "legend");
    assert.ok(lsvg.includes('d<tspan baseline-shift="super" font-size="8">−0.5</tspan>'));
  });
});

Deno.test("figureToSvg() writes well-formed, escaped SVG", async (t) => {
  const toks = ["<s>", EVIL, "a&b", "\u0001ctl", 'q"uote'];
  const w = softmaxRows(5, true);
  const figs: Record<string, Figure> = {
    attentionHeatmap: attentionHeatmap(w, { queryLabels: toks, keyLabels: toks, title: EVIL }),
    maskHeatmap: maskHeatmap(w.map((r) => r.map((v) => v > 0)), { xLabels: toks, yLabels: toks }),
    heatmap: heatmap([[1, -Infinity], [-2, NaN]], { title: "<scores>", colorbarTitle: "s&c" }),
    headGrid: headGrid(tensor([w, w, w]), { labels: toks, headLabels: [EVIL, "b", "c"] }),
    layerHeadGrid: layerHeadGrid([tensor([w, w]), tensor([w])], { labels: toks }),
    positionalEncodingHeatmap: positionalEncodingHeatmap(w, { positionLabels: toks }),
    linePlot: linePlot([{ name: EVIL, x: [1, 2, 3], y: [3, 1, 2] }, {
      name: "b",
      x: [1, 2],
      y: [0, 1],
    }], {
      title: "<t>",
      logY: true,
    }),
  };
  for (const [name, fig] of Object.entries(figs)) {
    await t.step(`${name}: well-formed with escaped labels`, () => {
      const svg = figureToSvg(fig);
      assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'));
      assert.ok(checkXml(svg) > 5);
      assert.ok(!svg.includes("<script"), "a token must not become a script element");
      assert.ok(!svg.includes("<s>") && !svg.includes("<b>"));
      assert.ok(![...svg].some((c) => c.charCodeAt(0) < 9), "no control characters");
      assert.match(svg, new RegExp(`width="${fig.layout.width}" height="${fig.layout.height}"`));
    });
  }
  await t.step("token text comes out escaped once", () => {
    const svg = figureToSvg(figs.attentionHeatmap);
    assert.ok(svg.includes("&lt;s&gt;"));
    assert.ok(svg.includes("a&amp;b"));
    assert.ok(svg.includes("q&quot;uote"));
    assert.ok(svg.includes("&lt;/script&gt;&lt;script&gt;alert(&quot;x&quot;)"));
    assert.ok(!svg.includes("&amp;lt;"), "not double-escaped");
  });
  await t.step("cells use the figure's colour scale", () => {
    const svg = figureToSvg(attentionHeatmap([[1, 0]]));
    const scale = sequentialScale();
    assert.ok(svg.includes(`fill="${colorAt(scale, 1)}"`));
    assert.ok(svg.includes(`fill="${colorAt(scale, 0)}"`));
  });
  await t.step("equal neighbours merge into one rect", () => {
    const svg = figureToSvg(
      heatmap(Array.from({ length: 10 }, () => Array(10).fill(0.5)), { zmin: 0, zmax: 1 }),
      {
        maxCells: 200,
      },
    );
    assert.equal((svg.match(CELL) ?? []).length, 10, "one rect per row");
  });
  await t.step("bad options", () => {
    assert.throws(() => figureToSvg(figs.heatmap, { maxCells: 0 }), RangeError);
  });
});

Deno.test("Figure displays in Jupyter as one MIME bundle", async (t) => {
  _forgetPlotly();
  const fig = attentionHeatmap([[1, 0], [0.5, 0.5]], { keyLabels: ["<script>", "b"], title: "t" });

  await t.step('four MIME types under Symbol.for("Jupyter.display")', () => {
    assert.equal(jupyterDisplay, Symbol.for("Jupyter.display"));
    const b = display(fig);
    assert.deepEqual(Object.keys(b).sort(), [
      "application/vnd.plotly.v1+json",
      "image/svg+xml",
      "text/html",
      "text/plain",
    ]);
    assert.deepEqual(b["application/vnd.plotly.v1+json"], {
      data: fig.data,
      layout: fig.layout,
      config: { displaylogo: false, responsive: true, displayModeBar: "hover" },
    });
    assert.equal(b["text/plain"], 'Figure(attentionHeatmap "t": 2×2 attention weights)');
    checkXml(b["image/svg+xml"]);
    assert.doesNotThrow(() => JSON.parse(JSON.stringify(b)));
  });
  await t.step("without plotly.js, text/html is the static SVG and no script", () => {
    const html = display(fig)["text/html"];
    assert.ok(html.includes("<svg"));
    assert.ok(!html.includes("<script"));
    assert.ok(html.includes("&lt;script&gt;"));
  });
  await t.step(
    "after usePlotly(), the first display carries plotly.js once, later ones wait for it",
    async () => {
      const fake = "/* FAKE PLOTLY */ window.Plotly = { newPlot: function () {} };";
      usePlotly(fake);
      const first = display(fig)["text/html"];
      const second = display(fig)["text/html"];
      const third = display(heatmap([[1]]))["text/html"];
      assert.equal(await unpackLoader(first), fake);
      assert.ok(
        first.includes("if (window.Plotly || window.__attentionLabPlotly) return;"),
        "guarded",
      );
      assert.equal(first.split("DecompressionStream").length - 1, 1);
      assert.ok(!second.includes("DecompressionStream") && !third.includes("DecompressionStream"));
      for (const html of [first, second, third]) {
        assert.ok(html.includes("window.Plotly.newPlot"));
        assert.ok(html.includes("setTimeout(draw"), "polls until plotly.js is ready");
        assert.ok(html.includes("<svg"), "static fallback stays until plotly draws");
        assert.ok(!/src=["']?https?:/.test(html), "no CDN");
      }
      // element ids are unique across displays
      const ids = [first, second, third].map((h) => /<div id="([^"]+)"/.exec(h)![1]);
      assert.equal(new Set(ids).size, 3);
      usePlotly(fake);
      assert.ok(
        display(fig)["text/html"].includes("DecompressionStream"),
        "usePlotly() again re-sends it",
      );
      _forgetPlotly();
    },
  );
  await t.step("displaying usePlotly()'s result sends plotly.js, so figures do not", async () => {
    const fake = "window.Plotly = { newPlot: function () {} }; // " + "x".repeat(1000);
    const loader = usePlotly(fake);
    assert.ok(loader instanceof PlotlyDisplay);
    const b = loader[jupyterDisplay]();
    assert.deepEqual(Object.keys(b).sort(), ["text/html", "text/plain"]);
    assert.equal(await unpackLoader(b["text/html"]), fake);
    assert.ok(!display(fig)["text/html"].includes("DecompressionStream"));
    assert.ok(display(fig)["text/html"].includes("window.Plotly.newPlot"));
    _forgetPlotly();
  });
  await t.step("a token cannot end the script early", () => {
    usePlotly("window.Plotly = {};");
    const html = display(attentionHeatmap([[1]], { keyLabels: [EVIL], title: EVIL }))["text/html"];
    _forgetPlotly();
    assert.equal((html.match(/<script/g) ?? []).length, 2, "only the library's own two scripts");
    assert.equal((html.match(/<\/script>/g) ?? []).length, 2);
    assert.ok(!html.includes('alert("x")'));
  });
  await t.step("usePlotly() rejects a non-string", () => {
    assert.throws(() => usePlotly("" as string), TypeError);
    assert.throws(() => usePlotly(undefined as never), /usePlotly: source must be/);
  });
});

Deno.test("usePlotly()'s output says what a viewer without scripts shows", () => {
  const html = usePlotly("window.Plotly = {};")[jupyterDisplay]()["text/html"];
  _forgetPlotly();
  // What remains without scripts (sanitised, untrusted): the text of the status line.
  const bare = html.replace(/<script[\s\S]*?<\/script>/g, "").replace(/<[^>]+>/g, "");
  assert.match(bare, /plotly\.js is not running here .*: the figures below are static images/);
  assert.ok(!bare.includes("interactive"));
  // With scripts, the status line is replaced.
  const id = /<div id="([^"]+)"/.exec(html)![1];
  assert.ok(
    html.includes(
      `document.getElementById("${id}").textContent = "plotly.js registered: figures below are interactive, offline"`,
    ),
  );
});

Deno.test("headGrid() puts heads on their own scales with sharedScale: false", () => {
  const slopes = [1 / 2, 1 / 4, 1 / 8];
  const bias = slopes.map((m) =>
    [0, 1, 2, 3].map((i) => [0, 1, 2, 3].map((j) => -m * Math.abs(i - j)))
  );
  const own = headGrid(bias, { sharedScale: false, colorbarTitle: "bias" });
  assert.deepEqual(own.data.map((t) => t.type === "heatmap" && [t.zmin, t.zmax]), [
    [-1.5, 0],
    [-0.75, 0],
    [-0.375, 0],
  ]);
  assert.ok(own.data.every((t) => t.type === "heatmap" && t.showscale));
  const shared = headGrid(bias, { colorbarTitle: "bias" });
  assert.deepEqual(shared.data.map((t) => t.type === "heatmap" && t.showscale), [
    true,
    false,
    false,
  ]);
  assert.ok(shared.data.every((t) => t.type === "heatmap" && t.zmin === -1.5 && t.zmax === 0));
  checkXml(figureToSvg(own));
  assert.throws(
    () => headGrid(bias, { sharedScale: "no" as never }),
    /headGrid: options.sharedScale must be a boolean, got string/,
  );
});

Deno.test("toHtml() writes one offline page", async (t) => {
  _forgetPlotly();
  const fake = "/* FAKE PLOTLY </script> */ window.Plotly = { newPlot: function () {} };";
  const figs = Array.from(
    { length: 12 },
    (_, i) => attentionHeatmap(softmaxRows(4), { title: `head ${i}` }),
  );
  await t.step("plotly.js inlined exactly once for many figures", () => {
    const page = toHtml(figs, { title: "heads", plotlyJs: fake });
    assert.ok(page.startsWith("<!doctype html>"));
    assert.equal(page.split("FAKE PLOTLY").length - 1, 1);
    assert.ok(page.includes("<\\/script> */"), "</script> inside plotly.js is neutralised");
    assert.equal((page.match(/class="attention-lab-figure"/g) ?? []).length, 12);
    assert.ok(!/<script[^>]*\ssrc=/i.test(page), "no external scripts");
    assert.ok(!/(src|href)=["']?https?:/i.test(page), "no http(s) resources");
  });
  await t.step("headings and notes, escaped", () => {
    const page = toHtml([{ figure: figs[0], heading: "<h>", note: "a & b" }, figs[1]], {
      title: EVIL,
    });
    assert.ok(page.includes("<h2>&lt;h&gt;</h2>"));
    assert.ok(page.includes("<p>a &amp; b</p>"));
    assert.ok(page.includes(`<title>${escapeHtml(EVIL)}</title>`));
  });
  await t.step("without plotly.js the page is static SVG, no scripts", () => {
    const page = toHtml(figs[0]);
    assert.ok(!page.includes("<script"));
    assert.equal((page.match(/<svg/g) ?? []).length, 1);
  });
  await t.step("uses the source registered with usePlotly() by default", () => {
    usePlotly(fake);
    const page = toHtml(figs.slice(0, 3));
    _forgetPlotly();
    assert.equal(page.split("FAKE PLOTLY").length - 1, 1);
  });
  await t.step("bad entries are a TypeError", () => {
    assert.throws(() => toHtml([{} as never]), /toHtml: figures\[0\] must be a Figure/);
  });
});

Deno.test("large maps stay usable", async (t) => {
  const n = 1000;
  const w = tensor(softmaxRows(n, true));
  const tokens = Array.from({ length: n }, (_, i) => `tok${i}`);
  const fig = attentionHeatmap(w, { queryLabels: tokens, keyLabels: tokens });
  await t.step("1000 × 1000: SVG under 3 MB with at most 200 × 200 cells", () => {
    const svg = figureToSvg(fig);
    assert.ok(svg.length < 3e6, `SVG is ${svg.length} bytes`);
    const cells = (svg.match(CELL) ?? []).length;
    assert.ok(cells <= 200 * 200, `${cells} cell rects`);
    checkXml(svg);
  });
  await t.step("1000 × 1000: plotly JSON under 10 bytes per cell", () => {
    const json = JSON.stringify(fig);
    assert.ok(json.length < 10 * n * n, `JSON is ${json.length} bytes for ${n * n} cells`);
    const full = JSON.stringify(w.toArray());
    assert.ok(json.length < 0.6 * full.length, `rounded ${json.length} vs full ${full.length}`);
  });
  await t.step("1000 × 1000: offline page keeps every cell", () => {
    const page = toHtml(fig, { plotlyJs: "window.Plotly = {};" });
    assert.ok(page.length < 12e6, `page is ${page.length} bytes`);
    assert.ok(!page.includes("blocks"), "no block means in the page");
    assert.ok(page.includes(JSON.stringify(heat(fig).z[999].slice(0, 3)).slice(1, -1)));
  });
  await t.step("1000 × 1000: notebook display stays under the kernel's message limit", async () => {
    const source = await loadPlotlyJs();
    usePlotly(source);
    const b = display(fig);
    const size = JSON.stringify(b).length;
    assert.ok(size <= 2_500_000, `bundle is ${size} characters`);
    const shown = b["application/vnd.plotly.v1+json"].data[0] as HeatmapTrace;
    assert.ok(shown.z.length < n && shown.dx! > 1, "block means in the notebook view");
    assert.equal(shown.x0, (shown.dx! - 1) / 2);
    assert.match(b["text/plain"], /means of \d+×\d+ blocks/);
    assert.ok(
      !b["text/html"].includes("DecompressionStream"),
      "plotly.js waits for a smaller output",
    );
    const small = display(attentionHeatmap([[1]]));
    _forgetPlotly();
    assert.ok(
      small["text/html"].includes("DecompressionStream"),
      "the next small figure carries it",
    );
    assert.ok(JSON.stringify(small).length <= 2_500_000);
  });
  await t.step("12 layers × 12 heads of 100 × 100: SVG shares one cell budget", () => {
    const layer = tensor(Array.from({ length: 12 }, () => softmaxRows(100)));
    const svg = figureToSvg(layerHeadGrid(Array(12).fill(layer)));
    assert.ok(svg.length < 3e6, `SVG is ${svg.length} bytes`);
    checkXml(svg);
  });
});

Deno.test("loadPlotlyJs() finds the pinned plotly.js bundle offline", async (t) => {
  const config = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));
  const version = /@([\d.]+)$/.exec(config.imports["plotly.js-dist-min"])![1];
  const source = await loadPlotlyJs();
  await t.step("the text import returns the pinned version", () => {
    assert.ok(source.length > 1_000_000, `${source.length} characters`);
    assert.ok(source.includes(`plotly.js v${version}`), `expected plotly.js v${version}`);
    assert.ok(source.includes("window.Plotly"));
  });
  await t.step("the --allow-read fallback reads the same file", async () => {
    assert.equal(await _readPlotlyJsFile(), source);
  });
  await t.step("a real page inlines it once", () => {
    const page = toHtml([heatmap([[1, 2]]), heatmap([[3, 4]])], { plotlyJs: source });
    assert.equal(page.split(`plotly.js v${version}`).length - 1, 1);
    assert.ok(page.length < source.length + 100_000);
  });
});

Deno.test("escapeHtml() escapes for HTML and XML", async (t) => {
  await t.step("the five special characters", () => {
    assert.equal(escapeHtml(`&<>"'`), "&amp;&lt;&gt;&quot;&#39;");
  });
  await t.step("characters XML cannot hold become U+FFFD", () => {
    assert.equal(escapeHtml("a\u0000b\u001Fc\uD800"), "a\uFFFDb\uFFFDc\uFFFD");
    assert.equal(escapeHtml("tab\tnl\n"), "tab\tnl\n");
  });
});
