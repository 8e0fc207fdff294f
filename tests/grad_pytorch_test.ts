/**
 * Gradients against PyTorch 1.13 autograd: tests/fixtures/grad.safetensors, written by
 * tests/fixtures/make_grad_fixtures.py (float64 references; see there for each case).
 *
 * Each case loads the inputs and the parameters (`loadStateDict`, every parameter
 * requiring grad), runs the library's forward, calls `output.backward(upstream)` with
 * PyTorch's random upstream gradient, and compares the output, the gradient of every
 * input and `Module#grads()` (keyed like `stateDict()`, PyTorch's `named_parameters()`
 * names) with PyTorch's. The attention and model cases run again with every kernel
 * forced onto each path (reference, js, packed, wasm, threaded with every product split).
 *
 * Tolerance (issue 11's): |actual − expected| <= rtol·|expected| + atol with rtol 1e-3 and
 * atol 1e-4 × the largest |expected| of that tensor. The library computes in float32
 * (accumulating in float64 in places), the references in float64. Set REPORT_ERRORS=1 to
 * print each case's worst error, max |Δ| / max |expected| over its tensors.
 */
import assert from "node:assert/strict";
import {
  causalMask,
  fromTorchAttnMask,
  fromTorchKeyPaddingMask,
  paddingMask,
} from "../lib/attention/masks.ts";
import { readSafetensorsMetadata } from "../lib/io/safetensors.ts";
import { setParallelMinWork } from "../lib/kernels/kernel_table.ts";
import { traceKernels, withKernelPath } from "../lib/kernels/registry.ts";
import { gelu, relu, silu } from "../lib/layers/activations.ts";
import { crossEntropy } from "../lib/layers/cross_entropy.ts";
import { batchNorm } from "../lib/layers/batch_norm.ts";
import { Embedding } from "../lib/layers/embedding.ts";
import { FeedForward, type FeedForwardActivation } from "../lib/layers/feed_forward.ts";
import { LayerNorm } from "../lib/layers/layer_norm.ts";
import { Linear } from "../lib/layers/linear.ts";
import type { Module } from "../lib/layers/module.ts";
import { RMSNorm } from "../lib/layers/rms_norm.ts";
import { applyRotary } from "../lib/layers/rotary.ts";
import { decoderLayer } from "../lib/models/decoder_layer.ts";
import { encoderLayer } from "../lib/models/encoder_layer.ts";
import { multiHeadAttention } from "../lib/models/multi_head_attention.ts";
import { transformer } from "../lib/models/transformer.ts";
import type { Mask } from "../lib/tensor/mask.ts";
import { logSoftmax, softmax } from "../lib/tensor/softmax.ts";
import type { Tensor } from "../lib/tensor/tensor.ts";
import { assertClose, maxAbsDiff } from "../lib/testing/assert_close.ts";
import { loadFixture, toMask } from "./_fixtures.ts";

const RTOL = 1e-3;
const ATOL_OF_MAX = 1e-4;

const fixture = loadFixture("grad.safetensors");
const metadata = readSafetensorsMetadata(
  Deno.readFileSync(new URL("./fixtures/grad.safetensors", import.meta.url)),
);
const caseNames: string[] = JSON.parse(metadata.__cases__);

/** An environment variable, or undefined when unset or not permitted (`--allow-env`). */
function env(name: string): string | undefined {
  const { state } = Deno.permissions.querySync({ name: "env", variable: name });
  return state === "granted" ? Deno.env.get(name) : undefined;
}

/** The fixture tensor `name`; fails with the missing name. */
function get(name: string): Tensor {
  const t = fixture[name];
  assert.ok(
    t,
    `grad.safetensors has no tensor ${name}: rerun tests/fixtures/make_grad_fixtures.py`,
  );
  return t;
}

/** The entries `<case>.<group>.*` of the fixture, under their names after the prefix. */
function group(name: string, part: string): Record<string, Tensor> {
  const prefix = `${name}.${part}.`;
  return Object.fromEntries(
    Object.entries(fixture).filter(([k]) => k.startsWith(prefix)).map((
      [k, v],
    ) => [k.slice(prefix.length), v]),
  );
}

