"""First paint of the dashboard in headless Chromium (issue 9: under 1 s), with Flower 2.2's dashboard
on the same Redis as the anchor. For each page, N cold loads (browser cache cleared over the DevTools
protocol before each): `first-contentful-paint` from the Performance API, and for Celeriac also the
moment its overview was drawn with data (the `celeriac:first-render` mark). Prints median and range
of each, and the ratio of the medians.
"""
import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url, proc, what, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"{what} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"timed out waiting for {what} at {url}")


def measure(driver, url, loads, mark=None):
    fcp, marks = [], []
    for _ in range(loads):
        driver.get("about:blank")
        driver.execute_cdp_cmd("Network.clearBrowserCache", {})
        driver.get(url)
        deadline = time.monotonic() + 15
        while True:
            got = driver.execute_script(
                "const p = performance.getEntriesByName('first-contentful-paint')[0];"
                "const m = arguments[0] && performance.getEntriesByName(arguments[0])[0];"
                "return [p ? p.startTime : null, arguments[0] ? (m ? m.startTime : null) : 0];", mark)
            if got[0] is not None and got[1] is not None:
                break
            if time.monotonic() > deadline:
                sys.exit(f"no first-contentful-paint{' or ' + mark if mark else ''} for {url} within 15 s")
            time.sleep(0.01)
        fcp.append(got[0])
        marks.append(got[1])
    return fcp, marks


def summary(values):
    return f"median {statistics.median(values):6.0f} ms  (range {min(values):.0f}-{max(values):.0f})"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    parser.add_argument("--loads", type=int, default=10)
    parser.add_argument("--no-flower", action="store_true")
    args = parser.parse_args()
    scratch = tempfile.mkdtemp(prefix="celeriac-dash-bench-")
    redis_port, api_port, flower_port = free_port(), free_port(), free_port()
    broker = f"redis://127.0.0.1:{redis_port}/0"
    log = open(os.path.join(scratch, "procs.log"), "wb")
    procs = []

    def start(argv):
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        procs.append(proc)
        return proc
    try:
        start(["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--dir", scratch])
        api = start([args.bin, "api", "--broker", broker, "--bind", f"127.0.0.1:{api_port}", "-l", "warning"])
        start([args.bin, "worker", "--broker", broker, "-c", "2", "-E", "-l", "warning", "--quiet"])
        wait_http(f"http://127.0.0.1:{api_port}/readyz", api, "celeriac api")
        flower = None
        if not args.no_flower:
            flower = start([os.path.join(os.path.dirname(sys.executable), "celery"), "--broker", broker, "flower",
                            f"--port={flower_port}", "--address=127.0.0.1"])
            wait_http(f"http://127.0.0.1:{flower_port}/", flower, "flower")
        options = webdriver.ChromeOptions()
        options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
        for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900",
                     "--no-first-run", "--disable-extensions"):
            options.add_argument(flag)
        try:
            driver = webdriver.Chrome(service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"), options=options)
        except Exception as error:
            sys.exit(f"headless Chromium could not start: {error}")
        try:
            driver.get(f"http://127.0.0.1:{api_port}/")  # one warm-up load of the browser itself
            ours, drawn = measure(driver, f"http://127.0.0.1:{api_port}/", args.loads, "celeriac:first-render")
            print(f"celeriac dashboard  first-contentful-paint {summary(ours)}   overview drawn with data {summary(drawn)}")
            verdict = "under" if statistics.median(ours) < 1000 else "NOT under"
            print(f"target: first paint under 1 s: {verdict} ({args.loads} cold loads, 1280x900, headless Chromium)")
            if flower:
                theirs, _ = measure(driver, f"http://127.0.0.1:{flower_port}/", args.loads)
                print(f"flower 2.2 dashboard first-contentful-paint {summary(theirs)}")
                print(f"ratio celeriac/flower (median first paint): {statistics.median(ours) / statistics.median(theirs):.2f}")
        finally:
            driver.quit()
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    main()
