"""Build the layerlens website of stored runs: ``python build_site.py RUN... --out output_site``.

The same as ``layerlens site RUN... --out output_site``; it needs no TensorFlow, so a shared run
folder turns into a site in seconds on any machine with layerlens installed.
"""

import sys

from layerlens.app.cli import main

if __name__ == "__main__":
    sys.exit(main(["site", *sys.argv[1:]]))
