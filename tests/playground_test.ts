/**
 * The playground page (`deno task playground`), without a browser: it is one
 * self-contained file; its bundled library imports nothing and touches no
 * `Deno`, `process` or `require` when it loads; run outside a page, the
 * bundle decodes exactly as the library run by Deno does (and as `deno task
 * predict`), and its attention walk-through matches a float64 loop.
 *
 * Needs `--allow-run=deno` (the bundler) and `--allow-read`, as `deno task test` grants.
 * The real-browser test of the page lives under `tests/browser/`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { buildPlayground, PLAYGROUND_MODELS } from "../examples/playground/build.ts";
import * as engine from "../examples/playground/engine.ts";
import { assertClose } from "../mod.ts";
import { getTask } from "../train/tasks.ts";
import { predictTexts } from "../train/trainer.ts";
import { viewsRendererJs } from "../lib/plot/views/views_renderer.ts";

type Engine = typeof engine;

const build = await buildPlayground();

/**
 * Runs the bundled script as a page would load it, but with no DOM, and with
 * `Deno`, `process`, `require` and the browser globals shadowed: a top-level
 * use of any of them throws here. Returns the engine the bundle exposes.
 */
function loadBundle(script: string): Engine {
  const sandbox: { AttentionLabPlayground?: Engine } = {};
  const run = new Function(
    "globalThis",
    "Deno",
    "process",
    "require",
    "window",
    "self",
    "document",
    script,
  );
  run(sandbox, undefined, undefined, undefined, undefined, undefined, undefined);
  assert.ok(sandbox.AttentionLabPlayground, "the bundle did not expose AttentionLabPlayground");
  return sandbox.AttentionLabPlayground;
}

/** Bytes of the checkpoint embedded for `name`, as the page's script finds them. */
function embedded(name: string): string {
  const re = new RegExp(
    `<script type="application/octet-stream" data-checkpoint="${name}">([A-Za-z0-9+/=]*)</script>`,
  );
  const m = build.html.match(re);
  assert.ok(m, `no embedded checkpoint for ${name}`);
  return m[1];
}

