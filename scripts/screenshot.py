"""Make the README screenshot (docs/compare.png) from the running app, never by hand.

    python scripts/screenshot.py                 # -> docs/compare.png (default setup, light theme)
    python scripts/screenshot.py --dark -o docs/compare-dark.png

Starts ``streamlit run app.py`` on a free 127.0.0.1 port, opens the Compare page in headless
Chromium (/usr/bin/chromium, through Playwright), waits until the script is idle and every chart
is drawn, saves the picture (cut below the last element) and stops the server. Uses the same
helpers as the browser test (tests/e2e/support.py).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from e2e.support import CHROMIUM, capture_compare, launch_chromium, streamlit_server  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", type=Path, default=ROOT / "docs" / "compare.png")
    parser.add_argument("--width", type=int, default=1600)
    parser.add_argument("--height", type=int, default=2600, help="viewport height (the picture is cut to the content)")
    parser.add_argument("--dark", action="store_true", help="dark colour scheme")
    args = parser.parse_args(argv)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("playwright is not installed: pip install -r requirements-dev.txt", file=sys.stderr)
        return 2
    if not Path(CHROMIUM).exists():
        print(f"{CHROMIUM} is missing: apt-get install -y chromium", file=sys.stderr)
        return 2
    output = args.output.resolve()
    with streamlit_server(name="screenshot") as server, sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            watch = capture_compare(browser, server.url, output, width=args.width, height=args.height,
                                    color_scheme="dark" if args.dark else "light", clip_to_content=True)
        finally:
            browser.close()
    for problem in watch.problems():
        print(f"warning: {problem}", file=sys.stderr)
    print(f"wrote {output.relative_to(ROOT) if output.is_relative_to(ROOT) else output}")
    return 1 if watch.problems() else 0


if __name__ == "__main__":
    sys.exit(main())
