/**
 * A decoder-only (GPT-style) language model, named `GPT` as in minGPT and
 * nanoGPT: token embeddings plus positions, N blocks of causal self-attention
 * and feed-forward (no cross-attention), a final LayerNorm and the LM head;
 * with the causal LM loss and `generate` (greedy, temperature, top-k) on the
 * KV cache. `attentionOnly: true` builds the attention-only Transformer of
 * Olsson et al. (2022) for the induction task.
 *
 * Pre-norm block (GPT-2, the default):
 * $$x \leftarrow x + \mathrm{Attn}(\mathrm{LN}_1(x)),\quad x \leftarrow x + \mathrm{FFN}(\mathrm{LN}_2(x))$$
 *
 * @module
 */

import { causalMask } from "../attention/masks.ts";
import {
  _boolean,
  _describe,
  _dropProbability,
  _finiteAtLeast,
  _nonNegativeInt,
  _oneOf,
  _options,
  _positiveInt,
  _seed,
} from "../layers/_validate.ts";
import { addNorm } from "../layers/add_norm.ts";
import { crossEntropy } from "../layers/cross_entropy.ts";
import { Dropout } from "../layers/dropout.ts";
import { Embedding, type TokenIds } from "../layers/embedding.ts";
import { FeedForward } from "../layers/feed_forward.ts";
import { LayerNorm } from "../layers/layer_norm.ts";
import { LearnedPositionalEmbedding } from "../layers/learned_positional_embedding.ts";
import { Linear, linear } from "../layers/linear.ts";
import { childSeed, Module } from "../layers/module.ts";
import { sinusoidalEncoding } from "../layers/sinusoidal_encoding.ts";
import { noGrad } from "../tensor/autograd.ts";
import { add } from "../tensor/elementwise.ts";
import type { Mask } from "../tensor/mask.ts";
import { Rng } from "../tensor/rng.ts";
import { Tensor } from "../tensor/tensor.ts";
import { needWeightsOption, unbatch } from "./_config.ts";
import { KVCache, MultiHeadAttention } from "./multi_head_attention.ts";

/** Configuration of {@link gpt} (nanoGPT's `GPTConfig` under the library's names). */
export interface GPTConfig {
  /** Vocabulary size V (nanoGPT's `vocab_size`). */
  vocabSize: number;
  /** Longest context the model reads (nanoGPT's `block_size`): the positional table's length. */
  blockSize: number;
  /** Model width (nanoGPT's `n_embd`). */
  dModel: number;
  /** Attention heads (`n_head`); must divide `dModel`. */
  numHeads: number;
  /** Blocks (`n_layer`); default 2. */
  numLayers?: number;
  /** Feed-forward hidden width; default 4·dModel (GPT-2). Unused with `attentionOnly`. */
  dFF?: number;
  /** Dropout on embeddings, attention weights, sublayer outputs and the FFN, training mode only; default 0 (nanoGPT). */
  dropout?: number;
  /** FFN activation; default "gelu" (GPT-2, the exact erf form). */
  activation?: "relu" | "gelu";
  /** Pre-norm blocks (GPT-2, default true); false: post-norm (GPT-1, the original Transformer). */
  normFirst?: boolean;
  /** Positions: "learned" (GPT-2's `wpe`, default) or "sinusoidal" (the fixed table, no parameter). */
  positional?: "learned" | "sinusoidal";
  /** The LM head reuses the token embedding (`lm_head.weight` = `wte.weight`); default true (GPT-2). */
  tieWeights?: boolean;
  /** Blocks of attention only: no feed-forward and no LayerNorm anywhere (see {@link GPT}); default false. */
  attentionOnly?: boolean;
  /** A token id that pads sequences: {@link GPT.lmLoss} ignores targets holding it; default none. */
  padId?: number;
  /** LayerNorm ε; default 1e-5. */
  layerNormEps?: number;
  /** Seed of every initialisation and dropout stream; default 0. */
  seed?: number;
}

/** A {@link GPTConfig} with every default filled in (`padId` stays optional). */
export type ResolvedGPTConfig = Required<Omit<GPTConfig, "padId">> & { padId?: number };

