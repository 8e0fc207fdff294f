/**
 * Private: tick values and plain labels shared by the plotly figure and
 * `figureToSvg()`, so both show the same ticks. plotly's own labels on log
 * axes use SI prefixes ("1T", "100µ"), which read as units; these do not.
 *
 * @module
 */

const SUPERSCRIPT = "⁻⁰¹²³⁴⁵⁶⁷⁸⁹";

/** `10` with the exponent in Unicode superscripts, e.g. `10⁻⁶`. */
function power(e: number): string {
  return `10${String(e).replace(/[-0-9]/g, (c) => SUPERSCRIPT["-0123456789".indexOf(c)])}`;
}

/**
 * A plain label: up to 4 significant digits written out between 0.001 and
 * 99 999 (no float noise), else `m×10ⁿ` (`10ⁿ` for m = 1); never an SI prefix.
 */
export function _plainNumber(v: number): string {
  if (v === 0) return "0";
  if (!Number.isFinite(v)) return String(v);
  const rounded = Number(v.toPrecision(4));
  const a = Math.abs(rounded);
  if (a >= 1e-3 && a < 1e5) return String(rounded);
  const e = Math.floor(Math.log10(a) + 1e-9);
  const m = Number((rounded / 10 ** e).toPrecision(3));
  const sign = m < 0 ? "-" : "";
  return Math.abs(m) === 1 ? `${sign}${power(e)}` : `${m}×${power(e)}`;
}

/** About `n` round tick values covering [lo, hi] (steps of 1, 2 or 5 × 10^k). */
export function _niceTicks(lo: number, hi: number, n: number): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / Math.max(1, n);
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw) ?? 10 * p;
  const out: number[] = [];
  // Multiples of the step (k * step, not a running sum) and 0 as 0, not -5.55e-17.
  for (let k = Math.ceil(lo / step - 1e-9); k * step <= hi + step * 1e-9; k++) {
    out.push(k === 0 ? 0 : Number((k * step).toPrecision(12)));
  }
  return out;
}

/**
 * Ticks for a log axis over the positive values in [lo, hi] (data units):
 * powers of ten (every k-th when there are many decades, at most about 8),
 * with 2 and 5 times them over less than two decades, and round linear steps
 * when even that gives fewer than two ticks. Labels are {@link _plainNumber}s.
 */
export function _logTicks(lo: number, hi: number): { tickvals: number[]; ticktext: string[] } {
  if (!(lo > 0) || !(hi >= lo)) return { tickvals: [], ticktext: [] };
  const a = Math.log10(lo);
  const b = Math.log10(hi);
  const within = (v: number) => v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9);
  let vals: number[] = [];
  const e0 = Math.floor(a + 1e-9);
  const e1 = Math.ceil(b - 1e-9);
  const step = Math.max(1, Math.ceil((e1 - e0) / 8));
  const mults = b - a < 2 ? [1, 2, 5] : [1];
  for (let e = Math.ceil(e0 / step) * step; e <= e1; e += step) {
    for (const m of mults) {
      const v = Number((m * 10 ** e).toPrecision(12));
      if (within(v)) vals.push(v);
    }
  }
  if (vals.length < 2) vals = _niceTicks(lo, hi, 4).filter((v) => v > 0 && within(v));
  if (vals.length < 2) vals = [lo, hi].filter((v, i, all) => all.indexOf(v) === i);
  return { tickvals: vals, ticktext: vals.map(_plainNumber) };
}
