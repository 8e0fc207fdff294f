/** Runs the repository's command-line scripts as a user would, for the CLI tests. */

/** What a finished `deno` subprocess left: its exit code and its decoded stdout and stderr. */
export interface CliResult {
  code: number;
  out: string;
  err: string;
}

/**
 * Runs `deno <args>` from the current directory (the repository root under `deno task test`),
 * writes `stdin` to it when given (otherwise its stdin is closed), and waits for it to exit
 * (needs --allow-run=deno).
 */
export async function runDeno(args: string[], stdin?: string): Promise<CliResult> {
  const child = new Deno.Command("deno", {
    args,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const { code, stdout, stderr } = await child.output();
  const dec = new TextDecoder();
  return { code, out: dec.decode(stdout), err: dec.decode(stderr) };
}

/** `deno task predict <args>` (train/predict.ts with the task's permissions), stdin as given. */
export function predict(args: string[], stdin?: string): Promise<CliResult> {
  return runDeno(["run", "--allow-read", "--allow-env", "train/predict.ts", ...args], stdin);
}
