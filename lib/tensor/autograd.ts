/**
 * Reverse-mode automatic differentiation on {@link Tensor}, PyTorch-style and
 * micrograd-small: an op whose inputs require grad records one
 * {@link GradNode} on its output (its name, its inputs and a closure that turns
 * the output's gradient into the inputs' gradients); `loss.backward()` walks
 * those nodes from the loss back to the leaves in reverse topological order and
 * adds each leaf's gradient into its `.grad`.
 *
 * - Nothing is recorded when no input requires grad, or inside {@link noGrad}:
 *   inference allocates no node and keeps no saved tensor.
 * - The topological order is computed with an explicit stack, never recursion,
 *   so graphs of 10^5 nodes and more work.
 * - After `backward()` the graph is released (closures and their saved tensors
 *   dropped) unless `{ retainGraph: true }`; a second `backward()` through a
 *   released graph is an Error that says so.
 * - Each op's backward sits beside its forward, in the op's file, with its
 *   formula in a comment; this file only records and walks.
 *
 * @module
 */

import type { Tensor } from "./tensor.ts";
import { formatShape, sameShape } from "./shape.ts";

/**
 * How an op's output was made: the op's name, its inputs, and the vector-Jacobian
 * product that maps the gradient of the output to the gradient of each input
 * (`null` for an input that needs none). Released (`backward: null`, no inputs)
 * once a `backward()` without `retainGraph` has used it.
 */
export interface GradNode {
  /** The op that made the output, e.g. `"matmul"`. */
  readonly name: string;
  /** The op's tensor inputs, in the order `backward` returns their gradients. */
  inputs: readonly Tensor[];
  /** dL/d(output) -> [dL/d(input_i)]; null once released. */
  backward: ((gradOutput: Tensor) => readonly (Tensor | null)[]) | null;
}

/** The node of each non-leaf tensor that was recorded (module-private: the Tensor's own state). */
const nodes = new WeakMap<Tensor, GradNode>();
/** `noGrad` nesting depth: recording is on only at depth 0. */
let noGradDepth = 0;

/**
 * True when ops record for backward now (outside every {@link noGrad}).
 *
 * @example Off inside noGrad
 * ```ts
 * import { isGradEnabled, noGrad } from "./autograd.ts";
 * import assert from "node:assert/strict";
 * assert.equal(isGradEnabled(), true);
 * assert.equal(noGrad(() => isGradEnabled()), false);
 * ```
 */
export function isGradEnabled(): boolean {
  return noGradDepth === 0;
}

/**
 * Runs `fn` with recording off (PyTorch's `torch.no_grad()`): ops inside build no
 * graph, whatever their inputs, and their outputs do not require grad. Returns
 * what `fn` returns. `fn` must be synchronous (a Promise would outlive the scope).
 *
 * @throws {TypeError} When `fn` is not a function or returns a Promise.
 *
 * @example Nothing is recorded
 * ```ts
 * import { noGrad } from "./autograd.ts";
 * import { mul } from "./elementwise.ts";
 * import { tensor } from "./tensor.ts";
 * import assert from "node:assert/strict";
 * const w = tensor([1, 2]);
 * w.requiresGrad = true;
 * const y = noGrad(() => mul(w, 3));
 * assert.equal(y.requiresGrad, false);
 * assert.equal(mul(w, 3).requiresGrad, true);
 * ```
 */
export function noGrad<T>(fn: () => T): T {
  if (typeof fn !== "function") {
    throw new TypeError(`noGrad: fn must be a function, got ${typeof fn}`);
  }
  noGradDepth++;
  let result: T;
  try {
    result = fn();
  } finally {
    noGradDepth--;
  }
  if (result instanceof Promise) {
    throw new TypeError(
      "noGrad: fn returned a Promise; noGrad scopes synchronous code only (await inside it would record)",
    );
  }
  return result;
}

/** The node recorded on `t`, or null for a leaf (or a tensor made without grad). */
export function gradNode(t: Tensor): GradNode | null {
  return nodes.get(t) ?? null;
}

/**
 * True when an op with these inputs records now: grad mode is on and some input
 * requires grad. Ops call it to skip saving what only backward needs.
 */
export function needsGrad(inputs: readonly Tensor[]): boolean {
  if (noGradDepth !== 0) return false;
  for (const t of inputs) if (t.requiresGrad) return true;
  return false;
}

/**
 * Records `output` as made by op `name` from `inputs`, when {@link needsGrad}:
 * `backward(gradOutput)` returns one gradient per input (shape of that input,
 * or null). An op that has no backward yet passes `undefined`, and then using it
 * on tensors that require grad is a TypeError at once (not a wrong gradient
 * later). Returns `output`.
 */