Deno.test("the playground page is one self-contained file", async () => {
  const html = build.html;
  // the markup (scripts' text left out) loads nothing: no src or href attribute, no <link>
  const markup = html.replace(/(<script[^>]*>)[^]*?(<\/script>)/g, "$1$2");
  assert.doesNotMatch(markup, /\b(src|href)\s*=/i, "an element loads a source");
  assert.doesNotMatch(markup, /<link\b/i, "a <link> element");
  assert.doesNotMatch(markup, /<script[^>]*type="module"/, "a module script");
  // and no script asks the network for anything (the views' renderer sets an <a>'s href and
  // an <img>'s src only to blob: and data: URLs of its own drawing, for "save as PNG / SVG")
  for (
    const re of [/\brequire\s*\(/, /\bfetch\s*\(/, /XMLHttpRequest/, /importScripts/, /WebSocket/]
  ) {
    assert.doesNotMatch(html, re);
  }
  // the only URL is the SVG namespace given to createElementNS
  const urls = new Set(html.match(/https?:\/\/[^\s"'`)]+/g) ?? []);
  assert.deepEqual([...urls], ["http://www.w3.org/2000/svg"]);
  // the views' renderer is in the page once, inside the bundle (which installs it)
  assert.equal(html.split(viewsRendererJs()).length - 1, 1);
  assert.ok(build.script.includes(viewsRendererJs()));
  // the shipped checkpoints are in it byte for byte
  assert.ok(Object.keys(build.models).length >= 1);
  for (const name of Object.keys(build.models)) {
    const file = await Deno.readFile(
      new URL(`../checkpoints/${name}.safetensors`, import.meta.url),
    );
    assert.deepEqual(engine.fromBase64(embedded(name)), file, `${name}: embedded bytes`);
  }
  for (const name of PLAYGROUND_MODELS) {
    const present = await Deno.stat(new URL(`../checkpoints/${name}.safetensors`, import.meta.url))
      .then(() => true, () => false);
    assert.equal(name in build.models, present, `${name}: embedded exactly when shipped`);
  }
  // size: the base64 checkpoints (4/3 of their bytes), the script (the views' renderer
  // included) and under 150 KB of the rest
  const checkpointChars = Object.values(build.models).reduce((s, n) => s + 4 * Math.ceil(n / 3), 0);
  const rest = html.length - checkpointChars - build.script.length;
  assert.ok(rest > 0 && rest < 150_000, `markup and style take ${rest} characters`);
  assert.ok(build.script.length < 400_000, `the script is ${build.script.length} characters`);
  assert.ok(html.length < 4_000_000, `the page is ${html.length} characters`);
});

Deno.test("the browser bundle imports nothing and needs no Deno, process or require", () => {
  const script = build.script;
  // import and export statements cannot be in a function body: loadBundle below would throw
  assert.doesNotMatch(script, /\bimport\s*\(/, "a dynamic import");
  assert.doesNotMatch(script, /\brequire\s*\(|__require/, "a require()");
  assert.doesNotMatch(script, /\bimport\.meta\b/, "import.meta");
  // `node:worker_threads` appears only as the name handed to process.getBuiltinModule
  for (const m of script.matchAll(/node:[a-z_/]+/g)) {
    assert.equal(m[0], "node:worker_threads", `a node: module in the bundle: ${m[0]}`);
    const before = script.slice(Math.max(0, m.index - 40), m.index);
    assert.match(
      before,
      /getBuiltinModule\W*$/,
      `node:worker_threads not through getBuiltinModule`,
    );
  }
  const api = loadBundle(script);
  assert.equal(typeof api.decodeText, "function");
  // no worker threads without node:worker_threads: one thread, as in a browser
  assert.match(api.kernelPlace(), /1 thread$/);
});

Deno.test("the bundle decodes exactly as Deno runs the library", async (t) => {
  const api = loadBundle(build.script);
  for (const name of Object.keys(build.models)) {
    await t.step(name, () => {
      const bytes = engine.fromBase64(embedded(name));
      const inBundle = api.loadModel(name, bytes);
      const inDeno = engine.loadModel(name, bytes);
      const task = getTask(name);
      const inputs = task.splits().test.slice(0, 12).map((p) => p.input);
      const predicted = predictTexts(
        inDeno.checkpoint.model,
        inDeno.checkpoint.charVocab,
        inputs,
        task.maxOutputChars,
      );
      for (const [i, input] of inputs.entries()) {
        const a = api.decodeText(inBundle, input);
        const b = engine.decodeText(inDeno, input);
        assert.deepEqual(a.outputTokens, b.outputTokens, `${JSON.stringify(input)}: tokens`);
        assert.equal(a.text, predicted[i], `${JSON.stringify(input)}: as deno task predict`);
        // the same kernels on the same operands: the same bits, whatever the thread count
        assert.deepEqual(a.cross, b.cross, `${JSON.stringify(input)}: cross-attention`);
        assert.deepEqual(a.decoderSelf, b.decoderSelf, `${JSON.stringify(input)}: decoder`);
        assert.deepEqual(a.encoderSelf, b.encoderSelf, `${JSON.stringify(input)}: encoder`);
        assert.deepEqual(a.scores, b.scores, `${JSON.stringify(input)}: log-probabilities`);
        // shapes: one row per step, one column per source token (characters and <eos>)
        assert.equal(a.sourceTokens.length, [...input].length + 1);
        for (const layer of a.cross) {
          for (const head of layer) {
            assert.equal(head.length, a.outputTokens.length);
            for (const row of head) {
              assert.equal(row.length, a.sourceTokens.length);
              assert.ok(Math.abs(row.reduce((s, x) => s + x, 0) - 1) < 1e-5, "a row sums to 1");
            }
          }
        }
      }
    });
  }
  await t.step("the views follow the steps, in the bundle as in Deno", () => {
    const name = Object.keys(build.models)[0];
    const bytes = engine.fromBase64(embedded(name));
    const [inBundle, inDeno] = [api.loadModel(name, bytes), engine.loadModel(name, bytes)];
    const input = getTask(name).splits().test[0].input;
    const a = api.decodeText(inBundle, input), b = engine.decodeText(inDeno, input);
    const n = a.outputTokens.length;
    for (const steps of [1, Math.ceil(n / 2), n]) {
      const spec = api.headViewSpec(a, steps);
      assert.deepEqual(spec, engine.headViewSpec(b, steps));
      assert.deepEqual(spec.roles.map((r) => r.name), ["cross", "decoder", "encoder"]);
      const [cross, decoder, encoder] = spec.roles;
      assert.equal(cross.queryLabels.length, steps, "one query per step shown");
      assert.equal(decoder.keyLabels.length, steps);
      assert.equal(encoder.queryLabels.length, a.sourceTokens.length);
      // every kept weight is the decode's own, in thousandths
      const last = cross.layers.length - 1;
      for (const [h, map] of cross.layers[last].entries()) {
        for (const [i, row] of map.rows.entries()) {
          for (let p = 0; p < row.length; p += 2) {
            const w = a.cross[last][h][i][row[p]];
            assert.ok(Math.abs(row[p + 1] - 1000 * w) <= 0.5, `head ${h} query ${i}`);
          }
        }
      }
      assert.deepEqual(api.modelViewSpec(a, steps).roles, spec.roles);
    }
    const neuron = api.neuronViewSpec(inBundle, a);
    assert.deepEqual(neuron, engine.neuronViewSpec(inDeno, b));
    assert.equal(neuron.view, "neuron");
    assert.deepEqual(neuron.roles.map((r) => r.name).sort(), ["cross", "decoder", "encoder"]);
  });
  if ("reverse" in build.models) {
    await t.step("reverse reverses", () => {
      const m = api.loadModel("reverse", engine.fromBase64(embedded("reverse")));
      assert.equal(api.decodeText(m, "q w e r t y").text, "y t r e w q");
    });
  }
});

Deno.test("an invalid input gets a message naming the character, never an exception", () => {
  const api = loadBundle(build.script);
  const name = Object.keys(build.models)[0];
  const m = api.loadModel(name, engine.fromBase64(embedded(name)));
  const problem = api.inputProblem(m, "a#");
  assert.match(problem!, /The character "#" at position 2 is not in the/);
  assert.match(api.inputProblem(m, "")!, /Type an input/);
  const long = "1".repeat(m.task.maxInputChars + 1);
  assert.match(api.inputProblem(m, long)!, new RegExp(`at most ${m.task.maxInputChars}`));
  assert.throws(() => api.decodeText(m, "a#"), RangeError);
});

/** softmax(mask(Q·Kᵀ·scale))·V in float64, from the walk's own Q, K, V. */
function walkReference(q: number[][], k: number[][], v: number[][], s: number, causal: boolean) {
  const t = q.length;
  const weights = q.map((qi, i) => {
    const logits = k.map((kj, j) =>
      causal && j > i ? -Infinity : qi.reduce((acc, x, d) => acc + x * kj[d], 0) * s
    );
    const max = Math.max(...logits);
    const e = logits.map((x) => Math.exp(x - max));
    const z = e.reduce((a, b) => a + b, 0);
    return e.map((x) => x / z);
  });
  const output = weights.map((w) =>
    v[0].map((_, c) => w.reduce((acc, wj, j) => acc + wj * v[j][c], 0))
  );
  assert.equal(weights.length, t);
  return { weights, output };
}

Deno.test("the attention walk-through matches a float64 loop, in the bundle as in Deno", () => {
  const api = loadBundle(build.script);
  for (const dK of [1, 4, 16]) {
    for (const temperature of [0.1, 1, 4]) {
      for (const mask of [false, true]) {
        const w = api.attentionWalk({ dK, temperature, mask });
        assert.deepEqual(w, engine.attentionWalk({ dK, temperature, mask }));
        assert.equal(w.q[0].length, dK);
        assert.equal(w.scale, 1 / (Math.sqrt(dK) * temperature));
        const ref = walkReference(w.q, w.k, w.v, w.scale, mask);
        // float32 products of at most 16 terms of size < 5 and a softmax: 1e-5 absolute
        assertClose(w.weights, ref.weights, { rtol: 0, atol: 1e-5 });
        assertClose(w.output, ref.output, { rtol: 0, atol: 2e-5 });
        w.masked.forEach((row, i) =>
          row.forEach((x, j) => {
            if (mask && j > i) assert.equal(x, -Infinity);
            else assert.equal(x, w.scaled[i][j]);
            if (mask && j > i) assert.equal(w.weights[i][j], 0);
          })
        );
        assert.ok(w.fusedDifference < 1e-6, `fused differs by ${w.fusedDifference}`);
      }
    }
  }
  assert.throws(() => api.attentionWalk({ dK: 17, temperature: 1, mask: true }), RangeError);
  assert.throws(() => api.attentionWalk({ dK: 2, temperature: 0, mask: true }), RangeError);
});
