/**
 * `deno task test`: runs `deno test` over `lib/`, `mod.ts`, `tasks/` and `tests/` with
 * `--allow-run` naming only the tools this machine has.
 *
 * Deno resolves every name given to `--allow-run` when each test worker and doc
 * test starts, and prints "Failed to resolve 'chromium' for allow-run" for each
 * missing one: about 380 lines on a machine without Chromium and Jupyter. So the
 * browser tools are named only when they are on PATH; the browser tests then skip
 * with one line each. With `CI=true` they are always named, and the browser tests
 * run and fail when a tool is missing.
 *
 * ```sh
 * deno task test                                   # everything
 * deno task test tests/masks_test.ts               # some files or folders
 * deno task test --filter causal tests/            # deno test's --filter
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { which } from "./which.ts";

/** Tools the browser and notebook tests start, by the name they are started with. */
const BROWSER_TOOLS = ["chromium", "jupyter"];
/** Always allowed: the deno subprocesses, and Debian's Python for the notebook executor. */
const ALWAYS = ["deno", "/usr/bin/python3"];

const { values, positionals } = parseArgs({
  args: Deno.args,
  allowPositionals: true,
  options: {
    filter: { type: "string" },
    "fail-fast": { type: "boolean" },
  },
});

const ci = Deno.env.get("CI") === "true";
const present = [];
for (const tool of BROWSER_TOOLS) if (ci || await which(tool)) present.push(tool);

const args = [
  "test",
  "--allow-read",
  "--allow-env",
  `--allow-run=${[...present, ...ALWAYS].join(",")}`,
  "--allow-write=out",
  "--allow-net=127.0.0.1",
  "--doc",
  "--parallel",
  ...(values.filter !== undefined ? ["--filter", values.filter] : []),
  ...(values["fail-fast"] ? ["--fail-fast"] : []),
  ...(positionals.length ? positionals : ["lib/", "mod.ts", "tasks/", "tests/"]),
];
const { code } = await new Deno.Command("deno", { args, stdin: "null" }).spawn().status;
Deno.exit(code);