/** Options of {@link GPT.forward}. */
export interface GPTForwardOptions {
  /** Return `selfWeights`; default true. `false` leaves them out; the logits are bit-identical. */
  needWeights?: boolean;
  /**
   * One KV cache per block ({@link GPT.createCaches}): the ids continue the
   * sequence the caches hold (positions start at their length).
   */
  caches?: KVCache[];
}

/** What {@link GPT.forward} returns (the naming scheme: lib/models/README.md). */
export interface GPTResult {
  /** Next-token logits `[B, T, V]` (`[T, V]` for unbatched ids `[T]`). */
  output: Tensor;
  /** Causal self-attention per block, `[B, H, T, T]` (`[B, H, T, cached + T]` with caches; B dropped unbatched). */
  selfWeights: Tensor[];
}

/** What {@link GPT.forward} returns with `needWeights: false`. */
export interface GPTOutput {
  /** Next-token logits `[B, T, V]` (`[T, V]` unbatched). */
  output: Tensor;
  /** Absent: the caller asked for no weights. */
  selfWeights?: undefined;
}

/** Options of {@link GPT.lmLoss}. */
export interface LMLossOptions {
  /** ε of label smoothing (as {@link crossEntropy}); default 0. */
  labelSmoothing?: number;
}

/** Options of {@link GPT.generate}. */
export interface GPTGenerateOptions {
  /** Tokens to append to each prompt. */
  maxNewTokens: number;
  /** Logits are divided by it before sampling; 0 is greedy (argmax); default 1. */
  temperature?: number;
  /** Sample only among the k most likely tokens (k larger than V means all); default all. */
  topK?: number;
  /** Seed of the sampling `Rng` when no `rng` is given; default 0. */
  seed?: number;
  /** The sampling randomness (takes precedence over `seed`); it advances. */
  rng?: Rng;
  /** A row stops after producing this id; default none. */
  stopToken?: number;
  /** Use the KV cache (default true); false re-runs the whole sequence each step: same tokens. */
  useCache?: boolean;
}

/** What {@link GPT.generate} returns. */
export interface GPTGenerateResult {
  /** The generated ids per prompt row, without the prompt (ending with `stopToken` if produced). */
  tokens: number[][];
}

/** Token ids as rows of equal length, and whether they were one unbatched sequence (`[T]`). */
function idRows(ids: TokenIds, fn: string, arg: string): { rows: number[][]; unbatched: boolean } {
  if (ids instanceof Tensor) {
    if (ids.rank === 1) return { rows: [Array.from(ids.data)], unbatched: true };
    if (ids.rank !== 2) {
      throw new RangeError(`${fn}: ${arg} must be [B, T] or [T] token ids, got rank ${ids.rank}`);
    }
    const [b, t] = ids.shape;
    return {
      rows: Array.from({ length: b }, (_, i) => Array.from(ids.data.subarray(i * t, (i + 1) * t))),
      unbatched: false,
    };
  }
  if (!Array.isArray(ids) && !ArrayBuffer.isView(ids)) {
    throw new TypeError(
      `${fn}: ${arg} must be token ids (number[], number[][] or a Tensor), got ${_describe(ids)}`,
    );
  }
  const arr = Array.from(ids as ArrayLike<unknown>);
  if (arr.length > 0 && Array.isArray(arr[0])) {
    const rows = arr as number[][];
    if (rows.some((r) => !Array.isArray(r) || r.length !== rows[0].length)) {
      throw new RangeError(`${fn}: ${arg} rows must all have the same length (pad them)`);
    }
    return { rows: rows.map((r) => [...r]), unbatched: false };
  }
  return { rows: [arr as number[]], unbatched: true };
}