export function record<T extends Tensor>(
  name: string,
  inputs: readonly Tensor[],
  output: T,
  backward: ((gradOutput: Tensor) => readonly (Tensor | null)[]) | undefined,
): T {
  if (!needsGrad(inputs)) return output;
  if (backward === undefined) {
    throw new TypeError(
      `${name}: no gradient is defined for this op; call it inside noGrad() or detach() its inputs`,
    );
  }
  nodes.set(output, { name, inputs, backward });
  return output;
}

/** Options of `Tensor#backward`. */
export interface BackwardOptions {
  /** Keep the graph (closures and saved tensors) for another backward; default false. */
  retainGraph?: boolean;
}

/**
 * The backward pass from `root` (see `Tensor#backward`): gradients of every leaf
 * that requires grad are added into its `.grad`.
 */
export function runBackward(
  root: Tensor,
  gradient: Tensor | undefined,
  options: BackwardOptions,
  makeOnes: (shape: readonly number[]) => Tensor,
): void {
  const fn = "Tensor.backward";
  if (options === null || typeof options !== "object") {
    throw new TypeError(`${fn}: options must be an object`);
  }
  const retainGraph = options.retainGraph ?? false;
  if (typeof retainGraph !== "boolean") {
    throw new TypeError(`${fn}: retainGraph must be a boolean, got ${String(retainGraph)}`);
  }
  if (!root.requiresGrad) {
    throw new Error(
      `${fn}: this tensor does not require grad and was made by no recorded op; set requiresGrad on the leaves first (outside noGrad())`,
    );
  }
  let seed: Tensor;
  if (gradient === undefined) {
    if (root.size !== 1) {
      throw new RangeError(
        `${fn}: a gradient can be created implicitly only for a one-element output; pass backward(gradient) of shape ${
          formatShape(root.shape)
        }`,
      );
    }
    seed = makeOnes(root.shape);
  } else {
    if (!sameShape(gradient.shape, root.shape)) {
      throw new RangeError(
        `${fn}: gradient has shape ${formatShape(gradient.shape)}, the tensor ${
          formatShape(root.shape)
        }; they must match`,
      );
    }
    seed = gradient;
  }
  const order = topologicalOrder(root);
  const grads = new Map<Tensor, Tensor>([[root, seed]]);
  noGradDepth++; // backward formulas are computed with ops, and must not record
  try {
    for (let i = order.length - 1; i >= 0; i--) {
      const t = order[i];
      const g = grads.get(t);
      if (!g) continue;
      grads.delete(t);
      const node = nodes.get(t);
      if (!node) {
        accumulateLeaf(t, g);
        continue;
      }
      if (node.backward === null) {
        throw new Error(
          `${fn}: the graph through "${node.name}" was freed by an earlier backward(); pass { retainGraph: true } to that call to backward twice`,
        );
      }
      const inputGrads = node.backward(g);
      node.inputs.forEach((input, j) => {
        const gi = inputGrads[j];
        if (!gi || !input.requiresGrad) return;
        if (!sameShape(gi.shape, input.shape)) {
          throw new Error(
            `${fn}: the backward of "${node.name}" returned a gradient of shape ${
              formatShape(gi.shape)
            } for input ${j} of shape ${formatShape(input.shape)} (a bug in that op)`,
          );
        }
        const prev = grads.get(input);
        grads.set(input, prev ? addFresh(prev, gi) : gi);
      });
      if (!retainGraph) {
        node.backward = null;
        node.inputs = [];
      }
    }
  } finally {
    noGradDepth--;
  }
}

/**
 * Every tensor that requires grad and reaches `root`, in topological order
 * (inputs before the outputs made from them), found with an explicit stack.
 */
function topologicalOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const visited = new Set<Tensor>([root]);
  const stack: { t: Tensor; next: number }[] = [{ t: root, next: 0 }];
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    const inputs = nodes.get(top.t)?.inputs ?? [];
    if (top.next >= inputs.length) {
      stack.pop();
      order.push(top.t);
      continue;
    }
    const child = inputs[top.next++];
    if (child.requiresGrad && !visited.has(child)) {
      visited.add(child);
      stack.push({ t: child, next: 0 });
    }
  }
  return order;
}

/** PyTorch accumulates into `.grad`: the first gradient is copied, later ones are added in place. */
function accumulateLeaf(t: Tensor, g: Tensor): void {
  if (t.grad === null) {
    t.grad = g.clone();
    return;
  }
  const acc = t.grad.data, add = g.data;
  for (let i = 0; i < acc.length; i++) acc[i] += add[i];
}

/** a + b of equal shapes into a new tensor (intermediate gradients are never written in place). */
function addFresh(a: Tensor, b: Tensor): Tensor {
  const ad = a.data, bd = b.data;
  const o = new Float32Array(ad.length); // one pass: no copy of a first
  for (let i = 0; i < o.length; i++) o[i] = ad[i] + bd[i];
  // a's own class (Tensor) without importing it here (tensor.ts imports this file)
  const TensorClass = a.constructor as new (data: Float32Array, shape: readonly number[]) => Tensor;
  return new TensorClass(o, a.shape);
}
