/**
 * The position-wise feed-forward sublayer of the Transformer, applied to each
 * position independently:
 *
 * $$\mathrm{FFN}(x) = \phi(xW_1^\top + b_1)\,W_2^\top + b_2,$$
 *
 * with φ = ReLU in the paper, GELU in BERT/GPT, and the SwiGLU gate in LLaMA:
 * $$\mathrm{FFN}_{\mathrm{SwiGLU}}(x) = \left(\mathrm{SiLU}(xW_1^\top) \odot xW_3^\top\right) W_2^\top.$$
 *
 * @module
 */

import { Rng } from "../tensor/rng.ts";
import { formatShape } from "../tensor/shape.ts";
import { checkTensor, type Tensor } from "../tensor/tensor.ts";
import { _boolean, _oneOf, _options, _positiveInt, _probability, _seed } from "./_validate.ts";
import { gelu, relu, swiglu } from "./activations.ts";
import { Dropout } from "./dropout.ts";
import { Linear } from "./linear.ts";
import { Module } from "./module.ts";

/** The activations {@link FeedForward} supports. */
export type FeedForwardActivation = "relu" | "gelu" | "gelu-tanh" | "swiglu";

/** Configuration of {@link FeedForward}. */
export interface FeedForwardConfig {
  /** Model width: input and output size (d_model, 512 in the paper). */
  dModel: number;
  /** Hidden width (d_ff, 2048 in the paper). */
  dFF: number;
  /** φ; default "relu" (the paper's and PyTorch's default). "gelu" is the exact erf form. */
  activation?: FeedForwardActivation;
  /** Learn biases b1, b2 (and b3); default true (PyTorch). LLaMA uses false. */
  bias?: boolean;
  /** Dropout on the hidden activations, as `nn.TransformerEncoderLayer`; default 0. */
  dropout?: number;
  /** Seed of the weight initialisation and of the dropout stream; default 0. */
  seed?: number;
}

/** Options for {@link FeedForward.forward}. */
export interface FeedForwardForwardOptions {
  /** Also return the hidden activations (for plots). */
  trace?: boolean;
}

/** What {@link FeedForward.forward} returns with `trace: true`; hidden tensors are `[..., dFF]`. */
export interface FeedForwardTrace {
  /** `[..., dModel]`: the sublayer's output. */
  output: Tensor;
  /** `[..., dFF]`: `linear1(x)`, before the activation (the gate, for SwiGLU). */
  preActivation: Tensor;
  /** `[..., dFF]`: `linear3(x)` for SwiGLU (the "up" projection); absent otherwise. */
  up?: Tensor;
  /** `[..., dFF]`: after the activation (or gate), before dropout and `linear2`. */
  hidden: Tensor;
}

const _ACTIVATIONS: readonly FeedForwardActivation[] = ["relu", "gelu", "gelu-tanh", "swiglu"];

/**
 * Position-wise feed-forward module. Children, under PyTorch's
 * `nn.TransformerEncoderLayer` names:
 *
 * - `linear1`: `[dFF, dModel]`, W1 (for SwiGLU: the gate, LLaMA's `w1`, Hugging Face `gate_proj`);
 * - `linear2`: `[dModel, dFF]`, W2 (LLaMA's `w2`, Hugging Face `down_proj`);
 * - `linear3` (SwiGLU only): `[dFF, dModel]`, W3 (LLaMA's `w3`, Hugging Face `up_proj`);
 * - `dropout`: on the hidden activations, no parameters.
 *
 * So LLaMA's `feed_forward.w1/w2/w3` load into `linear1/linear2/linear3` one to one.
 * Weights and biases start uniform in ±1/√fan_in like `nn.Linear`, drawn from
 * `new Rng(seed)` (linear1, then linear2, then linear3); the hidden dropout draws
 * from its own stream (the seed and its path, see `Module.streamKey`). Dropout on the output
 * belongs to the residual connection (`addNorm` in add_norm.ts), as in PyTorch.
 *
 * @example Load a ReLU FFN and read its hidden activations
 * ```ts
 * import { FeedForward } from "./feed_forward.ts";
 * import { tensor } from "../tensor/tensor.ts";
 * import assert from "node:assert/strict";
 * const ffn = new FeedForward({ dModel: 2, dFF: 2 });
 * ffn.loadStateDict({
 *   "linear1.weight": tensor([[1, 0], [0, 1]]), "linear1.bias": tensor([0, -5]),
 *   "linear2.weight": tensor([[1, 1], [2, 2]]), "linear2.bias": tensor([0.5, 0]),
 * });
 * const { output, hidden } = ffn.forward(tensor([[1, 2]]), { trace: true });
 * assert.deepEqual(hidden.toArray(), [[1, 0]]); // ReLU(2 - 5) = 0
 * assert.deepEqual(output.toArray(), [[1.5, 2]]);
 * ```
 */
