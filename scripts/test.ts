/**
 * `deno task test`: runs `deno test` over `lib/`, `mod.ts`, `tasks/` and `tests/` with
 * `--allow-run` naming only the tools this machine has.
 *
 * Deno resolves every name given to `--allow-run` when each test worker and doc
 * test starts, and prints "Failed to resolve 'chromium' for allow-run" for each
 * missing one: about 380 lines on a machine without Chromium and Jupyter. So the
 * browser tools (Debian's `/usr/bin/chromium`, `jupyter`) are named only when they
 * are there; the browser tests then skip with one line each. With `CI=true` they
 * are always named, and the browser tests run and fail when a tool is missing.
 *
 * The other grants are for the browser tests (tests/browser/): `--allow-write=out`
 * (pages, screenshots, playwright's profile, a notebook server's folders),
 * `--allow-net=127.0.0.1` (that server), `--allow-sys=homedir,osRelease`
 * (playwright-core reads both when it starts Chromium).
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
import { isExecutable, which } from "./which.ts";

/** Tools the browser and notebook tests start, by the name they are started with. */
const BROWSER_TOOLS = ["/usr/bin/chromium", "jupyter"];
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
for (const tool of BROWSER_TOOLS) {
  if (ci || await (tool.startsWith("/") ? isExecutable(tool) : which(tool))) present.push(tool);
}

const args = [
  "test",
  "--allow-read",
  "--allow-env",
  `--allow-run=${[...present, ...ALWAYS].join(",")}`,
  "--allow-write=out",
  "--allow-net=127.0.0.1",
  "--allow-sys=homedir,osRelease",
  "--doc",
  "--parallel",
  ...(values.filter !== undefined ? ["--filter", values.filter] : []),
  ...(values["fail-fast"] ? ["--fail-fast"] : []),
  ...(positionals.length ? positionals : ["lib/", "mod.ts", "tasks/", "tests/"]),
];
const { code } = await new Deno.Command("deno", { args, stdin: "null" }).spawn().status;
Deno.exit(code);
