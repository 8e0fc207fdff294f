/**
 * The module convention every builder shares: named parameters, PyTorch-style
 * `stateDict()` / `loadStateDict()`, `train()` / `eval()` and a parameter count.
 *
 * **Gradients.** Every registered parameter requires grad (PyTorch's `nn.Parameter`),
 * so a forward pass records its graph for `loss.backward()`; {@link Module.grads}
 * returns the gradients under the `stateDict()` names and {@link Module.zeroGrad}
 * clears them. Code that only evaluates runs inside `noGrad()` (the models' decoding
 * entry points do), which records nothing and keeps inference as fast and as small
 * as before. `train()` only switches on dropout, so notebooks can show what changes
 * between training and inference. Modules start in **eval mode** (unlike PyTorch):
 * call `train()` before a training loop.
 *
 * **The one in-place path.** Ops never write into their inputs (see `Tensor`); the
 * sanctioned exception is updating parameters: {@link Module.loadStateDict} and an
 * optimizer's `step()` (`SGD`, `Adam`, `AdamW` in lib/optim/) write the new values into
 * each parameter's own `data`. The
 * parameter objects are never replaced, so references from {@link Module.parameters}
 * (what an optimizer holds) stay valid, and so do views of them: `p.reshape(...)` shares
 * `p.data` and shows the new values. Results computed before the update (outputs, traces,
 * KV-cache entries, `stateDict()` copies) own their data and keep the old values.
 *
 * @module
 */

import { hashKey } from "../kernels/random.ts";
import { type CounterKey, RandomStream } from "../tensor/rng.ts";
import { formatShape, sameShape } from "../tensor/shape.ts";
import { Tensor } from "../tensor/tensor.ts";

/** Options for {@link Module.registerModule}. */
export interface RegisterModuleOptions {
  /**
   * List the child's parameters and checkpoint entries under this module's own
   * names instead of under `name.` (PyTorch keeps the feed-forward block's
   * `linear1`/`linear2` directly on the encoder layer). Its path, and so its
   * random streams, still go through `name`.
   */
  inline?: boolean;
}

/**
 * The initialisation seed of the child `name` of a module seeded with `seed`:
 * the one rule every model uses to seed its parts (no hand-picked offsets), so
 * two children never share an initialisation stream.
 *
 * @param seed The parent's seed (an integer).
 * @param name The child's name (`"self_attn"`, `"layers.3"`).
 * @returns A 32-bit seed.
 *
 * @example Siblings get different seeds; the rule is deterministic
 * ```ts
 * import { childSeed } from "./module.ts";
 * import assert from "node:assert/strict";
 * assert.notEqual(childSeed(0, "layers.0"), childSeed(0, "layers.1"));
 * assert.equal(childSeed(7, "self_attn"), childSeed(7, "self_attn"));
 * ```
 */
export function childSeed(seed: number, name: string): number {
  if (typeof seed !== "number" || !Number.isSafeInteger(seed)) {
    throw new TypeError(`childSeed: seed must be an integer, got ${String(seed)}`);
  }
  return hashKey(seed, `init:${name}`);
}

/** Options for {@link Module.loadStateDict}. */
export interface LoadStateDictOptions {
  /** Reject missing and unexpected keys (default true), like PyTorch's `strict`. */
  strict?: boolean;
}

/**
 * Base class of every layer and model. Subclasses register parameters and
 * child modules in their constructor; names join with dots (`encoder.layers.0.norm1.weight`).
 *
 * @example A tiny module with one parameter
 * ```ts
 * import { Module } from "./module.ts";
 * import { tensor, zeros } from "../tensor/tensor.ts";
 * import assert from "node:assert/strict";
 * class Scale extends Module {
 *   readonly weight = this.registerParameter("weight", zeros([2]));
 * }
 * const m = new Scale();
 * m.loadStateDict({ weight: tensor([1, 2]) });
 * assert.deepEqual(m.weight.toArray(), [1, 2]);
 * assert.equal(m.numParameters(), 2);
 * ```
 */
export class Module {
  #params = new Map<string, Tensor>();
  #children = new Map<string, Module>();
  #inline = new Set<string>();
  #training = false;
  #seed = 0;
  #path = "";
  #stream: RandomStream | null = null;

