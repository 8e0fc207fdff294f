/**
 * `deno task notebooks`: executes every notebook in `notebooks/` with Deno's
 * Jupyter kernel through nbconvert and writes, for each, the executed notebook
 * and an offline HTML export to `out/notebooks/`.
 *
 * 1. registers the Deno kernel (`deno jupyter --install`);
 * 2. checks that Jupyter's nbconvert is installed (and says how to install it);
 * 3. runs each notebook (`jupyter nbconvert --to notebook --execute`), then
 *    exports it to HTML with a template that loads nothing from a CDN
 *    (`scripts/nbconvert/offline.html.j2`) and an inlined MathJax;
 * 4. prints one line per notebook with its time, and exits 1 when a cell
 *    failed, naming the notebook and the error.
 *
 * ```sh
 * deno task notebooks                 # all of notebooks/*.ipynb
 * deno task notebooks 05 06_positional_encoding.ipynb   # a prefix, a name or a path each
 * ```
 *
 * @module
 */

import { parseArgs, stripVTControlCharacters } from "node:util";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";

/** How to install what the notebooks need on Debian or Ubuntu. */
export const JUPYTER_INSTALL =
  "sudo apt-get install -y jupyter-nbconvert python3-nbclient jupyter-client";

const TEMPLATE = fileURLToPath(new URL("./nbconvert/offline.html.j2", import.meta.url));
const EXECUTOR = fileURLToPath(new URL("./execute_notebook.py", import.meta.url));
/** Debian's Python, which has nbclient (a pyenv or venv `python3` may not). */
const PYTHON = "/usr/bin/python3";
const MATHJAX_MARKER = "<!-- attention-lab:mathjax -->";

/** The outcome of one notebook. */
export interface NotebookRun {
  /** File name, e.g. `05_masks.ipynb`. */
  name: string;
  /** Whether every cell ran and the HTML export was written. */
  ok: boolean;
  /** Wall time of execution plus export, in seconds. */
  seconds: number;
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

/** Number of plot outputs (plotly figures) in an executed notebook. */
export function countPlots(
  nb: { cells: { outputs?: { data?: Record<string, unknown> }[] }[] },
): number {
  let n = 0;
  for (const cell of nb.cells) {
    for (const out of cell.outputs ?? []) if (out.data?.["application/vnd.plotly.v1+json"]) n++;
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
 * @param options `timeout`: seconds a cell may run (default 600).
 * @returns The outcome; a failed cell gives `ok: false` and the error.
 */
export async function runNotebook(
  notebook: string,
  outDir: string,
  options: { timeout?: number } = {},
): Promise<NotebookRun> {
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
  ]);
  if (exec.code !== 0) {
    return { name, ok: false, seconds: seconds(), error: errorExcerpt(exec.out) };
  }
  const plots = countPlots(JSON.parse(await Deno.readTextFile(ipynb)));
  if (plots === 0) {
    return {
      name,
      ok: false,
      seconds: seconds(),
      error: "it displayed no plot: every notebook must show one",
    };
  }
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
  return { name, ok: true, seconds: seconds(), ipynb, html };
}

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
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(
      "Usage: deno task notebooks [--timeout SECONDS] [NOTEBOOK ...]\n" +
        "Executes notebooks/*.ipynb (or the ones named: a path, a file name or a prefix like 05)\n" +
        "with the Deno kernel and writes executed notebooks and HTML exports to out/notebooks/.",
    );
    return 0;
  }
  const timeout = Number(values.timeout);
  if (!Number.isInteger(timeout) || timeout <= 0) {
    console.error(`--timeout must be a positive whole number of seconds, got ${values.timeout}`);
    return 2;
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
  console.log(`notebooks: ${notebooks.length} with the Deno kernel, nbconvert ${version}`);
  const outDir = join("out", "notebooks");
  const runs: NotebookRun[] = [];
  const start = performance.now();
  for (const nb of notebooks) {
    const r = await runNotebook(nb, outDir, { timeout });
    runs.push(r);
    const time = `${r.seconds.toFixed(1)} s`.padStart(8);
    if (r.ok) console.log(`ok      ${r.name.padEnd(36)} ${time}  -> ${r.html}`);
    else console.log(`FAILED  ${r.name.padEnd(36)} ${time}\n${r.error}\n`);
  }
  const failed = runs.filter((r) => !r.ok);
  const total = ((performance.now() - start) / 1000).toFixed(1);
  console.log(
    `notebooks: ${runs.length - failed.length} passed, ${failed.length} failed (${total} s)` +
      (failed.length ? `; failed: ${failed.map((r) => r.name).join(", ")}` : ""),
  );
  return failed.length ? 1 : 0;
}

if (import.meta.main) Deno.exit(await main());
