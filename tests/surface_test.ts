// The public surface of mod.ts: exactly the names listed here, so a helper that leaks through a
// re-export fails this test, and importing the library needs no permission and does no I/O.
import assert from "node:assert/strict";
import * as mod from "../mod.ts";

/** Runtime exports (classes, functions, constants) of mod.ts. */
const VALUES = [
  "AddNorm",
  "Decoder",
  "DecoderLayer",
  "Dropout",
  "Embedding",
  "Encoder",
  "EncoderLayer",
  "FeedForward",
  "KVCache",
  "LayerNorm",
  "LearnedPositionalEmbedding",
  "Linear",
  "Mask",
  "Module",
  "MultiHeadAttention",
  "RMSNorm",
  "RMS_NORM_DEFAULT_EPS",
  "RandomStream",
  "RelativePositionBias",
  "Rng",
  "Seq2Seq",
  "Tensor",
  "Transformer",
  "add",
  "addNorm",
  "additiveAttention",
  "alibiBias",
  "alibiSlopes",
  "applyRotary",
  "assertClose",
  "averageHeads",
  "batchNorm",
  "broadcastShapes",
  "causalMask",
  "combineMasks",
  "concat",
  "decoder",
  "decoderLayer",
  "div",
  "dotProductAttention",
  "dropout",
  "embedding",
  "encoder",
  "encoderLayer",
  "erf",
  "erfc",
  "formatShape",
  "fromTorchAttnMask",
  "fromTorchKeyPaddingMask",
  "full",
  "gelu",
  "invertMask",
  "layerNorm",
  "linear",
  "linearStacked",
  "loadModule",
  "loadSafetensors",
  "logSoftmax",
  "map",
  "mask",
  "maskToBias",
  "matmul",
  "max",
  "maxAbsDiff",
  "maxRelDiff",
  "mean",
  "mul",
  "multiHeadAttention",
  "ones",
  "paddingMask",
  "permute",
  "rand",
  "randn",
  "readSafetensorsMetadata",
  "relativePositionBucket",
  "relu",
  "rmsNorm",
  "rotaryFrequencies",
  "saveModule",
  "saveSafetensors",
  "scale",
  "scaledDotProductAttention",
  "select",
  "seq2seq",
  "silu",
  "sinusoidalEncoding",
  "sizeOf",
  "slice",
  "softmax",
  "sub",
  "sum",
  "noGrad",
  "isGradEnabled",
  "swiglu",
  "tanh",
  "tensor",
  "tiledAttention",
  "transformer",
  "transformerLearningRate",
  "transpose",
  "childSeed",
  "zeros",
];

/** Type-only exports (interfaces and type aliases) of mod.ts. */
const TYPES = [
  "AddNormModuleOptions",
  "AddNormOptions",
  "AdditiveAttentionOptions",
  "AlibiBiasOptions",
  "AssertCloseOptions",
  "AttentionOptions",
  "AttentionOutput",
  "AttentionResult",
  "Axis",
  "BackwardOptions",
  "BatchNormOptions",
  "Beam",
  "BeamSearchOptions",
  "CausalMaskOptions",
  "CloseInput",
  "CounterKey",
  "DecoderConfig",
  "DecoderForwardOptions",
  "DecoderOutput",
  "DecoderLayerForwardOptions",
  "DecoderLayerOutput",
  "DecoderLayerResult",
  "DecoderResult",
  "DropoutModuleOptions",
  "DropoutOptions",
  "EmbeddingOptions",
  "EncoderConfig",
  "EncoderLayerForwardOptions",
  "EncoderLayerOutput",
  "EncoderLayerResult",
  "EncoderForwardOptions",
  "EncoderOutput",
  "EncoderResult",
  "FeedForwardActivation",
  "FeedForwardConfig",
  "FeedForwardForwardOptions",
  "FeedForwardTrace",
  "FromTorchAttnMaskOptions",
  "GeluOptions",
  "GreedyDecodeOptions",
  "GreedyDecodeResult",
  "LayerConfig",
  "LayerNormModuleOptions",
  "LayerNormOptions",
  "LearnedPositionalEmbeddingOptions",
  "LinearOptions",
  "LoadSafetensorsOptions",
  "LoadStateDictOptions",
  "MatmulOptions",
  "MultiHeadAttentionForwardOptions",
  "MultiHeadAttentionOptions",
  "MultiHeadAttentionOutput",
  "MultiHeadAttentionResult",
  "MultiHeadAttentionTrace",
  "NestedArray",
  "NestedBool",
  "PositionOffsetOptions",
  "RMSNormModuleOptions",
  "ReduceOptions",
  "RelativePositionAlignOptions",
  "RelativePositionBiasOptions",
  "RelativePositionBucketOptions",
  "RegisterModuleOptions",
  "ResolvedLayerConfig",
  "RmsNormOptions",
  "RotaryFrequencyOptions",
  "RotaryOptions",
  "RotaryStyle",
  "SafetensorsDtype",
  "Seq2SeqConfig",
  "Seq2SeqDecodeResult",
  "Seq2SeqEncodeResult",
  "Seq2SeqForwardOptions",
  "Seq2SeqOutput",
  "Seq2SeqResult",
  "Shape",
  "SinusoidalEncodingOptions",
  "TensorFn",
  "TiledAttentionOptions",
  "TiledAttentionResult",
  "TokenIds",
  "TransformerConfig",
  "TransformerForwardOptions",
  "TransformerLearningRateOptions",
  "TransformerOutput",
  "TransformerResult",
];

const sorted = (xs: Iterable<string>) => [...xs].sort();

Deno.test("mod.ts exports exactly the documented runtime names", () => {
  assert.deepEqual(sorted(Object.keys(mod)), sorted(VALUES));
  for (const internal of ["copyInto", "TransformerLayer", "batchSize", "checkShape"]) {
    assert.ok(!(internal in mod), `${internal} leaks from mod.ts`);
  }
});

Deno.test("mod.ts exports exactly the documented names, types included (deno doc)", async () => {
  const { code, stdout, stderr } = await new Deno.Command("deno", {
    args: ["doc", "--json", "mod.ts"],
    cwd: new URL("..", import.meta.url),
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  const doc = JSON.parse(new TextDecoder().decode(stdout));
  const [entry] = Object.values(doc.nodes) as { symbols: { name: string }[] }[];
  const names = new Set(entry.symbols.map((s) => s.name));
  // A class or function is also a type; deno doc lists each name once.
  assert.deepEqual(sorted(names), sorted([...VALUES, ...TYPES]));
});

Deno.test("importing mod.ts and the plot entry point needs no permission", async () => {
  const script = [
    `import * as core from "./mod.ts";`,
    `import * as plot from "./lib/plot/mod.ts";`,
    `console.log(Object.keys(core).length + Object.keys(plot).length);`,
  ].join("\n");
  // No --allow-* flag: any read, write, net, env, run, ffi or sys access at import time would
  // throw NotCapable (--no-prompt turns the prompt into that error) and exit non-zero.
  const child = new Deno.Command("deno", {
    args: ["run", "--no-prompt", "--no-config", "-"],
    cwd: new URL("..", import.meta.url),
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(script));
  await writer.close();
  const { code, stdout, stderr } = await child.output();
  const err = new TextDecoder().decode(stderr);
  assert.equal(code, 0, err);
  assert.equal(err, "", "importing wrote to stderr");
  assert.ok(Number(new TextDecoder().decode(stdout)) >= VALUES.length);
});
