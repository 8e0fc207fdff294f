/**
 * {@link viewsRendererJs}: the source of the browser renderer that draws the
 * attention views, for pages that drive the views themselves.
 *
 * @module
 */

import { _RENDERER_JS } from "./_renderer.ts";

/**
 * The browser renderer's JavaScript source (plain ES2017, no dependencies,
 * about 37 KB), for a page that builds or updates views live: put it in a
 * `<script>` once, then call `AttentionLabViews.render(element, spec)` with a
 * view's `spec` and `handle.update(nextSpec)` as the data changes. The API,
 * the spec format and the `data-al` hooks are documented in
 * lib/plot/views/_renderer.ts and view_spec.ts. Loading it twice is harmless:
 * the second copy returns at once.
 *
 * @returns The source; it holds no `</script` so it can be inlined as is.
 *
 * @example Inline it into a page
 * ```ts
 * import { viewsRendererJs } from "./views_renderer.ts";
 * import assert from "node:assert/strict";
 * const js = viewsRendererJs();
 * assert.ok(js.includes("AttentionLabViews") && !/<\/script/i.test(js));
 * const page = `<script>${js}</script><div id="v"></div>`;
 * assert.ok(page.length > js.length);
 * ```
 */
export function viewsRendererJs(): string {
  return _RENDERER_JS;
}
