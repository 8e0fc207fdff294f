/**
 * Attention Lab against its peers on the same machine, in one `deno bench` run.
 * Groups are workloads (W1..W4); `attention-lab` is each group's baseline, computing the
 * output only as the peers do (`needWeights: false`); `attention-lab (weights returned)` is
 * the default call, which also hands back the attention weights.
 * See bench/README.md; `deno task bench:report` turns this into RESULTS.md.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import { scaledDotProductAttention } from "../lib/attention/scaled_dot_product.ts";
import { tiledAttention } from "../lib/attention/tiled.ts";
import { causalMask } from "../lib/attention/masks.ts";
import { matmul } from "../lib/tensor/matmul.ts";
import { permute } from "../lib/tensor/transpose.ts";
import { Rng } from "../lib/tensor/rng.ts";
import { randn, Tensor } from "../lib/tensor/tensor.ts";
import { multiHeadAttention } from "../lib/models/multi_head_attention.ts";
import { encoderLayer } from "../lib/models/encoder_layer.ts";
import { noGrad } from "../lib/tensor/autograd.ts";
import { naiveAttention, naiveEncoderLayer, naiveMatmul, naiveMha } from "./_naive.ts";
import { poolSize, setThreads } from "../lib/kernels/threads.ts";
import { encoderLayerModel, matmulModel, mhaModel, sdpaModel } from "./_onnx.ts";

// tfjs-wasm's .wasm files live in Deno's npm cache (read permission needed).
const denoDir = Deno.env.get("DENO_DIR") ?? `${Deno.env.get("HOME")}/.cache/deno`;
setWasmPaths(`${denoDir}/npm/registry.npmjs.org/@tensorflow/tfjs-backend-wasm/4.22.0/dist/`);
await tf.setBackend("wasm");
await tf.setBackend("cpu");

/** Results are summed into this so no engine can drop the work. */
let sink = 0;
function use(x: ArrayLike<number>): void {
  sink += x[0] + x[x.length - 1];
}
globalThis.addEventListener("unload", () => {
  if (Number.isNaN(sink)) console.error("bench sink is NaN");
});

const rng = new Rng(42);
const ours = "attention-lab";
/**
 * `attention-lab` rows compute what the peers compute, the output only
 * (`needWeights: false`); this row is the default call, which also copies the
 * attention weights out into a new array for plotting.
 */
const withWeights = `${ours} (weights returned)`;
/**
 * Inference rows run inside `noGrad` (as PyTorch inference runs under `torch.no_grad()`):
 * the modules' parameters require grad, so outside it every forward records its graph.
 * This row is that case, to show what recording costs.
 */
const recorded = `${ours} (graph recorded)`;
/** Threads the library uses by default here (main + workers), for the one-thread rows. */
const threads = poolSize();
/** `attention-lab` forced onto one thread (the switch is outside the timed region). */
function oneThread(group: string, fn: () => void, opts = {}) {
  if (threads <= 1) return;
  Deno.bench({ name: `${ours} (1 thread)`, group, ...opts }, (b) => {
    setThreads(1);
    b.start();
    fn();
    b.end();
    setThreads(threads);
  });
}
const heavy = (n: number) => (n >= 2048 ? { n: 3, warmup: 1 } : {});

// onnxruntime-node (native C++, MLAS kernels), when it loads: it needs --allow-ffi for its
// N-API addon and a prebuilt binary for this platform. Without it, its rows are left out.
let ort: typeof import("onnxruntime-node") | undefined;
try {
  ort = await import("onnxruntime-node");
} catch (error) {
  console.error(`onnxruntime-node rows skipped: ${(error as Error).message ?? error}`);
}

/** Fails unless `got` matches `want` within `tol` everywhere (NaN fails). */
function agree(what: string, got: ArrayLike<number>, want: ArrayLike<number>, tol = 1e-3) {
  if (got.length !== want.length) {
    throw new Error(`${what}: ${got.length} values, expected ${want.length}`);
  }
  let worst = 0;
  for (let i = 0; i < got.length; i++) {
    const diff = Math.abs(got[i] - want[i]);
    if (!(diff <= worst)) worst = diff; // a NaN sticks
  }
  if (!(worst <= tol)) throw new Error(`${what}: max |difference| ${worst} > ${tol}`);
}

