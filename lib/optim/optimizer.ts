/**
 * The base of the optimizers: the parameters, a learning rate settable before
 * each step, `step()`, `zeroGrad()`, and a state dict to save and resume.
 *
 * **Parameters are updated in place.** Like `Module.loadStateDict`, `step()` is a
 * sanctioned write into existing tensors: it writes each parameter's new values into
 * its own `data`, so the module holding the parameter (and views of it) sees them,
 * while tensors computed before the step keep the old values.
 *
 * @module
 */

import { describeValue } from "../tensor/describe.ts";
import { formatShape, sameShape } from "../tensor/shape.ts";
import { Tensor } from "../tensor/tensor.ts";
import { _nonNegative, _params, type OptimizerParams } from "./_params.ts";

/** One parameter's optimizer state as a state dict holds it. */
export interface ParameterStateDict {
  /** Steps taken on this parameter (PyTorch's `step`). */
  step: number;
  /** The buffers under PyTorch's names (`exp_avg`, `momentum_buffer`, ...), each of the parameter's shape. */
  buffers: Record<string, Tensor>;
}

/**
 * What `Optimizer#stateDict()` returns and `loadStateDict()` takes, shaped like
 * PyTorch's `optimizer.state_dict()`: the state of each parameter by its index
 * in the order given to the constructor (absent for one never stepped), and the
 * hyperparameters (`lr` included) under the constructor's option names.
 */
export interface OptimizerStateDict {
  /** Per parameter index. */
  state: Record<number, ParameterStateDict>;
  /** Hyperparameters, e.g. `{ lr, betas, eps, weightDecay, amsgrad }`. */
  options: Record<string, number | boolean | readonly number[]>;
}

/** A parameter's live state: the step count and its float32 buffers. */
export interface ParameterState {
  /** Steps taken on this parameter. */
  step: number;
  /** The float32 buffers by PyTorch's names, each of the parameter's size. */
  buffers: Record<string, Float32Array>;
}

/**
 * Base class of {@link SGD}, {@link Adam} and {@link AdamW}. A subclass resolves
 * its options (`O`, without `lr`), names the buffers they need, and updates one
 * parameter from its gradient in a flat float32 loop.
 *
 * @example Any optimizer, driven the same way
 * ```ts
 * import { Optimizer } from "./optimizer.ts";
 * import { SGD } from "./sgd.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * import assert from "node:assert/strict";
 * const w = tensor([1, 2]);
 * const opt: Optimizer = new SGD([w], { lr: 0.5 });
 * w.grad = tensor([2, -2]);
 * opt.step();
 * opt.zeroGrad();
 * assert.deepEqual(w.toArray(), [0, 3]);
 * assert.equal(w.grad, null);
 * ```
 */
export abstract class Optimizer<O extends object = object> {
  /** The distinct parameters, in the order given (state dict indices follow it). */
  readonly params: readonly Tensor[];
  readonly #names: string[];
  readonly #state: (ParameterState | null)[];
  #lr = 0;
  /** The resolved options other than `lr`. */
  protected options!: O;

  /** Collects and checks `params`; the subclass then calls {@link configure}. */
  protected constructor(params: OptimizerParams, protected readonly fn: string) {
    const { tensors, names } = _params(params, fn);
    this.params = Object.freeze(tensors);
    this.#names = names;
    this.#state = tensors.map(() => null);
  }

  /** Validates `options` (with `lr`) and makes them current. */
  protected configure(options: Record<string, unknown>): void {
    const lr = _nonNegative(options.lr, this.fn, "lr");
    this.options = this.resolveOptions(options);
    this.#lr = lr;
  }

  /** The subclass's options without `lr`, checked (throws on a bad one); must not change state. */
  protected abstract resolveOptions(options: Record<string, unknown>): O;

  /** The buffer names a parameter's state holds under `options`. */
  protected abstract bufferNames(options: O): readonly string[];

  /**
   * Updates one parameter `p` in place from its gradient `g` with learning rate `lr`;
   * `state.step` is the count before this step. Allocates buffers on the first step only.
   */
  protected abstract update(
    p: Float32Array,
    g: Float32Array,
    state: ParameterState,
    lr: number,
  ): void;

  /** The options as plain values, `lr` first (what the state dict stores). */
  protected abstract describeOptions(
    options: O,
  ): Record<string, number | boolean | readonly number[]>;

  /**
   * The learning rate the next {@link step} uses; set it before any step (a schedule).
   *
   * @throws {RangeError} A value that is not a finite number >= 0 (TypeError for a non-number).
   */
  get lr(): number {
    return this.#lr;
  }

  set lr(value: number) {
    this.#lr = _nonNegative(value, `${this.fn}.lr`, "lr");
  }

