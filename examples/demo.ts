/**
 * `deno task demo`: the shipped trained models at work, with every attention
 * map written to an offline page, `out/attention.html` (plotly.js inlined
 * once, nothing fetched), and a worked example printed to the console.
 *
 * - `dates` translates a date as people write it to ISO `YYYY-MM-DD`; its
 *   cross-attention shows which input characters each output character reads.
 * - `reverse` reverses a sequence of letters; its cross-attention follows the
 *   anti-diagonal.
 * - `induction` continues a repeated sequence; its previous-token head and its
 *   induction head are found by their scores (lib/analysis) and drawn on a
 *   repeated sequence.
 *
 * The masks and the positional table come last: they do not depend on the
 * weights. No figure of the page is drawn from random weights.
 *
 * @module
 */

import { dirname } from "node:path";
import { prefixMatchingScore, previousTokenScore } from "../lib/analysis/mod.ts";
import { alignmentScore, type ExpectedAlignment } from "../lib/analysis/alignment_score.ts";
import { sinusoidalEncoding } from "../lib/layers/sinusoidal_encoding.ts";
import type { Seq2Seq } from "../lib/models/seq2seq.ts";
import {
  escapeHtml,
  type Figure,
  heatmapGrid,
  type HtmlSection,
  layerHeadGrid,
  loadPlotlyJs,
  maskHeatmap,
  positionalEncodingHeatmap,
  toHtml,
} from "../lib/plot/mod.ts";
import { noGrad } from "../lib/tensor/autograd.ts";
import { Rng } from "../lib/tensor/rng.ts";
import { select, slice } from "../lib/tensor/slice.ts";
import type { Tensor } from "../lib/tensor/tensor.ts";
import { MONTHS } from "../tasks/dates.ts";
import { inductionExample } from "../tasks/induction.ts";
import type { CharVocab } from "../tasks/_vocab.ts";
import {
  type Checkpoint,
  type GPTCheckpoint,
  loadCheckpoint,
  loadGPTCheckpoint,
  shippedCheckpoint,
} from "../train/checkpoint.ts";
import { encodeBatch } from "../train/trainer.ts";

/** The shipped checkpoints the page shows. */
export interface DemoModels {
  /** `checkpoints/dates.safetensors`. */
  dates: Checkpoint;
  /** `checkpoints/reverse.safetensors`. */
  reverse: Checkpoint;
  /** `checkpoints/induction.safetensors`. */
  induction: GPTCheckpoint;
}

/** Reads the three shipped checkpoints (needs read permission). */
export async function loadDemoModels(): Promise<DemoModels> {
  return {
    dates: await loadCheckpoint(shippedCheckpoint("dates")),
    reverse: await loadCheckpoint(shippedCheckpoint("reverse")),
    induction: await loadGPTCheckpoint(shippedCheckpoint("induction")),
  };
}

/** Options of {@link attentionDemo}. */
export interface AttentionDemoOptions {
  /**
   * Two dates, decoded as one padded batch, so the shorter one shows the padding mask at work.
   * Default `["Sunday, 3 May 1998", "03.05.1998"]`.
   */
  dates?: readonly [string, string];
  /** The `reverse` input. Default `"q w e r t y u i o p"`. */
  reverse?: string;
  /** Period of the repeated `induction` sequence (1 + 2 × period tokens). Default 10. */
  inductionPeriod?: number;
  /** Seed of the repeated sequence's random tokens. Default 7. */
  inductionSeed?: number;
  /** plotly.js source to inline (`await loadPlotlyJs()`); without it the page has static SVGs only. */
  plotlyJs?: string;
}

/** One greedy translation of a seq2seq model and its cross-attention. */
export interface Translation {
  /** Source tokens: the input's characters, then `<eos>`, then any padding of the batch. */
  source: string[];
  /** The output's tokens, `<eos>` included: row t of the maps is the step that produced token t. */
  output: string[];
  /** The output as text (without `<eos>`). */
  text: string;
  /** Cross-attention per decoder layer, `[H, T, S]`. */
  cross: Tensor[];
  /** Alignment score of every head on the expected source positions, `[layer][head]`. */
  alignment: number[][];
  /** The head with the highest alignment score. */
  best: { layer: number; head: number; score: number };
}