interface OrtPeer {
  /** ONNX model bytes (bench/_onnx.ts), built on the first call. */
  model: () => Uint8Array;
  /** Graph inputs: name -> [data, dims]. */
  inputs: Record<string, [Float32Array, number[]]>;
  /** What the output must match within 1e-3, and whose it is (for the error). */
  expected: () => ArrayLike<number> | Promise<ArrayLike<number>>;
  against: string;
  /** intra-op threads (default: as many as the library uses). */
  threads?: number;
}

/**
 * One onnxruntime-node peer. On its first call, outside the timed region, it builds the
 * model, creates the session (CPU provider, all graph optimizations) and checks one output
 * against `expected`, throwing if they differ. Timed: `session.run` and reading the output.
 */
function ortBench(group: string, peer: OrtPeer) {
  if (!ort) return;
  const rt = ort;
  const intraOp = peer.threads ?? threads;
  const name = intraOp === 1 && threads > 1 ? "onnxruntime-node (1 thread)" : "onnxruntime-node";
  let session: import("onnxruntime-node").InferenceSession | undefined;
  const feeds: Record<string, import("onnxruntime-node").Tensor> = {};
  for (const [k, [data, dims]] of Object.entries(peer.inputs)) {
    feeds[k] = new rt.Tensor("float32", data, dims);
  }
  const output = (r: Record<string, import("onnxruntime-node").Tensor>) =>
    r[session!.outputNames[0]].data as Float32Array;
  Deno.bench({ name, group }, async (b) => {
    if (!session) {
      session = await rt.InferenceSession.create(peer.model(), {
        executionProviders: ["cpu"],
        graphOptimizationLevel: "all",
        intraOpNumThreads: intraOp,
        interOpNumThreads: 1,
        executionMode: "sequential",
      });
      agree(
        `${group}: ${name} against ${peer.against}`,
        output(await session.run(feeds)),
        await peer.expected(),
      );
    }
    b.start();
    use(output(await session.run(feeds)));
    b.end();
  });
}

type TfFn = () => tf.Tensor;
/** A tfjs result on the cpu backend, as the reference an onnxruntime-node peer must match. */
async function tfValues(fn: TfFn): Promise<Float32Array> {
  await tf.setBackend("cpu");
  const out = tf.tidy(fn);
  const data = out.dataSync() as Float32Array;
  out.dispose();
  return data;
}
/** One tfjs peer: switches backend outside the timed region, reads the result back. */
function tfBench(group: string, backend: "cpu" | "wasm", name: string, fn: TfFn, opts = {}) {
  Deno.bench({ name, group, ...opts }, async (b) => {
    await tf.setBackend(backend);
    b.start();
    const out = tf.tidy(fn);
    use(out.dataSync() as Float32Array);
    b.end();
    out.dispose();
  });
}

/**
 * V8 compiles WebAssembly with its baseline compiler first and swaps in optimised code for
 * the hot functions a little later, in the background. Without this warm-up the first group
 * (W1 n = 128) timed attention-lab partly on baseline code: its avg was 25% above the
 * identical "(1 thread)" row that ran right after it. So, before any group: one second of
 * the library's kernels (attention, a batch of heads, products) and of tfjs-wasm's (its
 * matMul and softmax), outside every timed region.
 */
{
  const rngW = new Rng(7);
  const x = randn([128, 64], rngW), heads = randn([8, 128, 64], rngW);
  const a = randn([128, 512], rngW), w = randn([512, 512], rngW);
  const tx = tf.tensor2d(x.data, [128, 64]), txT = tf.transpose(tx);
  await tf.setBackend("wasm");
  const until = performance.now() + 1000;
  while (performance.now() < until) {
    use(scaledDotProductAttention(x, x, x, { needWeights: false }).output.data);
    use(scaledDotProductAttention(x, x, x, { mask: causalMask(128) }).output.data);
    use(scaledDotProductAttention(heads, heads, heads, { needWeights: false }).output.data);
    use(matmul(a, w).data);
    const t = tf.tidy(() => tf.matMul(tf.softmax(tf.matMul(tx, txT)), tx));
    use(t.dataSync() as Float32Array);
    t.dispose();
  }
  await tf.setBackend("cpu");
}

