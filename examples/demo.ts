/**
 * `deno task demo`: a small encoder-decoder Transformer translates one short
 * sentence, and every mask and attention map of the run is written to an
 * offline page, `out/attention.html` (plotly.js inlined once, nothing fetched),
 * with a worked example printed to the console.
 *
 * The model is untrained (random weights from a seed): its translation is
 * arbitrary. The page is about seeing the machinery: which positions each mask
 * lets a query see, and how every head of every layer spreads its weights.
 *
 * @module
 */

import { dirname } from "node:path";
import { sinusoidalEncoding } from "../lib/layers/sinusoidal_encoding.ts";
import { seq2seq } from "../lib/models/seq2seq.ts";
import {
  escapeHtml,
  type Figure,
  type HtmlSection,
  layerHeadGrid,
  loadPlotlyJs,
  maskHeatmap,
  positionalEncodingHeatmap,
  toHtml,
} from "../lib/plot/mod.ts";
import type { Tensor } from "../lib/tensor/tensor.ts";

/** Source words; id 0 is padding. */
export const SOURCE_VOCAB: readonly string[] = ["<pad>", "the", "cat", "sat", "on", "mat", "."];
/** Target words; ids 0, 1, 2 are padding, start and end. */
export const TARGET_VOCAB: readonly string[] = [
  "<pad>",
  "<s>",
  "</s>",
  "le",
  "chat",
  "s'est",
  "assis",
  "sur",
  "tapis",
  ".",
];
const PAD = 0, START = 1, END = 2;

/** Options of {@link attentionDemo}. */
export interface AttentionDemoOptions {
  /** The sentence, in words of {@link SOURCE_VOCAB}. Default "the cat sat on the mat .". */
  sentence?: readonly string[];
  /** Padding appended to the sentence, to show the padding mask at work. Default 2. */
  padding?: number;
  /** Seed of the model's random weights. Default 34 (its output uses only real words). */
  seed?: number;
  /** Most tokens to generate. Default 8. */
  maxSteps?: number;
  /** plotly.js source to inline (`await loadPlotlyJs()`); without it the page has static SVGs only. */
  plotlyJs?: string;
}

/** What {@link attentionDemo} returns. */
export interface AttentionDemo {
  /** The standalone page. */
  html: string;
  /** Its sections, in order. */
  sections: HtmlSection[];
  /** Source tokens, padding included. */
  source: string[];
  /** Decoder inputs: the start token, then each generated token but the last. */
  decoderInputs: string[];
  /** The generated tokens. */
  output: string[];
  /** Heatmap traces over all figures (what a browser should draw). */
  heatmaps: number;
  /** The decoder's cross-attention of the last layer averaged over heads, `[T][S]`. */
  crossAttentionMean: number[][];
}

/** The page's opening paragraph. */
const INTRO =
  "A small encoder-decoder Transformer (2 encoder and 2 decoder layers, 4 heads, d_model = 16) " +
  "with random, untrained weights translates one sentence by greedy decoding. Its output is " +
  "arbitrary: no training has happened. What the page shows is the machinery that any trained " +
  "model runs the same way: the masks that decide which keys each query may see, the positional " +
  "encoding added to the embeddings, and the attention weights of every head in every layer. " +
  "Each row is a query and sums to 1 over the keys (columns); masked cells are exactly 0.";

function ids(words: readonly string[], vocab: readonly string[]): number[] {
  return words.map((w) => {
    const i = vocab.indexOf(w);
    if (i < 0) {
      throw new RangeError(
        `attentionDemo: "${w}" is not in the vocabulary; it has ${vocab.join(" ")}`,
      );
    }
    return i;
  });
}

/** Rows of a `[1, H, Tq, Tk]` weight tensor averaged over heads -> `[Tq][Tk]`. */
function meanOverHeads(w: Tensor): number[][] {
  const [, h, tq, tk] = w.shape;
  return Array.from({ length: tq }, (_, i) =>
    Array.from({ length: tk }, (_, j) => {
      let s = 0;
      for (let k = 0; k < h; k++) s += w.data[(k * tq + i) * tk + j];
      return s / h;
    }));
}

function heatmapCount(figures: readonly Figure[]): number {
  return figures.reduce((n, f) => n + f.data.filter((t) => t.type === "heatmap").length, 0);
}

