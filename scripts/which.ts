/**
 * Finds an executable on PATH the way a shell would, without running it.
 * Shared by the test runner (`scripts/test.ts`) and the browser tests.
 *
 * @module
 */

import { join } from "node:path";

/**
 * The absolute path of the executable `name` on `PATH`, or undefined.
 * Needs `--allow-env=PATH` and read access to the PATH directories.
 */
export async function which(name: string): Promise<string | undefined> {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (!dir) continue;
    try {
      const info = await Deno.stat(join(dir, name));
      if (info.isFile && (info.mode ?? 0o111) & 0o111) return join(dir, name);
    } catch {
      // not in this directory
    }
  }
  return undefined;
}
