/**
 * The key of Deno's Jupyter display protocol, and the size limit this module
 * keeps notebook outputs under.
 *
 * @module
 */

/**
 * The key Deno's Jupyter kernel looks up to display an object
 * (`Symbol.for("Jupyter.display")`): a method under it returns a MIME bundle.
 * Typed as a `unique symbol` so that `figure[jupyterDisplay]()` type-checks.
 *
 * @example The same symbol the kernel uses
 * ```ts
 * import { jupyterDisplay } from "./jupyter_display.ts";
 * import assert from "node:assert/strict";
 * assert.equal(jupyterDisplay, Symbol.for("Jupyter.display"));
 * ```
 */
export const jupyterDisplay: unique symbol = Symbol.for("Jupyter.display") as never;

/**
 * Upper bound, in characters, of one notebook display (all MIME types
 * together). Deno's kernel (2.9, with jupyter_client 7) drops or corrupts
 * messages of about 3.5 MB and more ("Invalid Signature"); 2.5 MB leaves room.
 */
export const _DISPLAY_BUDGET = 2_500_000;
