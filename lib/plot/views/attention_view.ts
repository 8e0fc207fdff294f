/**
 * {@link AttentionView}: an interactive attention view (head, model, neuron
 * view or training scrubber) that writes itself as offline HTML, as a static
 * SVG and as a MIME bundle for Deno's Jupyter kernel.
 *
 * @module
 */

import { _htmlPage } from "../_page.ts";
import { _scriptJson, escapeHtml } from "../escape.ts";
import { _DISPLAY_BUDGET, jupyterDisplay } from "../jupyter_display.ts";
import { _RENDERER_JS } from "./_renderer.ts";
import { _viewSvg } from "./_static_svg.ts";
import type { ViewSpec } from "./view_spec.ts";

/** The MIME bundle of an {@link AttentionView} in Deno's Jupyter kernel. */
export interface ViewMimeBundle {
  /** The interactive view (renderer inlined once per session) over its static SVG. */
  "text/html": string;
  /** The static drawing, for frontends that run no scripts (untrusted notebooks, GitHub). */
  "image/svg+xml": string;
  /** A one-line description. */
  "text/plain": string;
}

/** Options of {@link AttentionView.toHtml}. */
export interface ViewHtmlOptions {
  /** A whole page (`<!doctype html>` …) instead of a fragment. Default false. */
  page?: boolean;
  /** The page title. Default: the view's title, else `"Attention Lab view"`. */
  title?: string;
}

// Unique element ids across displays in one page (notebook outputs share one DOM).
const PREFIX = `alv${Math.floor(Math.random() * 36 ** 6).toString(36)}`;
let counter = 0;
// Whether this session's notebook displays already carried the renderer.
let rendererShown = false;

/** The renderer in a script element; a second copy on the page returns at once. */
export function _rendererScript(): string {
  return `<script type="text/javascript">${_RENDERER_JS}</script>`;
}

/**
 * The view's HTML: a div holding the static SVG, then a script that waits
 * for the renderer (up to 60 s; it may come with a later output) and draws
 * the interactive view in place of the SVG. Without scripts the SVG stays.
 */
function fragment(spec: ViewSpec, svg: string, withRenderer: boolean): string {
  const id = `${PREFIX}-${++counter}`;
  const div = `<div id="${id}" class="attention-lab-view" data-al-kind="${
    escapeHtml(spec.view)
  }" style="max-width:100%;overflow-x:auto">${svg}</div>`;
  const draw = `<script type="text/javascript">(function () {
  var spec = ${_scriptJson(spec)};
  var tries = 0;
  function draw() {
    var el = document.getElementById(${JSON.stringify(id)});
    if (!el) return;
    if (window.AttentionLabViews) window.AttentionLabViews.render(el, spec);
    else if (tries++ < 600) setTimeout(draw, 100);
  }
  draw();
})();</script>`;
  return [withRenderer ? _rendererScript() : "", div, draw].filter(Boolean).join("\n");
}

/**
 * One attention view. Built by `headView`, `modelView`, `neuronView` and
 * `trainingScrubber`; holds the JSON {@link ViewSpec} the browser renderer
 * draws. As the last expression of a notebook cell it displays itself
 * (interactive HTML plus a static SVG); {@link AttentionView.toHtml} writes
 * an offline page or fragment, {@link AttentionView.toSvg} a static image.
 *
 * @example A head view as a page, an SVG and a notebook bundle
 * ```ts
 * import { headView } from "./head_view.ts";
 * import { jupyterDisplay } from "../jupyter_display.ts";
 * import assert from "node:assert/strict";
 * const view = headView([[[[1, 0], [0.5, 0.5]]]], { labels: ["a", "b"] }); // 1 layer, [H=1, 2, 2]
 * assert.ok(view.toHtml({ page: true }).startsWith("<!doctype html>"));
 * assert.ok(view.toSvg().startsWith("<svg"));
 * assert.deepEqual(Object.keys(view[jupyterDisplay]()).sort(), ["image/svg+xml", "text/html", "text/plain"]);
 * ```
 */
export class AttentionView {
  /** The JSON the renderer draws (see view_spec.ts). */
  readonly spec: ViewSpec;
  /** A one-line description for `text/plain`. */
  readonly description: string;

  /** Wraps a spec; the builders call this. */
  constructor(spec: ViewSpec, description: string) {
    this.spec = spec;
    this.description = description;
  }

  /**
   * A static SVG of the view as first shown (no browser needed): the head view's
   * first layer, the model view's grid, the neuron view's chosen query, the
   * scrubber's snapshots side by side.
   *
   * @returns An SVG document (`<svg xmlns=…>`), every label escaped.
   *
   * @example Well-formed and escaped
   * ```ts
   * import { headView } from "./head_view.ts";
   * import assert from "node:assert/strict";
   * const svg = headView([[[[1]]]], { labels: ["</script>"] }).toSvg();
   * assert.ok(svg.includes("&lt;/script&gt;") && !svg.includes("</script>"));
   * ```
   */
  toSvg(): string {
    return _viewSvg(this.spec);
  }

  /**
   * The view as HTML that works offline: the renderer inlined (once), the
   * static SVG shown until it runs, then the interactive view.
   *
   * @param options `page: true` for a whole page, and its title.
   * @returns A fragment, or a page starting with `<!doctype html>`.
   *
   * @example A page with no network access
   * ```ts
   * import { headView } from "./head_view.ts";
   * import assert from "node:assert/strict";
   * const page = headView([[[[1]]]]).toHtml({ page: true, title: "one head" });
   * assert.ok(!/<script[^>]*\ssrc=/.test(page) && !page.includes("https:")); // nothing fetched
   * assert.ok(page.includes("<title>one head</title>"));
   * ```
   */
  toHtml(options: ViewHtmlOptions = {}): string {
    const body = fragment(this.spec, this.toSvg(), true);
    if (!options.page) return body;
    return _htmlPage(options.title ?? (this.spec.title || "Attention Lab view"), [body]);
  }

  /** The spec, also what `JSON.stringify` writes. */
  toJSON(): ViewSpec {
    return this.spec;
  }

  /**
   * A one-line description, e.g. `AttentionView(head: 3 roles, 2 layers, 4 heads, 9×10 tokens)`.
   *
   * @returns The description.
   */
  toString(): string {
    return `AttentionView(${this.spec.view}: ${this.description})`;
  }

  /**
   * The MIME bundle for Deno's Jupyter kernel: `text/html` (the interactive
   * view over its static SVG; the renderer travels with the first view of the
   * session, later ones wait for it), `image/svg+xml` (the static SVG, which
   * untrusted notebooks and GitHub show) and `text/plain`.
   *
   * @returns The bundle.
   * @throws {RangeError} When the bundle would exceed the kernel's message limit
   *   (2.5 MB): the message says which options make the view smaller.
   */
  [jupyterDisplay](): ViewMimeBundle {
    const svg = this.toSvg();
    const html = fragment(this.spec, svg, !rendererShown);
    const size = html.length + svg.length;
    if (size > _DISPLAY_BUDGET) {
      throw new RangeError(
        `AttentionView: this ${this.spec.view} view needs ${size} characters, over the notebook limit of ${_DISPLAY_BUDGET}; show fewer layers or heads, a smaller topK, or save it with toHtml({ page: true })`,
      );
    }
    rendererShown = true;
    return { "text/html": html, "image/svg+xml": svg, "text/plain": this.toString() };
  }
}
