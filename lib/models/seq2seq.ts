/**
 * A complete sequence-to-sequence Transformer: token embeddings scaled by
 * √d_model plus sinusoidal positions, the encoder-decoder, and a generator
 * (linear + log-softmax); with greedy decoding that uses the KV cache and
 * returns the attention of every step.
 *
 * @module
 */

import { _boolean, _nonNegativeInt, _options, _positiveInt, _seed } from "../layers/_validate.ts";
import { Dropout } from "../layers/dropout.ts";
import { Embedding, type TokenIds } from "../layers/embedding.ts";
import { Linear } from "../layers/linear.ts";
import { childSeed, Module } from "../layers/module.ts";
import { sinusoidalEncoding } from "../layers/sinusoidal_encoding.ts";
import { causalMask } from "../attention/masks.ts";
import { noGrad } from "../tensor/autograd.ts";
import { add } from "../tensor/elementwise.ts";
import { Mask } from "../tensor/mask.ts";
import { logSoftmax } from "../tensor/softmax.ts";
import { Rng } from "../tensor/rng.ts";
import { concat } from "../tensor/slice.ts";
import { Tensor, zeros } from "../tensor/tensor.ts";
import { needWeightsOption, unbatch } from "./_config.ts";
import { Transformer, type TransformerConfig } from "./transformer.ts";
import type { KVCache } from "./multi_head_attention.ts";

/** Configuration of {@link seq2seq}: the Transformer's plus vocabularies and positions. */
export interface Seq2SeqConfig extends TransformerConfig {
  /** Source vocabulary size. */
  srcVocab: number;
  /** Target vocabulary size. */
  tgtVocab: number;
  /** Longest sequence the positional table covers; default 512. */
  maxLen?: number;
  /** One embedding table for source and target (needs equal vocabularies); default false. */
  shareEmbeddings?: boolean;
  /** A token id that marks padding: source keys holding it are masked out; default none. */
  padToken?: number;
}

/** Options of {@link Seq2Seq.greedyDecode}. */
export interface GreedyDecodeOptions {
  /** Most tokens to generate. */
  maxLen: number;
  /** The id fed first (BOS). */
  startToken: number;
  /** Generation of a sequence stops after this id (EOS). */
  endToken: number;
  /** Use the decoder's KV cache (default true); false re-runs the whole prefix each step. */
  useCache?: boolean;
}

/**
 * What {@link Seq2Seq.greedyDecode} returns: the tokens, and the attention of
 * every step assembled into full matrices per layer (names as in
 * {@link Seq2SeqResult}). T is the number of steps run.
 */
export interface GreedyDecodeResult {
  /** Generated ids per sequence, without the start token, ending with `endToken` if produced. */
  tokens: number[][];
  /** Log-probability of each chosen token, per sequence. */
  scores: number[][];
  /** Encoder self-attention, per layer `[B, H, S, S]`. */
  encoderSelfWeights: Tensor[];
  /** Decoder self-attention, per layer `[B, H, T, T]` (row t is step t; future columns are 0). */
  decoderSelfWeights: Tensor[];
  /** Decoder cross-attention, per layer `[B, H, T, S]`. */
  decoderCrossWeights: Tensor[];
}

/** Options of {@link Seq2Seq.beamSearch}. */
export interface BeamSearchOptions {
  /** Hypotheses kept at every step (K). */
  beamSize: number;
  /** Most tokens to generate. */
  maxLen: number;
  /** The id fed first (BOS). */
  startToken: number;
  /** A hypothesis is finished once it produces this id (EOS). */
  endToken: number;
  /**
   * α of the GNMT length penalty: hypotheses are ranked by
   * log P / ((5 + length) / 6)^α. Default 0.6; 0 ranks by raw log-probability.
   */
  lengthPenalty?: number;
}

/** One hypothesis of {@link Seq2Seq.beamSearch}. */
export interface Beam {
  /** Generated ids, without the start token. */
  tokens: number[];
  /** Sum of the tokens' log-probabilities. */
  logProb: number;
  /** `logProb` divided by the length penalty: what beams are ranked by. */
  score: number;
}

/**
 * What {@link Seq2Seq.forward} returns (the naming scheme: lib/models/README.md).
 * For one unbatched sequence of ids (`[S]`, `[T]`) every tensor drops its B axis.
 */
