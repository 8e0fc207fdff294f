/**
 * The browser-test harness: Debian's headless Chromium (`/usr/bin/chromium`)
 * driven by `npm:playwright-core`, never a browser download.
 *
 * - {@link browserTest} declares a test that is ignored, with one line saying
 *   why, when Chromium (or another tool it needs) is missing and `CI` is not
 *   `true`; with `CI=true` it always runs, and fails when a tool is missing.
 * - {@link launchChromium} starts one browser per test file (steps share it).
 * - {@link openPage} gives a page whose web requests are recorded and aborted
 *   (only origins passed in `allow` get through), and whose console errors
 *   and uncaught exceptions are collected.
 * - {@link onFilePage} opens a file offline in such a page, runs the test's
 *   steps on it and then checks the page was quiet; {@link withFilePage} does
 *   that in a browser of its own.
 * - {@link screenshot} writes `out/screenshots/<name>.png` for review.
 *
 * Permissions (`deno task test` grants them, see scripts/test.ts):
 * `--allow-run=/usr/bin/chromium`, `--allow-write=out` (screenshots, pages the
 * tests write, and playwright's profile and artifacts: it makes them under
 * `os.tmpdir()`, pointed at `out/browser/tmp` while the browser starts),
 * `--allow-sys=homedir,osRelease` (playwright asks for both when it starts),
 * `--allow-net=127.0.0.1` (a notebook server the tests start), `--allow-env`
 * and `--allow-read`.
 *
 * @module
 */

import fs from "node:fs";
import { dirname, join, resolve } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { isExecutable, which } from "../../scripts/which.ts";

/** Debian's Chromium; the only browser these tests use. */
export const CHROMIUM = "/usr/bin/chromium";
/** In CI the browser tests must run: a missing tool fails them instead of skipping them. */
export const CI = Deno.env.get("CI") === "true";
/** Where screenshots go. */
export const SCREENSHOTS = "out/screenshots";

const ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** The tools a browser test can need, and how to install each on Debian. */
const TOOLS = {
  chromium: { found: () => isExecutable(CHROMIUM), install: "apt-get install -y chromium" },
  "jupyter-notebook": {
    found: async () =>
      !!(await which("jupyter")) && await isExecutable("/usr/bin/jupyter-notebook"),
    install: "apt-get install -y jupyter-notebook",
  },
  nbconvert: {
    found: async () =>
      !!(await which("jupyter")) && await isExecutable("/usr/bin/jupyter-nbconvert"),
    install: "apt-get install -y jupyter-nbconvert python3-nbclient jupyter-client",
  },
} as const;

/** A tool name for {@link browserTest}. */
export type Tool = keyof typeof TOOLS;

const missing: Record<Tool, boolean> = {
  chromium: !(await TOOLS.chromium.found()),
  "jupyter-notebook": !(await TOOLS["jupyter-notebook"].found()),
  nbconvert: !(await TOOLS.nbconvert.found()),
};

/**
 * A Deno test that needs Chromium and the `tools` given: ignored with one
 * warning line when one is missing outside CI; in CI it runs and its first
 * line fails, naming the missing tool and its package.
 */
export function browserTest(
  name: string,
  tools: Tool[],
  fn: (t: Deno.TestContext) => Promise<void>,
): void {
  const absent = (["chromium", ...tools] as Tool[]).filter((t) => missing[t]);
  const ignore = !CI && absent.length > 0;
  if (ignore) {
    console.warn(
      `browser test skipped: "${name}": ${absent.join(", ")} not installed (${
        absent.map((t) => TOOLS[t].install).join("; ")
      })`,
    );
  }
  Deno.test({
    name,
    ignore,
    // playwright keeps a few timers and its pipe to Chromium alive between
    // steps; launchChromium's close() ends them before the test returns.
    sanitizeOps: false,
    sanitizeResources: false,
    async fn(t) {
      if (absent.length) {
        throw new Error(
          `${absent.join(", ")} missing (CI=true runs the browser tests): ${
            absent.map((a) => TOOLS[a].install).join("; ")
          }`,
        );
      }
      await fn(t);
    },
  });
}

let playwright: Promise<typeof import("playwright-core")> | undefined;

/**
 * playwright-core, imported once. At load time it probes for WSL with
 * `fs.existsSync("/proc/sys/fs/binfmt_misc/WSLInterop")`, which under Deno's
 * permissions throws (Deno wants --allow-all for /proc/sys) where Node returns
 * false; the probe gets Node's answer while the module loads, then `existsSync`
 * is put back.
 */
function loadPlaywright(): Promise<typeof import("playwright-core")> {
  playwright ??= (async () => {
    const existsSync = fs.existsSync;
    // deno-lint-ignore no-explicit-any
    (fs as any).existsSync = (p: fs.PathLike) => {
      try {
        return existsSync(p);
      } catch (e) {
        if (e instanceof Deno.errors.NotCapable) return false;
        throw e;
      }
    };
    try {
      return await import("playwright-core");
    } finally {
      // deno-lint-ignore no-explicit-any
      (fs as any).existsSync = existsSync;
    }
  })();
  return playwright;
}

