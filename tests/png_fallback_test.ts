import assert from "node:assert/strict";
import { inflateSync } from "node:zlib";
import {
  attentionHeatmap,
  colorAt,
  figureToSvg,
  jupyterDisplay,
  linePlot,
  sequentialScale,
} from "../lib/plot/mod.ts";
import {
  addPngFallbacks,
  loadRasterizer,
  type NotebookJson,
  svgSize,
} from "../scripts/png_fallback.ts";

/** Width, height and RGBA rows of an 8-bit RGBA PNG (what resvg writes). */
function decodePng(png: Uint8Array): { width: number; height: number; rgba: Uint8Array } {
  const sig = [137, 80, 78, 71, 13, 10, 26, 10];
  assert.deepEqual([...png.slice(0, 8)], sig, "PNG signature");
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  let at = 8;
  let width = 0, height = 0;
  const idat: Uint8Array[] = [];
  while (at < png.length) {
    const len = view.getUint32(at);
    const type = String.fromCharCode(...png.slice(at + 4, at + 8));
    const body = png.slice(at + 8, at + 8 + len);
    if (type === "IHDR") {
      width = view.getUint32(at + 8);
      height = view.getUint32(at + 12);
      assert.equal(body[8], 8, "bit depth 8");
      assert.equal(body[9], 6, "colour type RGBA");
    }
    if (type === "IDAT") idat.push(body);
    at += 12 + len;
  }
  const raw = inflateSync(new Uint8Array(idat.flatMap((b) => [...b])));
  // Undo the per-row filters (PNG spec, filter types 0-4).
  const stride = width * 4;
  const rgba = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const f = raw[y * (stride + 1)];
    for (let x = 0; x < stride; x++) {
      const v = raw[y * (stride + 1) + 1 + x];
      const a = x >= 4 ? rgba[y * stride + x - 4] : 0;
      const b = y > 0 ? rgba[(y - 1) * stride + x] : 0;
      const c = x >= 4 && y > 0 ? rgba[(y - 1) * stride + x - 4] : 0;
      const p = a + b - c;
      const [pa, pb, pc] = [Math.abs(p - a), Math.abs(p - b), Math.abs(p - c)];
      const paeth = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      const pred = [0, a, b, (a + b) >> 1, paeth][f];
      rgba[y * stride + x] = (v + pred) & 255;
    }
  }
  return { width, height, rgba };
}

/** Pixels darker than mid-grey: text, ticks and frames (the heatmap cells here are light). */
function darkPixels(img: { rgba: Uint8Array }): number {
  let n = 0;
  for (let i = 0; i < img.rgba.length; i += 4) {
    if (img.rgba[i] + img.rgba[i + 1] + img.rgba[i + 2] < 3 * 100) n++;
  }
  return n;
}

const notebookWith = (bundles: Record<string, unknown>[]): NotebookJson => ({
  cells: [{
    outputs: bundles.map((data, i) => ({
      output_type: i % 2 ? "display_data" : "execute_result",
      data,
      metadata: {},
    })),
  }],
});