export interface Seq2SeqResult {
  /** `[B, T, tgtVocab]`: log-probabilities of the next token at every target position. */
  output: Tensor;
  /** Encoder self-attention, per layer `[B, H, S, S]`. */
  encoderSelfWeights: Tensor[];
  /** Decoder masked self-attention, per layer `[B, H, T, T]`. */
  decoderSelfWeights: Tensor[];
  /** Decoder cross-attention over the encoder output, per layer `[B, H, T, S]`. */
  decoderCrossWeights: Tensor[];
}

/** What {@link Seq2Seq.forward} returns with `needWeights: false`: no maps. */
export interface Seq2SeqOutput {
  /** `[B, T, tgtVocab]` log-probabilities. */
  output: Tensor;
  /** Absent: the caller asked for no weights. */
  encoderSelfWeights?: undefined;
  /** Absent: the caller asked for no weights. */
  decoderSelfWeights?: undefined;
  /** Absent: the caller asked for no weights. */
  decoderCrossWeights?: undefined;
}

/** What {@link Seq2Seq.encode} returns: the encoder's result and the source mask it used. */
export interface Seq2SeqEncodeResult {
  /** The memory `[B, S, dModel]` (`[S, dModel]` unbatched). */
  output: Tensor;
  /** Encoder self-attention, per layer `[B, H, S, S]`; absent with `needWeights: false`. */
  selfWeights?: Tensor[];
  /** The source padding mask `[B, 1, 1, S]` from `padToken`, or undefined. */
  srcMask?: Mask;
}

/** What {@link Seq2Seq.decode} returns: the decoder's result, with log-probabilities as output. */
export interface Seq2SeqDecodeResult {
  /** `[B, T, tgtVocab]` log-probabilities (`[T, tgtVocab]` unbatched). */
  output: Tensor;
  /** Decoder self-attention, per layer; absent with `needWeights: false`. */
  selfWeights?: Tensor[];
  /** Decoder cross-attention, per layer; absent with `needWeights: false`. */
  crossWeights?: Tensor[];
}

/** Options of {@link Seq2Seq.forward}, {@link Seq2Seq.encode} and {@link Seq2Seq.decode}. */
export interface Seq2SeqForwardOptions {
  /** Return the attention maps; default true. `false` leaves them out; same output. */
  needWeights?: boolean;
}

/** Token ids as rows, and whether they were one unbatched sequence (`[T]`). */
function toBatch(
  ids: TokenIds,
  fn: string,
  arg: string,
): { rows: number[][]; unbatched: boolean } {
  if (ids instanceof Tensor) {
    if (ids.rank === 1) return { rows: [Array.from(ids.data)], unbatched: true };
    if (ids.rank !== 2) throw new RangeError(`${fn}: ${arg} must be [B, T] or [T] token ids`);
    const [b, t] = ids.shape;
    const rows = Array.from(
      { length: b },
      (_, i) => Array.from(ids.data.subarray(i * t, (i + 1) * t)),
    );
    return { rows, unbatched: false };
  }
  if (!Array.isArray(ids) && !ArrayBuffer.isView(ids)) {
    throw new TypeError(`${fn}: ${arg} must be token ids: number[] or number[][]`);
  }
  const arr = Array.from(ids as ArrayLike<unknown>);
  if (arr.length > 0 && Array.isArray(arr[0])) {
    const rows = arr as number[][];
    if (rows.some((r) => !Array.isArray(r) || r.length !== rows[0].length)) {
      throw new RangeError(
        `${fn}: ${arg} rows must all have the same length (pad them, and set padToken)`,
      );
    }
    return { rows: rows.map((r) => [...r]), unbatched: false };
  }
  return { rows: [arr as number[]], unbatched: true };
}

/**
 * The whole encoder-decoder model on token ids. Parameters: `srcEmbedding.weight`,
 * `tgtEmbedding.weight` (absent when shared), `transformer.*` (PyTorch
 * `nn.Transformer` names), `generator.weight`, `generator.bias`.
 *
 * @example Greedy decoding returns tokens and every attention map
 * ```ts
 * import { seq2seq } from "./seq2seq.ts";
 * import assert from "node:assert/strict";
 * const model = seq2seq({
 *   srcVocab: 10, tgtVocab: 12, dModel: 8, numHeads: 2, dFF: 16,
 *   numEncoderLayers: 1, numDecoderLayers: 1, maxLen: 16, seed: 1,
 * });
 * const { tokens, decoderCrossWeights } = model.greedyDecode([[3, 4, 5]], {
 *   maxLen: 4, startToken: 1, endToken: 2,
 * });
 * assert.ok(tokens[0].length >= 1 && tokens[0].length <= 4);
 * assert.deepEqual(decoderCrossWeights[0].shape.slice(0, 2), [1, 2]);
 * assert.equal(decoderCrossWeights[0].shape[3], 3); // over the 3 source tokens
 * ```
 */
