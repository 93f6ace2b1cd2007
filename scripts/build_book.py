"""Execute every chapter with papermill and build the site with Jupyter Book.

    python scripts/build_book.py                  # every chapter, default parameters
    python scripts/build_book.py --smoke          # tiny subsets (what the tests run)
    python scripts/build_book.py --only 01 -p k 8 # one chapter, a parameter overridden

The steps live in :mod:`nbhelpers.build` (importable, tested); this is its command line.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's nbhelpers first

from nbhelpers.build import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