/** The induction heads found on the repeated sequence. */
export interface InductionHeads {
  /** The sequence's token names, `<bos>` first. */
  tokens: string[];
  /** The distance from a repeated token back to its first occurrence. */
  period: number;
  /** Previous-token score of every head on the sequence, `[layer][head]`. */
  previousToken: number[][];
  /** Prefix-matching score of every head on the sequence, `[layer][head]`. */
  prefixMatching: number[][];
  /** The head with the highest previous-token score. */
  previousTokenHead: { layer: number; head: number; score: number };
  /** The head with the highest prefix-matching score. */
  inductionHead: { layer: number; head: number; score: number };
  /** Their attention maps `[T][T]` (query × key). */
  maps: { previousToken: number[][]; induction: number[][] };
}

/** What {@link attentionDemo} returns. */
export interface AttentionDemo {
  /** The standalone page. */
  html: string;
  /** Its sections, in order. */
  sections: HtmlSection[];
  /** The two `dates` translations (one batch). */
  dates: [Translation, Translation];
  /** The `reverse` translation. */
  reverse: Translation;
  /** The induction heads. */
  induction: InductionHeads;
  /** Heatmap traces over all figures (what a browser should draw). */
  heatmaps: number;
}

const INTRO = "The models shipped in checkpoints/ (trained by `deno task train <task>`), decoded " +
  "greedily with the KV cache, and every attention map of the run. Each row of a map is a query " +
  "and sums to 1 over its keys (columns); masked cells are exactly 0. In the seq2seq maps a row " +
  "is one decoding step, labelled by the token that step produced.";

/** Head `head` of `[H, T, S]` (or `[1, H, T, S]`) weights as `[T][S]`. */
function headMap(w: Tensor, head: number): number[][] {
  const [t, s] = w.shape.slice(-2);
  return Array.from(
    { length: t },
    (_, i) => Array.from(w.data.subarray((head * t + i) * s, (head * t + i + 1) * s)),
  );
}

function argmax2(m: number[][]): { layer: number; head: number; score: number } {
  let at = { layer: 0, head: 0, score: m[0][0] };
  m.forEach((row, layer) =>
    row.forEach((score, head) => {
      if (score > at.score) at = { layer, head, score };
    })
  );
  return at;
}

function heatmapCount(figures: readonly Figure[]): number {
  return figures.reduce((n, f) => n + f.data.filter((t) => t.type === "heatmap").length, 0);
}

/** Greedy decoding of `inputs` as one padded batch, with each row's cross-attention scored. */
function translate(
  model: Seq2Seq,
  vocab: CharVocab,
  inputs: readonly string[],
  maxOutputChars: number,
  expected: (input: string, output: string) => ExpectedAlignment,
): Translation[] {
  const { src } = encodeBatch(vocab, inputs.map((input) => ({ input, target: "", group: "" })));
  const r = model.greedyDecode(src, {
    maxLen: maxOutputChars + 1,
    startToken: vocab.bos,
    endToken: vocab.eos,
  });
  return inputs.map((input, b) => {
    const ids = r.tokens[b];
    const t = ids.length;
    // A row that ended early is padded with <eos> steps in the batch: keep its own steps only.
    // [B, H, T_batch, S] -> [H, T_batch, S] -> [H, T, S]
    const cross = r.decoderCrossWeights.map((w) => slice(select(w, 0, b), 1, 0, t));
    const text = vocab.decode(ids);
    const spec = expected(input, text);
    const alignment = cross.map((w) => Array.from(alignmentScore(w, spec).data));
    return {
      source: src[b].map((id) => vocab.tokens[id]),
      output: ids.map((id) => vocab.tokens[id]),
      text,
      cross,
      alignment,
      best: argmax2(alignment),
    };
  });
}