  /**
   * One update of every parameter that has a gradient (parameters whose `grad` is
   * null are skipped, and keep no state, as in PyTorch). Every gradient's shape is
   * checked before the first parameter is written.
   *
   * @throws {RangeError} A gradient whose shape differs from its parameter's.
   */
  step(): void {
    const fn = `${this.fn}.step`;
    this.params.forEach((p, i) => {
      const g = p.grad;
      if (g === null) return;
      if (!(g instanceof Tensor && sameShape(g.shape, p.shape))) {
        throw new RangeError(
          `${fn}: the gradient of ${this.#names[i]} has shape ${
            g instanceof Tensor ? formatShape(g.shape) : describeValue(g)
          }, the parameter ${formatShape(p.shape)}; they must match`,
        );
      }
    });
    const lr = this.#lr;
    this.params.forEach((p, i) => {
      if (p.grad === null) return;
      const state = this.#state[i] ??= { step: 0, buffers: {} };
      this.update(p.data, p.grad.data, state, lr);
    });
  }

  /** Sets every parameter's `grad` to null (PyTorch's `zero_grad(set_to_none=True)`). */
  zeroGrad(): void {
    for (const p of this.params) p.grad = null;
  }

  /**
   * A copy of the optimizer's state (see {@link OptimizerStateDict}); later steps do
   * not change it, and `loadStateDict` of it resumes bit for bit.
   *
   * @example Save after two steps, resume in a fresh optimizer
   * ```ts
   * import { Adam } from "./adam.ts";
   * import { tensor } from "../tensor/tensor.ts";
   * import assert from "node:assert/strict";
   * const w = tensor([1, -1]);
   * const opt = new Adam([w], { lr: 0.1 });
   * for (let i = 0; i < 2; i++) { w.grad = tensor([0.5, 2]); opt.step(); }
   * const saved = opt.stateDict();
   * assert.equal(saved.state[0].step, 2);
   * assert.deepEqual(Object.keys(saved.state[0].buffers), ["exp_avg", "exp_avg_sq"]);
   * const w2 = w.clone();
   * const resumed = new Adam([w2]).loadStateDict(saved);
   * assert.equal(resumed.lr, 0.1);
   * w.grad = w2.grad = tensor([1, 1]);
   * opt.step();
   * resumed.step();
   * assert.deepEqual(w2.toArray(), w.toArray());
   * ```
   */
  stateDict(): OptimizerStateDict {
    const state: Record<number, ParameterStateDict> = {};
    this.#state.forEach((s, i) => {
      if (s === null) return;
      const buffers: Record<string, Tensor> = {};
      for (const [name, b] of Object.entries(s.buffers)) {
        buffers[name] = new Tensor(b.slice(), this.params[i].shape);
      }
      state[i] = { step: s.step, buffers };
    });
    return { state, options: { lr: this.#lr, ...this.describeOptions(this.options) } };
  }

  /**
   * Replaces the state and the hyperparameters with `dict`'s (copied, never kept).
   * Everything is checked before anything changes, so a load that throws leaves the
   * optimizer as it was.
   *
   * @throws {RangeError} A state index that is no parameter's, a buffer of another
   *   shape than its parameter, buffers other than the options need, a bad step count
   *   or option; the message names the entry.
   * @throws {TypeError} When `dict` is not a state dict.
   * @returns this
   */
  loadStateDict(dict: OptimizerStateDict): this {
    const fn = `${this.fn}.loadStateDict`;
    if (
      dict === null || typeof dict !== "object" || dict.state === null ||
      typeof dict.state !== "object" || dict.options === null || typeof dict.options !== "object"
    ) {
      throw new TypeError(`${fn}: dict must be { state, options } as stateDict() returns`);
    }
    const lr = _nonNegative(dict.options.lr, fn, "options.lr");
    const options = this.resolveOptions(dict.options as Record<string, unknown>);
    const wanted = this.bufferNames(options);
    const next: (ParameterState | null)[] = this.params.map(() => null);
    for (const [key, entry] of Object.entries(dict.state)) {
      const i = Number(key);
      if (!Number.isInteger(i) || i < 0 || i >= this.params.length) {
        throw new RangeError(
          `${fn}: state ${key} is not a parameter index in [0, ${this.params.length})`,
        );
      }
      const p = this.params[i];
      const step = entry?.step;
      if (typeof step !== "number" || !Number.isSafeInteger(step) || step < 0) {
        throw new RangeError(
          `${fn}: state ${i} step must be a non-negative integer, got ${describeValue(step)}`,
        );
      }
      const given = Object.keys(entry.buffers ?? {});
      const missing = wanted.filter((n) => !given.includes(n));
      const extra = given.filter((n) => !wanted.includes(n));
      if (missing.length || extra.length) {
        throw new RangeError(
          `${fn}: state ${i} has buffers [${given.join(", ")}], these options need [${
            wanted.join(", ")
          }]`,
        );
      }
      const buffers: Record<string, Float32Array> = {};
      for (const name of wanted) {
        const b = entry.buffers[name];
        if (!(b instanceof Tensor && sameShape(b.shape, p.shape))) {
          throw new RangeError(
            `${fn}: state ${i} buffer ${name} has shape ${
              b instanceof Tensor ? formatShape(b.shape) : describeValue(b)
            }, the parameter ${this.#names[i]} ${formatShape(p.shape)}`,
          );
        }
        buffers[name] = b.data.slice();
      }
      next[i] = { step, buffers };
    }
    this.options = options;
    this.#lr = lr;
    next.forEach((s, i) => this.#state[i] = s);
    return this;
  }
}
