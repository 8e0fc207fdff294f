/**
 * `deno task notebooks`: executes every notebook in `notebooks/` with Deno's
 * Jupyter kernel through nbconvert and writes, for each, the executed notebook
 * and an offline HTML export to `out/notebooks/`.
 *
 * 1. registers the Deno kernel (`deno jupyter --install`);
 * 2. checks that Jupyter's nbconvert is installed (and says how to install it);
 * 3. runs each notebook (`scripts/execute_notebook.py`, nbclient), stopping it
 *    when it runs past its limit (`--limit`, default 300 s: CI runs each
 *    notebook within 5 minutes);
 * 4. gives every figure a PNG (`scripts/png_fallback.ts`: the library's SVG
 *    rasterised with resvg), also in place of the SVG inside its HTML, so that
 *    the executed copy shows its figures as images where it is not trusted
 *    (classic Notebook, GitHub) and stays interactive where it is;
 * 5. exports it to HTML with a template that loads nothing from a CDN
 *    (`scripts/nbconvert/offline.html.j2`) and an inlined MathJax;
 * 6. prints one line per notebook with its time, and exits 1 when a cell
 *    failed or a notebook ran too long, naming the notebook and the error.
 *
 * ```sh
 * deno task notebooks                 # all of notebooks/*.ipynb
 * deno task notebooks 05 06_positional_encoding.ipynb   # a prefix, a name or a path each
 * deno task notebooks --limit 600 10  # a longer limit
 * ```
 *
 * @module
 */

import { parseArgs, stripVTControlCharacters } from "node:util";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { addPngFallbacks, loadRasterizer, type Rasterize } from "./png_fallback.ts";

/** How to install what the notebooks need on Debian or Ubuntu. */
export const JUPYTER_INSTALL =
  "sudo apt-get install -y jupyter-nbconvert python3-nbclient jupyter-client";

const TEMPLATE = fileURLToPath(new URL("./nbconvert/offline.html.j2", import.meta.url));
const EXECUTOR = fileURLToPath(new URL("./execute_notebook.py", import.meta.url));
/** Seconds a notebook may run, by default: CI runs each within 5 minutes. */
export const NOTEBOOK_LIMIT_S = 300;
/** Debian's Python, which has nbclient (a pyenv or venv `python3` may not). */
const PYTHON = "/usr/bin/python3";
const MATHJAX_MARKER = "<!-- attention-lab:mathjax -->";

/** The outcome of one notebook. */
export interface NotebookRun {
  /** File name, e.g. `05_masks.ipynb`. */
  name: string;
  /** Whether every cell ran and the HTML export was written. */
  ok: boolean;
  /** Wall time of execution, PNG fallbacks and export, in seconds. */
  seconds: number;
  /** Figures (plotly outputs) in the executed notebook. */
  plots?: number;
  /** The executed notebook (when ok). */
  ipynb?: string;
  /** The HTML export (when ok). */
  html?: string;
  /** What went wrong: the end of nbconvert's error output. */
  error?: string;
}

async function run(cmd: string, args: string[]): Promise<{ code: number; out: string }> {
  const { code, stdout, stderr } = await new Deno.Command(cmd, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code, out: dec.decode(stdout) + dec.decode(stderr) };
}

/**
 * Whether `jupyter nbconvert` can be run.
 *
 * @returns nbconvert's version, or undefined when Jupyter or nbconvert is missing.
 */