/**
 * One decoder-only block: causal self-attention then the feed-forward layer,
 * each a residual sublayer (no cross-attention). Parameters under nanoGPT's
 * names: `ln_1.*`, `attn.*` (`in_proj_weight`, `in_proj_bias`, `out_proj.*`),
 * `ln_2.*`, `mlp.linear1.*`, `mlp.linear2.*`; attention-only blocks hold `attn.*` only.
 *
 * @example A block keeps the residual stream's shape
 * ```ts
 * import { GPTBlock } from "./gpt.ts";
 * import { causalMask } from "../attention/masks.ts";
 * import { randn } from "../tensor/tensor.ts";
 * import { Rng } from "../tensor/rng.ts";
 * import assert from "node:assert/strict";
 * const block = new GPTBlock({ dModel: 8, numHeads: 2, dFF: 16, dropout: 0, activation: "gelu",
 *   normFirst: true, attentionOnly: false, layerNormEps: 1e-5, seed: 0 });
 * const { output, selfWeights } = block.forward(randn([1, 3, 8], new Rng(0)), { mask: causalMask(3) });
 * assert.deepEqual(output.shape, [1, 3, 8]);
 * assert.equal(selfWeights!.get(0, 1, 0, 2), 0); // no attention to the future
 * ```
 */
export class GPTBlock extends Module {
  /** Causal multi-head self-attention (`attn`). */
  readonly attn: MultiHeadAttention;
  /** The feed-forward layer (`mlp`), null in an attention-only block. */
  readonly mlp: FeedForward | null;
  /** LayerNorm of the attention sublayer (`ln_1`), null in an attention-only block. */
  readonly ln1: LayerNorm | null;
  /** LayerNorm of the feed-forward sublayer (`ln_2`), null in an attention-only block. */
  readonly ln2: LayerNorm | null;
  /** Dropout on the attention output, before the residual add. */
  readonly dropout1: Dropout;
  /** Dropout on the feed-forward output, before the residual add. */
  readonly dropout2: Dropout;
  /** Pre-norm (true) or post-norm. */
  readonly normFirst: boolean;

  /**
   * Builds a block from every size and option (no defaults: {@link GPT} fills them from its config).
   *
   * @throws {TypeError} An option of the wrong type (the message shows the value).
   * @throws {RangeError} A size that is not a positive integer, `dModel` not divisible by `numHeads`.
   */
  constructor(
    c: Pick<
      ResolvedGPTConfig,
      | "dModel"
      | "numHeads"
      | "dFF"
      | "dropout"
      | "activation"
      | "normFirst"
      | "attentionOnly"
      | "layerNormEps"
      | "seed"
    >,
  ) {
    super();
    const fn = "GPTBlock";
    if (c === null || typeof c !== "object") {
      throw new TypeError(`${fn}: config must be an object, got ${_describe(c)}`);
    }
    c = {
      dModel: _positiveInt(c.dModel, fn, "dModel"),
      numHeads: _positiveInt(c.numHeads, fn, "numHeads"),
      dFF: _positiveInt(c.dFF, fn, "dFF"),
      dropout: _dropProbability(c.dropout, fn, "dropout"),
      activation: _oneOf(c.activation, ["relu", "gelu"], fn, "activation"),
      normFirst: _boolean(c.normFirst, fn, "normFirst"),
      attentionOnly: _boolean(c.attentionOnly, fn, "attentionOnly"),
      layerNormEps: _finiteAtLeast(c.layerNormEps, 0, fn, "layerNormEps"),
      seed: _seed(c.seed, fn, "seed"),
    };
    this.useSeed(c.seed);
    this.normFirst = c.normFirst;
    this.attn = this.registerModule(
      "attn",
      new MultiHeadAttention({
        dModel: c.dModel,
        numHeads: c.numHeads,
        dropout: c.dropout,
        seed: childSeed(c.seed, "attn"),
      }),
    );
    const norm = (name: string) =>
      c.attentionOnly ? null : this.registerModule(
        name,
        new LayerNorm(c.dModel, {
          eps: c.layerNormEps,
        }),
      );
    this.ln1 = norm("ln_1");
    this.ln2 = norm("ln_2");
    this.mlp = c.attentionOnly ? null : this.registerModule(
      "mlp",
      new FeedForward({
        dModel: c.dModel,
        dFF: c.dFF,
        activation: c.activation,
        dropout: c.dropout,
        seed: childSeed(c.seed, "mlp"),
      }),
    );
    this.dropout1 = this.registerModule("dropout1", new Dropout(c.dropout));
    this.dropout2 = this.registerModule("dropout2", new Dropout(c.dropout));
  }

