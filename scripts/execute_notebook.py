"""Execute one notebook with the Deno kernel, keeping outputs that arrive late.

Usage: /usr/bin/python3 scripts/execute_notebook.py IN.ipynb OUT.ipynb [--timeout SECONDS] [--limit SECONDS]

Why not `jupyter nbconvert --execute`: Deno's kernel (2.9) now and then
publishes a cell's `execute_result` a fraction of a millisecond *after* its
"idle" status. nbclient stops listening at "idle", so that result is silently
dropped (measured: about 1 cell in 20). This client keeps listening for a short
grace period after "idle" when the cell has produced no result yet.
Exit status 1 with the failing cell and its traceback on a cell error; exit
status 3 when the whole notebook runs past --limit seconds (each cell's timeout
is cut to the time left, so nbclient stops the cell and shuts the kernel down).
"""
import argparse
import math
import os
import queue
import sys
from time import monotonic

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionComplete, CellExecutionError, CellTimeoutError
from nbclient.util import ensure_async

GRACE_SECONDS = 0.25


class LateOutputClient(NotebookClient):
    async def _async_poll_output_msg(self, parent_msg_id, cell, cell_index):
        idle = False
        while True:
            has_result = any(o.get("output_type") == "execute_result" for o in cell.outputs)
            if idle and has_result:
                return
            try:
                msg = await ensure_async(
                    self.kc.iopub_channel.get_msg(timeout=GRACE_SECONDS if idle else None)
                )
            except queue.Empty:
                return
            if msg["parent_header"].get("msg_id") != parent_msg_id:
                continue
            try:
                self.process_message(msg, cell, cell_index)
            except CellExecutionComplete:
                idle = True


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook")
    parser.add_argument("output")
    parser.add_argument("--timeout", type=int, default=600, help="seconds one cell may run")
    parser.add_argument("--limit", type=float, default=0, help="seconds the notebook may run")
    args = parser.parse_args()
    nb = nbformat.read(args.notebook, as_version=4)
    deadline = monotonic() + args.limit if args.limit > 0 else None
    running = {"cell": None}

    def cell_timeout(_cell):
        if deadline is None:
            return args.timeout
        left = max(1, math.ceil(deadline - monotonic()))
        return min(args.timeout, left) if args.timeout > 0 else left

    def on_cell_execute(cell, cell_index):
        running["cell"] = cell_index

    client = LateOutputClient(
        nb,
        timeout=args.timeout,
        timeout_func=cell_timeout,
        on_cell_execute=on_cell_execute,
        kernel_name="deno",
        resources={"metadata": {"path": os.path.dirname(os.path.abspath(args.notebook))}},
    )
    try:
        client.execute()
    except CellExecutionError as e:
        nbformat.write(nb, args.output)
        print(str(e), file=sys.stderr)
        sys.exit(1)
    except CellTimeoutError:
        nbformat.write(nb, args.output)
        i = running["cell"]
        where = "before the first cell"
        if i is not None:
            first = (nb.cells[i].source.strip().splitlines() or [""])[0][:80]
            where = f"in cell {i + 1} of {len(nb.cells)} ({first!r})"
        if deadline is not None and monotonic() >= deadline - 1:
            print(f"ran past its limit of {args.limit:g} s: stopped {where}", file=sys.stderr)
            sys.exit(3)
        print(f"a cell ran past its timeout of {args.timeout} s: stopped {where}", file=sys.stderr)
        sys.exit(1)
    nbformat.write(nb, args.output)


if __name__ == "__main__":
    main()