// W1: scaled dot-product attention, d_k = 64
for (const n of [128, 512, 2048]) {
  const d = 64;
  const q = randn([n, d], rng), k = randn([n, d], rng), v = randn([n, d], rng);
  const mask = causalMask(n);
  const tq = tf.tensor2d(q.data, [n, d]), tv = tf.tensor2d(v.data, [n, d]);
  const tkT = tf.transpose(tf.tensor2d(k.data, [n, d])); // Kᵀ made up front: [d, n]
  const tk = tf.tensor2d(k.data, [n, d]);
  const causalBias = tf.tensor2d(new Float32Array(mask.data).map((m) => (m ? 0 : -1e30)), [n, n]);
  const scale = 1 / Math.sqrt(d);
  for (const causal of [false, true]) {
    const group = `W1 sdpa n=${n} d=64${causal ? " causal" : ""}`;
    const opt = heavy(n);
    // like the peers (and PyTorch's F.scaled_dot_product_attention): the output only
    const run = () =>
      use(
        scaledDotProductAttention(q, k, v, { mask: causal ? mask : undefined, needWeights: false })
          .output.data,
      );
    Deno.bench({ name: ours, group, baseline: true, ...opt }, run);
    oneThread(group, run, opt);
    // the default call, which also returns the [n, n] weights as a new array
    Deno.bench({ name: withWeights, group, ...opt }, () => {
      use(scaledDotProductAttention(q, k, v, causal ? { mask } : {}).output.data);
    });
    Deno.bench({ name: "naive JS loops", group, ...opt }, () => {
      use(naiveAttention(q.data, k.data, v.data, n, d, d, 0, causal));
    });
    for (const backend of ["cpu", "wasm"] as const) {
      // [n, d] x [d, n] -> [n, n]; softmax; [n, n] x [n, d] -> [n, d]
      tfBench(group, backend, `tfjs-${backend} (Kᵀ first)`, () => {
        let s = tf.mul(tf.matMul(tq, tkT), scale);
        if (causal) s = tf.add(s, causalBias);
        return tf.matMul(tf.softmax(s), tv);
      }, opt);
    }
    tfBench(group, "wasm", "tfjs-wasm (transposeB)", () => {
      let s = tf.mul(tf.matMul(tq, tk, false, true), scale);
      if (causal) s = tf.add(s, causalBias);
      return tf.matMul(tf.softmax(s), tv);
    }, opt);
    const bias = causal ? causalBias.dataSync() as Float32Array : undefined;
    const ortPeer: OrtPeer = {
      model: () => sdpaModel(n, d, bias),
      inputs: { q: [q.data, [n, d]], k: [k.data, [n, d]], v: [v.data, [n, d]] },
      expected: () => scaledDotProductAttention(q, k, v, causal ? { mask } : {}).output.data,
      against: ours,
    };
    ortBench(group, ortPeer);
    if (n === 512 && threads > 1) ortBench(group, { ...ortPeer, threads: 1 });
  }
}

/** Random [rows, cols] weights scaled like PyTorch's init, as plain and tfjs tensors. */
function weight(rows: number, cols: number) {
  const t = randn([rows, cols], rng);
  for (let i = 0; i < t.data.length; i++) t.data[i] /= Math.sqrt(rows);
  return { data: t.data, tf: tf.tensor2d(t.data, [rows, cols]), t };
}