/**
 * Where each output character of a date is read from: the year's digits for
 * the year, the day's digits for the day (its one digit for both places when
 * the day has one), the month's digits or every letter of its name for the
 * month; the dashes and `<eos>` are not scored.
 *
 * @example
 * ```ts
 * import { datesAlignment } from "./demo.ts";
 * import assert from "node:assert/strict";
 * const e = datesAlignment("3 May 1998");
 * assert.deepEqual([e(0), e(3), e(4), e(5), e(8), e(9)], [[6], [9], [], [2, 3, 4], [0], [0]]);
 * ```
 */
export function datesAlignment(input: string): (t: number) => number[] {
  const runs = [...input.matchAll(/\d+/g)].map((m) => ({ at: m.index!, text: m[0] }));
  const year = runs.find((r) => r.text.length === 4);
  if (!year) throw new RangeError(`datesAlignment: no four-digit year in ${JSON.stringify(input)}`);
  const others = runs.filter((r) => r !== year);
  const span = (r: { at: number; text: string }) => Array.from(r.text, (_, i) => r.at + i);
  let day: number[], month: number[][];
  if (others.length === 2) {
    // 03.05.1998 (day first) or 1998/05/03 (year first)
    const [a, b] = others;
    const [d, m] = year.at === 0 ? [b, a] : [a, b];
    day = span(d);
    month = span(m).map((p) => [p]);
  } else {
    day = span(others[0]);
    // No weekday starts with a month's first three letters (sun mon tue ... / jan feb mar ...).
    const names = MONTHS.map((n) => n.slice(0, 3).toLowerCase());
    const word = [...input.matchAll(/[A-Za-z]+/g)].find((w) =>
      names.includes(w[0].slice(0, 3).toLowerCase())
    );
    if (!word) {
      throw new RangeError(`datesAlignment: no month in ${JSON.stringify(input)}`);
    }
    const letters = Array.from(word[0], (_, i) => word.index! + i);
    month = [letters, letters];
  }
  const dayAt = day.length === 2 ? [[day[0]], [day[1]]] : [day, day];
  const at: number[][] = [
    [year.at],
    [year.at + 1],
    [year.at + 2],
    [year.at + 3],
    [],
    month[0],
    month[1],
    [],
    dayAt[0],
    dayAt[1],
  ];
  return (t) => at[t] ?? [];
}

/**
 * Runs the shipped models and builds the page: the `dates` cross-attention
 * (every layer and head, for two inputs of one batch), the `reverse`
 * cross-attention, the `induction` model's previous-token and induction heads
 * on a repeated sequence, then the masks and the positional encoding.
 *
 * @param models The shipped checkpoints ({@link loadDemoModels}).
 * @param options Inputs, the repeated sequence and the plotly.js source.
 * @returns The page and what went into it.
 * @throws {RangeError} When an input has a character outside its model's vocabulary.
 *
 * @example The dates model writes ISO dates, and the induction head is found
 * ```ts
 * import { attentionDemo, loadDemoModels } from "./demo.ts";
 * import assert from "node:assert/strict";
 * const demo = attentionDemo(await loadDemoModels());
 * assert.deepEqual(demo.dates.map((d) => d.text), ["1998-05-03", "1998-05-03"]);
 * assert.ok(demo.induction.inductionHead.score > 0.5);
 * ```
 */
