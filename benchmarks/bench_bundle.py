"""Benchmark: the desktop bundle (``make bundle``) against the source checkout it was built
from, measured in the same run.

1. Size of ``dist/AlphaForge-UI/`` (what a user unpacks) and its largest parts.
2. Cold start to first rendered page: from starting the program (``AlphaForge-UI
   --no-browser`` vs ``python launcher.py --no-browser``) to the health endpoint answering,
   and to headless Chromium showing the home page (sidebar navigation and a page title
   painted). Each start uses a fresh AlphaForge home with the demo project. The first start
   is reported apart from the median of the others; the OS file cache is warm for all of them
   unless the caches were dropped before the run.
3. Idle memory: resident set size of the server process after the home page was served and
   the server has been idle for a few seconds.

    python benchmarks/bench_bundle.py [--quick] [--write] [--bundle dist/AlphaForge-UI]

``--quick`` starts each program once and works without a bundle (it then measures only the
checkout), so ``make bench`` does not need ``make bundle``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, machine, write_section  # noqa: E402

HEADING = "## Desktop bundle"
CHROMIUM = "/usr/bin/chromium"
CHROME_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run",
               "--disable-background-networking", "--disable-component-update"]
IDLE_S = 5.0


@dataclass(frozen=True)
class Start:
    health_s: float
    page_s: float | None
    idle_rss_mb: float


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def largest_parts(bundle: Path, n: int = 6) -> list[tuple[str, int]]:
    inner = bundle / "_internal"
    parts = [(p.name, folder_size(p) if p.is_dir() else p.stat().st_size)
             for p in inner.iterdir() if not p.is_symlink()]
    return sorted(parts, key=lambda x: -x[1])[:n]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health",
                                    timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _home_with_demo(root: Path) -> Path:
    """A fresh AlphaForge home (single user) holding the demo project; made by the checkout
    so both programs open the same data."""
    from engine.data.synthetic import SyntheticConfig
    from engine.store.demo import ensure_demo

    home = root / "home"
    home.mkdir(parents=True)
    (home / "settings.json").write_text('{"mode": "single", "language": "en", '
                                        '"schema_version": 1}')
    ensure_demo(home / "projects" / "demo", SyntheticConfig(n_tickers=100, n_days=500))
    return home


def _first_paint(browser, url: str) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(url, timeout=120_000)
        page.get_by_test_id("stSidebarNav").wait_for(timeout=120_000)
        page.locator("[data-testid='stMain'] h1").first.wait_for(timeout=120_000)
    finally:
        page.close()


def measure_start(command: list[str], browser) -> Start:  # type: ignore[no-untyped-def]
    with tempfile.TemporaryDirectory() as tmp:
        home = _home_with_demo(Path(tmp))
        port = _free_port()
        env = {**os.environ, "ALPHAFORGE_HOME": str(home), "XDG_STATE_HOME": tmp,
               "OMP_WAIT_POLICY": "PASSIVE"}
        env.pop("PYTHONPATH", None)
        t0 = time.perf_counter()
        proc = subprocess.Popen([*command, "--no-browser", "--port", str(port)], cwd=tmp,
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        try:
            while not _healthy(port):
                if proc.poll() is not None or time.perf_counter() - t0 > 180:
                    raise RuntimeError(f"{command[0]} did not start")
                time.sleep(0.05)
            health = time.perf_counter() - t0
            page = None
            if browser is not None:
                _first_paint(browser, f"http://127.0.0.1:{port}")
                page = time.perf_counter() - t0
            time.sleep(IDLE_S)
            rss = _rss_mb(proc.pid)
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        return Start(health, page, rss)


def _summary(starts: list[Start]) -> dict[str, float | None]:
    rest = starts[1:] or starts
    pages = [s.page_s for s in rest if s.page_s is not None]
    return {"first_health": starts[0].health_s, "first_page": starts[0].page_s,
            "health": statistics.median(s.health_s for s in rest),
            "page": statistics.median(pages) if pages else None,
            "rss": statistics.median(s.idle_rss_mb for s in rest)}


def _fmt(x: float | None, digits: int = 1) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one start each; no bundle needed")
    parser.add_argument("--write", action="store_true", help="update benchmarks/RESULTS.md")
    parser.add_argument("--bundle", type=Path, default=REPO / "dist" / "AlphaForge-UI")
    parser.add_argument("--runs", type=int, default=4, help="starts per program (first = cold)")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    runs = 1 if args.quick else max(args.runs, 2)
    exe = args.bundle / "AlphaForge-UI"
    programs = {"source checkout (python launcher.py)":
                [sys.executable, str(REPO / "launcher.py")]}
    if exe.exists():
        programs = {"bundle (AlphaForge-UI)": [str(exe)], **programs}
    elif not args.quick:
        sys.exit(f"no bundle at {args.bundle}: run `make bundle` first")
    else:
        print(f"no bundle at {args.bundle}: measuring the source checkout only")

    browser, playwright = None, None
    if Path(CHROMIUM).exists() and shutil.which("chromium"):
        from playwright.sync_api import sync_playwright

        playwright = sync_playwright().start()
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROME_ARGS)
    try:
        results = {}
        for label, command in programs.items():
            results[label] = _summary([measure_start(command, browser) for _ in range(runs)])
    finally:
        if browser is not None:
            browser.close()
        if playwright is not None:
            playwright.stop()

    lines = []
    if exe.exists():
        size = folder_size(args.bundle)
        files = sum(1 for p in args.bundle.rglob("*") if p.is_file())
        parts = ", ".join(f"{name} {b / 2**20:.0f} MB" for name, b in largest_parts(args.bundle))
        where = (args.bundle.relative_to(REPO) if args.bundle.is_relative_to(REPO)
                 else args.bundle)
        lines += [f"Bundle `{where}`: **{size / 2**20:.0f} MB** in {files:,} files "
                  f"(largest parts of `_internal/`: {parts}).", ""]
    lines += ["| program | first start: health (s) | first start: home page (s) "
              "| later starts: health (s) | later starts: home page (s) | idle RSS (MB) |",
              "|---|---|---|---|---|---|"]
    for label, r in results.items():
        lines.append(f"| {label} | {_fmt(r['first_health'])} | {_fmt(r['first_page'])} "
                     f"| {_fmt(r['health'])} | {_fmt(r['page'])} | {_fmt(r['rss'], 0)} |")
    if len(results) == 2:
        bundle, source = results.values()
        if bundle["page"] and source["page"]:
            lines += ["", f"Bundle / checkout: home page {bundle['page'] / source['page']:.2f}x, "
                          f"idle RSS {bundle['rss'] / source['rss']:.2f}x."]
    table = "\n".join(lines)
    print(table)
    if args.write and not args.quick:
        section = (
            f"{HEADING} (bench_bundle.py)\n\n"
            f"Machine: {machine()}. {runs} starts per program, each with a fresh AlphaForge "
            "home holding the demo project (single-user mode, so the home page is the first "
            "page). Times run from starting the program: health = `/_stcore/health` answers, "
            "home page = headless Chromium shows the sidebar navigation and the page title. "
            "Every start here found the files in the OS cache (the bundle had just been built "
            "and checked): a first start after a reboot also reads the bundle from disk. Later "
            "starts: median. Idle RSS: the server process "
            f"{IDLE_S:.0f} s after the home page was served (one browser session open).\n\n"
            + table + "\n")
        write_section(HEADING, section)


if __name__ == "__main__":
    main()