export class Seq2Seq extends Module {
  /** The resolved configuration. */
  readonly config: Readonly<Seq2SeqConfig & { maxLen: number }>;
  /** Source token embedding (× √dModel). */
  readonly srcEmbedding: Embedding;
  /** Target token embedding (× √dModel); the same object when shared. */
  readonly tgtEmbedding: Embedding;
  /** The encoder-decoder. */
  readonly transformer: Transformer;
  /** Final projection to target vocabulary logits. */
  readonly generator: Linear;
  /** The fixed sinusoidal table `[maxLen, dModel]` (not a parameter). */
  readonly positionalEncoding: Tensor;
  /** Dropout on embeddings + positions (training mode only). */
  readonly embeddingDropout: Dropout;

  /**
   * Builds the model.
   *
   * @throws {RangeError} Invalid sizes, or `shareEmbeddings` with different vocabularies.
   */
  constructor(config: Seq2SeqConfig) {
    super();
    if (config === null || typeof config !== "object") {
      throw new TypeError("seq2seq: config must be an object");
    }
    const fn = "seq2seq";
    const srcVocab = _positiveInt(config.srcVocab, fn, "srcVocab");
    const tgtVocab = _positiveInt(config.tgtVocab, fn, "tgtVocab");
    const maxLen = _positiveInt(config.maxLen ?? 512, fn, "maxLen");
    const shareEmbeddings = _boolean(config.shareEmbeddings ?? false, fn, "shareEmbeddings");
    if (config.padToken !== undefined) _nonNegativeInt(config.padToken, fn, "padToken");
    if (shareEmbeddings && srcVocab !== tgtVocab) {
      throw new RangeError(
        `seq2seq: shareEmbeddings needs srcVocab === tgtVocab, got ${srcVocab} and ${tgtVocab}`,
      );
    }
    this.config = { ...config, maxLen };
    const seed = _seed(config.seed ?? 0, fn, "seed");
    this.useSeed(seed);
    this.transformer = this.registerModule(
      "transformer",
      new Transformer({ ...config, seed: childSeed(seed, "transformer") }),
    );
    const dModel = this.transformer.config.dModel;
    const embedding = (name: string, vocab: number) =>
      this.registerModule(
        name,
        new Embedding(vocab, dModel, { scaleByDModel: true, seed: childSeed(seed, name) }),
      );
    this.srcEmbedding = embedding("srcEmbedding", srcVocab);
    this.tgtEmbedding = shareEmbeddings ? this.srcEmbedding : embedding("tgtEmbedding", tgtVocab);
    this.generator = this.registerModule(
      "generator",
      new Linear(dModel, tgtVocab, { rng: new Rng(childSeed(seed, "generator")) }),
    );
    this.positionalEncoding = sinusoidalEncoding(maxLen, dModel);
    this.embeddingDropout = this.registerModule(
      "embeddingDropout",
      new Dropout(this.transformer.config.dropout),
    );
  }