/** tfjs multi-head self-attention with x·W weights, K produced transposed (Wkᵀ·xᵀ). */
function tfMha(
  x: tf.Tensor2D,
  w: { q: tf.Tensor2D; kT: tf.Tensor2D; v: tf.Tensor2D; o: tf.Tensor2D },
  n: number,
  e: number,
  h: number,
): tf.Tensor2D {
  const d = e / h;
  const q = tf.mul(tf.matMul(x, w.q), 1 / Math.sqrt(d)) as tf.Tensor2D; // [n, e]
  const kT = tf.matMul(w.kT, x, false, true) as tf.Tensor2D; // [e, e] x [e, n] -> [e, n]
  const v = tf.matMul(x, w.v) as tf.Tensor2D; // [n, e]
  const heads: tf.Tensor2D[] = [];
  for (let i = 0; i < h; i++) {
    const s = tf.matMul(tf.slice(q, [0, i * d], [n, d]), tf.slice(kT, [i * d, 0], [d, n])); // [n, n]
    heads.push(tf.matMul(tf.softmax(s), tf.slice(v, [0, i * d], [n, d]))); // [n, d]
  }
  return tf.matMul(tf.concat(heads, 1), w.o); // [n, e] x [e, e] -> [n, e]
}

function tfLayerNorm(x: tf.Tensor2D): tf.Tensor2D {
  const { mean, variance } = tf.moments(x, 1, true);
  return tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, 1e-5)));
}

// W2: multi-head self-attention, dModel 512, 8 heads
const E = 512, H = 8, F = 2048;
const wq = weight(E, E), wk = weight(E, E), wv = weight(E, E), wo = weight(E, E);
const tfW = { q: wq.tf, kT: tf.transpose(wk.tf) as tf.Tensor2D, v: wv.tf, o: wo.tf };
const plainW = { q: wq.data, k: wk.data, v: wv.data, o: wo.data };
const mha = multiHeadAttention({ dModel: E, numHeads: H });
mha.eval();
for (const n of [128, 512]) {
  const group = `W2 mha n=${n} dModel=512 heads=8`;
  const x = randn([1, n, E], rng);
  const tx = tf.tensor2d(x.data, [n, E]);
  Deno.bench({ name: ours, group, baseline: true }, () => {
    use(noGrad(() => mha.forward(x, x, x, { needWeights: false })).output.data);
  });
  Deno.bench({ name: withWeights, group }, () => {
    use(noGrad(() => mha.forward(x, x, x)).output.data);
  });
  // the same call outside noGrad: the parameters require grad, so the graph is recorded
  Deno.bench({ name: recorded, group }, () => {
    use(mha.forward(x, x, x, { needWeights: false }).output.data);
  });
  Deno.bench({ name: "naive JS loops", group, ...(n >= 512 ? { n: 3, warmup: 1 } : {}) }, () => {
    use(naiveMha(x.data, plainW, n, E, H));
  });
  for (const backend of ["cpu", "wasm"] as const) {
    tfBench(
      group,
      backend,
      `tfjs-${backend} (Kᵀ first)`,
      () => tfMha(tx, tfW, n, E, H),
      backend === "cpu" && n >= 512 ? { n: 3, warmup: 1 } : {},
    );
  }
  // the same weights as the tfjs peers, so its output is checked against tfjs-cpu's
  ortBench(group, {
    model: () => mhaModel(plainW, n, E, H),
    inputs: { x: [x.data, [n, E]] },
    expected: () => tfValues(() => tfMha(tx, tfW, n, E, H)),
    against: "tfjs-cpu",
  });
  // the library's public ops composed by hand: projections by matmul, SDPA over heads
  Deno.bench({ name: "attention-lab ops (matmul + sdpa)", group }, () => {
    const x2 = new Tensor(x.data, [n, E]);
    const split = (t: Tensor) => permute(t.reshape([n, H, E / H]), [1, 0, 2]); // [n, H, d] -> [H, n, d]
    const q = split(matmul(x2, wq.t)), k = split(matmul(x2, wk.t)), v = split(matmul(x2, wv.t));
    const o = permute(scaledDotProductAttention(q, k, v).output, [1, 0, 2]).reshape([n, E]);
    use(matmul(o, wo.t).data);
  });
}