  /**
   * Runs the block on `x [B, T, dModel]`.
   *
   * @param options `mask` (causal, `true` = may attend), `cache`, `needWeights` (default true).
   * @returns `output [B, T, dModel]` and `selfWeights [B, H, T, Tk]` (absent with `needWeights: false`).
   */
  forward(
    x: Tensor,
    options: { mask?: Mask; cache?: KVCache; needWeights?: boolean } = {},
  ): { output: Tensor; selfWeights?: Tensor } {
    const fn = "GPTBlock.forward";
    const { mask, cache, needWeights: nw } = _options(options, fn, "options");
    const needWeights = needWeightsOption(nw, fn);
    if (cache !== undefined && !(cache instanceof KVCache)) {
      throw new TypeError(
        `${fn}: cache must be a KVCache from attn.createCache(), got ${_describe(cache)}`,
      );
    }
    let selfWeights: Tensor | undefined;
    const attn = (h: Tensor): Tensor => {
      const r = this.attn.forward(h, h, h, { mask, cache, needWeights });
      selfWeights = r.weights;
      return r.output;
    };
    const normFirst = this.normFirst;
    if (!this.ln1 || !this.ln2 || !this.mlp) {
      // attention only: x = x + Dropout(Attn(x)), no norm
      const h = addNorm(x, attn, (t: Tensor) => t, { normFirst: true, dropout: this.dropout1 });
      return { output: h, selfWeights };
    }
    // pre-norm: x = x + Dropout(Attn(LN1(x)));  post-norm: x = LN1(x + Dropout(Attn(x)))
    let h = addNorm(x, attn, this.ln1, { normFirst, dropout: this.dropout1 });
    // pre-norm: x = x + Dropout(FFN(LN2(x)));   post-norm: x = LN2(x + Dropout(FFN(x)))
    h = addNorm(h, this.mlp, this.ln2, { normFirst, dropout: this.dropout2 });
    return { output: h, selfWeights };
  }
}

/**
 * A decoder-only Transformer language model (minGPT/nanoGPT's `GPT`).
 *
 * `logits = lm_head(ln_f(blocks(drop(wte[ids] + pos))))`; the token embedding is
 * not scaled by √dModel (GPT-2). Initialisation: `wte` and `wpe` N(0, 0.02²) (GPT-2),
 * attention, feed-forward and an untied head as their layers (PyTorch's defaults).
 *
 * Parameter names (nanoGPT's without its `transformer.` prefix): `wte.weight`,
 * `wpe.weight` (learned positions only), `h.<i>.ln_1.*`, `h.<i>.attn.in_proj_weight`,
 * `h.<i>.attn.in_proj_bias`, `h.<i>.attn.out_proj.*`, `h.<i>.ln_2.*`, `h.<i>.mlp.linear1.*`,
 * `h.<i>.mlp.linear2.*`, `ln_f.*`, and `lm_head.weight` only when `tieWeights: false`
 * (a tied head is `wte.weight` itself, stored once). The head has no bias (nanoGPT).
 *
 * **Attention-only** (`attentionOnly: true`), as in Olsson et al. (2022) and Elhage
 * et al. (2021): each block is `x + Attn(x)`, with no feed-forward and no LayerNorm,
 * and there is no final LayerNorm either, so the residual stream is a sum of
 * embeddings and head outputs that the head analysis can read directly.
 *
 * Post-norm (`normFirst: false`, GPT-1) blocks end in their own LayerNorm, so `ln_f`
 * exists only with pre-norm blocks. Padding belongs at the end of a row: under the
 * causal mask no real position sees it, and {@link GPT.lmLoss} ignores its targets.
 *
 * @example Logits for every position, one map per block
 * ```ts
 * import { gpt } from "./gpt.ts";
 * import assert from "node:assert/strict";
 * const model = gpt({ vocabSize: 10, blockSize: 8, dModel: 8, numHeads: 2, numLayers: 2 });
 * const { output, selfWeights } = model.forward([[1, 2, 3]]);
 * assert.deepEqual(output.shape, [1, 3, 10]);
 * assert.equal(selfWeights.length, 2);
 * assert.equal(selfWeights[0].get(0, 0, 0, 1), 0); // causal
 * ```
 */
