/**
 * Derives the unshared-memory variant of a WebAssembly module from its
 * shared-memory build, so `kernels_wasm.ts` embeds the kernels once.
 *
 * @module
 */

/** The limits flag of a memory with a maximum: shared (0x03) and unshared (0x01). */
const SHARED_WITH_MAX = 0x03;
const UNSHARED_WITH_MAX = 0x01;

/**
 * Returns a copy of `module` whose imported memory is unshared: the one byte
 * that differs, the memory import's limits flag (0x03, shared with a maximum),
 * becomes 0x01. Walks the sections to the import section, then the imports
 * to the memory one, so no other byte is read as a flag. Throws a TypeError
 * when `module` is not a WebAssembly binary or imports no shared memory with
 * a maximum.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { unsharedMemoryModule } from "./unshared_memory.ts";
 * // (module (import "env" "memory" (memory 1 1 shared)))
 * const shared = new Uint8Array([
 *   0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
 *   0x02, 0x10, 0x01, // import section, 16 bytes, 1 import
 *   0x03, 0x65, 0x6e, 0x76, 0x06, 0x6d, 0x65, 0x6d, 0x6f, 0x72, 0x79, // "env" "memory"
 *   0x02, 0x03, 0x01, 0x01, // memory, flags 0x03 (shared, max), min 1, max 1
 * ]);
 * const unshared = unsharedMemoryModule(shared);
 * assert.equal(unshared[23], 0x01);
 * assert.equal(shared[23], 0x03); // the input is left as it is
 * assert.ok(WebAssembly.validate(unshared));
 * ```
 */
export function unsharedMemoryModule(module: Uint8Array): Uint8Array<ArrayBuffer> {
  const fail = (rule: string): never => {
    throw new TypeError(`unsharedMemoryModule: module (${module.length} bytes) ${rule}`);
  };
  let p = 0;
  const byte = (): number => {
    if (p >= module.length) fail("ends inside a section");
    return module[p++];
  };
  const leb = (): number => {
    let value = 0;
    for (let shift = 0;; shift += 7) {
      const b = byte();
      value += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return value;
      if (shift > 28) fail("has a LEB128 number longer than 5 bytes");
    }
  };
  // `p += leb()` would add to p as it was before leb() moved it
  const skipName = (): void => {
    const length = leb();
    p += length;
  };
  const limits = (): void => {
    const flags = byte();
    leb();
    if (flags & 0x01) leb();
  };
  const magic = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  if (!magic.every((b, i) => module[i] === b)) fail("must start with the WebAssembly magic");
  p = magic.length;
  while (p < module.length) {
    const id = byte(), size = leb(), end = p + size;
    if (id !== 2) {
      p = end;
      continue;
    }
    for (let n = leb(); n > 0; n--) {
      skipName(); // module
      skipName(); // field
      const kind = byte();
      if (kind === 0) leb(); // function: type index
      else if (kind === 1) { // table: reference type, limits
        byte();
        limits();
      } else if (kind === 3) p += 2; // global: value type, mutability
      else if (kind === 2) {
        if (module[p] !== SHARED_WITH_MAX) break;
        const out = new Uint8Array(module);
        out[p] = UNSHARED_WITH_MAX;
        return out;
      } else fail(`has an import of unknown kind ${kind}`);
    }
    break;
  }
  return fail("must import a shared memory with a maximum (limits flag 0x03)");
}
