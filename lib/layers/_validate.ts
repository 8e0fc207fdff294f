/**
 * Private argument checks shared by the layers. Each throws a `TypeError` or
 * `RangeError` whose message names the function, the argument, the value and the rule.
 *
 * @module
 */

import { formatShape } from "../tensor/shape.ts";
import { checkTensor, type Tensor } from "../tensor/tensor.ts";

/** A positive safe integer, or a `RangeError` naming `fn` and `arg`. */
export function _positiveInt(value: unknown, fn: string, arg: string): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value <= 0) {
    throw new RangeError(`${fn}: ${arg} must be a positive integer, got ${String(value)}`);
  }
  return value;
}

/** A non-negative safe integer, or a `RangeError` naming `fn` and `arg`. */
export function _nonNegativeInt(value: unknown, fn: string, arg: string): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${fn}: ${arg} must be a non-negative integer, got ${String(value)}`);
  }
  return value;
}

/** A finite number `>= min`, or a `TypeError`/`RangeError` naming `fn` and `arg`. */
export function _finiteAtLeast(value: unknown, min: number, fn: string, arg: string): number {
  if (typeof value !== "number") {
    throw new TypeError(`${fn}: ${arg} must be a number, got ${typeof value}`);
  }
  if (!Number.isFinite(value) || value < min) {
    throw new RangeError(`${fn}: ${arg} must be a finite number >= ${min}, got ${value}`);
  }
  return value;
}

/** A probability in [0, 1], or a `RangeError` naming `fn` and `arg`. */
export function _probability(value: unknown, fn: string, arg: string): number {
  if (typeof value !== "number" || !(value >= 0 && value <= 1)) {
    throw new RangeError(`${fn}: ${arg} must be a probability in [0, 1], got ${String(value)}`);
  }
  return value;
}

/** A tensor of rank >= 1; returns its last size (the feature size). */
export function _features(x: unknown, fn: string, arg: string): number {
  const t = checkTensor(x, fn, arg);
  if (t.rank < 1) {
    throw new RangeError(
      `${fn}: ${arg} needs rank >= 1 (features on the last axis), got ${formatShape(t.shape)}`,
    );
  }
  return t.shape[t.rank - 1];
}

/** Checks that an optional per-feature parameter is a Tensor of shape `[d]`. */
export function _vectorOf(
  p: unknown,
  d: number,
  fn: string,
  arg: string,
  x: Tensor,
): Tensor | null {
  if (p === undefined || p === null) return null;
  const t = checkTensor(p, fn, arg);
  if (t.rank !== 1 || t.shape[0] !== d) {
    throw new RangeError(
      `${fn}: ${arg} must have shape [${d}] to match the last axis of x=${
        formatShape(x.shape)
      }, got ${formatShape(t.shape)}`,
    );
  }
  return t;
}

/** Anything with a `forward(x)`, or a plain function of a tensor. */
export type TensorFn = ((x: Tensor) => Tensor) | { forward(x: Tensor): Tensor };

/** Calls a {@link TensorFn} and checks that it returned a Tensor. */
export function _call(f: TensorFn, x: Tensor, fn: string, arg: string): Tensor {
  const y = typeof f === "function" ? f(x) : f.forward(x);
  return checkTensor(y, fn, `the result of ${arg}`);
}

/** Checks that `f` is a function or an object with a `forward` method. */
export function _checkTensorFn(f: unknown, fn: string, arg: string): TensorFn {
  if (typeof f === "function") return f as TensorFn;
  if (
    f !== null && typeof f === "object" &&
    typeof (f as { forward?: unknown }).forward === "function"
  ) {
    return f as TensorFn;
  }
  throw new TypeError(
    `${fn}: ${arg} must be a function of a Tensor or an object with a forward(x) method, got ${
      f === null ? "null" : typeof f
    }`,
  );
}
