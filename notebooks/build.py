"""Build the notebooks: ``python notebooks/build.py [--execute]``.

The notebooks are stored as plain Python in jupytext's percent format (``01_simple_linear_model.py``,
...): a diff shows exactly the code and text that changed, and there are no outputs to strip. This
writes the ``.ipynb`` beside each (ignored by git), and with ``--execute`` runs them, figures included.
JupyterLab with jupytext installed opens the ``.py`` files as notebooks directly.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
NOTEBOOKS = sorted(HERE.glob("[0-9][0-9]_*.py"))


def main(argv=None) -> int:
    import jupytext

    parser = argparse.ArgumentParser(prog="python notebooks/build.py", description=__doc__.split("\n")[0])
    parser.add_argument("--execute", action="store_true", help="run each notebook top to bottom (real MNIST)")
    args = parser.parse_args(argv)
    for path in NOTEBOOKS:
        notebook = jupytext.read(path)
        if args.execute:
            from nbclient import NotebookClient

            NotebookClient(
                notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(HERE)}}
            ).execute()
        jupytext.write(notebook, path.with_suffix(".ipynb"))
        print(path.with_suffix(".ipynb").relative_to(HERE.parent))
    return 0


if __name__ == "__main__":
    sys.exit(main())