export class FeedForward extends Module {
  /** Model width. */
  readonly dModel: number;
  /** Hidden width. */
  readonly dFF: number;
  /** The activation φ. */
  readonly activation: FeedForwardActivation;
  /** W1 `[dFF, dModel]` (the gate for SwiGLU). */
  readonly linear1: Linear;
  /** W2 `[dModel, dFF]`. */
  readonly linear2: Linear;
  /** W3 `[dFF, dModel]`, the SwiGLU "up" projection; null for other activations. */
  readonly linear3: Linear | null;
  /** Dropout on the hidden activations. */
  readonly dropout: Dropout;

  /**
   * Builds the sublayer and initialises its weights from `config.seed`.
   *
   * @param config Sizes, activation, bias, dropout and seed (see {@link FeedForwardConfig}).
   * @throws {RangeError} Non-positive sizes, an unknown activation, dropout outside [0, 1].
   * @throws {TypeError} When `config` is not an object.
   */
  constructor(config: FeedForwardConfig) {
    super();
    if (config === null || typeof config !== "object") {
      throw new TypeError(`FeedForward: config must be an object like { dModel: 512, dFF: 2048 }`);
    }
    const fn = "FeedForward";
    this.dModel = _positiveInt(config.dModel, fn, "dModel");
    this.dFF = _positiveInt(config.dFF, fn, "dFF");
    const activation = _oneOf(config.activation ?? "relu", _ACTIVATIONS, fn, "activation");
    this.activation = activation;
    const p = _probability(config.dropout ?? 0, fn, "dropout");
    const seed = _seed(config.seed ?? 0, fn, "seed");
    this.useSeed(seed);
    const rng = new Rng(seed);
    const bias = _boolean(config.bias ?? true, fn, "bias");
    this.linear1 = this.registerModule("linear1", new Linear(this.dModel, this.dFF, { bias, rng }));
    this.linear2 = this.registerModule("linear2", new Linear(this.dFF, this.dModel, { bias, rng }));
    this.linear3 = activation === "swiglu"
      ? this.registerModule("linear3", new Linear(this.dModel, this.dFF, { bias, rng }))
      : null;
    // Its own counter-based stream (from the seed and its path), apart from the initialisation.
    this.dropout = this.registerModule("dropout", new Dropout(p));
  }

  /** FFN(x) for `x [..., dModel]` -> `[..., dModel]`. */
  forward(x: Tensor, options?: { trace?: false }): Tensor;
  /** FFN(x) and its hidden activations, for plots. */
  forward(x: Tensor, options: { trace: true }): FeedForwardTrace;
  /** FFN(x), with the hidden activations when `trace` is set. */
  forward(x: Tensor, options?: FeedForwardForwardOptions): Tensor | FeedForwardTrace;
  forward(x: Tensor, options?: FeedForwardForwardOptions): Tensor | FeedForwardTrace {
    checkTensor(x, "FeedForward.forward", "x");
    const trace = _boolean(
      _options(options, "FeedForward.forward", "options").trace ?? false,
      "FeedForward.forward",
      "trace",
    );
    if (x.rank < 1 || x.shape[x.rank - 1] !== this.dModel) {
      throw new RangeError(
        `FeedForward.forward: x=${formatShape(x.shape)} must end in dModel=${this.dModel}`,
      );
    }
    // 1) expand: [..., dModel] x [dFF, dModel]ᵀ -> [..., dFF]
    const preActivation = this.linear1.forward(x);
    // 2) activate (SwiGLU: gate the "up" projection, also [..., dFF])
    let up: Tensor | undefined;
    let hidden: Tensor;
    switch (this.activation) {
      case "relu":
        hidden = relu(preActivation);
        break;
      case "gelu":
        hidden = gelu(preActivation);
        break;
      case "gelu-tanh":
        hidden = gelu(preActivation, { approximate: "tanh" });
        break;
      case "swiglu":
        up = this.linear3!.forward(x);
        hidden = swiglu(preActivation, up);
        break;
    }
    // 3) dropout (training only), 4) contract: [..., dFF] x [dModel, dFF]ᵀ -> [..., dModel]
    const output = this.linear2.forward(this.dropout.forward(hidden));
    if (!trace) return output;
    return up ? { output, preActivation, up, hidden } : { output, preActivation, hidden };
  }
}
