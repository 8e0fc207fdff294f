import assert from "node:assert/strict";
import { assembleKernels } from "../lib/kernels/wasm/build.ts";
import { KERNELS_WASM_BASE64 } from "../lib/kernels/wasm/kernels_wasm.ts";
import { unsharedMemoryModule } from "../lib/kernels/wasm/unshared_memory.ts";

const wat = () => Deno.readTextFile(new URL("../lib/kernels/wasm/kernels.wat", import.meta.url));
const decode = (b64: string) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));

Deno.test("unsharedMemoryModule of the embedded kernels equals wabt's unshared build", async () => {
  const embedded = decode(KERNELS_WASM_BASE64);
  const derived = unsharedMemoryModule(embedded);
  const assembled = await assembleKernels(await wat(), false);
  assert.deepEqual(derived, assembled);
  const memory = new WebAssembly.Memory({ initial: 16, maximum: 65536 });
  const { exports } = new WebAssembly.Instance(new WebAssembly.Module(derived), {
    env: { memory },
  });
  assert.equal(typeof exports.gemm, "function");
  // exactly one byte differs from the shared build
  let diffs = 0;
  for (let i = 0; i < embedded.length; i++) if (embedded[i] !== derived[i]) diffs++;
  assert.equal(diffs, 1);
  assert.deepEqual(embedded, await assembleKernels(await wat(), true));
});

Deno.test("unsharedMemoryModule rejects a non-module and a module without shared memory", async () => {
  assert.throws(
    () => unsharedMemoryModule(new Uint8Array([1, 2, 3])),
    (e) => e instanceof TypeError && /unsharedMemoryModule: module \(3 bytes\)/.test(e.message),
  );
  const unshared = await assembleKernels(await wat(), false);
  assert.throws(
    () => unsharedMemoryModule(unshared),
    (e) => e instanceof TypeError && /shared memory with a maximum/.test(e.message),
  );
});