/** The case's configuration (JSON in the file's metadata). */
// deno-lint-ignore no-explicit-any
type Config = Record<string, any>;

/** One case as the library runs it: the output, the differentiable inputs, the module. */
interface Run {
  output: Tensor;
  /** Input leaves (requiring grad) under the fixture's input names. */
  inputs: Record<string, Tensor>;
  /** The module whose `grads()` are compared with the fixture's parameter gradients. */
  module?: Module;
}

/** A fixture input as a fresh leaf that requires grad. */
function leaf(name: string, input: string): Tensor {
  const t = get(`${name}.input.${input}`).clone();
  t.requiresGrad = true;
  return t;
}

/** Loads the case's parameters into `module`; parameters require grad from the start. */
function loaded<M extends Module>(name: string, module: M): M {
  module.loadStateDict(group(name, "param"));
  for (const [k, p] of Object.entries(module.parameters())) assert.ok(p.requiresGrad, k);
  return module;
}

/** `{ x }` run through `fn`: the elementwise and softmax cases. */
function unary(fn: (x: Tensor) => Tensor): (name: string) => Run {
  return (name) => {
    const x = leaf(name, "x");
    return { output: fn(x), inputs: { x } };
  };
}

/** The source padding mask `[B, 1, 1, S]` (true = may attend) from the stored lengths. */
function sourceMask(name: string, s: number): Mask {
  return paddingMask(Array.from(get(`${name}.input.lengths`).data), s);
}

function runMha(name: string, c: Config): Run {
  const mha = loaded(
    name,
    multiHeadAttention({
      dModel: c.dModel,
      numHeads: c.numHeads,
      kDim: c.kDim,
      vDim: c.vDim,
      dropout: 0,
    }),
  );
  // PyTorch masks are true / -inf = blocked; the converters flip them.
  let mask: Mask | undefined;
  const attnMask = fixture[`${name}.input.attn_mask`];
  if (attnMask) {
    mask = c.attnMask === "bool"
      ? fromTorchAttnMask(toMask(attnMask), { numHeads: c.numHeads })
      : fromTorchAttnMask(attnMask);
  }
  const kpm = fixture[`${name}.input.key_padding_mask`];
  if (kpm) mask = fromTorchKeyPaddingMask(toMask(kpm));
  if (c.self) {
    const x = leaf(name, "x");
    return { output: mha.forward(x, x, x, { mask }).output, inputs: { x }, module: mha };
  }
  const query = leaf(name, "query"), key = leaf(name, "key"), value = leaf(name, "value");
  return {
    output: mha.forward(query, key, value, { mask }).output,
    inputs: { query, key, value },
    module: mha,
  };
}

function layerConfig(c: Config) {
  return {
    dModel: c.dModel,
    numHeads: c.numHeads,
    dFF: c.dFF,
    dropout: 0,
    activation: c.activation,
    normFirst: c.normFirst,
  };
}

function runEncoderLayer(name: string, c: Config): Run {
  const layer = loaded(name, encoderLayer(layerConfig(c)));
  const src = leaf(name, "src");
  const mask = sourceMask(name, src.shape[1]);
  return { output: layer.forward(src, { mask }).output, inputs: { src }, module: layer };
}

function runDecoderLayer(name: string, c: Config): Run {
  const layer = loaded(name, decoderLayer(layerConfig(c)));
  const tgt = leaf(name, "tgt"), memory = leaf(name, "memory");
  const output = layer.forward(tgt, memory, {
    tgtMask: causalMask(tgt.shape[1]),
    memoryMask: sourceMask(name, memory.shape[1]),
  }).output;
  return { output, inputs: { tgt, memory }, module: layer };
}

