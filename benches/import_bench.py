#!/usr/bin/env python3
"""Roster imports at group scale (issue 30): a 100,000-row roster through the command line and
through the web (time, peak RSS of the process), then eight web imports at once while a member
keeps opening their card page (latency of that page, against the same page with nothing running).
Each run on a fresh demo database (SQLite). Prints a Markdown table for docs/performance.md.

Usage: benches/import_bench.py --bin target/release/zhijia [--rows 100000] [--each 12500]
Stdlib only; reuses benches/cluster.py's Browser.
"""
import argparse, os, re, statistics, subprocess, sys, tempfile, threading, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster as c  # noqa: E402

UNIT = "中建华能集团工会/第一工程公司工会/机关分会"
PORT = 18431


def roster(prefix, n):
    lines = ["工号,姓名,单位"]
    lines += [f"{prefix}{i:06d},职工{i},{UNIT}" for i in range(n)]
    return ("\n".join(lines) + "\n").encode()


def env(db):
    e = dict(os.environ)
    e.update({"ZHIJIA_DATABASE_URL": db, "ZHIJIA_BIND": f"127.0.0.1:{PORT}",
              "ZHIJIA_SECRET_KEY": c.SECRET, "ZHIJIA_POOL_SIZE": "8", "RUST_LOG": "warn"})
    return e


def fresh_demo(binary, work, name):
    db = f"sqlite://{work}/{name}.db"
    subprocess.run([binary, "demo"], env=env(db), check=True, capture_output=True)
    return db


def timed(cmd, e):
    t0 = time.monotonic()
    out = subprocess.run(["/usr/bin/time", "-f", "%M"] + cmd, env=e, capture_output=True, text=True)
    took = time.monotonic() - t0
    rss_kb = int(out.stderr.strip().splitlines()[-1])
    return took, rss_kb / 1024


def peak_rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        m = re.search(r"VmHWM:\s+(\d+) kB", f.read())
    return int(m.group(1)) / 1024


def multipart(token, data):
    b = "----zhijiaImportBench"
    body = (f"--{b}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n{token}\r\n"
            f"--{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"roster.csv\"\r\n"
            f"Content-Type: text/csv\r\n\r\n").encode() + data + f"\r\n--{b}--\r\n".encode()
    return body, {"Content-Type": f"multipart/form-data; boundary={b}"}


def admin():
    """A signed-in administrator (one at a time: parallel logins to one account are throttled)."""
    b = c.Browser(port=PORT)
    b.post("/login", [("username", "demo-admin"), ("password", "zhijia-demo")])
    return b


def web_import(data, marks=None, b=None):
    """Upload, confirm and wait for the outcome as the administrator; seconds taken."""
    b = b or admin()
    _, _, page = b.get("/admin/members/import")
    t0 = time.monotonic()
    body, h = multipart(b.token(page), data)
    status, _, page = b.request("POST", "/admin/members/import", body, h)
    assert status == 200, page[:500]
    action = re.search(rb'action="(/admin/members/import/[0-9A-Za-z]+)"', page).group(1).decode()
    status, _, _ = b.post(action, [])
    assert status == 303, status
    while True:
        _, _, page = b.get(action)
        if "导入结果".encode() in page:
            took = time.monotonic() - t0
            if marks is not None:
                marks.append(took)
            return took
        time.sleep(0.5)


def card_latencies(stop, out):
    b = c.Browser(port=PORT)
    b.post("/login", [("username", "demo-member"), ("password", "zhijia-demo")])
    while not stop.is_set():
        t0 = time.monotonic()
        status, _, _ = b.get("/me/card")
        out.append((time.monotonic() - t0) * 1000)
        assert status == 200, status
        time.sleep(0.05)


def serve(binary, db, work):
    log = open(os.path.join(work, "serve.log"), "ab")
    p = subprocess.Popen([binary, "serve"], env=env(db), stdout=log, stderr=log)
    c.wait_ok(PORT, "/readyz", 60)
    return p


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--each", type=int, default=12_500)
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="zhijia-import-bench-")
    rows = []

    db = fresh_demo(a.bin, work, "cli")
    path = os.path.join(work, "roster.csv")
    with open(path, "wb") as f:
        f.write(roster("CL", a.rows))
    took, rss = timed([a.bin, "import-members", path], env(db))
    rows.append(("command line", f"{a.rows:,}", f"{took:.1f} s", f"{rss:.0f} MB"))
    print(rows[-1], flush=True)

    db = fresh_demo(a.bin, work, "web")
    p = serve(a.bin, db, work)
    try:
        took = web_import(roster("WB", a.rows))
        rows.append(("web, one import", f"{a.rows:,}", f"{took:.1f} s", f"{peak_rss_mb(p.pid):.0f} MB"))
        print(rows[-1], flush=True)
        # A member's card page alone, then while eight imports run.
        stop, idle = threading.Event(), []
        t = threading.Thread(target=card_latencies, args=(stop, idle))
        t.start()
        time.sleep(5)
        stop.set()
        t.join()
        stop, busy, marks = threading.Event(), [], []
        t = threading.Thread(target=card_latencies, args=(stop, busy))
        t.start()
        t0 = time.monotonic()
        sessions = [admin() for _ in range(8)]
        imports = [threading.Thread(target=web_import, args=(roster(f"P{i}", a.each), marks, sessions[i]))
                   for i in range(8)]
        for i in imports:
            i.start()
        for i in imports:
            i.join()
        took = time.monotonic() - t0
        stop.set()
        t.join()
        rows.append(("web, eight at once", f"8 × {a.each:,}", f"{took:.1f} s (each {min(marks):.0f}–{max(marks):.0f} s)",
                     f"{peak_rss_mb(p.pid):.0f} MB"))
        print(rows[-1], flush=True)
    finally:
        p.terminate()
        p.wait()
    print("\n| import | rows | time | peak RSS |\n|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    print("\n| `/me/card` (member) | requests | median | p95 | max |\n|---|---|---|---|---|")
    for name, xs in (("nothing else running", idle), ("while eight imports run", busy)):
        print(f"| {name} | {len(xs)} | {statistics.median(xs):.1f} ms | {pct(xs, 0.95):.1f} ms | {max(xs):.1f} ms |")


if __name__ == "__main__":
    main()
