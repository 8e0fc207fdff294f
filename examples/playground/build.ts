/**
 * `deno task playground`: writes `out/playground.html`, one offline page with
 * the library bundled for the browser and the shipped checkpoints inside it.
 *
 * How: `deno bundle --platform browser --format iife --minify` (esbuild inside
 * Deno) bundles `app.ts`, which imports the library's own modules; the
 * checkpoints go in as base64 and are parsed in the page by the library's
 * safetensors and `loadModule` code. The renderer of lib/plot/views (for
 * the head, model and neuron views) comes inside the bundle, which installs it.
 * The page loads nothing: no `src`, no CDN, no `fetch`.
 *
 * Permissions: `--allow-read` (sources, checkpoints), `--allow-run=deno` (the
 * bundler), `--allow-write=out` (the page).
 *
 * @module
 */

import { playgroundHtml } from "./page.ts";

/** The models the page embeds, when their checkpoint is present. */
export const PLAYGROUND_MODELS: readonly string[] = ["dates", "reverse"];

const ENTRY = new URL("./app.ts", import.meta.url);
const CHECKPOINTS = new URL("../../checkpoints/", import.meta.url);

/** The page's script: `app.ts` and the library, bundled for the browser as one IIFE. */
export async function bundlePlayground(): Promise<string> {
  const { code, stdout, stderr } = await new Deno.Command("deno", {
    args: [
      "bundle",
      "--quiet",
      "--platform",
      "browser",
      "--format",
      "iife",
      "--minify",
      ENTRY.pathname,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (code !== 0) {
    throw new Error(`bundlePlayground: deno bundle failed:\n${new TextDecoder().decode(stderr)}`);
  }
  return new TextDecoder().decode(stdout);
}

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

/** What {@link buildPlayground} made. */
export interface PlaygroundBuild {
  /** The page. */
  html: string;
  /** The bundled script alone. */
  script: string;
  /** The embedded models, by task name, and their checkpoint sizes in bytes. */
  models: Record<string, number>;
  /** Models of {@link PLAYGROUND_MODELS} with no checkpoint here. */
  missing: string[];
}

/** Bundles the script and embeds every shipped checkpoint of {@link PLAYGROUND_MODELS}. */
export async function buildPlayground(): Promise<PlaygroundBuild> {
  const script = await bundlePlayground();
  const checkpoints: Record<string, string> = {};
  const models: Record<string, number> = {};
  const missing: string[] = [];
  for (const name of PLAYGROUND_MODELS) {
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(new URL(`${name}.safetensors`, CHECKPOINTS));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) {
        missing.push(name);
        continue;
      }
      throw e;
    }
    checkpoints[name] = toBase64(bytes);
    models[name] = bytes.length;
  }
  if (Object.keys(models).length === 0) {
    throw new Error("buildPlayground: no checkpoint in checkpoints/ (dates or reverse)");
  }
  return { html: playgroundHtml({ script, checkpoints }), script, models, missing };
}

if (import.meta.main) {
  const build = await buildPlayground();
  await Deno.mkdir("out", { recursive: true });
  const path = "out/playground.html";
  const bytes = new TextEncoder().encode(build.html);
  await Deno.writeFile(path, bytes);
  const kb = (n: number) => `${(n / 1024).toFixed(0)} KiB`;
  const models = Object.entries(build.models).map(([n, b]) => `${n} (${kb(b)})`).join(", ");
  console.log(
    `wrote ${path}: ${kb(bytes.length)}; script ${kb(build.script.length)}; models ${models}`,
  );
  for (const name of build.missing) {
    console.warn(`playground: no checkpoints/${name}.safetensors, the page has no ${name} model`);
  }
}