function runTransformer(name: string, c: Config): Run {
  // nn.Transformer always has the final norms encoder.norm and decoder.norm; so does
  // transformer() by default (finalNorm: true).
  const model = loaded(
    name,
    transformer({
      ...layerConfig({ ...c, activation: "relu", normFirst: false }),
      numEncoderLayers: c.numEncoderLayers,
      numDecoderLayers: c.numDecoderLayers,
    }),
  );
  const src = leaf(name, "src"), tgt = leaf(name, "tgt");
  const pad = sourceMask(name, src.shape[1]);
  const output = model.forward(src, tgt, {
    srcMask: pad,
    memoryMask: pad,
    tgtMask: causalMask(tgt.shape[1]),
  }).output;
  return { output, inputs: { src, tgt }, module: model };
}

function runCrossEntropy(name: string, c: Config): Run {
  const logits = leaf(name, "logits");
  const target = Array.from(get(`${name}.input.target`).data);
  const output = crossEntropy(logits, target, {
    ignoreIndex: c.ignoreIndex,
    labelSmoothing: c.labelSmoothing,
    reduction: c.reduction,
  });
  return { output, inputs: { logits } };
}

function runFeedForward(name: string, c: Config): Run {
  const ffn = loaded(
    name,
    new FeedForward({
      dModel: c.dModel,
      dFF: c.dFF,
      activation: c.activation as FeedForwardActivation,
      bias: c.bias ?? true,
    }),
  );
  const x = leaf(name, "x");
  return { output: ffn.forward(x), inputs: { x }, module: ffn };
}

function runEmbedding(name: string, c: Config): Run {
  const emb = loaded(name, new Embedding(c.num, c.dim, { paddingIdx: c.paddingIdx }));
  return { output: emb.forward(get(`${name}.input.ids`)), inputs: {}, module: emb };
}

/** Each case's runner. */
const RUNNERS: Record<string, { run: (name: string, c: Config) => Run }> = {
  linear: {
    run: (name, c) => {
      const lin = loaded(name, new Linear(c.in, c.out));
      const x = leaf(name, "x");
      return { output: lin.forward(x), inputs: { x }, module: lin };
    },
  },
  layer_norm: {
    run: (name, c) => {
      const norm = loaded(name, new LayerNorm(c.dim, { eps: c.eps }));
      const x = leaf(name, "x");
      return { output: norm.forward(x), inputs: { x }, module: norm };
    },
  },
  rms_norm: {
    run: (name, c) => {
      const norm = loaded(name, new RMSNorm(c.dim, { eps: c.eps }));
      const x = leaf(name, "x");
      return { output: norm.forward(x), inputs: { x }, module: norm };
    },
  },
  batch_norm: {
    run: (name, c) => {
      const x = leaf(name, "x"), weight = leaf(name, "weight"), bias = leaf(name, "bias");
      return { output: batchNorm(x, { weight, bias, eps: c.eps }), inputs: { x, weight, bias } };
    },
  },
  rope_interleaved: { run: unary((x) => applyRotary(x, { style: "interleaved" })) },
  rope_half: { run: unary((x) => applyRotary(x, { style: "half" })) },
  gelu_erf: { run: unary((x) => gelu(x)) },
  gelu_tanh: { run: unary((x) => gelu(x, { approximate: "tanh" })) },
  silu: { run: unary(silu) },
  relu: { run: unary(relu) },
  softmax: { run: unary(softmax) },
  log_softmax: { run: unary(logSoftmax) },
  ffn_relu: { run: runFeedForward },
  ffn_gelu: { run: runFeedForward },
  ffn_swiglu: { run: runFeedForward },
  embedding: { run: runEmbedding },
  embedding_padding: { run: runEmbedding },
  mha_self: { run: runMha },
  mha_causal: { run: runMha },
  mha_cross_padding: { run: runMha },
  mha_kdim_vdim: { run: runMha },
  encoder_layer_post: { run: runEncoderLayer },
  encoder_layer_pre: { run: runEncoderLayer },
  decoder_layer_post: { run: runDecoderLayer },
  decoder_layer_pre: { run: runDecoderLayer },
  transformer: { run: runTransformer },
  ce_smooth_ignore: { run: runCrossEntropy },
  ce_plain: { run: runCrossEntropy },
  ce_sum: { run: runCrossEntropy },
  ce_none: { run: runCrossEntropy },
  ce_3d: { run: runCrossEntropy },
};