Deno.test("addPngFallbacks() puts a PNG in each figure bundle and in place of its SVG in the HTML", async (t) => {
  const fig = attentionHeatmap([[1, 0], [0.5, 0.5]], { title: "t", keyLabels: ["a", "<b>"] });
  const bundle = fig[jupyterDisplay]();
  const svg = bundle["image/svg+xml"];
  const fake = (s: string) => new TextEncoder().encode(`png of ${s.length}`);
  // nbformat may store multiline strings as lists of lines.
  const lines = (s: string) => s.split(/(?<=\n)/);
  const nb = notebookWith([
    { ...bundle, "text/html": lines(bundle["text/html"]), "image/svg+xml": lines(svg) },
    { "text/plain": "just text" },
  ]);
  const report = addPngFallbacks(nb, fake);
  const out = nb.cells[0].outputs![0];
  const data = out.data as Record<string, string>;
  const b64 = btoa(`png of ${svg.length}`);

  await t.step("image/png and its size in the metadata", () => {
    assert.deepEqual(report, { images: 1, html: 1, bytes: `png of ${svg.length}`.length });
    assert.equal(data["image/png"], b64);
    assert.deepEqual(out.metadata?.["image/png"], svgSize(svg));
    assert.deepEqual(svgSize(svg), { width: fig.layout.width, height: fig.layout.height });
  });
  await t.step("the HTML shows the PNG where it showed the SVG, and keeps its script", () => {
    const html = data["text/html"];
    assert.ok(!html.includes("<svg"), "no inline SVG left (sanitisers drop <svg>)");
    assert.ok(html.includes(`<img src="data:image/png;base64,${b64}"`));
    assert.ok(html.includes(`width="${fig.layout.width}" height="${fig.layout.height}"`));
    assert.ok(html.includes('alt="Figure(attentionHeatmap &quot;t&quot;: 2×2 attention weights)"'));
    assert.match(html, /class="attention-lab-figure"/);
    assert.deepEqual(
      Object.keys(data).sort(),
      [
        "application/vnd.plotly.v1+json",
        "image/png",
        "image/svg+xml",
        "text/html",
        "text/plain",
      ],
    );
  });
  await t.step("other outputs are untouched; a second run changes nothing", () => {
    assert.deepEqual(nb.cells[0].outputs![1].data, { "text/plain": "just text" });
    const before = JSON.stringify(nb);
    assert.deepEqual(addPngFallbacks(nb, fake), { images: 0, html: 0, bytes: 0 });
    assert.equal(JSON.stringify(nb), before);
  });
  await t.step("an HTML without that SVG keeps its HTML and still gains the PNG", () => {
    const other = notebookWith([{ "text/html": "<div>view</div>", "image/svg+xml": svg }]);
    assert.deepEqual(addPngFallbacks(other, fake).html, 0);
    const d = other.cells[0].outputs![0].data!;
    assert.equal(d["text/html"], "<div>view</div>");
    assert.equal(d["image/png"], b64);
  });
});

Deno.test("loadRasterizer() draws the library's SVG, text included, at twice its size", async () => {
  const rasterize = await loadRasterizer();
  const plain = linePlot([{ name: "a", x: [0, 1], y: [0, 1] }], { width: 300, height: 200 });
  const titled = linePlot([{ name: "a", x: [0, 1], y: [0, 1] }], {
    width: 300,
    height: 200,
    title: "A title in DejaVu Sans",
    xTitle: "a long x axis title",
  });
  const bare = decodePng(rasterize(figureToSvg(plain)));
  const withText = decodePng(rasterize(figureToSvg(titled)));
  assert.deepEqual([bare.width, bare.height], [600, 400]);
  // Text draws only with a font: the titles add dark pixels (thousands at 2x).
  assert.ok(
    darkPixels(withText) > darkPixels(bare) + 1000,
    `${darkPixels(withText)} vs ${darkPixels(bare)}`,
  );
  // The heatmap's colours come through: the centre of query 0's cell for key 0 (weight 1,
  // top left, as the SVG draws it) has the top colour of the scale.
  const fig = attentionHeatmap([[1, 0], [0, 1]]);
  const heat = decodePng(rasterize(figureToSvg(fig)));
  const { l, r, t, b } = fig.layout.margin;
  const x = 2 * (l + 0.25 * (fig.layout.width - l - r));
  const y = 2 * (t + 0.25 * (fig.layout.height - t - b));
  const at = (Math.round(y) * heat.width + Math.round(x)) * 4;
  const hex = colorAt(sequentialScale(), 1);
  const want = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  const got = [...heat.rgba.slice(at, at + 3)];
  assert.ok(want.every((v, i) => Math.abs(v - got[i]) <= 2), `${got} vs ${want} (${hex})`);
});