// W3: one post-norm encoder layer, 512 / 8 heads / dFF 2048, n = 128
{
  const n = 128;
  const group = "W3 encoder layer n=128 dModel=512 heads=8 dFF=2048";
  const layer = encoderLayer({ dModel: E, numHeads: H, dFF: F });
  layer.eval();
  const x = randn([1, n, E], rng);
  const tx = tf.tensor2d(x.data, [n, E]);
  const f1 = weight(E, F), f2 = weight(F, E);
  const run = () => use(noGrad(() => layer.forward(x, { needWeights: false })).output.data);
  Deno.bench({ name: ours, group, baseline: true }, run);
  oneThread(group, run);
  Deno.bench({ name: withWeights, group }, () => use(noGrad(() => layer.forward(x)).output.data));
  Deno.bench({ name: recorded, group }, () => {
    use(layer.forward(x, { needWeights: false }).output.data);
  });
  Deno.bench({ name: "naive JS loops", group }, () => {
    use(naiveEncoderLayer(x.data, { ...plainW, f1: f1.data, f2: f2.data }, n, E, H, F));
  });
  const tfLayer = () => {
    const a = tfLayerNorm(tf.add(tx, tfMha(tx, tfW, n, E, H)));
    const hdn = tf.relu(tf.matMul(a, f1.tf)); // [n, e] x [e, f] -> [n, f]
    return tfLayerNorm(tf.add(a, tf.matMul(hdn, f2.tf))); // [n, f] x [f, e] -> [n, e]
  };
  for (const backend of ["cpu", "wasm"] as const) {
    tfBench(group, backend, `tfjs-${backend} (Kᵀ first)`, tfLayer);
  }
  ortBench(group, {
    model: () => encoderLayerModel({ ...plainW, f1: f1.data, f2: f2.data }, n, E, H, F),
    inputs: { x: [x.data, [n, E]] },
    expected: () => tfValues(tfLayer),
    against: "tfjs-cpu",
  });
}

// M: the raw matmul kernel, 512³, on all threads (default) and on one core
{
  const group = "M matmul 512x512x512";
  const a = randn([512, 512], rng), b = randn([512, 512], rng);
  const ta = tf.tensor2d(a.data, [512, 512]), tb = tf.tensor2d(b.data, [512, 512]);
  Deno.bench({ name: ours, group, baseline: true }, () => use(matmul(a, b).data));
  oneThread(group, () => use(matmul(a, b).data));
  Deno.bench({ name: "naive JS loops", group, n: 3, warmup: 1 }, () => {
    use(naiveMatmul(a.data, b.data, 512, 512, 512));
  });
  for (const backend of ["cpu", "wasm"] as const) {
    tfBench(group, backend, `tfjs-${backend}`, () => tf.matMul(ta, tb));
  }
  ortBench(group, {
    model: () => matmulModel(512, 512, 512),
    inputs: { a: [a.data, [512, 512]], b: [b.data, [512, 512]] },
    expected: () => matmul(a, b).data,
    against: ours,
  });
}

// W4: long-sequence tiled attention, n = 16384, d = 64 (never builds the 1 GiB scores)
{
  const n = 16384, d = 64;
  const group = "W4 tiled attention n=16384 d=64";
  const q = randn([n, d], rng), k = randn([n, d], rng), v = randn([n, d], rng);
  Deno.bench({ name: ours, group, baseline: true, n: 2, warmup: 0 }, () => {
    use(tiledAttention(q, k, v).output.data);
  });
  oneThread(group, () => use(tiledAttention(q, k, v).output.data), { n: 2, warmup: 0 });
  const mask = causalMask(n);
  Deno.bench({ name: `${ours} causal`, group, n: 2, warmup: 0 }, () => {
    use(tiledAttention(q, k, v, { mask }).output.data);
  });
}
