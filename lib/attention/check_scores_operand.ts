/**
 * The one check of a mask (or an additive score bias) against the attention
 * scores it will be applied to. Every attention function, layer and model
 * calls it, so the rule and the message are the same everywhere.
 *
 * @module
 */

import { Mask } from "../tensor/mask.ts";
import { formatShape } from "../tensor/shape.ts";
import { checkTensor, type Tensor } from "../tensor/tensor.ts";

/**
 * Checks that `operand` (a {@link Mask}, or with `kind: "bias"` a Tensor)
 * broadcasts against `scores` without enlarging them: aligned from the right,
 * its rank is at most the scores' and each of its sizes equals the score's or is 1.
 * `undefined` and `null` pass (no mask).
 *
 * @param fn The public function, for the message (`"DecoderLayer.forward"`).
 * @param arg The argument's name (`"tgtMask"`).
 * @param operand The mask or bias.
 * @param scores The scores' shape, e.g. `[B, H, Tq, Tk]`.
 * @param axes The scores' axis letters, e.g. `["B", "H", "Tq", "Tk"]` (default: the last two `Tq`, `Tk`).
 * @param kind `"mask"` (default) or `"bias"`: which type `operand` must have.
 * @throws {TypeError} When a mask is not a Mask or a bias not a Tensor.
 * @throws {RangeError} When it does not broadcast; the message names `fn`, `arg`,
 *   both shapes and the rule.
 *
 * @example A causal mask fits any batch and head count; a wrong length does not
 * ```ts
 * import { checkScoresOperand } from "./check_scores_operand.ts";
 * import { causalMask } from "./masks.ts";
 * import assert from "node:assert/strict";
 * const axes = ["B", "H", "Tq", "Tk"];
 * checkScoresOperand("f", "mask", causalMask(3), [2, 4, 3, 3], axes);
 * assert.throws(
 *   () => checkScoresOperand("f", "mask", causalMask(4), [2, 4, 3, 3], axes),
 *   /f: mask=\[4, 4\] must broadcast against the scores \[B=2, H=4, Tq=3, Tk=3\]/,
 * );
 * ```
 */
export function checkScoresOperand(
  fn: string,
  arg: string,
  operand: Mask | Tensor | undefined | null,
  scores: readonly number[],
  axes?: readonly string[],
  kind: "mask" | "bias" = "mask",
): void {
  if (operand === undefined || operand === null) return;
  if (kind === "mask" && !(operand instanceof Mask)) {
    throw new TypeError(
      `${fn}: ${arg} must be a Mask (true = may attend); build one with mask(), causalMask() or paddingMask(), or convert PyTorch's with fromTorchAttnMask()`,
    );
  }
  if (kind === "bias") checkTensor(operand, fn, arg);
  const s = operand.shape;
  const fits = s.length <= scores.length &&
    s.every((d, i) => d === 1 || d === scores[scores.length - s.length + i]);
  if (fits) return;
  const labels = axes ?? scores.map((_, i) => ["Tq", "Tk"][i - scores.length + 2] ?? "");
  const named = scores.map((d, i) => (labels[i] ? `${labels[i]}=${d}` : String(d))).join(", ");
  throw new RangeError(
    `${fn}: ${arg}=${
      formatShape(s)
    } must broadcast against the scores [${named}]: aligned from the right, each size must equal the score's or be 1, with no more axes than the scores`,
  );
}
