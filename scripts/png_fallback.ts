/**
 * PNG fallbacks for the figures of an executed notebook, so that they show
 * where scripts, SVG and inline SVG are not trusted.
 *
 * Why: classic Jupyter Notebook (6.x, `notebook/static/notebook/js/outputarea.js`)
 * renders an output by walking its display order (application/javascript,
 * text/html, text/markdown, text/latex, image/svg+xml, image/png, …) and takes
 * the first MIME type present. In a notebook that was not executed on this
 * machine (untrusted), only text/plain, text/latex and the raster images are
 * "safe"; text/html is passed through its HTML sanitizer (sanitize-html with
 * Google Caja's tag list: no `<svg>`, no `<script>`, no `style`), and
 * image/svg+xml is skipped outright. A figure's text/html, the SVG drawing
 * plus the plotly script, came out as one line of label text. The sanitizer
 * keeps `<img>` with its `src`, `width`, `height` and `alt`, and does not check
 * the scheme of `src` (so a `data:` URL survives); JupyterLab uses the same
 * sanitizer for untrusted HTML.
 *
 * What {@link addPngFallbacks} does, to every output that carries
 * `image/svg+xml` (the library's {@link figureToSvg} drawing: every Figure,
 * and any other bundle that offers one):
 *
 * 1. rasterises that SVG and adds the PNG as `image/png`, with the SVG's
 *    size in the output's metadata (GitHub and other viewers that show
 *    images but no HTML pick it);
 * 2. replaces every copy of the same SVG markup inside the output's
 *    `text/html` with an `<img>` of that PNG (a `data:` URL). Untrusted, the
 *    sanitised HTML is then the image; trusted (or in JupyterLab, VS Code,
 *    the nbconvert HTML export), the HTML's script still swaps in the
 *    interactive plotly figure, and VS Code and JupyterLab's plotly extension
 *    still render `application/vnd.plotly.v1+json` first.
 *
 * An HTML output that does not embed its own `image/svg+xml` verbatim gains
 * the `image/png` only; for its untrusted view to be an image, embed the SVG.
 *
 * The library itself stays free of I/O: the WebAssembly rasteriser
 * (`npm:@resvg/resvg-wasm`, pinned in deno.json) and a font are loaded here,
 * by {@link loadRasterizer}, explicitly.
 *
 * @module
 */

import { initWasm, Resvg } from "@resvg/resvg-wasm";
import { Buffer } from "node:buffer";

/** Turns one SVG document into PNG bytes. */
export type Rasterize = (svg: string) => Uint8Array;

/** How to find the fonts resvg draws text with (it has none of its own). */
export const FONT_FILES: readonly string[] = [
  "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
  "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
];
/** The Debian package with {@link FONT_FILES}. */
export const FONT_PACKAGE = "fonts-dejavu-core";

let wasmReady: Promise<void> | undefined;

/**
 * Loads resvg's WebAssembly (from Deno's npm cache: needs `--allow-read`) and
 * the DejaVu Sans fonts, and returns a rasteriser.
 *
 * @param options `scale`: device pixels per SVG pixel (default 2, sharp on
 *   high-density screens); `fontFiles`: TrueType files to draw text with.
 * @returns A function from SVG markup to PNG bytes.
 * @throws {Error} When a font file is missing, naming the package that has it.
 */
export async function loadRasterizer(
  options: { scale?: number; fontFiles?: readonly string[] } = {},
): Promise<Rasterize> {
  const scale = options.scale ?? 2;
  const files = options.fontFiles ?? FONT_FILES;
  const fonts = await Promise.all(files.map(async (f) => {
    try {
      return await Deno.readFile(f);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) {
        throw new Error(
          `png fallback: font ${f} not found; install it with: sudo apt-get install -y ${FONT_PACKAGE}`,
        );
      }
      throw e;
    }
  }));
  wasmReady ??= (async () => {
    const url = new URL(import.meta.resolve("@resvg/resvg-wasm/index_bg.wasm"));
    await initWasm(await Deno.readFile(url));
  })();
  await wasmReady;
  return (svg: string) => {
    const r = new Resvg(svg, {
      fitTo: { mode: "zoom", value: scale },
      font: {
        fontBuffers: fonts,
        loadSystemFonts: false,
        defaultFontFamily: "DejaVu Sans",
        sansSerifFamily: "DejaVu Sans",
      },
    });
    const png = r.render().asPng();
    r.free();
    return png;
  };
}

/** A notebook as nbformat 4 stores it (the parts read here). */
export interface NotebookJson {
  cells: {
    outputs?: {
      output_type: string;
      data?: Record<string, unknown>;
      metadata?: Record<string, unknown>;
    }[];
  }[];
}

/** nbformat's multiline strings: one string or a list of lines. */
const text = (v: unknown): string | undefined =>
  typeof v === "string" ? v : Array.isArray(v) ? v.join("") : undefined;

/** The `width` and `height` attributes of an SVG's root element, in pixels. */
export function svgSize(svg: string): { width: number; height: number } | undefined {
  const root = /<svg\b[^>]*>/.exec(svg)?.[0];
  const w = Number(/\swidth="([\d.]+)(?:px)?"/.exec(root ?? "")?.[1]);
  const h = Number(/\sheight="([\d.]+)(?:px)?"/.exec(root ?? "")?.[1]);
  return w > 0 && h > 0 ? { width: w, height: h } : undefined;
}

/** HTML-escapes an attribute value. */
const attr = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** What {@link addPngFallbacks} changed. */
export interface PngFallbackReport {
  /** Outputs that gained an `image/png`. */
  images: number;
  /** Of those, outputs whose `text/html` now shows the PNG in place of the SVG. */
  html: number;
  /** Bytes of PNG added (before base64). */
  bytes: number;
}

/**
 * Gives every output with an `image/svg+xml` an `image/png` of it, and puts
 * that PNG in place of the same SVG inside its `text/html` (see the module
 * documentation for why). Outputs that already have an `image/png` are left
 * as they are, so running it twice changes nothing.
 *
 * @param nb The executed notebook, changed in place.
 * @param rasterize SVG to PNG, e.g. from {@link loadRasterizer}.
 * @returns How many outputs changed.
 */
export function addPngFallbacks(nb: NotebookJson, rasterize: Rasterize): PngFallbackReport {
  const report: PngFallbackReport = { images: 0, html: 0, bytes: 0 };
  for (const cell of nb.cells) {
    for (const out of cell.outputs ?? []) {
      if (out.output_type !== "display_data" && out.output_type !== "execute_result") continue;
      const data = out.data ?? {};
      const svg = text(data["image/svg+xml"]);
      if (!svg || data["image/png"] !== undefined) continue;
      const size = svgSize(svg);
      const png = rasterize(svg);
      const b64 = Buffer.from(png).toString("base64");
      data["image/png"] = b64;
      report.images++;
      report.bytes += png.length;
      if (size) out.metadata = { ...out.metadata, "image/png": { ...size } };
      const html = text(data["text/html"]);
      if (html !== undefined && html.includes(svg)) {
        const alt = attr(text(data["text/plain"]) ?? "figure");
        const dims = size ? ` width="${size.width}" height="${size.height}"` : "";
        const img = `<img src="data:image/png;base64,${b64}"${dims} alt="${alt}" ` +
          `style="max-width:100%;height:auto">`;
        data["text/html"] = html.split(svg).join(img);
        report.html++;
      }
    }
  }
  return report;
}