export async function nbconvertVersion(): Promise<string | undefined> {
  try {
    const { code, out } = await run("jupyter", ["nbconvert", "--version"]);
    return code === 0 ? out.trim().split("\n").pop() : undefined;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
}

/**
 * Registers Deno's Jupyter kernel for this user (`deno jupyter --install --force`: it
 * points at the deno that runs this, replacing an older registration).
 *
 * @throws {Error} With deno's output when registration fails.
 */
export async function installDenoKernel(): Promise<void> {
  const { code, out } = await run("deno", ["jupyter", "--install", "--force"]);
  if (code !== 0) throw new Error(`deno jupyter --install failed (exit ${code}):\n${out}`);
}

/** The part of nbconvert's output that explains a failure (the cell and its traceback). */
function errorExcerpt(out: string): string {
  const clean = stripVTControlCharacters(out);
  const at = clean.indexOf("An error occurred while executing the following cell");
  const text = at >= 0 ? clean.slice(at) : clean;
  const lines = text.trimEnd().split("\n");
  return lines.slice(0, 60).join("\n") + (lines.length > 60 ? "\n…" : "");
}

/** Number of plot outputs (plotly figures and lib/plot/views attention views) in an executed notebook. */
export function countPlots(
  nb: { cells: { outputs?: { data?: Record<string, unknown> }[] }[] },
): number {
  let n = 0;
  for (const cell of nb.cells) {
    for (const out of cell.outputs ?? []) {
      const html = out.data?.["text/html"];
      const text = Array.isArray(html) ? html.join("") : typeof html === "string" ? html : "";
      if (out.data?.["application/vnd.plotly.v1+json"]) n++;
      else if (text.includes('class="attention-lab-view"')) n++;
    }
  }
  return n;
}

let mathJax: Promise<string> | undefined;

/** MathJax 3 (TeX input, SVG output: no font files to fetch), inlined in a script. */
function mathJaxHtml(): Promise<string> {
  mathJax ??= import("mathjax/es5/tex-svg-full.js", { with: { type: "text" } }).then((m) => {
    const source = (m.default as string).replace(/<\/(script)/gi, "<\\/$1");
    const config = {
      tex: {
        inlineMath: [["$", "$"], ["\\(", "\\)"]],
        displayMath: [["$$", "$$"], ["\\[", "\\]"]],
        processEscapes: true,
        processEnvironments: true,
        tags: "ams",
      },
      svg: { fontCache: "global" },
    };
    return `<script>window.MathJax = ${JSON.stringify(config)};</script>\n` +
      `<script>${source}</script>`;
  });
  return mathJax;
}

/**
 * Executes one notebook with the Deno kernel and exports it to offline HTML.
 * The kernel runs in the notebook's own directory.
 *
 * @param notebook Path of the `.ipynb` file.
 * @param outDir Where `NAME.ipynb` (executed) and `NAME.html` go.
 * @param options `timeout`: seconds a cell may run (default 600); `limit`:
 *   seconds the whole notebook may run (default {@link NOTEBOOK_LIMIT_S});
 *   `rasterize`: SVG to PNG for the figures' fallbacks (default: resvg, loaded once).
 * @returns The outcome; a failed cell or a notebook over its limit gives `ok: false` and the error.
 */
export async function runNotebook(
  notebook: string,
  outDir: string,
  options: { timeout?: number; limit?: number; rasterize?: Rasterize } = {},
): Promise<NotebookRun> {
  const limit = options.limit ?? NOTEBOOK_LIMIT_S;
  const name = basename(notebook);
  const stem = name.replace(/\.ipynb$/, "");
  const start = performance.now();
  const seconds = () => (performance.now() - start) / 1000;
  await Deno.mkdir(outDir, { recursive: true });
  const ipynb = join(outDir, `${stem}.ipynb`);
  const html = join(outDir, `${stem}.html`);
  // Our nbclient-based executor, not `nbconvert --execute`: it keeps results the
  // Deno kernel sometimes publishes just after the cell's "idle" (see the script).
  const exec = await run(PYTHON, [
    EXECUTOR,
    notebook,
    ipynb,
    "--timeout",
    String(options.timeout ?? 600),
    "--limit",
    String(limit),
  ]);
  if (exec.code === 3) {
    const why = stripVTControlCharacters(exec.out).trim().split("\n").pop();
    return {
      name,
      ok: false,
      seconds: seconds(),
      error:
        `over the limit of ${limit} s a notebook may run (CI runs each within 5 minutes): ${why}`,
    };
  }
  if (exec.code !== 0) {
    return { name, ok: false, seconds: seconds(), error: errorExcerpt(exec.out) };
  }
  const nb = JSON.parse(await Deno.readTextFile(ipynb));
  const plots = countPlots(nb);
  if (plots === 0) {
    return {
      name,
      ok: false,
      seconds: seconds(),
      error: "it displayed no plot: every notebook must show a figure or an attention view",
    };
  }
  rasterizer ??= loadRasterizer();
  addPngFallbacks(nb, options.rasterize ?? await rasterizer);
  // nbformat's own layout (one-space indent), so the file diffs like one Jupyter wrote.
  await Deno.writeTextFile(ipynb, JSON.stringify(nb, null, 1) + "\n");
  const exp = await run("jupyter", [
    "nbconvert",
    "--to",
    "html",
    "--template-file",
    TEMPLATE,
    "--output-dir",
    outDir,
    "--output",
    stem,
    ipynb,
  ]);
  if (exp.code !== 0) {
    return { name, ok: false, seconds: seconds(), error: `HTML export: ${errorExcerpt(exp.out)}` };
  }
  const page = await Deno.readTextFile(html);
  const mj = await mathJaxHtml();
  await Deno.writeTextFile(html, page.replace(MATHJAX_MARKER, () => mj));
  const took = seconds();
  if (took > limit) {
    return {
      name,
      ok: false,
      seconds: took,
      plots,
      error: `took ${took.toFixed(1)} s with its export, over the limit of ${limit} s ` +
        `(CI runs each notebook within 5 minutes)`,
    };
  }
  return { name, ok: true, seconds: took, plots, ipynb, html };
}

let rasterizer: Promise<Rasterize> | undefined;

/**
 * The notebooks to run: all of `dir/*.ipynb` in name order, or those the
 * arguments select (a path, a file name, or a prefix such as `05`).
 *
 * @throws {Error} When an argument matches no notebook.
 */
export async function selectNotebooks(dir: string, args: readonly string[]): Promise<string[]> {
  const all: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      if (e.isFile && e.name.endsWith(".ipynb")) all.push(join(dir, e.name));
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  all.sort();
  if (args.length === 0) return all;
  return args.flatMap((a) => {
    if (a.endsWith(".ipynb") && a.includes("/")) return [a];
    const hits = all.filter((p) => basename(p) === a || basename(p).startsWith(a));
    if (hits.length === 0) {
      throw new Error(
        `No notebook in ${dir}/ matches "${a}"; there are: ${
          all.map((p) => basename(p)).join(", ")
        }`,
      );
    }
    return hits;
  });
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: {
      timeout: { type: "string", default: "600" },
      limit: { type: "string", default: String(NOTEBOOK_LIMIT_S) },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(
      "Usage: deno task notebooks [--timeout SECONDS] [--limit SECONDS] [NOTEBOOK ...]\n" +
        "Executes notebooks/*.ipynb (or the ones named: a path, a file name or a prefix like 05)\n" +
        "with the Deno kernel and writes executed notebooks (figures with PNG fallbacks) and\n" +
        "HTML exports to out/notebooks/. --timeout: seconds per cell (600); --limit: seconds\n" +
        `per notebook (${NOTEBOOK_LIMIT_S}); a notebook over it fails.`,
    );
    return 0;
  }
  const timeout = Number(values.timeout);
  const limit = Number(values.limit);
  for (
    const [flag, v, raw] of [["--timeout", timeout, values.timeout], [
      "--limit",
      limit,
      values.limit,
    ]]
  ) {
    if (!Number.isInteger(v) || (v as number) <= 0) {
      console.error(`${flag} must be a positive whole number of seconds, got ${raw}`);
      return 2;
    }
  }
  const notebooks = await selectNotebooks("notebooks", positionals);
  if (notebooks.length === 0) {
    console.log("notebooks: no notebooks/*.ipynb to run");
    return 0;
  }
  await installDenoKernel();
  const version = await nbconvertVersion();
  if (!version) {
    console.error(
      `Jupyter's nbconvert is not installed ('jupyter nbconvert --version' failed).\n` +
        `Install it (Debian/Ubuntu):\n\n  ${JUPYTER_INSTALL}\n`,
    );
    return 1;
  }
  console.log(
    `notebooks: ${notebooks.length} with the Deno kernel, nbconvert ${version}, ` +
      `limit ${limit} s each`,
  );
  const outDir = join("out", "notebooks");
  const runs: NotebookRun[] = [];
  const start = performance.now();
  for (const nb of notebooks) {
    const r = await runNotebook(nb, outDir, { timeout, limit });
    runs.push(r);
    const time = `${r.seconds.toFixed(1)} s`.padStart(8);
    if (r.ok) {
      console.log(`ok      ${r.name.padEnd(36)} ${time}  ${String(r.plots).padStart(2)} figures`);
    } else console.log(`FAILED  ${r.name.padEnd(36)} ${time}\n${r.error}\n`);
  }
  const failed = runs.filter((r) => !r.ok);
  const total = ((performance.now() - start) / 1000).toFixed(1);
  console.log(
    `notebooks: ${runs.length - failed.length} passed, ${failed.length} failed (${total} s), ` +
      `executed copies and HTML in ${outDir}/` +
      (failed.length ? `; failed: ${failed.map((r) => r.name).join(", ")}` : ""),
  );
  return failed.length ? 1 : 0;
}

if (import.meta.main) Deno.exit(await main());