export class GPT extends Module {
  /** The resolved configuration. */
  readonly config: Readonly<ResolvedGPTConfig>;
  /** Token embedding `wte` `[V, dModel]`. */
  readonly wte: Embedding;
  /** Learned positions `wpe` `[blockSize, dModel]`, or null with sinusoidal positions. */
  readonly wpe: LearnedPositionalEmbedding | null;
  /** The fixed sinusoidal table `[blockSize, dModel]` (not a parameter), or null with learned positions. */
  readonly positionalEncoding: Tensor | null;
  /** Dropout on embeddings + positions (`drop`). */
  readonly drop: Dropout;
  /** The blocks `h.0 … h.<N-1>`. */
  readonly blocks: readonly GPTBlock[];
  /** The final LayerNorm `ln_f`, null for attention-only or post-norm models. */
  readonly lnF: LayerNorm | null;
  /** The untied LM head `lm_head` (`[V, dModel]`, no bias), null when tied to `wte`. */
  readonly lmHead: Linear | null;

  /**
   * Builds the model; part `name` is seeded by `childSeed(seed, name)`.
   *
   * @throws {TypeError} A config that is not an object, or an option of the wrong type.
   * @throws {RangeError} Invalid sizes (`dModel` not divisible by `numHeads`, a `padId` outside the vocabulary).
   */
  constructor(config: GPTConfig) {
    super();
    const fn = "gpt";
    if (config === null || typeof config !== "object") {
      throw new TypeError(
        `${fn}: config must be an object like { vocabSize: 64, blockSize: 32, dModel: 32, numHeads: 4 }, got ${
          _describe(config)
        }`,
      );
    }
    const vocabSize = _positiveInt(config.vocabSize, fn, "vocabSize");
    const dModel = _positiveInt(config.dModel, fn, "dModel");
    const numHeads = _positiveInt(config.numHeads, fn, "numHeads");
    if (dModel % numHeads !== 0) {
      throw new RangeError(
        `${fn}: dModel=${dModel} must be divisible by numHeads=${numHeads} (each head gets dModel/numHeads features)`,
      );
    }
    const padId = config.padId === undefined
      ? undefined
      : _nonNegativeInt(config.padId, fn, "padId");
    if (padId !== undefined && padId >= vocabSize) {
      throw new RangeError(`${fn}: padId=${padId} must be < vocabSize=${vocabSize}`);
    }
    const c: ResolvedGPTConfig = {
      vocabSize,
      blockSize: _positiveInt(config.blockSize, fn, "blockSize"),
      dModel,
      numHeads,
      numLayers: _nonNegativeInt(config.numLayers ?? 2, fn, "numLayers"),
      dFF: _positiveInt(config.dFF ?? 4 * dModel, fn, "dFF"),
      dropout: _dropProbability(config.dropout ?? 0, fn, "dropout"),
      activation: _oneOf(config.activation ?? "gelu", ["relu", "gelu"], fn, "activation"),
      normFirst: _boolean(config.normFirst ?? true, fn, "normFirst"),
      positional: _oneOf(
        config.positional ?? "learned",
        ["learned", "sinusoidal"],
        fn,
        "positional",
      ),
      tieWeights: _boolean(config.tieWeights ?? true, fn, "tieWeights"),
      attentionOnly: _boolean(config.attentionOnly ?? false, fn, "attentionOnly"),
      layerNormEps: _finiteAtLeast(config.layerNormEps ?? 1e-5, 0, fn, "layerNormEps"),
      seed: _seed(config.seed ?? 0, fn, "seed"),
    };
    if (padId !== undefined) c.padId = padId;
    this.config = c;
    this.useSeed(c.seed);
    const gpt2Init = (t: Tensor) => t.data.forEach((v, i) => (t.data[i] = v * 0.02));
    this.wte = this.registerModule(
      "wte",
      new Embedding(vocabSize, dModel, { seed: childSeed(c.seed, "wte") }),
    );
    gpt2Init(this.wte.weight);
    if (c.positional === "learned") {
      this.wpe = this.registerModule(
        "wpe",
        new LearnedPositionalEmbedding(c.blockSize, dModel, { seed: childSeed(c.seed, "wpe") }),
      );
      gpt2Init(this.wpe.weight);
      this.positionalEncoding = null;
    } else {
      this.wpe = null;
      this.positionalEncoding = sinusoidalEncoding(c.blockSize, dModel);
    }
    this.drop = this.registerModule("drop", new Dropout(c.dropout));
    this.blocks = Array.from({ length: c.numLayers }, (_, i) => {
      const name = `h.${i}`;
      return this.registerModule(name, new GPTBlock({ ...c, seed: childSeed(c.seed, name) }));
    });
    this.lnF = c.attentionOnly || !c.normFirst
      ? null
      : this.registerModule("ln_f", new LayerNorm(dModel, { eps: c.layerNormEps }));
    this.lmHead = c.tieWeights ? null : this.registerModule(
      "lm_head",
      new Linear(dModel, vocabSize, { bias: false, seed: childSeed(c.seed, "lm_head") }),
    );
  }

