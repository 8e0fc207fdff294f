/**
 * `deno task notebooks` end to end on two tiny notebooks: a figure comes out
 * with its PNG fallback, and a notebook over its time limit fails with a clear
 * message. Needs Jupyter's nbclient (`/usr/bin/python3`) and `jupyter`; skipped
 * with one line when they are missing, except with `CI=true`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join, resolve } from "node:path";
import { countPlots, runNotebook, selectNotebooks } from "../scripts/run_notebooks.ts";
import { which } from "../scripts/which.ts";

const CI = Deno.env.get("CI") === "true";
const jupyter = await which("jupyter");
const DIR = "out/run_notebooks_test";
if (!CI && !jupyter) {
  console.warn(
    "run_notebooks_test: skipped, no `jupyter` on PATH (apt-get install -y jupyter-nbconvert)",
  );
}

/** A notebook of code cells, for the Deno kernel. */
function notebook(...cells: string[]) {
  return {
    cells: cells.map((source) => ({
      cell_type: "code",
      execution_count: null,
      metadata: {},
      outputs: [],
      source,
    })),
    metadata: {
      kernelspec: { display_name: "Deno", language: "typescript", name: "deno" },
      language_info: { name: "typescript" },
    },
    nbformat: 4,
    nbformat_minor: 5,
  };
}

Deno.test({
  name: "runNotebook() adds PNG fallbacks and fails a notebook over its limit",
  ignore: !CI && !jupyter,
  async fn(t) {
    await Deno.mkdir(DIR, { recursive: true });
    const plot = resolve("lib/plot/mod.ts");
    await Deno.writeTextFile(
      join(DIR, "a_figure.ipynb"),
      JSON.stringify(notebook(
        `import { linePlot } from ${JSON.stringify(plot)};\n` +
          `linePlot([{ name: "a", x: [0, 1], y: [1, 0] }], { title: "tiny" })`,
      )),
    );
    await Deno.writeTextFile(
      join(DIR, "b_slow.ipynb"),
      JSON.stringify(notebook("1 + 1", "await new Promise((r) => setTimeout(r, 60_000));")),
    );

    await t.step("a figure gets an image/png, and its HTML shows it", async () => {
      const r = await runNotebook(join(DIR, "a_figure.ipynb"), join(DIR, "out"), { limit: 120 });
      assert.ok(r.ok, r.error);
      assert.equal(r.plots, 1);
      const nb = JSON.parse(await Deno.readTextFile(r.ipynb!));
      const out = nb.cells[0].outputs.find((o: { data?: object }) => o.data);
      // nbformat stores multiline strings as lists of lines.
      const data = Object.fromEntries(
        Object.entries(out.data as Record<string, string | string[]>).map((
          [k, v],
        ) => [k, Array.isArray(v) ? v.join("") : v]),
      );
      assert.match(data["image/png"], /^iVBORw0KGgo/, "base64 of a PNG");
      assert.deepEqual(out.metadata["image/png"], { width: 640, height: 400 });
      assert.ok(data["text/html"].includes('<img src="data:image/png;base64,iVBORw0KGgo'));
      assert.ok(!data["text/html"].includes("<svg"));
      assert.ok(data["image/svg+xml"].startsWith("<svg"));
      assert.ok((await Deno.readTextFile(r.html!)).includes("data:image/png;base64,"));
    });

    await t.step(
      "a notebook over its limit is stopped, naming the limit and the cell",
      async () => {
        const r = await runNotebook(join(DIR, "b_slow.ipynb"), join(DIR, "out"), { limit: 3 });
        assert.equal(r.ok, false);
        assert.match(
          r.error ?? "",
          /^over the limit of 3 s a notebook may run \(CI runs each within 5 minutes\): ran past its limit of 3 s: stopped in cell 2 of 2 \('await new Promise/,
        );
      },
    );

    await t.step("a subset by prefix; an unknown one is named", async () => {
      assert.deepEqual(await selectNotebooks(DIR, ["b"]), [join(DIR, "b_slow.ipynb")]);
      await assert.rejects(() => selectNotebooks(DIR, ["zz"]), /No notebook in .* matches "zz"/);
    });
  },
});

Deno.test("countPlots: plotly figures and attention views count, other HTML does not", () => {
  const out = (data: Record<string, unknown>) => ({ data });
  const nb = {
    cells: [
      { outputs: [out({ "application/vnd.plotly.v1+json": {}, "text/html": "<div></div>" })] },
      { outputs: [out({ "text/html": ['<div id="v1" ', 'class="attention-lab-view">'] })] },
      { outputs: [out({ "text/html": '<div class="attention-lab-view-root">' })] },
      { outputs: [out({ "text/plain": "attention-lab-view" }), out({})] },
      {},
    ],
  };
  assert.equal(countPlots(nb), 2);
});