  /**
   * Registers a parameter under `name`, marks it as requiring grad (a leaf that
   * `backward()` fills), and returns it.
   */
  protected registerParameter(name: string, value: Tensor): Tensor {
    if (this.#params.has(name) || this.#children.has(name)) {
      throw new RangeError(`${this.constructor.name}: parameter name "${name}" is already used`);
    }
    value.requiresGrad = true;
    this.#params.set(name, value);
    return value;
  }

  /**
   * Registers a child module under `name` and returns it. The child (and its
   * subtree) takes this module's root seed and the path `path.name`, from which
   * its random streams derive ({@link Module.streamKey}).
   */
  protected registerModule<M extends Module>(
    name: string,
    module: M,
    options: RegisterModuleOptions = {},
  ): M {
    if (this.#params.has(name) || this.#children.has(name)) {
      throw new RangeError(`${this.constructor.name}: module name "${name}" is already used`);
    }
    if (!(module instanceof Module)) {
      throw new TypeError(`${this.constructor.name}: module "${name}" must be a Module`);
    }
    this.#children.set(name, module);
    if (options.inline) this.#inline.add(name);
    module.train(this.#training);
    module.#place(this.#seed, this.#path ? `${this.#path}.${name}` : name);
    return module;
  }

  /**
   * Makes `seed` the root seed of this module's subtree: every random stream
   * below derives from it and the dotted path. Models call it with their
   * config's seed; registering this module into a parent replaces it by the
   * parent's.
   */
  protected useSeed(seed: number): void {
    if (typeof seed !== "number" || !Number.isSafeInteger(seed)) {
      throw new TypeError(
        `${this.constructor.name}: seed must be an integer, got ${String(seed)}`,
      );
    }
    this.#place(seed, this.#path);
  }

  /** Sets root seed and path here and below; the streams restart from call 0. */
  #place(seed: number, path: string): void {
    this.#seed = seed;
    this.#path = path;
    this.#stream = null;
    for (const [name, child] of this.#children) {
      child.#place(seed, path ? `${path}.${name}` : name);
    }
  }

  /** The dotted path from the root module (`encoder.layers.0.dropout1`); "" at the root. */
  get path(): string {
    return this.#path;
  }

