/**
 * lib/layers against PyTorch 1.13: tests/fixtures/layers.safetensors, written
 * by tests/fixtures/make_layer_fixtures.py (see there for each case).
 *
 * Tolerances (|actual − expected| <= atol + rtol·|expected|), float32 PyTorch
 * outputs unless noted:
 * - LayerNorm, RMSNorm: rtol 1e-5, atol 1e-5 (PyTorch accumulates in float32,
 *   the library in float64). Inputs near 1000 cost PyTorch's float32 about 7e-5,
 *   so that case gets atol 1e-4, and rtol 1e-6, atol 1e-6 against PyTorch in float64.
 * - GELU: rtol 1e-5, atol 1e-6 against float32 PyTorch (its float32 erf and
 *   1 + erf(x) cancel in the negative tail); rtol 1e-6, atol 1e-15 against
 *   PyTorch in float64 (which cancels too, from about 1e-16). SiLU, tanh, ReLU: rtol 1e-6, atol 1e-7.
 * - Feed-forward: rtol 1e-5, atol 1e-6 (sums of 8 and 32 products).
 * - Embedding: exact. Sinusoidal: atol 1e-6 against the tutorial's float32 table,
 *   1e-7 against float64. RoPE: rtol 1e-6, atol 1e-6 against float64.
 * - ALiBi slopes, T5 buckets: exact.
 */
import assert from "node:assert/strict";
import { loadSafetensors } from "../lib/io/safetensors.ts";
import { assertClose } from "../lib/testing/assert_close.ts";
import type { Tensor } from "../lib/tensor/tensor.ts";
import { gelu, relu, silu, tanh } from "../lib/layers/activations.ts";
import { layerNorm } from "../lib/layers/layer_norm.ts";
import { rmsNorm } from "../lib/layers/rms_norm.ts";
import { FeedForward } from "../lib/layers/feed_forward.ts";
import { Embedding } from "../lib/layers/embedding.ts";
import { sinusoidalEncoding } from "../lib/layers/sinusoidal_encoding.ts";
import { applyRotary } from "../lib/layers/rotary.ts";
import { alibiSlopes } from "../lib/layers/alibi.ts";
import { relativePositionBucket } from "../lib/layers/relative_position_bias.ts";

const fixtures = loadSafetensors(
  await Deno.readFile(new URL("./fixtures/layers.safetensors", import.meta.url)),
);

/** The fixture tensor `name`; fails with the missing name. */
function get(name: string): Tensor {
  const t = fixtures[name];
  assert.ok(
    t,
    `layers.safetensors has no tensor ${name}: rerun tests/fixtures/make_layer_fixtures.py`,
  );
  return t;
}

