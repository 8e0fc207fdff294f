/**
 * A classic Jupyter Notebook server (Debian's `jupyter-notebook`, Notebook 6)
 * for the live-notebook browser tests, isolated from the user's Jupyter:
 *
 * - it listens on 127.0.0.1 on a free port, with a random token;
 * - its config, runtime and data folders are temporary (under `out/browser/`),
 *   and the trust database is in memory, so nothing of the user's is read or
 *   written;
 * - the Deno kernel is a kernelspec written into that data folder that runs
 *   the `deno` running the tests (`deno jupyter --kernel`, what
 *   `deno jupyter --install` registers), so it needs no earlier install;
 * - it serves `out/`, where it finds copies of the notebooks under test
 *   (`out/browser-<tag>-<name>.ipynb`, removed at the end): one folder below the
 *   repository like `notebooks/`, so that their relative imports (`../mod.ts`)
 *   and deno.json resolve as there, while a save writes only to the copies.
 *   (Deno lets a test make a symlink only with unscoped write permission.)
 *
 * {@link JupyterServer.stop} shuts every kernel down through the REST API,
 * then the server, and checks that the kernels' ports and the server's port
 * are closed: no process is left behind, also when a test fails.
 *
 * @module
 */

import { basename, join, resolve } from "node:path";

/** The ports of one kernel, from its connection file. */
interface KernelPorts {
  id: string;
  ports: number[];
}

/** A running notebook server. */
export interface JupyterServer {
  /** `http://127.0.0.1:<port>` */
  origin: string;
  /** The server's token. */
  token: string;
  /** The URL that opens the copy of notebook `name` (`05_masks.ipynb`) in the classic Notebook, token included. */
  notebookUrl(name: string): string;
  /** A REST call with the token; returns the parsed JSON (or null for no content). */
  api(path: string, init?: RequestInit): Promise<unknown>;
  /** The server's log so far (stdout and stderr). */
  log(): string;
  /** Shuts kernels and server down and checks that their ports closed. */
  stop(): Promise<void>;
}

function randomToken(): string {
  return Array.from(
    crypto.getRandomValues(new Uint8Array(24)),
    (b) => b.toString(16).padStart(2, "0"),
  )
    .join("");
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

async function portOpen(port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.close();
    return true;
  } catch {
    return false;
  }
}

/** Waits until every port is closed, `ms` at most; returns those still open. */
async function waitClosed(ports: number[], ms: number): Promise<number[]> {
  let open = ports;
  for (const end = Date.now() + ms; Date.now() < end;) {
    open = [];
    for (const p of ports) if (await portOpen(p)) open.push(p);
    if (!open.length) return [];
    await new Promise((r) => setTimeout(r, 250));
  }
  return open;
}

/**
 * Starts `jupyter notebook` serving copies of `notebooks` (name -> path of an
 * `.ipynb` file; each is copied to `out/browser-<tag>-<name>`). Resolves once
 * the REST API answers and lists the Deno kernel.
 */
