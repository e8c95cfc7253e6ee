"""The README's screenshot of the dashboard: serves one campaign folder read from disk (as
`hypoforge serve FOLDER` does, on a free loopback port) and writes a PNG of its campaign page from
Debian's headless chromium (tests/cdp.py, the browser tests' driver).

    .venv/bin/python scripts/screenshot_dashboard.py demo-campaign --height 1700

(docs/img/dashboard.png: the campaign of `make demo`, three proposals with ELU as a reference
point, its report and paper, shot that way.)
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests/ is not installed: its driver is imported from the checkout

from hypoforge.web.app import make_app  # noqa: E402
from tests.cdp import Browser, png_size, serve  # noqa: E402


def slug(folder: Path) -> str:
    """The campaign's address on the dashboard: its id, else its folder's name."""
    try:
        return str(json.loads((folder / "campaign.json").read_text())["id"])
    except (OSError, ValueError, KeyError):
        return folder.name


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("campaign", type=Path, help="a campaign folder (holds campaign.json)")
    parser.add_argument("out", type=Path, nargs="?", default=ROOT / "docs/img/dashboard.png")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=900)
    parser.add_argument("--full-page", action="store_true", help="the whole page, not a window")
    parser.add_argument("--read-only", action="store_true", help="without the steering controls")
    args = parser.parse_args()
    folder = args.campaign.resolve()
    if not (folder / "campaign.json").is_file():
        parser.error(f"{folder} is not a campaign folder (no campaign.json)")

    def app(port: int):  # type: ignore[no-untyped-def]
        return make_app(
            [folder],
            token=secrets.token_urlsafe(24),
            require_token=False,
            read_only=args.read_only,
            who="screenshot@web",
            host="127.0.0.1",
            port=port,
        )

    with serve(app) as base, Browser(width=args.width, height=args.height) as page:
        page.navigate(f"{base}/c/{slug(folder)}")
        page.wait_for("document.querySelector('[data-part=leaderboard]') !== null")
        page.wait_for("document.fonts.status === 'loaded'")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(args.out, full_page=args.full_page)
        if page.errors:
            print("the page reported errors:", *page.errors, sep="\n  ", file=sys.stderr)
            return 1
    width, height = png_size(args.out)
    print(f"{args.out}: {width}x{height}, {args.out.stat().st_size // 1024} kB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
