/**
 * The training-step part of `deno task bench:report` (bench/README.md, "Training
 * step"): runs PyTorch's step (bench/pytorch_train.py), then `deno bench` on
 * bench/train_bench.ts (attention-lab and tfjs-wasm), then PyTorch again, then each
 * memory probe in a fresh process, and returns the RESULTS.md lines for T1 and T2.
 *
 * @module
 */

import { GROUPS, type Workload } from "./_train.ts";

interface Stats {
  n: number;
  min: number;
  avg: number;
  p75: number;
}
interface Entry {
  group: string | null;
  name: string;
  results: { ok?: Stats }[];
}
interface TorchTiming {
  threads: number;
  runs: number;
  medianMs: number;
  minMs: number;
  forwardMs: number;
  backwardMs: number;
  stepMs: number;
}
interface TorchRun {
  torch: string;
  openblasCoretype: string | null;
  inheritedCoretype: string | null;
  blas: string[];
  results: Record<Workload, { best: TorchTiming; byThreads: TorchTiming[] }>;
}
interface OurMemory {
  skipped?: string;
  threads: number;
  parameters: number;
  rssBeforeMiB: number;
  peakRssMiB: number;
  vmHwmMiB?: number;
  phases?: { steps: number; forwardMs: number; backwardMs: number; stepMs: number };
}
interface TorchMemory {
  rssBeforeMiB: number;
  peakRssMiB: number;
  maxRssMiB: number;
}

const PYTHON = "/usr/bin/python3";

/** Runs `cmd` with `args` (stderr shown) and returns its stdout; throws when it fails. */
export async function command(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "inherit" }).output();
  if (!out.success) throw new Error(`${cmd} ${args.join(" ")} failed with code ${out.code}`);
  return new TextDecoder().decode(out.stdout);
}
const lastJson = (text: string) => JSON.parse(text.trim().split("\n").at(-1)!);

/** PyTorch's run, or the reason there is none (no python3, no torch). */
async function torch(args: string[]): Promise<unknown> {
  try {
    return lastJson(await command(PYTHON, ["bench/pytorch_train.py", ...args]));
  } catch (error) {
    return `PyTorch not run: ${(error as Error).message}`;
  }
}

const fmt = (ms: number) => ms.toFixed(ms < 10 ? 2 : ms < 1000 ? 1 : 0);

/**
 * Runs the training benchmarks and returns their RESULTS.md section.
 *
 * @param permissions what `deno bench` gets (the task's own permissions)
 */