  /**
   * The key of this module's random stream: `hashKey(rootSeed, path)`, the one
   * place a stream is derived, so two modules of one model never share one.
   */
  get streamKey(): number {
    return (this.#stream ??= RandomStream.fromPath(this.#seed, this.#path)).key;
  }

  /** The key of this module's next random call (dropout masks); advances its counter. */
  protected nextRandomKey(): CounterKey {
    return (this.#stream ??= RandomStream.fromPath(this.#seed, this.#path)).next();
  }

  /** `name.`, or "" for a child registered with `inline`. */
  #keyPrefix(name: string): string {
    return this.#inline.has(name) ? "" : `${name}.`;
  }

  /** True in training mode (dropout active). */
  get training(): boolean {
    return this.#training;
  }

  /**
   * Switches training mode on (or off with `false`) for this module and its children.
   *
   * @returns this
   */
  train(mode = true): this {
    this.#training = mode;
    for (const child of this.#children.values()) child.train(mode);
    return this;
  }

  /** Switches to inference: dropout off. Same as `train(false)`. */
  eval(): this {
    return this.train(false);
  }

  /** Child modules by name. */
  children(): Record<string, Module> {
    return Object.fromEntries(this.#children);
  }

  /** Every parameter with its dotted name, children included, in registration order. */
  parameters(): Record<string, Tensor> {
    const out: Record<string, Tensor> = {};
    for (const [name, p] of this.#params) out[name] = p;
    for (const [name, child] of this.#children) {
      const at = this.#keyPrefix(name);
      for (const [sub, p] of Object.entries(child.parameters())) out[at + sub] = p;
    }
    return out;
  }

  /**
   * Sets the gradient of every parameter (children included) to null, PyTorch's
   * `zero_grad(set_to_none=True)`: the next `backward()` writes fresh gradients
   * instead of adding to the old ones.
   *
   * @example Gradients accumulate until cleared
   * ```ts
   * import { Module } from "./module.ts";
   * import { tensor } from "../tensor/tensor.ts";
   * import { mul } from "../tensor/elementwise.ts";
   * import { sum } from "../tensor/reduce.ts";
   * import assert from "node:assert/strict";
   * class Scale extends Module {
   *   readonly weight = this.registerParameter("weight", tensor([1, 2]));
   * }
   * const m = new Scale();
   * const x = tensor([3, 4]);
   * sum(mul(m.weight, x)).backward();
   * sum(mul(m.weight, x)).backward();
   * assert.deepEqual(m.grads().weight!.toArray(), [6, 8]);
   * m.zeroGrad();
   * assert.equal(m.grads().weight, null);
   * ```
   */
  zeroGrad(): void {
    for (const p of Object.values(this.parameters())) p.grad = null;
  }

  /**
   * The parameters' gradients under the names of {@link stateDict}, in the same order
   * (its keys are {@link stateDictKeys}), so they compare one to one with PyTorch's
   * `{n: p.grad for n, p in named_parameters()}`. Each entry is a copy; it is null for a
   * parameter that has no gradient (never reached by a `backward()`, or after
   * {@link zeroGrad}). A checkpoint entry that stacks several parameters (multi-head
   * attention's `in_proj_weight`) stacks their gradients, with zeros for a part that has
   * none, and is null only when no part has one.
   */
  grads(): Record<string, Tensor | null> {
    const out: Record<string, Tensor | null> = {};
    for (const [name, p] of this.#params) out[name] = p.grad ? p.grad.clone() : null;
    for (const [name, child] of this.#children) {
      const at = this.#keyPrefix(name);
      for (const [sub, g] of Object.entries(child.grads())) out[at + sub] = g;
    }
    return out;
  }

  /** Total number of parameter values. */
  numParameters(): number {
    let n = 0;
    for (const p of Object.values(this.parameters())) n += p.size;
    return n;
  }

  /**
   * The parameters under the names a PyTorch checkpoint uses. The base
   * implementation returns copies of {@link parameters}; a child's own
   * `stateDict()` is used for its subtree, so a module with its own naming
   * (multi-head attention's `in_proj_weight`) is respected inside any model.
   * A module that overrides `stateDict()` overrides {@link stateDictKeys} to match.
   */
  stateDict(): Record<string, Tensor> {
    const out: Record<string, Tensor> = {};
    for (const [name, p] of this.#params) out[name] = p.clone();
    for (const [name, child] of this.#children) {
      const at = this.#keyPrefix(name);
      for (const [sub, p] of Object.entries(child.stateDict())) out[at + sub] = p;
    }
    return out;
  }

  /**
   * The keys of {@link stateDict}, in the same order, without copying any parameter:
   * what `loadStateDict` checks a checkpoint against.
   *
   * @example Keys of a model, no tensor copied
   * ```ts
   * import { Module } from "./module.ts";
   * import { zeros } from "../tensor/tensor.ts";
   * import assert from "node:assert/strict";
   * class Affine extends Module {
   *   readonly weight = this.registerParameter("weight", zeros([2, 2]));
   *   readonly bias = this.registerParameter("bias", zeros([2]));
   * }
   * class Net extends Module {
   *   readonly fc = this.registerModule("fc", new Affine());
   * }
   * const net = new Net();
   * assert.deepEqual(net.stateDictKeys(), ["fc.weight", "fc.bias"]);
   * assert.deepEqual(net.stateDictKeys(), Object.keys(net.stateDict()));
   * ```
   */
  stateDictKeys(): string[] {
    const out = [...this.#params.keys()];
    for (const [name, child] of this.#children) {
      const at = this.#keyPrefix(name);
      for (const sub of child.stateDictKeys()) out.push(at + sub);
    }
    return out;
  }

  /**
   * Copies values from `dict` (PyTorch names) into this module's parameters, in place:
   * the one sanctioned write into existing tensors (see the module documentation). Each
   * parameter keeps its identity and its `data` array, so `parameters()` references and
   * views such as `p.reshape(...)` see the loaded values. Nothing is cloned: the keys are
   * checked against {@link stateDictKeys}, and `dict`'s tensors are copied from, never kept.
   * Every entry is checked before the first write, so a load that throws changes nothing.
   *
   * @throws {RangeError} Missing or unexpected keys (with `strict`), or a tensor
   *   whose shape differs from the parameter's; the message names the key and both shapes.
   *   The module is unchanged when it throws.
   *
   * @example Loading writes into the parameter objects a caller already holds
   * ```ts
   * import { Module } from "./module.ts";
   * import { tensor, zeros } from "../tensor/tensor.ts";
   * import assert from "node:assert/strict";
   * class Scale extends Module {
   *   readonly weight = this.registerParameter("weight", zeros([2]));
   * }
   * const m = new Scale();
   * const held = m.parameters().weight;
   * const view = held.reshape([1, 2]); // shares held.data
   * const source = tensor([3, 4]);
   * m.loadStateDict({ weight: source });
   * assert.equal(m.parameters().weight, held);
   * assert.deepEqual(view.toArray(), [[3, 4]]);
   * source.data[0] = 9; // the dict's tensors are not kept
   * assert.deepEqual(held.toArray(), [3, 4]);
   * ```
   */
  loadStateDict(dict: Record<string, Tensor>, options: LoadStateDictOptions = {}): this {
    if (dict === null || typeof dict !== "object") {
      throw new TypeError(
        `${this.constructor.name}.loadStateDict: dict must be an object of Tensors`,
      );
    }
    const strict = options.strict ?? true;
    const expected = new Set(this.stateDictKeys());
    if (strict) {
      const missing = [...expected].filter((k) => !(k in dict));
      const unexpected = Object.keys(dict).filter((k) => !expected.has(k));
      if (missing.length || unexpected.length) {
        throw new RangeError(
          `${this.constructor.name}.loadStateDict: ${
            missing.length ? `missing keys: ${missing.join(", ")}` : ""
          }${missing.length && unexpected.length ? "; " : ""}${
            unexpected.length ? `unexpected keys: ${unexpected.join(", ")}` : ""
          }`,
        );
      }
    }
    // Every entry is checked before any is written, so a load that throws leaves the
    // module as it was rather than half loaded.
    const outer = pendingWrites;
    const writes: (() => void)[] = [];
    pendingWrites = writes;
    try {
      this.loadOwn(dict, "", strict);
    } finally {
      pendingWrites = outer;
    }
    for (const write of writes) write();
    return this;
  }

  /**
   * Loads this module's own entries (prefixed by `prefix`) and recurses into
   * children. Override to map checkpoint names that differ from parameter names.
   */
  protected loadOwn(dict: Record<string, Tensor>, prefix: string, strict: boolean): void {
    for (const [name, p] of this.#params) {
      const key = prefix + name;
      if (key in dict) copyInto(p, dict[key], key, this.constructor.name);
      else if (strict) {
        throw new RangeError(`${this.constructor.name}.loadStateDict: missing key ${key}`);
      }
    }
    for (const [name, child] of this.#children) {
      child.loadOwn(dict, prefix + this.#keyPrefix(name), strict);
    }
  }
}

/** The writes of the `loadStateDict` in progress, run once every entry has been checked. */
let pendingWrites: (() => void)[] | null = null;

/**
 * Writes `values` into the parameter `target`'s data, in place. Inside `loadStateDict`
 * the write waits until every entry has been checked; outside it happens at once.
 * Internal (not exported from mod.ts): a `loadOwn` override writes through it.
 */
export function writeParameter(target: Tensor, values: Float32Array): void {
  if (values.length !== target.size) {
    throw new RangeError(
      `writeParameter: ${values.length} values for a parameter of shape ${
        formatShape(target.shape)
      }`,
    );
  }
  if (pendingWrites) pendingWrites.push(() => target.data.set(values));
  else target.data.set(values);
}

/**
 * Copies `source` into the parameter `target`, in place, checking the shape: the write
 * behind {@link Module.loadStateDict}. Internal (not exported from mod.ts).
 *
 * @throws {RangeError} When the shapes differ; names the key and both shapes.
 */
export function copyInto(target: Tensor, source: Tensor, key: string, owner: string): void {
  if (!(source instanceof Tensor)) {
    throw new TypeError(`${owner}.loadStateDict: ${key} must be a Tensor`);
  }
  if (!sameShape(source.shape, target.shape)) {
    throw new RangeError(
      `${owner}.loadStateDict: ${key} has shape ${formatShape(source.shape)}, expected ${
        formatShape(target.shape)
      }`,
    );
  }
  writeParameter(target, source.data);
}