  /** Embeds ids `[B, T]` at positions `offset…offset+T-1`: E[id]·√dModel + PE[pos] -> `[B, T, dModel]`. */
  #embed(table: Embedding, ids: number[][], offset: number, fn: string): Tensor {
    const t = ids[0]?.length ?? 0;
    if (offset + t > this.config.maxLen) {
      throw new RangeError(
        `${fn}: position ${
          offset + t - 1
        } is beyond maxLen=${this.config.maxLen} of the positional table`,
      );
    }
    const x = table.forward(ids); // [B, T, D], already × √dModel
    const d = this.positionalEncoding.shape[1];
    const pe = new Tensor(this.positionalEncoding.data.slice(offset * d, (offset + t) * d), [t, d]);
    return this.embeddingDropout.forward(add(x, pe)); // [B, T, D] + [T, D]
  }

  /** The source padding mask `[B, 1, 1, S]` from `padToken`, or undefined without one. */
  sourceMask(src: number[][]): Mask | undefined {
    const pad = this.config.padToken;
    if (pad === undefined) return undefined;
    const s = src[0]?.length ?? 0;
    const data = new Uint8Array(src.length * s);
    src.forEach((row, b) => row.forEach((id, j) => (data[b * s + j] = id === pad ? 0 : 1)));
    return new Mask(data, [src.length, 1, 1, s]);
  }

  /**
   * Encodes source ids `[B, S]` (or one unbatched sequence `[S]`).
   *
   * @returns the memory `output [B, S, dModel]`, the encoder's `selfWeights`, and the padding
   *   mask used (`srcMask`); B dropped for an unbatched sequence.
   */
  encode(src: TokenIds, options?: Seq2SeqForwardOptions): Seq2SeqEncodeResult {
    const fn = "Seq2Seq.encode";
    const needWeights = needWeightsOption(_options(options, fn, "options").needWeights, fn);
    const { rows, unbatched } = toBatch(src, fn, "src");
    const enc = this.#encode(rows, needWeights);
    const output = unbatch(enc.output, unbatched);
    const selfWeights = enc.selfWeights?.map((w) => unbatch(w, unbatched));
    return needWeights
      ? { output, selfWeights, srcMask: enc.srcMask }
      : { output, srcMask: enc.srcMask };
  }

  /** {@link Seq2Seq.encode} on rows of ids: memory `[B, S, dModel]`. */
  #encode(ids: number[][], needWeights: boolean) {
    const srcMask = this.sourceMask(ids);
    const x = this.#embed(this.srcEmbedding, ids, 0, "Seq2Seq.encode");
    const enc = this.transformer.encoder.forward(x, { mask: srcMask, needWeights });
    return { output: enc.output, selfWeights: enc.selfWeights, srcMask };
  }

  /** Log-probabilities `[B, T, tgtVocab]` from decoder states `[B, T, dModel]`. */
  generate(hidden: Tensor): Tensor {
    return logSoftmax(this.generator.forward(hidden)); // [B, T, D] x [V, D]ᵀ -> [B, T, V]
  }

  /**
   * Decodes target ids `[B, T]` (or one unbatched sequence `[T]` against a
   * `[S, dModel]` memory) against `memory`, with the look-ahead mask.
   *
   * @param options `srcMask`: the source padding mask from {@link Seq2Seq.encode};
   *   `needWeights: false` leaves the maps out.
   * @returns log-probabilities as `output [B, T, tgtVocab]`, and `selfWeights`, `crossWeights`.
   */
  decode(
    tgt: TokenIds,
    memory: Tensor,
    options?: { srcMask?: Mask } & Seq2SeqForwardOptions,
  ): Seq2SeqDecodeResult {
    const fn = "Seq2Seq.decode";
    const o = _options(options, fn, "options");
    const needWeights = needWeightsOption(o.needWeights, fn);
    const { rows, unbatched } = toBatch(tgt, fn, "tgt");
    const x = this.#embed(this.tgtEmbedding, rows, 0, fn);
    const mem = unbatched && memory instanceof Tensor && memory.rank === 2
      ? memory.reshape([1, ...memory.shape]) // [S, D] -> [1, S, D]
      : memory;
    const dec = this.transformer.decoder.forward(x, mem, {
      tgtMask: causalMask(rows[0].length),
      memoryMask: o.srcMask,
      needWeights,
    });
    const output = unbatch(this.generate(dec.output), unbatched);
    if (!dec.selfWeights || !dec.crossWeights) return { output };
    return {
      output,
      selfWeights: dec.selfWeights.map((w) => unbatch(w, unbatched)),
      crossWeights: dec.crossWeights.map((w) => unbatch(w, unbatched)),
    };
  }

  /**
   * Teacher-forced pass: next-token log-probabilities at every target position.
   *
   * @param src Source ids `[B, S]` (or one sequence `[S]`).
   * @param tgt Target ids `[B, T]` (or `[T]`), shifted right: starting with the start token.
   * @param options `needWeights: false` leaves the attention maps out.
   */
  forward(
    src: TokenIds,
    tgt: TokenIds,
    options: Seq2SeqForwardOptions & { needWeights: false },
  ): Seq2SeqOutput;
  /** {@link Seq2Seq.forward} returning every attention map too (the default). */
  forward(src: TokenIds, tgt: TokenIds, options?: Seq2SeqForwardOptions): Seq2SeqResult;
  forward(
    src: TokenIds,
    tgt: TokenIds,
    options?: Seq2SeqForwardOptions,
  ): Seq2SeqResult | Seq2SeqOutput {
    const fn = "Seq2Seq.forward";
    const needWeights = needWeightsOption(_options(options, fn, "options").needWeights, fn);
    const s = toBatch(src, fn, "src"), t = toBatch(tgt, fn, "tgt");
    // one unbatched pair drops the B axis of every result, as the other models do
    const unbatched = s.unbatched && t.unbatched;
    const enc = this.#encode(s.rows, needWeights);
    const dec = this.decode(t.rows, enc.output, { srcMask: enc.srcMask, needWeights });
    const squeeze = (w: Tensor) => unbatch(w, unbatched);
    const output = squeeze(dec.output);
    if (!enc.selfWeights || !dec.selfWeights || !dec.crossWeights) return { output };
    return {
      output,
      encoderSelfWeights: enc.selfWeights.map(squeeze),
      decoderSelfWeights: dec.selfWeights.map(squeeze),
      decoderCrossWeights: dec.crossWeights.map(squeeze),
    };
  }

  /** Checks the options every decoding strategy shares; errors name `fn`. */
  #checkDecoding(fn: string, options: GreedyDecodeOptions): void {
    if (!options || typeof options !== "object") {
      throw new TypeError(`${fn}: options { maxLen, startToken, endToken } are required`);
    }
    const { maxLen, startToken, endToken } = options;
    if (!Number.isSafeInteger(maxLen) || maxLen <= 0 || maxLen > this.config.maxLen) {
      throw new RangeError(
        `${fn}: maxLen must be an integer in [1, ${this.config.maxLen}] (the positional table), got ${
          String(maxLen)
        }`,
      );
    }
    for (const [name, id] of [["startToken", startToken], ["endToken", endToken]] as const) {
      if (!Number.isInteger(id) || id < 0 || id >= this.config.tgtVocab) {
        throw new RangeError(
          `${fn}: ${name}=${String(id)} is outside [0, tgtVocab=${this.config.tgtVocab})`,
        );
      }
    }
  }

  /**
   * Greedy decoding: feed the start token, then always the most likely next
   * token, until every sequence has produced `endToken` or `maxLen` tokens.
   * With the KV cache (default) each step runs the decoder on one new position;
   * without it each step re-runs the whole prefix. Both give the same tokens.
   *
   * @throws {RangeError} Bad token ids, or `maxLen` beyond the positional table.
   */
  greedyDecode(src: TokenIds, options: GreedyDecodeOptions): GreedyDecodeResult {
    // decoding only evaluates: the parameters require grad, but no graph is recorded
    return noGrad(() => this.#greedyDecode(src, options));
  }

  #greedyDecode(src: TokenIds, options: GreedyDecodeOptions): GreedyDecodeResult {
    const fn = "Seq2Seq.greedyDecode";
    this.#checkDecoding(fn, options);
    const { maxLen, startToken, endToken } = options;
    const useCache = _boolean(options.useCache ?? true, fn, "useCache");
    const enc = this.#encode(toBatch(src, fn, "src").rows, true);
    const memory = enc.output;
    const b = memory.shape[0];
    const decoder = this.transformer.decoder;
    const caches: KVCache[] | undefined = useCache ? decoder.createCaches() : undefined;
    const inputs: number[][] = Array.from({ length: b }, () => [startToken]);
    const tokens: number[][] = Array.from({ length: b }, () => []);
    const scores: number[][] = Array.from({ length: b }, () => []);
    const done = new Array<boolean>(b).fill(false);
    const selfSteps: Tensor[][] = [], crossSteps: Tensor[][] = [];
    for (let step = 0; step < maxLen && !done.every(Boolean); step++) {
      let hidden: Tensor, selfW: Tensor[], crossW: Tensor[];
      if (caches) {
        // One new position: [B, 1, D]; the caches hold the earlier keys and values.
        const x = this.#embed(this.tgtEmbedding, inputs.map((r) => [r[step]]), step, fn);
        const dec = decoder.forward(x, memory, { caches, memoryMask: enc.srcMask });
        hidden = dec.output;
        selfW = dec.selfWeights; // each [B, H, 1, step+1]
        crossW = dec.crossWeights; // each [B, H, 1, S]
      } else {
        // The whole prefix again: [B, step+1, D]; keep the last row.
        const x = this.#embed(this.tgtEmbedding, inputs, 0, fn);
        const dec = decoder.forward(x, memory, {
          tgtMask: causalMask(step + 1),
          memoryMask: enc.srcMask,
        });
        hidden = lastRow(dec.output);
        selfW = dec.selfWeights.map(lastRow);
        crossW = dec.crossWeights.map(lastRow);
      }
      selfSteps.push(selfW);
      crossSteps.push(crossW);
      const logProbs = this.generate(hidden); // [B, 1, V]
      const v = this.config.tgtVocab;
      for (let i = 0; i < b; i++) {
        let best = 0;
        for (let j = 1; j < v; j++) {
          if (logProbs.data[i * v + j] > logProbs.data[i * v + best]) best = j;
        }
        const next = done[i] ? endToken : best;
        if (!done[i]) {
          tokens[i].push(best);
          scores[i].push(logProbs.data[i * v + best]);
        }
        if (best === endToken) done[i] = true;
        inputs[i].push(next);
      }
    }
    const steps = selfSteps.length;
    const layers = decoder.layers.length;
    return {
      tokens,
      scores,
      encoderSelfWeights: enc.selfWeights!,
      decoderSelfWeights: Array.from(
        { length: layers },
        (_, l) => stackRows(selfSteps.map((s) => s[l]), steps),
      ),
      decoderCrossWeights: Array.from(
        { length: layers },
        (_, l) => stackRows(crossSteps.map((s) => s[l]), crossSteps[0][l].shape[3]),
      ),
    };
  }

  /**
   * Beam search for one source sequence: keeps the `beamSize` most likely
   * partial translations at every step instead of only the best one. Each step
   * re-runs the decoder on every live hypothesis (the hypotheses form the batch).
   * With `beamSize: 1` and `lengthPenalty: 0` it returns the greedy result.
   *
   * @param src One source sequence `[S]` (or `[[...]]`).
   * @returns Hypotheses, best first (finished ones, or the live ones at `maxLen`).
   * @throws {RangeError} Bad sizes or token ids.
   *
   * @example Beam size 1 is greedy decoding
   * ```ts
   * import { seq2seq } from "./seq2seq.ts";
   * import assert from "node:assert/strict";
   * const model = seq2seq({ srcVocab: 9, tgtVocab: 9, dModel: 8, numHeads: 2, dFF: 16,
   *   numEncoderLayers: 1, numDecoderLayers: 1, maxLen: 16, seed: 3 });
   * const opts = { maxLen: 5, startToken: 1, endToken: 2 };
   * const [best] = model.beamSearch([4, 5, 6], { ...opts, beamSize: 1, lengthPenalty: 0 });
   * assert.deepEqual(best.tokens, model.greedyDecode([[4, 5, 6]], opts).tokens[0]);
   * ```
   */
  beamSearch(src: TokenIds, options: BeamSearchOptions): Beam[] {
    return noGrad(() => this.#beamSearch(src, options));
  }

  #beamSearch(src: TokenIds, options: BeamSearchOptions): Beam[] {
    const fn = "Seq2Seq.beamSearch";
    this.#checkDecoding(fn, options);
    const { beamSize, maxLen, startToken, endToken, lengthPenalty = 0.6 } = options;
    if (!Number.isSafeInteger(beamSize) || beamSize <= 0) {
      throw new RangeError(`${fn}: beamSize must be a positive integer, got ${String(beamSize)}`);
    }
    if (typeof lengthPenalty !== "number" || !Number.isFinite(lengthPenalty) || lengthPenalty < 0) {
      throw new RangeError(
        `${fn}: lengthPenalty must be a finite number >= 0, got ${lengthPenalty}`,
      );
    }
    const ids = toBatch(src, fn, "src").rows;
    if (ids.length !== 1) {
      throw new RangeError(`${fn}: takes one source sequence, got a batch of ${ids.length}`);
    }
    const enc = this.#encode(ids, false);
    const v = this.config.tgtVocab;
    const penalty = (len: number) => ((5 + len) / 6) ** lengthPenalty;
    let live: { tokens: number[]; logProb: number }[] = [{ tokens: [], logProb: 0 }];
    const finished: Beam[] = [];
    // K copies of the memory [K, S, D], made once per beam width (K only shrinks at the end).
    const memories = new Map<number, Tensor>();
    for (let step = 0; step < maxLen && live.length > 0; step++) {
      // Every live hypothesis is one batch row: [K, step+1] ids against K copies of the memory.
      const k = live.length;
      let memory = memories.get(k);
      if (!memory) memories.set(k, memory = concat(Array(k).fill(enc.output), 0));
      const inputs = live.map((h) => [startToken, ...h.tokens]);
      // The source padding mask [1, 1, 1, S] broadcasts over the K rows.
      const dec = this.decode(inputs, memory, { srcMask: enc.srcMask, needWeights: false });
      const last = lastRow(dec.output); // [K, 1, V]
      const candidates: { from: number; token: number; logProb: number }[] = [];
      for (let b = 0; b < k; b++) {
        for (let j = 0; j < v; j++) {
          candidates.push({ from: b, token: j, logProb: live[b].logProb + last.data[b * v + j] });
        }
      }
      candidates.sort((x, y) => y.logProb - x.logProb);
      const next: { tokens: number[]; logProb: number }[] = [];
      // Best first: a hypothesis that ends is finished, the others fill the next beam.
      for (const c of candidates) {
        const tokens = [...live[c.from].tokens, c.token];
        if (c.token === endToken) {
          finished.push({ tokens, logProb: c.logProb, score: c.logProb / penalty(tokens.length) });
        } else {
          next.push({ tokens, logProb: c.logProb });
          if (next.length === beamSize) break;
        }
      }
      live = next;
      // Stop when no live hypothesis can still beat the best finished one.
      const best = Math.max(...finished.map((f) => f.score));
      if (finished.length >= beamSize && live.every((h) => h.logProb / penalty(maxLen) < best)) {
        break;
      }
    }
    const all = finished.length
      ? finished
      : live.map((h) => ({ ...h, score: h.logProb / penalty(h.tokens.length) }));
    return all.sort((x, y) => y.score - x.score).slice(0, beamSize);
  }
}