/**
 * Starts headless Chromium. playwright makes its profile and artifact
 * folders under `os.tmpdir()`; TMPDIR points at `out/browser/tmp` while it
 * starts so that `--allow-write=out` covers them.
 */
export async function launchChromium(): Promise<Browser> {
  const { chromium } = await loadPlaywright();
  const tmp = resolve("out/browser/tmp");
  await Deno.mkdir(tmp, { recursive: true });
  const before = Deno.env.get("TMPDIR");
  Deno.env.set("TMPDIR", tmp);
  try {
    return await chromium.launch({
      executablePath: CHROMIUM,
      args: ARGS,
      headless: true,
      timeout: 60_000,
    });
  } finally {
    if (before === undefined) Deno.env.delete("TMPDIR");
    else Deno.env.set("TMPDIR", before);
  }
}

/** What a page tried to load from the network, and what it logged as an error. */
export interface PageWatch {
  /** Every http(s)/ws(s) URL the page requested outside the allowed origins (each was aborted). */
  blocked: string[];
  /** Console errors, uncaught exceptions and failed requests, as text. */
  errors: string[];
}

/** Options of {@link openPage}. */
export interface OpenPageOptions {
  /** Origins (`http://127.0.0.1:8888`) whose requests go through; every other web request is aborted. */
  allow?: string[];
  /** Viewport size; default 1280 × 900. */
  viewport?: { width: number; height: number };
}

/**
 * A new page in its own context: downloads accepted, every web request
 * outside `allow` recorded and aborted, console errors and exceptions
 * collected in the returned {@link PageWatch}.
 */
export async function openPage(
  browser: Browser,
  options: OpenPageOptions = {},
): Promise<{ page: Page; context: BrowserContext; watch: PageWatch }> {
  const context = await browser.newContext({
    acceptDownloads: true,
    viewport: options.viewport ?? { width: 1280, height: 900 },
    serviceWorkers: "block",
  });
  const watch: PageWatch = { blocked: [], errors: [] };
  const allow = options.allow ?? [];
  await context.route(/^(https?|wss?):\/\//, (route) => {
    const url = route.request().url();
    if (allow.some((origin) => url.startsWith(origin + "/") || url === origin)) {
      return route.continue();
    }
    watch.blocked.push(url);
    return route.abort("internetdisconnected");
  });
  await context.routeWebSocket(/^wss?:\/\//, (ws) => {
    const url = ws.url();
    if (allow.some((origin) => url.replace(/^ws/, "http").startsWith(origin + "/"))) {
      ws.connectToServer();
      return;
    }
    watch.blocked.push(url);
    ws.close();
  });
  const page = await context.newPage();
  page.on("console", (m) => {
    if (m.type() === "error") watch.errors.push(`console.error: ${m.text()}`);
  });
  page.on("pageerror", (e) => watch.errors.push(`exception: ${e.message}`));
  return { page, context, watch };
}

/** Fails when the page requested anything outside its allowed origins or logged an error. */
export function assertQuiet(watch: PageWatch, what: string, ignore: RegExp[] = []): void {
  if (watch.blocked.length) {
    throw new Error(`${what} requested the network: ${watch.blocked.join(", ")}`);
  }
  const errors = watch.errors.filter((e) => !ignore.some((r) => r.test(e)));
  if (errors.length) throw new Error(`${what} logged errors:\n${errors.join("\n")}`);
}

/**
 * Opens `path` (relative to the working directory) from file:// in a new
 * {@link openPage} page of `browser`, runs `fn` on it, then fails with
 * {@link assertQuiet} (naming `path`) if the page requested the network or
 * logged an error; the page's context is closed either way. Returns what `fn`
 * returned, for checks the test makes after the page's own.
 */
export async function onFilePage<T>(
  browser: Browser,
  path: string,
  options: OpenPageOptions,
  fn: (page: Page) => Promise<T>,
): Promise<T> {
  const { page, context, watch } = await openPage(browser, options);
  try {
    await page.goto(fileUrl(path));
    const result = await fn(page);
    assertQuiet(watch, path);
    return result;
  } finally {
    await context.close();
  }
}

/** {@link onFilePage} in a Chromium of its own ({@link launchChromium}), closed when done. */
export async function withFilePage<T>(
  path: string,
  options: OpenPageOptions,
  fn: (page: Page) => Promise<T>,
): Promise<T> {
  const browser = await launchChromium();
  try {
    return await onFilePage(browser, path, options, fn);
  } finally {
    await browser.close();
  }
}

/** A full-page screenshot at `out/screenshots/<name>.png`; returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  const path = join(SCREENSHOTS, `${name}.png`);
  await Deno.mkdir(dirname(path), { recursive: true });
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** The `file://` URL of a path relative to the working directory. */
export function fileUrl(path: string): string {
  return new URL(`file://${resolve(path)}`).href;
}