Deno.test("layers vs PyTorch", async (t) => {
  await t.step("layerNorm() matches nn.LayerNorm with random weight and bias", () => {
    const opts = { weight: get("layer_norm.weight"), bias: get("layer_norm.bias") };
    assertClose(layerNorm(get("layer_norm.x"), opts), get("layer_norm.out"), {
      rtol: 1e-5,
      atol: 1e-5,
    });
    const offset = {
      weight: get("layer_norm_offset.weight"),
      bias: get("layer_norm_offset.bias"),
      eps: 1e-3,
    };
    assertClose(layerNorm(get("layer_norm_offset.x"), offset), get("layer_norm_offset.out"), {
      rtol: 1e-5,
      atol: 1e-4,
    });
    assertClose(layerNorm(get("layer_norm_offset.x"), offset), get("layer_norm_offset.out_f64"), {
      rtol: 1e-6,
      atol: 1e-6,
    });
  });

  await t.step("rmsNorm() matches LLaMA's RMSNorm", () => {
    assertClose(
      rmsNorm(get("rms_norm.x"), { weight: get("rms_norm.weight") }),
      get("rms_norm.out"),
      {
        rtol: 1e-5,
        atol: 1e-5,
      },
    );
  });

  await t.step("gelu() matches F.gelu, exact and tanh", () => {
    const x = get("act.x");
    assertClose(gelu(x), get("gelu.exact"), { rtol: 1e-5, atol: 1e-6 });
    assertClose(gelu(x), get("gelu.exact_f64"), { rtol: 1e-6, atol: 1e-15 });
    assertClose(gelu(x, { approximate: "tanh" }), get("gelu.tanh"), { rtol: 1e-5, atol: 1e-6 });
  });

  await t.step("silu(), tanh() and relu() match PyTorch", () => {
    const x = get("act.x");
    assertClose(silu(x), get("silu.out"), { rtol: 1e-6, atol: 1e-7 });
    assertClose(tanh(x), get("tanh.out"), { rtol: 1e-6, atol: 1e-7 });
    assert.deepEqual(relu(x).data, get("relu.out").data);
  });

  for (const activation of ["relu", "gelu"] as const) {
    await t.step(`FeedForward(${activation}) matches an nn.Linear pair with random biases`, () => {
      const ffn = new FeedForward({ dModel: 8, dFF: 32, activation });
      const p = `ffn_${activation}`;
      ffn.loadStateDict({
        "linear1.weight": get(`${p}.linear1.weight`),
        "linear1.bias": get(`${p}.linear1.bias`),
        "linear2.weight": get(`${p}.linear2.weight`),
        "linear2.bias": get(`${p}.linear2.bias`),
      });
      assertClose(ffn.forward(get("ffn.x")), get(`${p}.out`), { rtol: 1e-5, atol: 1e-6 });
    });
  }

  await t.step("FeedForward(swiglu) matches LLaMA's w2(silu(w1 x) * w3 x)", () => {
    const ffn = new FeedForward({ dModel: 8, dFF: 32, activation: "swiglu", bias: false });
    ffn.loadStateDict({
      "linear1.weight": get("ffn_swiglu.w1"),
      "linear2.weight": get("ffn_swiglu.w2"),
      "linear3.weight": get("ffn_swiglu.w3"),
    });
    assertClose(ffn.forward(get("ffn.x")), get("ffn_swiglu.out"), { rtol: 1e-5, atol: 1e-6 });
  });

  await t.step("Embedding matches nn.Embedding, plain and scaled by √dim", () => {
    const emb = new Embedding(20, 6, { paddingIdx: 0 });
    emb.loadStateDict({ weight: get("embedding.weight") });
    const ids = get("embedding.ids"); // int64 in the file, exact in float32
    assert.deepEqual(emb.forward(ids).data, get("embedding.out").data);
    const scaled = new Embedding(20, 6, { scaleByDModel: true }).loadStateDict({
      weight: get("embedding.weight"),
    });
    assertClose(scaled.forward(ids), get("embedding.scaled"), { rtol: 1e-7, atol: 0 });
  });

  await t.step("sinusoidalEncoding() matches the PyTorch tutorial table", () => {
    assertClose(sinusoidalEncoding(64, 16), get("sinusoidal.tutorial"), { rtol: 0, atol: 1e-6 });
    assertClose(sinusoidalEncoding(64, 16), get("sinusoidal.f64"), { rtol: 0, atol: 1e-7 });
  });

  await t.step("applyRotary() matches Meta's complex form and Hugging Face's rotate_half", () => {
    const x = get("rope.x");
    assertClose(applyRotary(x, { style: "interleaved" }), get("rope.interleaved"), {
      rtol: 1e-6,
      atol: 1e-6,
    });
    assertClose(applyRotary(x, { style: "half" }), get("rope.half"), { rtol: 1e-6, atol: 1e-6 });
    assertClose(applyRotary(x, { style: "half", base: 500000 }), get("rope.half_base500000"), {
      rtol: 1e-6,
      atol: 1e-6,
    });
  });

  await t.step("alibiSlopes() matches the ALiBi authors' get_slopes", () => {
    for (const n of [1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 20, 24, 32, 40, 64]) {
      assert.deepEqual(
        alibiSlopes(n).map(Math.fround),
        Array.from(get(`alibi.slopes.${n}`).data),
        `n=${n}`,
      );
    }
  });

  await t.step("relativePositionBucket() matches Hugging Face T5", () => {
    const rel = Array.from(get("t5_bucket.relative_position").data);
    for (
      const [bidirectional, numBuckets, maxDistance] of [[true, 32, 128], [false, 32, 128], [
        true,
        64,
        256,
      ], [false, 16, 64]] as const
    ) {
      const key = `t5_bucket.${bidirectional ? "bi" : "uni"}_${numBuckets}_${maxDistance}`;
      const ours = rel.map((r) =>
        relativePositionBucket(r, { bidirectional, numBuckets, maxDistance })
      );
      assert.deepEqual(ours, Array.from(get(key).data), key);
    }
  });
});