  /** One empty KV cache per block, for incremental decoding ({@link GPTForwardOptions.caches}). */
  createCaches(): KVCache[] {
    return this.blocks.map((b) => b.attn.createCache());
  }

  /** Logits `[B, T, V]` and maps of rows of ids `[B, T]` at positions offset… (the caches' length). */
  #run(rows: number[][], caches: KVCache[] | undefined, needWeights: boolean, fn: string) {
    const t = rows[0]?.length ?? 0;
    if (t === 0) throw new RangeError(`${fn}: ids must hold at least one token per row`);
    const offset = caches?.[0]?.length ?? 0;
    if (offset + t > this.config.blockSize) {
      throw new RangeError(
        `${fn}: positions ${offset}…${
          offset + t - 1
        } run past blockSize=${this.config.blockSize} (the longest context)`,
      );
    }
    const tok = this.wte.forward(rows); // [B, T, D]
    let x: Tensor;
    if (this.wpe) {
      x = this.wpe.forward(tok, { offset }); // [B, T, D] + [T, D]
    } else {
      const d = this.config.dModel;
      const table = this.positionalEncoding!.data.slice(offset * d, (offset + t) * d);
      x = add(tok, new Tensor(table, [t, d])); // [B, T, D] + [T, D]
    }
    x = this.drop.forward(x);
    // query i (position offset + i) sees keys 0 … offset + i
    const mask = t === 1 && offset > 0
      ? undefined
      : causalMask(t, offset + t, { align: "bottom-right" });
    const selfWeights: Tensor[] = [];
    this.blocks.forEach((block, i) => {
      const r = block.forward(x, { mask, cache: caches?.[i], needWeights });
      x = r.output;
      if (r.selfWeights) selfWeights.push(r.selfWeights);
    });
    if (this.lnF) x = this.lnF.forward(x);
    // [B, T, D] x [V, D]ᵀ -> [B, T, V]
    const logits = this.lmHead ? this.lmHead.forward(x) : linear(x, this.wte.weight);
    return { logits, selfWeights };
  }

  /**
   * Next-token logits for token ids `[B, T]` (or one unbatched sequence `[T]`), T <= blockSize.
   *
   * @param options `needWeights: false` leaves `selfWeights` out; `caches` continues a sequence.
   * @throws {RangeError} Ids outside the vocabulary, rows of different lengths, a sequence past
   *   `blockSize`, or `caches` that are not one per block.
   * @throws {TypeError} Ids or options of the wrong type.
   */
  forward(ids: TokenIds, options: GPTForwardOptions & { needWeights: false }): GPTOutput;
  /** {@link GPT.forward} returning the attention maps too (the default). */
  forward(ids: TokenIds, options?: GPTForwardOptions): GPTResult;
  forward(ids: TokenIds, options?: GPTForwardOptions): GPTResult | GPTOutput {
    const fn = "GPT.forward";
    const o = _options(options, fn, "options");
    const needWeights = needWeightsOption(o.needWeights, fn);
    const caches = o.caches;
    if (
      caches !== undefined &&
      (!Array.isArray(caches) || caches.length !== this.blocks.length ||
        !caches.every((k) => k instanceof KVCache))
    ) {
      throw new RangeError(
        `${fn}: caches must be one KVCache per block (${this.blocks.length}) from createCaches(), got ${
          _describe(caches)
        }`,
      );
    }
    const { rows, unbatched } = idRows(ids, fn, "ids");
    const { logits, selfWeights } = this.#run(rows, caches, needWeights, fn);
    const output = unbatch(logits, unbatched);
    return needWeights
      ? { output, selfWeights: selfWeights.map((w) => unbatch(w, unbatched)) }
      : { output };
  }

  /**
   * The causal language-model loss: the mean next-token cross-entropy of
   * `ids [B, T]` (or `[T]`), T >= 2. The model reads `ids[:, :-1]` and is scored on
   * `ids[:, 1:]` (the targets shifted by one); targets equal to `config.padId` are ignored.
   *
   * @returns A scalar tensor (backward-ready when the parameters require grad).
   * @throws {RangeError} Fewer than 2 tokens per row, or every target ignored.
   *
   * @example The loss of an untrained model is near log V
   * ```ts
   * import { gpt } from "./gpt.ts";
   * import assert from "node:assert/strict";
   * const model = gpt({ vocabSize: 16, blockSize: 8, dModel: 8, numHeads: 2, padId: 0 });
   * const loss = model.lmLoss([[3, 4, 5, 6, 0, 0]]); // the two pad targets are ignored
   * assert.ok(Math.abs(loss.data[0] - Math.log(16)) < 0.5);
   * ```
   */
  lmLoss(ids: TokenIds, options?: LMLossOptions): Tensor {
    const fn = "GPT.lmLoss";
    const o = _options(options, fn, "options");
    const { rows } = idRows(ids, fn, "ids");
    const t = rows[0]?.length ?? 0;
    if (t < 2) {
      throw new RangeError(
        `${fn}: ids need at least 2 tokens per row (an input and its next token), got ${t}`,
      );
    }
    const pad = this.config.padId;
    const targets = rows.flatMap((r) => r.slice(1).map((id) => (id === pad ? -100 : id)));
    if (targets.every((y) => y === -100)) {
      throw new RangeError(`${fn}: every target is the pad id ${pad}: nothing to score`);
    }
    const { logits } = this.#run(rows.map((r) => r.slice(0, -1)), undefined, false, fn);
    return crossEntropy(logits, targets, {
      ignoreIndex: -100,
      labelSmoothing: o.labelSmoothing ?? 0,
    });
  }

  /**
   * Continues each prompt row by `maxNewTokens` tokens, inside `noGrad`: greedy
   * (temperature 0: the first most likely id) or sampled from
   * softmax(logits / temperature), restricted to the `topK` most likely ids.
   * With the KV cache (default) the prompt runs once and each step feeds one
   * new position; without it each step re-runs the whole sequence. Both give
   * the same tokens; the same seed gives the same tokens.
   *
   * @param prompt Ids `[B, P]` or one sequence `[P]`, P >= 1.
   * @throws {RangeError} P + maxNewTokens past `blockSize`, a negative temperature, a bad `topK`.
   * @throws {TypeError} Options of the wrong type (e.g. `temperature: "0"`).
   *
   * @example Greedy decoding is deterministic; cache or none
   * ```ts
   * import { gpt } from "./gpt.ts";
   * import assert from "node:assert/strict";
   * const model = gpt({ vocabSize: 12, blockSize: 16, dModel: 8, numHeads: 2, seed: 3 });
   * const a = model.generate([1, 2, 3], { maxNewTokens: 5, temperature: 0 });
   * const b = model.generate([1, 2, 3], { maxNewTokens: 5, temperature: 0, useCache: false });
   * assert.equal(a.tokens[0].length, 5);
   * assert.deepEqual(a.tokens, b.tokens);
   * ```
   */
  generate(prompt: TokenIds, options: GPTGenerateOptions): GPTGenerateResult {
    return noGrad(() => this.#generate(prompt, options));
  }

  #generate(prompt: TokenIds, options: GPTGenerateOptions): GPTGenerateResult {
    const fn = "GPT.generate";
    if (options === null || typeof options !== "object") {
      throw new TypeError(
        `${fn}: options { maxNewTokens } are required, got ${_describe(options)}`,
      );
    }
    const maxNewTokens = _nonNegativeInt(options.maxNewTokens, fn, "maxNewTokens");
    const temperature = _finiteAtLeast(options.temperature ?? 1, 0, fn, "temperature");
    const v = this.config.vocabSize;
    const topK = Math.min(_positiveInt(options.topK ?? v, fn, "topK"), v);
    if (options.rng !== undefined && !(options.rng instanceof Rng)) {
      throw new TypeError(`${fn}: rng must be an Rng, got ${_describe(options.rng)}`);
    }
    const rng = options.rng ?? new Rng(_seed(options.seed ?? 0, fn, "seed"));
    const stop = options.stopToken === undefined
      ? undefined
      : _nonNegativeInt(options.stopToken, fn, "stopToken");
    if (stop !== undefined && stop >= v) {
      throw new RangeError(`${fn}: stopToken=${stop} must be < vocabSize=${v}`);
    }
    const useCache = _boolean(options.useCache ?? true, fn, "useCache");
    const { rows } = idRows(prompt, fn, "prompt");
    const p = rows[0]?.length ?? 0;
    if (p === 0) throw new RangeError(`${fn}: prompt must hold at least one token`);
    if (p + maxNewTokens > this.config.blockSize) {
      throw new RangeError(
        `${fn}: prompt length ${p} + maxNewTokens ${maxNewTokens} = ${
          p + maxNewTokens
        } is past blockSize=${this.config.blockSize}`,
      );
    }
    const caches = useCache ? this.createCaches() : undefined;
    const seqs = rows.map((r) => [...r]);
    const tokens: number[][] = rows.map(() => []);
    const done = rows.map(() => false);
    for (let step = 0; step < maxNewTokens && !done.every(Boolean); step++) {
      // with the cache: the prompt first, then one new position per step
      const input = caches && step > 0 ? seqs.map((s) => [s[s.length - 1]]) : seqs;
      const { logits } = this.#run(input, caches, false, fn); // [B, T, V]
      const t = logits.shape[1];
      seqs.forEach((s, b) => {
        const row = logits.data.subarray((b * t + t - 1) * v, (b * t + t) * v);
        const next = done[b] ? (stop ?? 0) : pick(row, temperature, topK, rng);
        if (!done[b]) {
          tokens[b].push(next);
          if (next === stop) done[b] = true;
        }
        s.push(next);
      });
    }
    return { tokens };
  }
}