/**
 * Runs the model on the sentence and builds the page: the three masks, the
 * sinusoidal positional encoding, and every layer and head of encoder
 * self-attention, decoder self-attention and cross-attention, each with a
 * short explanation.
 *
 * @param options Sentence, padding, seed, steps and the plotly.js source.
 * @returns The page and what went into it.
 * @throws {RangeError} When a word of the sentence is not in {@link SOURCE_VOCAB}.
 *
 * @example Seven figures, 28 heatmaps, and the note that the model is untrained
 * ```ts
 * import { attentionDemo } from "./demo.ts";
 * import assert from "node:assert/strict";
 * const demo = attentionDemo();
 * assert.equal(demo.sections.length, 7);
 * assert.equal(demo.heatmaps, 28);
 * assert.ok(demo.html.includes("untrained"));
 * ```
 */
export function attentionDemo(options: AttentionDemoOptions = {}): AttentionDemo {
  const sentence = options.sentence ?? ["the", "cat", "sat", "on", "the", "mat", "."];
  const padding = options.padding ?? 2;
  const source = [...sentence, ...Array<string>(padding).fill("<pad>")];
  const model = seq2seq({
    srcVocab: SOURCE_VOCAB.length,
    tgtVocab: TARGET_VOCAB.length,
    dModel: 16, // small enough to read each head's map
    numHeads: 4,
    dFF: 32,
    numEncoderLayers: 2,
    numDecoderLayers: 2,
    maxLen: 32, // rows of the positional table
    padToken: PAD,
    seed: options.seed ?? 34,
  });
  const srcIds = ids(source, SOURCE_VOCAB);
  const { tokens, encoderSelfWeights, decoderSelfWeights, decoderCrossWeights } = model
    .greedyDecode([srcIds], {
      maxLen: options.maxSteps ?? 8,
      startToken: START,
      endToken: END,
    });
  const output = tokens[0].map((t) => TARGET_VOCAB[t]);
  // Row t of the decoder's maps is the token fed at step t: the start token, then the outputs.
  const decoderInputs = ["<s>", ...output.slice(0, -1)];
  const s = source.length, t = decoderInputs.length;
  const keep = srcIds.map((id) => id !== PAD); // [S]: the padding mask, true = may attend

  // 1) masks, each drawn at the shape of the scores it is applied to
  const sourceMask = maskHeatmap(Array.from({ length: s }, () => keep), {
    xLabels: source,
    yLabels: source,
    title: `Source padding mask [${s}, ${s}] (encoder self-attention)`,
  });
  const causal = maskHeatmap(
    Array.from({ length: t }, (_, i) => Array.from({ length: t }, (_, j) => j <= i)),
    { xLabels: decoderInputs, yLabels: decoderInputs, title: `Causal mask [${t}, ${t}]` },
  );
  const memoryMask = maskHeatmap(Array.from({ length: t }, () => keep), {
    xLabels: source,
    yLabels: decoderInputs,
    title: `Cross-attention mask [${t}, ${s}] (source padding)`,
  });
  // 2) the fixed positional table added to the embeddings
  const positions = positionalEncodingHeatmap(sinusoidalEncoding(32, 16), {
    title: "Sinusoidal positional encoding [32 positions, d_model = 16]",
  });
  // 3) attention weights, one row of subplots per layer
  const encoder = layerHeadGrid(encoderSelfWeights, {
    labels: source,
    title: "Encoder self-attention",
  });
  const decoderSelf = layerHeadGrid(decoderSelfWeights, {
    labels: decoderInputs,
    title: "Decoder self-attention (causal)",
  });
  const cross = layerHeadGrid(decoderCrossWeights, {
    queryLabels: decoderInputs,
    keyLabels: source,
    title: "Cross-attention: decoder queries, encoder keys",
  });

  const sections: HtmlSection[] = [
    {
      heading: "Source padding mask",
      note: `The sentence is padded with ${padding} <pad> tokens, as a batch of sentences of ` +
        "different lengths would be. The padding mask lets every query see every real token and " +
        "no padding: the <pad> columns are blocked for all rows. It is a [B, 1, 1, S] mask " +
        "broadcast over heads and queries; here it is drawn at the [S, S] shape of the scores.",
      figure: sourceMask,
    },
    {
      heading: "Causal (look-ahead) mask",
      note:
        "The decoder predicts one token at a time, so position t may attend only to positions " +
        "0…t: the upper triangle is blocked. Rows are the decoder's inputs (the start token, " +
        "then each generated token).",
      figure: causal,
    },
    {
      heading: "Cross-attention mask",
      note:
        "Decoder queries attend to the encoder's output (the memory); the same source padding " +
        "mask keeps them off the <pad> positions. There is no causal constraint here: the whole " +
        "source is known.",
      figure: memoryMask,
    },
    {
      heading: "Sinusoidal positional encoding",
      note: "Attention itself ignores order, so each position p gets a fixed vector added to its " +
        "embedding: PE[p, 2i] = sin(p / 10000^(2i/d_model)), PE[p, 2i+1] = cos(…). Low " +
        "dimensions oscillate fast, high ones slowly, so each position has a distinct pattern " +
        "and relative offsets are linear maps of it.",
      figure: positions,
    },
    {
      heading: "Encoder self-attention, every layer and head",
      note: "softmax(Q·Kᵀ/√d_k + mask) for each head of each encoder layer: every source token " +
        "(row) attends to every real source token (columns). Padding rows still attend to the " +
        "real tokens; the padding columns are 0. With random weights the patterns are diffuse; " +
        "trained models learn heads that follow syntax or position.",
      figure: encoder,
    },
    {
      heading: "Decoder self-attention, every layer and head",
      note:
        "The same computation over the decoder's inputs with the causal mask: everything above " +
        "the diagonal is 0. Greedy decoding ran one step at a time with the KV cache; each row " +
        "is the step that produced the next token.",
      figure: decoderSelf,
    },
    {
      heading: "Cross-attention, every layer and head",
      note: "Queries from the decoder, keys and values from the encoder's output: where in the " +
        "source each step looks. In a trained translation model this is roughly an alignment " +
        "between target and source words; here it is arbitrary. The <pad> columns are 0.",
      figure: cross,
    },
  ];
  const title = "Attention Lab: every mask and attention map of one translation";
  const lead = `<p><strong>Source:</strong> ${escapeHtml(source.join(" "))}<br>` +
    `<strong>Output (untrained model, arbitrary):</strong> ${escapeHtml(output.join(" "))}</p>\n` +
    `<p>${escapeHtml(INTRO)}</p>`;
  const page = toHtml(sections, { title, plotlyJs: options.plotlyJs });
  const h1 = `<h1>${escapeHtml(title)}</h1>`;
  const html = page.includes(h1)
    ? page.replace(h1, () => `${h1}\n${lead}`)
    : page.replace("<body>", () => `<body>\n${lead}`);
  return {
    html,
    sections,
    source,
    decoderInputs,
    output,
    heatmaps: heatmapCount(sections.map((x) => x.figure)),
    crossAttentionMean: meanOverHeads(decoderCrossWeights[decoderCrossWeights.length - 1]),
  };
}

