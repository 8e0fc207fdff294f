/**
 * The parameter lists optimizers and `clipGradNorm` accept, normalised.
 *
 * @module
 */

import { describeValue } from "../tensor/describe.ts";
import { Tensor } from "../tensor/tensor.ts";

/**
 * Parameters to optimize: the record `Module#parameters()` returns (names are only
 * read for error messages) or an array of tensors.
 */
export type OptimizerParams = Readonly<Record<string, Tensor>> | readonly Tensor[];

/**
 * The distinct tensors of `params`, in order, with their names (`params[3]` for an
 * array). A tensor listed twice (tied weights) is kept once, as PyTorch's
 * `named_parameters()` does, so it is never stepped twice.
 *
 * @throws {TypeError} A value that is not a Tensor, or a tensor a recorded op made
 *   (a non-leaf, as PyTorch's "can't optimize a non-leaf Tensor").
 */
export function _params(
  params: OptimizerParams,
  fn: string,
): { tensors: Tensor[]; names: string[] } {
  if (params === null || typeof params !== "object") {
    throw new TypeError(
      `${fn}: params must be model.parameters() or an array of Tensors, got ${
        describeValue(params)
      }`,
    );
  }
  const entries: [string, unknown][] = Array.isArray(params)
    ? params.map((p, i) => [`params[${i}]`, p])
    : Object.entries(params);
  const seen = new Set<Tensor>();
  const tensors: Tensor[] = [], names: string[] = [];
  for (const [name, p] of entries) {
    if (!(p instanceof Tensor)) {
      throw new TypeError(`${fn}: ${name} must be a Tensor, got ${describeValue(p)}`);
    }
    if (!p.isLeaf) {
      throw new TypeError(
        `${fn}: ${name} was made by "${p.gradFn}", not a leaf; only leaf tensors (parameters) can be optimized`,
      );
    }
    if (seen.has(p)) continue;
    seen.add(p);
    tensors.push(p);
    names.push(name);
  }
  return { tensors, names };
}

/** A finite number >= 0, or a RangeError (TypeError when not a number) naming `fn` and `arg`. */
export function _nonNegative(value: unknown, fn: string, arg: string): number {
  if (typeof value !== "number") {
    throw new TypeError(`${fn}: ${arg} must be a number, got ${describeValue(value)}`);
  }
  if (!Number.isFinite(value) || value < 0) {
    throw new RangeError(`${fn}: ${arg} must be a finite number >= 0, got ${value}`);
  }
  return value;
}

/** A number in [0, 1), or a RangeError naming `fn` and `arg`. */
export function _unitInterval(value: unknown, fn: string, arg: string): number {
  if (typeof value !== "number" || !(value >= 0 && value < 1)) {
    throw new RangeError(`${fn}: ${arg} must be a number in [0, 1), got ${describeValue(value)}`);
  }
  return value;
}

/** A boolean, or a TypeError naming `fn` and `arg`. */
export function _flag(value: unknown, fn: string, arg: string): boolean {
  if (typeof value !== "boolean") {
    throw new TypeError(`${fn}: ${arg} must be a boolean, got ${describeValue(value)}`);
  }
  return value;
}

/** An options object (undefined is `{}`), or a TypeError naming `fn`. */
export function _optimizerOptions<T extends object>(value: T | undefined, fn: string): T {
  if (value === undefined) return {} as T;
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new TypeError(`${fn}: options must be an object, got ${describeValue(value)}`);
  }
  return value;
}