export function attentionDemo(
  models: DemoModels,
  options: AttentionDemoOptions = {},
): AttentionDemo {
  const dateInputs = options.dates ?? ["Sunday, 3 May 1998", "03.05.1998"];
  const reverseInput = options.reverse ?? "q w e r t y u i o p";
  const period = options.inductionPeriod ?? 10;
  const dv = models.dates.charVocab;
  const [dates0, dates1] = translate(
    models.dates.model,
    dv,
    dateInputs,
    10,
    (input) => datesAlignment(input),
  );
  const rv = models.reverse.charVocab;
  const n = [...reverseInput].length;
  // The letters of the output read the mirrored letter; the spaces between them are not scored.
  const [reverse] = translate(
    models.reverse.model,
    rv,
    [reverseInput],
    31,
    () => (t) => t < n && reverseInput[n - 1 - t] !== " " ? [n - 1 - t] : [],
  );

  // induction: one repeated sequence, the heads found by their scores on it
  const ind = models.induction;
  const example = inductionExample(new Rng(options.inductionSeed ?? 7), {
    period,
    randomTokens: ind.vocabulary.tokens.length - 1,
  });
  const { selfWeights } = noGrad(() => ind.model.forward([example.ids])); // each [1, H, T, T]
  const previousToken = selfWeights.map((w) => Array.from(previousTokenScore(w).data));
  const prefixMatching = selfWeights.map((w) =>
    Array.from(prefixMatchingScore(w, { ids: example.ids }).data)
  );
  const previousTokenHead = argmax2(previousToken);
  const inductionHead = argmax2(prefixMatching);
  const tokens = example.ids.map((id) => ind.vocabulary.tokens[id]);
  const induction: InductionHeads = {
    tokens,
    period,
    previousToken,
    prefixMatching,
    previousTokenHead,
    inductionHead,
    maps: {
      previousToken: headMap(selfWeights[previousTokenHead.layer], previousTokenHead.head),
      induction: headMap(selfWeights[inductionHead.layer], inductionHead.head),
    },
  };

  const fmt = (m: number[][]) =>
    m.map((row, l) => `layer ${l}: ${row.map((v) => v.toFixed(2)).join(", ")}`).join("; ");
  const headName = (h: { layer: number; head: number; score: number }) =>
    `layer ${h.layer} head ${h.head} (${h.score.toFixed(2)})`;
  const crossGrid = (t: Translation, title: string) =>
    layerHeadGrid(t.cross, {
      queryLabels: t.output,
      keyLabels: t.source,
      title,
      xTitle: "input character (key)",
      yTitle: "output character (query step)",
      colorbarTitle: "attention weight",
    });
  const dm = models.dates.training;
  const datesFigure = (t: Translation) =>
    crossGrid(
      t,
      `dates (trained, ${dm.steps} steps): "${
        t.source.filter((x) => x !== "<pad>")
          .slice(0, -1).join("")
      }" -> ${t.text}`,
    );
  const datesNote = (t: Translation) =>
    `Cross-attention of every head of both decoder layers of the shipped dates model ` +
    `(${models.dates.config.dModel}-wide, ${models.dates.config.numHeads} heads): row t is the ` +
    `step that wrote output character t, columns are the input characters. The alignment score ` +
    `of a head is its attention mass on the characters an output is copied or read from (the ` +
    `year's digits for the year, the day's digits for the day, the month's digits or the letters ` +
    `of its name for the month), averaged over the output's digits: ${fmt(t.alignment)}. The ` +
    `most aligned head is ${headName(t.best)}; a head that spread its weight evenly over the ` +
    `${t.source.filter((x) => x !== "<pad>").length} input tokens would score about ` +
    `${(1 / t.source.filter((x) => x !== "<pad>").length).toFixed(2)} on a one-character target.`;
  const rm = models.reverse.training;
  const reverseFigure = crossGrid(
    reverse,
    `reverse (trained, ${rm.steps} steps): "${reverseInput}" -> "${reverse.text}"`,
  );
  const indFigure = heatmapGrid([induction.maps.previousToken, induction.maps.induction], {
    title: `induction (trained, ${ind.training.steps} steps): ${period} random tokens, then ` +
      `the same ${period} again`,
    titles: [
      `previous-token head: ${headName(previousTokenHead)}`,
      `induction head: ${headName(inductionHead)}`,
    ],
    xLabels: tokens,
    yLabels: tokens,
    xTitle: "key (attended token)",
    yTitle: "query (reading token)",
    zmin: 0,
    zmax: 1,
    colorscale: "sequential",
    colorbarTitle: "attention weight",
  });

  // The machinery, independent of the weights: drawn for the shorter date of the batch.
  const padded = dates1;
  const keep = padded.source.map((x) => x !== "<pad>");
  const s = padded.source.length;
  const decoderInputs = ["<bos>", ...padded.output.slice(0, -1)];
  const t = decoderInputs.length;
  const sourceMask = maskHeatmap(Array.from({ length: s }, () => keep), {
    xLabels: padded.source,
    yLabels: padded.source,
    title: `Source padding mask [${s}, ${s}] (encoder self-attention)`,
  });
  const causal = maskHeatmap(
    Array.from({ length: t }, (_, i) => Array.from({ length: t }, (_, j) => j <= i)),
    { xLabels: decoderInputs, yLabels: decoderInputs, title: `Causal mask [${t}, ${t}]` },
  );
  const maxLen = models.dates.config.maxLen ?? 512;
  const dModel = models.dates.config.dModel;
  const positions = positionalEncodingHeatmap(sinusoidalEncoding(maxLen, dModel), {
    title: `Sinusoidal positional encoding of the dates model [${maxLen} positions, ` +
      `d_model = ${dModel}]`,
  });

  const sections: HtmlSection[] = [
    {
      heading: "dates: which input characters each output character reads",
      note: datesNote(dates0),
      figure: datesFigure(dates0),
    },
    {
      heading: "dates: another form, in the same batch",
      note: `${datesNote(dates1)} This input was decoded in one batch with the longer one, so ` +
        `it is padded: the <pad> columns get exactly 0 in every head.`,
      figure: datesFigure(dates1),
    },
    {
      heading: "reverse: the anti-diagonal",
      note: `Cross-attention of every head of the shipped reverse model. Output character t ` +
        `copies input character n - 1 - t, so a head that reads the letter it copies follows ` +
        `the anti-diagonal. Alignment score (mass on the mirrored letter, over the output's ` +
        `letters; the spaces are not scored): ${fmt(reverse.alignment)}; the most aligned head ` +
        `is ${headName(reverse.best)}.`,
      figure: reverseFigure,
    },
    {
      heading: "induction: the previous-token head and the induction head",
      note: `The shipped attention-only induction model (${ind.config.numLayers} layers of ` +
        `${ind.config.numHeads} heads) reads <bos>, ${period} random tokens and the same tokens ` +
        `again. The heads are found by their scores on this sequence (Olsson et al., 2022): ` +
        `previous-token (mean weight from each token to the one before it) ` +
        `${fmt(previousToken)}; prefix-matching (mean weight from a repeated token to the token ` +
        `after its earlier occurrence) ${fmt(prefixMatching)}. The previous-token head shows ` +
        `as the subdiagonal; the induction head, on the repeat, as a diagonal ${period - 1} ` +
        `columns left of the main one: it looks up the token that followed the current token ` +
        `last time, which the model then predicts.`,
      figure: indFigure,
    },
    {
      heading: "Source padding mask",
      note: `In a batch, shorter sources are padded: "${dateInputs[1]}" got ` +
        `${keep.filter((k) => !k).length} <pad> tokens to the length of "${dateInputs[0]}". ` +
        "The padding mask lets every query see every real token and no padding: the <pad> " +
        "columns are blocked for all rows. It is a [B, 1, 1, S] mask broadcast over heads and " +
        "queries; here it is drawn at the [S, S] shape of the scores. The same mask keeps the " +
        "decoder's cross-attention off the padding.",
      figure: sourceMask,
    },
    {
      heading: "Causal (look-ahead) mask",
      note:
        "The decoder predicts one token at a time, so position t may attend only to positions " +
        "0…t: the upper triangle is blocked. Rows are the decoder's inputs (<bos>, then each " +
        "generated token); with the KV cache each step adds one row.",
      figure: causal,
    },
    {
      heading: "Sinusoidal positional encoding",
      note: "Attention itself ignores order, so each position p gets a fixed vector added to its " +
        "embedding: PE[p, 2i] = sin(p / 10000^(2i/d_model)), PE[p, 2i+1] = cos(…). Low " +
        "dimensions oscillate fast, high ones slowly, so each position has a distinct pattern " +
        "and relative offsets are linear maps of it. The seq2seq models above add this table.",
      figure: positions,
    },
  ];
  const title = "Attention Lab: what the shipped models attend to";
  const lead = `<p><strong>dates:</strong> ${escapeHtml(dateInputs[0])} → ` +
    `${escapeHtml(dates0.text)}; ${escapeHtml(dateInputs[1])} → ${escapeHtml(dates1.text)}<br>` +
    `<strong>reverse:</strong> ${escapeHtml(reverseInput)} → ${escapeHtml(reverse.text)}<br>` +
    `<strong>induction:</strong> ${escapeHtml(tokens.join(" "))}</p>\n` +
    `<p>${escapeHtml(INTRO)}</p>`;
  const page = toHtml(sections, { title, plotlyJs: options.plotlyJs });
  const h1 = `<h1>${escapeHtml(title)}</h1>`;
  const html = page.includes(h1)
    ? page.replace(h1, () => `${h1}\n${lead}`)
    : page.replace("<body>", () => `<body>\n${lead}`);
  return {
    html,
    sections,
    dates: [dates0, dates1],
    reverse,
    induction,
    heatmaps: heatmapCount(sections.map((x) => x.figure)),
  };
}

