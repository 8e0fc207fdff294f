/**
 * {@link modelView}: BertViz's model view, offline: every layer × head of a
 * role as a thumbnail of the head view; click one to open it large.
 *
 * @module
 */

import type { HeadsInput } from "../_matrix.ts";
import { AttentionView } from "./attention_view.ts";
import type { AttentionRole } from "./_encode.ts";
import { _describeRoles, _headSpec, _roles, type HeadViewOptions } from "./head_view.ts";

/**
 * The model view: a grid of layer × head thumbnails (lines between the query
 * and key positions, one colour per head) with a role selector; clicking a
 * thumbnail opens that head large, with its token labels and hover focus.
 * Takes the same input as `headView`.
 *
 * @param attention Per-layer maps `[H, Tq, Tk]`, or {@link AttentionRole}s.
 * @param options As `headView`'s (`layer` and `heads` are not used).
 * @returns An {@link AttentionView}.
 * @throws {RangeError} As `headView`.
 * @throws {TypeError} As `headView`.
 *
 * @example A grid of 2 layers × 2 heads
 * ```ts
 * import { modelView } from "./model_view.ts";
 * import assert from "node:assert/strict";
 * const layer = [[[1, 0], [0, 1]], [[0, 1], [1, 0]]]; // [H=2, Tq=2, Tk=2]
 * const view = modelView([layer, layer], { labels: ["a", "b"] });
 * assert.equal(view.spec.view, "model");
 * assert.equal((view.toSvg().match(/data-al="thumb"/g) ?? []).length, 4);
 * ```
 */
export function modelView(
  attention: readonly HeadsInput[] | readonly AttentionRole[],
  options: HeadViewOptions = {},
): AttentionView {
  const fn = "modelView";
  const roles = _roles(attention, options, fn);
  return new AttentionView(_headSpec("model", roles, options, fn), _describeRoles(roles));
}
