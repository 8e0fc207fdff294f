/**
 * Whole modules to and from safetensors: the state dict under PyTorch's names,
 * so a checkpoint converted from PyTorch loads the same way.
 *
 * @module
 */

import type { LoadStateDictOptions, Module } from "../layers/module.ts";
import { loadSafetensors, type LoadSafetensorsOptions, saveSafetensors } from "./safetensors.ts";

/**
 * Serialises `module.stateDict()` (float32) as a safetensors file.
 *
 * @param metadata Strings kept in the file's `__metadata__`.
 * @returns The file's bytes; write them with `Deno.writeFile`.
 *
 * @example Save a layer and load it into a fresh one
 * ```ts
 * import { loadModule, saveModule } from "./module_io.ts";
 * import { Linear } from "../layers/linear.ts";
 * import { Rng } from "../tensor/rng.ts";
 * import assert from "node:assert/strict";
 * const trained = new Linear(4, 2, { rng: new Rng(1) });
 * const copy = loadModule(new Linear(4, 2), saveModule(trained, { note: "demo" }));
 * assert.deepEqual(copy.weight.data, trained.weight.data);
 * ```
 */
export function saveModule(module: Module, metadata?: Record<string, string>): Uint8Array {
  if (!module || typeof (module as Module).stateDict !== "function") {
    throw new TypeError("saveModule: module must be a Module (with stateDict())");
  }
  return saveSafetensors(module.stateDict(), metadata);
}

/**
 * Loads a safetensors file into `module` through `loadStateDict`, so missing,
 * unexpected or mis-shaped keys are reported by name.
 *
 * @returns The same module, for chaining.
 * @throws {RangeError|TypeError} A malformed file, or keys that do not fit the module.
 *
 * @example Shapes must match the module
 * ```ts
 * import { loadModule, saveModule } from "./module_io.ts";
 * import { Linear } from "../layers/linear.ts";
 * import assert from "node:assert/strict";
 * const bytes = saveModule(new Linear(4, 2));
 * assert.throws(() => loadModule(new Linear(3, 2), bytes), /weight has shape \[2, 4\], expected \[2, 3\]/);
 * ```
 */
export function loadModule<M extends Module>(
  module: M,
  bytes: Uint8Array,
  options: LoadStateDictOptions & LoadSafetensorsOptions = {},
): M {
  if (!module || typeof (module as Module).loadStateDict !== "function") {
    throw new TypeError("loadModule: module must be a Module (with loadStateDict())");
  }
  return module.loadStateDict(loadSafetensors(bytes, options), options);
}