/**
 * Builds the demo with plotly.js inlined and writes the page.
 *
 * @param path Where to write the page. Default `out/attention.html`.
 * @param options As for {@link attentionDemo}; `plotlyJs` defaults to the pinned bundle.
 * @returns The demo and the path written.
 */
export async function writeAttentionPage(
  path = "out/attention.html",
  options: AttentionDemoOptions = {},
): Promise<AttentionDemo & { path: string }> {
  const demo = attentionDemo({ ...options, plotlyJs: options.plotlyJs ?? await loadPlotlyJs() });
  await Deno.mkdir(dirname(path), { recursive: true });
  await Deno.writeTextFile(path, demo.html);
  return { ...demo, path };
}

function printTable(rows: number[][], rowLabels: string[], colLabels: string[]): void {
  const w = Math.max(6, ...colLabels.map((c) => c.length + 1));
  console.log(" ".repeat(8) + colLabels.map((c) => c.padStart(w)).join(""));
  rows.forEach((row, i) =>
    console.log(rowLabels[i].padEnd(8) + row.map((v) => v.toFixed(2).padStart(w)).join(""))
  );
}

if (import.meta.main) {
  const demo = await writeAttentionPage();
  console.log("Encoder-decoder Transformer (untrained: its translation is arbitrary)");
  console.log(`source : ${demo.source.join(" ")}`);
  console.log(`output : ${demo.output.join(" ")}`);
  console.log(
    "\nCross-attention of the last decoder layer, mean over 4 heads " +
      "(rows: decoder inputs, columns: source; <pad> gets 0):",
  );
  printTable(demo.crossAttentionMean, demo.decoderInputs, demo.source);
  console.log(
    `\nWrote ${demo.path}: ${demo.sections.length} figures, ${demo.heatmaps} heatmaps ` +
      "(masks, positional encoding, every layer and head); open it in a browser, works offline.",
  );
}