/** The next id from one row of logits: argmax at temperature 0, else a sample among the top k. */
function pick(row: Float32Array, temperature: number, topK: number, rng: Rng): number {
  if (temperature === 0) {
    let best = 0;
    for (let j = 1; j < row.length; j++) if (row[j] > row[best]) best = j;
    return best;
  }
  // the k largest logits (ties broken by the lower id), sampled from softmax(z / temperature)
  const order = Array.from(row.keys()).sort((a, b) => row[b] - row[a] || a - b).slice(0, topK);
  const zMax = row[order[0]];
  const w = order.map((j) => Math.exp((row[j] - zMax) / temperature));
  let u = rng.uniform() * w.reduce((a, b) => a + b, 0);
  for (let i = 0; i < order.length; i++) {
    u -= w[i];
    if (u < 0) return order[i];
  }
  return order[order.length - 1];
}

/**
 * Builds a {@link GPT} decoder-only language model.
 *
 * @example An attention-only model has no LayerNorm and no feed-forward
 * ```ts
 * import { gpt } from "./gpt.ts";
 * import assert from "node:assert/strict";
 * const model = gpt({ vocabSize: 8, blockSize: 8, dModel: 8, numHeads: 2, attentionOnly: true });
 * const keys = Object.keys(model.stateDict());
 * assert.ok(keys.includes("h.1.attn.in_proj_weight") && keys.includes("wte.weight"));
 * assert.ok(!keys.some((k) => k.includes("ln_") || k.includes("mlp")));
 * ```
 */
export function gpt(config: GPTConfig): GPT {
  return new GPT(config);
}