/**
 * Loads the shipped models, builds the demo with plotly.js inlined and writes the page.
 *
 * @param path Where to write the page. Default `out/attention.html`.
 * @param options As for {@link attentionDemo}; `plotlyJs` defaults to the pinned bundle.
 * @returns The demo and the path written.
 */
export async function writeAttentionPage(
  path = "out/attention.html",
  options: AttentionDemoOptions = {},
): Promise<AttentionDemo & { path: string }> {
  const demo = attentionDemo(await loadDemoModels(), {
    ...options,
    plotlyJs: options.plotlyJs ?? await loadPlotlyJs(),
  });
  await Deno.mkdir(dirname(path), { recursive: true });
  await Deno.writeTextFile(path, demo.html);
  return { ...demo, path };
}

function printTable(rows: number[][], rowLabels: string[], colLabels: string[]): void {
  const w = Math.max(5, ...colLabels.map((c) => c.length + 1));
  console.log(" ".repeat(7) + colLabels.map((c) => c.padStart(w)).join(""));
  rows.forEach((row, i) =>
    console.log(rowLabels[i].padEnd(7) + row.map((v) => v.toFixed(2).padStart(w)).join(""))
  );
}

if (import.meta.main) {
  const demo = await writeAttentionPage();
  const [d0, d1] = demo.dates;
  const input = (t: Translation) => t.source.filter((x) => x !== "<pad>").slice(0, -1).join("");
  console.log(`dates    : ${input(d0)} -> ${d0.text}; ${input(d1)} -> ${d1.text}`);
  console.log(`reverse  : ${input(demo.reverse)} -> ${demo.reverse.text}`);
  const ih = demo.induction;
  console.log(
    `induction: previous-token head layer ${ih.previousTokenHead.layer} head ` +
      `${ih.previousTokenHead.head} (score ${ih.previousTokenHead.score.toFixed(3)}), induction ` +
      `head layer ${ih.inductionHead.layer} head ${ih.inductionHead.head} (prefix-matching ` +
      `${ih.inductionHead.score.toFixed(3)})`,
  );
  const b = d0.best;
  console.log(
    `\ndates cross-attention, layer ${b.layer} head ${b.head} (the most aligned, ` +
      `${b.score.toFixed(2)}); rows: output characters, columns: input characters:`,
  );
  printTable(headMap(d0.cross[b.layer], b.head), d0.output, d0.source);
  console.log(
    `\nWrote ${demo.path}: ${demo.sections.length} figures, ${demo.heatmaps} heatmaps ` +
      "(the trained models' attention, the masks, the positional encoding); open it in a " +
      "browser, works offline.",
  );
}