export async function startJupyter(notebooks: Record<string, string>): Promise<JupyterServer> {
  await Deno.mkdir("out/browser", { recursive: true });
  const tmp = resolve(await Deno.makeTempDir({ dir: "out/browser", prefix: "jupyter-" }));
  const root = resolve("out"), data = join(tmp, "data"), runtime = join(tmp, "runtime");
  await Deno.mkdir(join(tmp, "config"));
  await Deno.mkdir(runtime);
  await Deno.mkdir(join(data, "kernels", "deno"), { recursive: true });
  // The copies sit directly in out/, one level below the repository like notebooks/.
  const tag = basename(tmp).replace(/^jupyter-/, "");
  const names = new Map<string, string>();
  for (const [as, from] of Object.entries(notebooks)) {
    const name = `browser-${tag}-${as}`;
    await Deno.copyFile(from, join(root, name));
    names.set(as, name);
  }
  await Deno.writeTextFile(
    join(data, "kernels", "deno", "kernel.json"),
    JSON.stringify({
      argv: [Deno.execPath(), "jupyter", "--kernel", "--conn", "{connection_file}"],
      display_name: "Deno",
      language: "typescript",
    }),
  );

  const port = freePort();
  const token = randomToken();
  const origin = `http://127.0.0.1:${port}`;
  const child = new Deno.Command("jupyter", {
    args: [
      "notebook",
      "--no-browser",
      "--ip=127.0.0.1",
      `--port=${port}`,
      "--port-retries=0",
      `--notebook-dir=${root}`,
      `--NotebookApp.token=${token}`,
      "--NotebookNotary.db_file=:memory:",
      "--allow-root", // CI runs as root; without root it changes nothing
    ],
    env: {
      JUPYTER_CONFIG_DIR: join(tmp, "config"),
      JUPYTER_DATA_DIR: data,
      JUPYTER_RUNTIME_DIR: runtime,
      JUPYTER_PATH: data,
      IPYTHONDIR: join(tmp, "ipython"),
      PYDEVD_DISABLE_FILE_VALIDATION: "1",
    },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let log = "";
  const drain = (s: ReadableStream<Uint8Array>) =>
    (async () => {
      const decoder = new TextDecoder();
      for await (const bytes of s) log += decoder.decode(bytes, { stream: true });
    })();
  const drained = Promise.all([drain(child.stdout), drain(child.stderr)]);
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });

  const api = async (path: string, init: RequestInit = {}): Promise<unknown> => {
    const res = await fetch(`${origin}${path}`, {
      ...init,
      headers: { Authorization: `token ${token}`, ...(init.headers ?? {}) },
    });
    const body = await res.text();
    if (!res.ok) throw new Error(`${init.method ?? "GET"} ${path}: ${res.status} ${body}`);
    return body ? JSON.parse(body) : null;
  };

  // Kernels seen while the server ran, with their ports (for the leak check).
  const kernels = new Map<string, KernelPorts>();
  const noteKernels = async () => {
    for await (const e of Deno.readDir(runtime)) {
      const id = e.name.match(/^kernel-(.+)\.json$/)?.[1];
      if (!id || kernels.has(id)) continue;
      try {
        const c = JSON.parse(await Deno.readTextFile(join(runtime, e.name)));
        kernels.set(id, {
          id,
          ports: ["shell_port", "iopub_port", "stdin_port", "control_port", "hb_port"]
            .map((k) => c[k]).filter((p) => typeof p === "number"),
        });
      } catch {
        // being written; read again next time
      }
    }
  };
  const watcher = setInterval(() => noteKernels().catch(() => {}), 500);

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await noteKernels().catch(() => {});
    clearInterval(watcher);
    const problems: string[] = [];
    if (!exited) {
      try {
        for (const k of (await api("/api/kernels")) as { id: string }[]) {
          await api(`/api/kernels/${k.id}`, { method: "DELETE" });
        }
      } catch (e) {
        problems.push(`shutting kernels down: ${(e as Error).message}`);
      }
      await api("/api/shutdown", { method: "POST" }).catch((e) =>
        problems.push(`POST /api/shutdown: ${e.message}`)
      );
    }
    // The server cleans its kernels up on SIGTERM too; SIGKILL is the last resort.
    for (const [signal, ms] of [["SIGTERM", 20_000], ["SIGKILL", 5_000]] as const) {
      const timer = setTimeout(() => {
        if (!exited) child.kill(signal);
      }, ms);
      await Promise.race([status, new Promise((r) => setTimeout(r, ms + 1000))]);
      clearTimeout(timer);
      if (exited) break;
      problems.push(`server still running, sent ${signal}`);
    }
    await status;
    await drained;
    const ports = [port, ...[...kernels.values()].flatMap((k) => k.ports)];
    const open = await waitClosed(ports, 15_000);
    if (open.length) problems.push(`ports still open after shutdown: ${open.join(", ")}`);
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    for (const name of names.values()) {
      await Deno.remove(join(root, name)).catch(() => {});
      const checkpoint = name.replace(/\.ipynb$/, "-checkpoint.ipynb");
      await Deno.remove(join(root, ".ipynb_checkpoints", checkpoint)).catch(() => {});
    }
    await Deno.remove(join(root, ".ipynb_checkpoints")).catch(() => {}); // only when empty
    if (problems.length) {
      throw new Error(
        `jupyter notebook did not stop cleanly: ${problems.join("; ")}\n${log.slice(-3000)}`,
      );
    }
  };

  try {
    for (const end = Date.now() + 60_000;;) {
      if (exited) throw new Error(`jupyter notebook exited (${(await status).code})`);
      try {
        await api("/api/status");
        break;
      } catch {
        if (Date.now() > end) throw new Error("jupyter notebook did not answer in 60 s");
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    const specs = (await api("/api/kernelspecs")) as { kernelspecs: Record<string, unknown> };
    if (!specs.kernelspecs.deno) {
      throw new Error(
        `the server lists no deno kernel: ${Object.keys(specs.kernelspecs).join(", ")}`,
      );
    }
  } catch (e) {
    await stop().catch(() => {});
    throw new Error(`${(e as Error).message}\n${log.slice(-3000)}`);
  }

  return {
    origin,
    token,
    notebookUrl(name) {
      const copy = names.get(name);
      if (!copy) throw new Error(`startJupyter was not given ${name}`);
      return `${origin}/notebooks/${encodeURIComponent(copy)}?token=${token}`;
    },
    api,
    log: () => log,
    stop,
  };
}