export async function trainingSection(permissions: string[]): Promise<string[]> {
  const before = await torch([]);
  const raw = await command("deno", [
    "bench",
    "--json",
    ...permissions,
    "bench/train_bench.ts",
  ]);
  const after = await torch([]);
  const entries: Entry[] = JSON.parse(raw.slice(raw.indexOf("{"))).benches;
  const torchRuns = [before, after].filter((r): r is TorchRun => typeof r === "object");
  const ours: Partial<Record<Workload, OurMemory>> = {};
  const torchMemory: Partial<Record<Workload, TorchMemory | string>> = {};
  for (const w of ["T1", "T2"] as const) {
    ours[w] = lastJson(
      await command("deno", ["run", "bench/train_memory.ts", w, "--steps", "10"]),
    );
    torchMemory[w] = await torch(["--memory", w]) as TorchMemory | string;
  }
  let load = "not readable";
  try {
    load = Deno.loadavg().map((x) => x.toFixed(2)).join(" ");
  } catch {
    // no --allow-sys
  }

  const lines: string[] = [
    "## Training steps (T1, T2)",
    "",
    "One training step: forward, loss, backward, Adam update and zeroGrad, float32, dropout 0",
    '(bench/README.md, "Training step"). attention-lab and tfjs-wasm: `deno bench` avg, min',
    "and p75 ms (bench/train_bench.ts); PyTorch: the median of its runs",
    "(bench/pytorch_train.py, run before and after `deno bench`; the best of 1 and 2 threads",
    "and of the two runs). **× (attention-lab faster)** = contender / attention-lab, as",
    "above: the PyTorch row's target is ≥ 0.5 (attention-lab within 2× of PyTorch), the",
    "tfjs-wasm row's ≥ 20.",
    "",
  ];
  if (torchRuns.length > 0) {
    const r = torchRuns[0];
    lines.push(
      `PyTorch ${r.torch} CPU, BLAS ${r.blas.find((p) => p.includes("blas.so")) ?? "unknown"}, ` +
        `OPENBLAS_CORETYPE=${r.openblasCoretype ?? "unset"} (inherited: ${
          r.inheritedCoretype ?? "unset"
        }). Load average after the training runs: ${load}.`,
      "",
    );
  } else {
    lines.push(`${String(before)}. Load average after the training runs: ${load}.`, "");
  }
  for (const w of ["T1", "T2"] as const) {
    const group = GROUPS[w];
    const rows = entries.filter((e) => e.group === group);
    const lab = rows.find((e) => e.name === "attention-lab")?.results[0]?.ok;
    const tfjs = rows.find((e) => e.name === "tfjs-wasm")?.results[0]?.ok;
    const timings = torchRuns.flatMap((r) => r.results[w].byThreads);
    const best = timings.length > 0
      ? timings.reduce((a, b) => (b.medianMs < a.medianMs ? b : a))
      : undefined;
    const x = (ms: number) => (lab ? (ms / (lab.avg / 1e6)).toFixed(lab ? 2 : 0) : "");
    lines.push(`### ${group}`, "");
    lines.push("| contender | ms per step | min ms | p75 ms | runs | × (attention-lab faster) |");
    lines.push("|---|---:|---:|---:|---:|---:|");
    if (lab) {
      lines.push(
        `| **attention-lab** | ${fmt(lab.avg / 1e6)} | ${fmt(lab.min / 1e6)} | ${
          fmt(lab.p75 / 1e6)
        } | ${lab.n} | 1 |`,
      );
    } else {
      lines.push(`| attention-lab | skipped: ${ours[w]?.skipped ?? "no result"} | | | | |`);
    }
    if (best) {
      lines.push(
        `| PyTorch CPU (${best.threads} thread${best.threads > 1 ? "s" : ""}, median) | ${
          fmt(best.medianMs)
        } | ${fmt(best.minMs)} | | ${best.runs} | ${x(best.medianMs)} |`,
      );
    }
    if (tfjs) {
      lines.push(
        `| tfjs-wasm | ${fmt(tfjs.avg / 1e6)} | ${fmt(tfjs.min / 1e6)} | ${
          fmt(tfjs.p75 / 1e6)
        } | ${tfjs.n} | ${x(tfjs.avg / 1e6)} |`,
      );
    }
    lines.push("");
    if (timings.length > 0) {
      lines.push(
        "PyTorch medians per run and thread count: " +
          torchRuns.map((r, i) =>
            `run ${i + 1}: ` +
            r.results[w].byThreads.map((t) => `${t.threads} thr ${fmt(t.medianMs)} ms`).join(", ")
          ).join("; ") + ".",
        "",
      );
    }
    // where the time goes, and the memory of one step
    const m = ours[w];
    const tm = torchMemory[w];
    const phases = m?.phases;
    if (phases || best) {
      lines.push("| phase (median ms) | attention-lab | PyTorch |", "|---|---:|---:|");
      for (
        const [label, key] of [["forward + loss", "forwardMs"], ["backward", "backwardMs"], [
          "Adam step + zeroGrad",
          "stepMs",
        ]] as const
      ) {
        lines.push(
          `| ${label} | ${phases ? fmt(phases[key]) : ""} | ${best ? fmt(best[key]) : ""} |`,
        );
      }
      const total = phases ? phases.forwardMs + phases.backwardMs + phases.stepMs : undefined;
      lines.push(
        `| whole step (attention-lab: sum of the medians, in that process) | ${
          total ? fmt(total) : ""
        } | ${best ? fmt(best.medianMs) : ""} |`,
        "",
      );
    }
    if (m && !m.skipped) {
      const growth = (peak: number, base: number) => `+${(peak - base).toFixed(0)} MiB`;
      let line =
        `Memory of a step (fresh process; RSS sampled after forward, backward and Adam step, ` +
        `the largest; in parentheses its growth over the RSS before the model was built): ` +
        `attention-lab **${m.peakRssMiB.toFixed(0)} MiB** (${
          growth(m.peakRssMiB, m.rssBeforeMiB)
        }; ${m.parameters} parameters, ${m.threads} threads)`;
      if (typeof tm === "object") {
        line += `, PyTorch **${tm.peakRssMiB.toFixed(0)} MiB** (${
          growth(tm.peakRssMiB, tm.rssBeforeMiB)
        }; its exact peak ru_maxrss ${tm.maxRssMiB.toFixed(0)} MiB): ×${
          (m.peakRssMiB / tm.peakRssMiB).toFixed(2)
        } PyTorch's total, ×${
          ((m.peakRssMiB - m.rssBeforeMiB) / (tm.peakRssMiB - tm.rssBeforeMiB)).toFixed(2)
        } its growth (target ≤ 2).`;
      } else {
        line += `; ${String(tm)}.`;
      }
      lines.push(line, "");
    }
  }
  return lines;
}
