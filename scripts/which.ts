/**
 * Finds an executable on PATH the way a shell would, without running it.
 * Shared by the test runner (`scripts/test.ts`) and the browser tests.
 *
 * @module
 */

import { join } from "node:path";

/**
 * Whether `path` is a regular file with an execute bit set (false when it is absent).
 * Needs read access to `path`.
 */
export async function isExecutable(path: string): Promise<boolean> {
  try {
    const info = await Deno.stat(path);
    return info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0;
  } catch {
    return false;
  }
}

/**
 * The absolute path of the executable `name` on `PATH`, or undefined.
 * Needs `--allow-env=PATH` and read access to the PATH directories.
 */
export async function which(name: string): Promise<string | undefined> {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (dir && await isExecutable(join(dir, name))) return join(dir, name);
  }
  return undefined;
}