/** The largest |value| of `t`. */
function maxAbs(t: Tensor): number {
  let m = 0;
  for (const v of t.data) m = Math.max(m, Math.abs(v));
  return m;
}

/** Asserts the tolerance; returns max |Δ| / max |expected|. */
function compare(actual: Tensor | null, expected: Tensor, what: string): number {
  assert.ok(actual, `${what}: the library gave no gradient`);
  const scale = maxAbs(expected);
  assertClose(actual, expected, { rtol: RTOL, atol: ATOL_OF_MAX * scale, message: what });
  return maxAbsDiff(actual, expected) / (scale || 1);
}

/**
 * Runs case `name` (forward, `backward(upstream)`) and asserts the output and every
 * gradient; returns the worst max |Δ| / max |expected| over them.
 */
function checkCase(name: string): number {
  const { output, inputs, module } = RUNNERS[name].run(name, JSON.parse(metadata[name]));
  let worst = compare(output, get(`${name}.output`), `${name}: output`);
  output.backward(get(`${name}.upstream`));
  const wantInputs = group(name, "grad.input");
  assert.deepEqual(Object.keys(inputs).sort(), Object.keys(wantInputs).sort());
  for (const [k, want] of Object.entries(wantInputs)) {
    worst = Math.max(worst, compare(inputs[k].grad, want, `${name}: d ${k}`));
  }
  const wantParams = group(name, "grad.param");
  if (module) {
    const grads = module.grads();
    assert.deepEqual(Object.keys(grads).sort(), Object.keys(wantParams).sort());
    for (const [k, want] of Object.entries(wantParams)) {
      worst = Math.max(worst, compare(grads[k], want, `${name}: d ${k}`));
    }
  } else {
    assert.equal(Object.keys(wantParams).length, 0, `${name}: parameters but no module`);
  }
  return worst;
}

Deno.test("gradients match PyTorch autograd (float64)", async (t) => {
  assert.deepEqual(Object.keys(RUNNERS).sort(), [...caseNames].sort(), "a runner per case");
  const report: string[] = [];
  for (const name of caseNames) {
    await t.step(name, () => {
      report.push(`${name}: worst max|Δ|/max|ref| ${checkCase(name).toExponential(1)}`);
    });
  }
  if (env("REPORT_ERRORS")) console.log(report.join("\n"));
});

/** The attention and model cases, whose products reach the WebAssembly sizes. */
const MODEL_CASES = caseNames.filter((n) => /^(mha|encoder|decoder|transformer)/.test(n));

Deno.test("model gradients match PyTorch on every kernel path", async (t) => {
  assert.ok(MODEL_CASES.length >= 9, "mha, layer and transformer cases in grad.safetensors");
  const report: string[] = [];
  for (const path of ["reference", "js", "packed", "wasm", "threaded"]) {
    await t.step(path, () => {
      // threaded: every product large enough to split is split across the workers
      const before = path === "threaded" ? setParallelMinWork(0) : undefined;
      try {
        const { calls } = traceKernels(() =>
          withKernelPath(path, () => {
            let worst = 0;
            for (const name of MODEL_CASES) {
              worst = Math.max(worst, checkCase(name));
            }
            report.push(`${path}: worst max|Δ|/max|ref| ${worst.toExponential(1)}`);
          })
        );
        // A kernel without an implementation on the forced path falls back to a lower one;
        // the products at least ran on this one.
        assert.ok(calls.some((c) => c.name === "gemm" && c.backend === path), `${path} gemm`);
      } finally {
        if (before !== undefined) setParallelMinWork(before);
      }
    });
  }
  if (env("REPORT_ERRORS")) console.log(report.join("\n"));
});
