"""Execute one notebook with the Deno kernel, keeping outputs that arrive late.

Usage: /usr/bin/python3 scripts/execute_notebook.py IN.ipynb OUT.ipynb [--timeout SECONDS]

Why not `jupyter nbconvert --execute`: Deno's kernel (2.9) now and then
publishes a cell's `execute_result` a fraction of a millisecond *after* its
"idle" status. nbclient stops listening at "idle", so that result is silently
dropped (measured: about 1 cell in 20). This client keeps listening for a short
grace period after "idle" when the cell has produced no result yet.
Exit status 1 with the failing cell and its traceback on a cell error.
"""
import argparse
import os
import queue
import sys

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionComplete, CellExecutionError
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
    parser.add_argument("--timeout", type=int, default=600)
    args = parser.parse_args()
    nb = nbformat.read(args.notebook, as_version=4)
    client = LateOutputClient(
        nb,
        timeout=args.timeout,
        kernel_name="deno",
        resources={"metadata": {"path": os.path.dirname(os.path.abspath(args.notebook))}},
    )
    try:
        client.execute()
    except CellExecutionError as e:
        nbformat.write(nb, args.output)
        print(str(e), file=sys.stderr)
        sys.exit(1)
    nbformat.write(nb, args.output)


if __name__ == "__main__":
    main()
