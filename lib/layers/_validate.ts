/**
 * Private argument checks shared by the layers. Each throws a `TypeError` or
 * `RangeError` whose message names the function, the argument, the value and the rule.
 *
 * @module
 */

import { describeValue } from "../tensor/describe.ts";
import { formatShape } from "../tensor/shape.ts";
import { checkTensor, type Tensor } from "../tensor/tensor.ts";

/** A value as an error message shows it (see `describeValue` in lib/tensor/describe.ts). */
export const _describe: (value: unknown) => string = describeValue;

/**
 * A positive safe integer; a `TypeError` for a value that is not a number (`"8"`), a
 * `RangeError` for a number that is not a positive integer, both naming `fn` and `arg`.
 */
export function _positiveInt(value: unknown, fn: string, arg: string): number {
  if (typeof value !== "number") {
    throw new TypeError(`${fn}: ${arg} must be a positive integer, got ${_describe(value)}`);
  }
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new RangeError(`${fn}: ${arg} must be a positive integer, got ${_describe(value)}`);
  }
  return value;
}

/** A non-negative safe integer; `TypeError`/`RangeError` as {@link _positiveInt}. */
export function _nonNegativeInt(value: unknown, fn: string, arg: string): number {
  if (typeof value !== "number") {
    throw new TypeError(
      `${fn}: ${arg} must be a non-negative integer, got ${_describe(value)}`,
    );
  }
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(
      `${fn}: ${arg} must be a non-negative integer, got ${_describe(value)}`,
    );
  }
  return value;
}

/** A safe integer (a seed), or a `TypeError` naming `fn` and `arg`. */
export function _seed(value: unknown, fn: string, arg: string): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value)) {
    throw new TypeError(`${fn}: ${arg} must be an integer, got ${_describe(value)}`);
  }
  return value;
}

/** A boolean, or a `TypeError` naming `fn` and `arg` (`"false"` is not false). */
export function _boolean(value: unknown, fn: string, arg: string): boolean {
  if (typeof value !== "boolean") {
    throw new TypeError(`${fn}: ${arg} must be a boolean, got ${_describe(value)}`);
  }
  return value;
}

/** One of `allowed`, or a `RangeError` naming `fn`, `arg` and the choices. */
export function _oneOf<T extends string>(
  value: unknown,
  allowed: readonly T[],
  fn: string,
  arg: string,
): T {
  if (!allowed.includes(value as T)) {
    throw new RangeError(
      `${fn}: ${arg} must be one of ${allowed.map((a) => `"${a}"`).join(", ")}, got ${
        _describe(value)
      }`,
    );
  }
  return value as T;
}

/** An object of options (or `undefined`, taken as `{}`), or a `TypeError` naming `fn` and `arg`. */
export function _options<T extends object>(value: T | undefined, fn: string, arg: string): T {
  if (value === undefined) return {} as T;
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new TypeError(`${fn}: ${arg} must be an object, got ${_describe(value)}`);
  }
  return value;
}

/** A `{ key, call }` pair of 32-bit integers, or a `TypeError` naming `fn` and `arg`. */
export function _counterKey(
  value: unknown,
  fn: string,
  arg: string,
): { key: number; call: number } {
  const v = value as { key?: unknown; call?: unknown } | null;
  const ok = v !== null && typeof v === "object" && Number.isInteger(v.key) &&
    Number.isInteger(v.call);
  if (!ok) {
    throw new TypeError(
      `${fn}: ${arg} must be { key, call } with two integers (e.g. rng.nextKey()), got ${
        _describe(value)
      }`,
    );
  }
  return { key: (v!.key as number) >>> 0, call: (v!.call as number) >>> 0 };
}

/** A finite number `>= min`, or a `TypeError`/`RangeError` naming `fn` and `arg`. */
export function _finiteAtLeast(value: unknown, min: number, fn: string, arg: string): number {
  if (typeof value !== "number") {
    throw new TypeError(`${fn}: ${arg} must be a number, got ${_describe(value)}`);
  }
  if (!Number.isFinite(value) || value < min) {
    throw new RangeError(`${fn}: ${arg} must be a finite number >= ${min}, got ${value}`);
  }
  return value;
}

/**
 * A finite number `> min` (a frequency base), or a `TypeError` (not a number) /
 * `RangeError` naming `fn` and `arg` and showing the value.
 */
export function _finiteAbove(value: unknown, min: number, fn: string, arg: string): number {
  if (typeof value !== "number") {
    throw new TypeError(`${fn}: ${arg} must be a number, got ${_describe(value)}`);
  }
  if (!Number.isFinite(value) || value <= min) {
    throw new RangeError(`${fn}: ${arg} must be a finite number > ${min}, got ${value}`);
  }
  return value;
}

/** A probability in [0, 1], or a `RangeError` naming `fn` and `arg`. */
export function _probability(value: unknown, fn: string, arg: string): number {
  if (typeof value !== "number" || !(value >= 0 && value <= 1)) {
    throw new RangeError(
      `${fn}: ${arg} must be a probability in [0, 1], got ${_describe(value)}`,
    );
  }
  return value;
}

/** A drop probability in [0, 1) (attention dropout cannot drop everything), or a `RangeError`. */
export function _dropProbability(value: unknown, fn: string, arg: string): number {
  if (typeof value !== "number" || !(value >= 0 && value < 1)) {
    throw new RangeError(`${fn}: ${arg} must be in [0, 1), got ${_describe(value)}`);
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
      _describe(f)
    }`,
  );
}
