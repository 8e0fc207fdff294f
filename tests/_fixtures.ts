// Shared helpers for golden tests: load a committed safetensors fixture.
import { loadSafetensors } from "../lib/io/safetensors.ts";
import { Mask } from "../lib/tensor/mask.ts";
import type { Tensor } from "../lib/tensor/tensor.ts";

/** Loads `tests/fixtures/<name>` (needs --allow-read). */
export function loadFixture(name: string): Record<string, Tensor> {
  const url = new URL(`./fixtures/${name}`, import.meta.url);
  return loadSafetensors(Deno.readFileSync(url));
}

/** A fixture tensor of 0/1 values as a Mask (1 = may attend). */
export function toMask(t: Tensor): Mask {
  return new Mask(Uint8Array.from(t.data, (v) => (v ? 1 : 0)), t.shape);
}