/** `[B, H, T, K]` -> `[B, H, 1, K]` (the last row), or `[B, T, D]` -> `[B, 1, D]`. */
function lastRow(x: Tensor): Tensor {
  const shape = [...x.shape];
  const t = shape[shape.length - 2], k = shape[shape.length - 1];
  const outer = x.size / (t * k);
  const out = new Float32Array(outer * k);
  for (let o = 0; o < outer; o++) {
    out.set(x.data.subarray((o * t + t - 1) * k, (o * t + t) * k), o * k);
  }
  shape[shape.length - 2] = 1;
  return new Tensor(out, shape);
}

/** Stacks per-step rows `[B, H, 1, k_t]` (k_t <= width) into `[B, H, T, width]`, zero-padded. */
function stackRows(rows: Tensor[], width: number): Tensor {
  const [b, h] = rows[0].shape;
  const t = rows.length;
  const out = zeros([b, h, t, width]);
  rows.forEach((r, step) => {
    const k = r.shape[3];
    for (let o = 0; o < b * h; o++) {
      out.data.set(r.data.subarray(o * k, (o + 1) * k), (o * t + step) * width);
    }
  });
  return out;
}

/**
 * Builds a {@link Seq2Seq} model.
 *
 * @example Teacher-forced log-probabilities
 * ```ts
 * import { seq2seq } from "./seq2seq.ts";
 * import assert from "node:assert/strict";
 * const model = seq2seq({ srcVocab: 6, tgtVocab: 7, dModel: 4, numHeads: 2, dFF: 8,
 *   numEncoderLayers: 1, numDecoderLayers: 1, maxLen: 8 });
 * const { output } = model.forward([[1, 2, 3]], [[0, 4]]); // log-probabilities
 * assert.deepEqual(output.shape, [1, 2, 7]);
 * const p = Array.from(output.data.subarray(0, 7), Math.exp).reduce((a, b) => a + b);
 * assert.ok(Math.abs(p - 1) < 1e-5);
 * ```
 */
export function seq2seq(config: Seq2SeqConfig): Seq2Seq {
  return new Seq2Seq(config);
}
