#!/usr/bin/env python3
"""Side-by-side: our news list and article pages, logged in, against the bare reference in
../shared/bench (fortunes-actix /news and /news/{slug}: same query shape, no sessions, no layout),
in one run on loopback with wrk, ABBA order. Prints a Markdown table for docs/performance.md.

Usage: benches/news_bench.py --ours target/release/zhijia --ref /tmp/bench-target/release/fortunes-actix
Needs wrk (apt-get install wrk). Stdlib only.
"""
import argparse, http.cookiejar, os, re, signal, sqlite3, subprocess, sys, tempfile, time, urllib.parse, urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.path.normpath(os.path.join(HERE, "..", "..", "shared", "bench"))


def wait(url, timeout=20):
    end = time.time() + timeout
    while time.time() < end:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except Exception:
            time.sleep(0.05)
    sys.exit(f"server at {url} did not start")


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return int(parts[11]) + int(parts[12])


def rss_mib(pid, field="VmRSS"):
    """Resident memory of the process (`VmHWM`: its peak so far), MiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1]) / 1024
    return 0.0


def wrk(url, args, cookie=None):
    cmd = ["wrk", f"-t{args.threads}", f"-c{args.conns}", f"-d{args.duration}s", "--latency", url]
    if cookie:
        cmd[1:1] = ["-H", f"Cookie: {cookie}"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        sys.exit(f"{url}: {non2xx.group(1)} non-2xx responses")
    return rps, float(p99.group(1)) * scale, total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ours", required=True)
    ap.add_argument("--ref", required=True)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--conns", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="zhijia-bench-")
    ref_db = os.path.join(work, "bench.sqlite3")
    subprocess.run([sys.executable, os.path.join(SHARED, "make_db.py"), ref_db], check=True, capture_output=True)
    slug = sqlite3.connect(ref_db).execute("SELECT slug FROM news WHERE is_published = 1 ORDER BY id LIMIT 1").fetchone()[0]

    env = dict(os.environ, ZHIJIA_DATABASE_URL=f"sqlite://{work}/zhijia.db", ZHIJIA_BIND="127.0.0.1:18090",
               ZHIJIA_SECRET_KEY="bench-secret-key-0123456789abcdef0123", RUST_LOG="warn")
    subprocess.run([args.ours, "demo"], env=env, check=True, capture_output=True)
    procs = {
        "reference": subprocess.Popen([args.ref], env=dict(os.environ, BIND="127.0.0.1:18081", DB_PATH=ref_db),
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True),
        "zhijia": subprocess.Popen([args.ours, "serve"], env=env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, start_new_session=True),
    }
    try:
        wait("http://127.0.0.1:18081/news")
        wait("http://127.0.0.1:18090/healthz")
        time.sleep(3)  # settled: the start's own work done
        idle = {n: rss_mib(p.pid) for n, p in procs.items()}
        # Log in as demo-member like a browser: anchor cookie + CSRF token, then the form.
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        page = opener.open("http://127.0.0.1:18090/login").read().decode()
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        body = urllib.parse.urlencode({"csrf_token": token, "username": "demo-member", "password": "zhijia-demo"}).encode()
        opener.open("http://127.0.0.1:18090/login", body)
        cookie = "; ".join(f"{c.name}={c.value}" for c in jar if c.name == "zj_session")
        assert cookie, "login failed"
        req = urllib.request.Request("http://127.0.0.1:18090/news", headers={"Cookie": cookie})
        listing = urllib.request.urlopen(req).read().decode()
        article = re.search(r'href="(/news/\d+)"', listing).group(1)
        # Read it once so later views do not write a receipt: steady state is a view-count update.
        urllib.request.urlopen(urllib.request.Request("http://127.0.0.1:18090" + article, headers={"Cookie": cookie}))

        tests = {
            "news list": {"reference": ("http://127.0.0.1:18081/news", None), "zhijia": ("http://127.0.0.1:18090/news", cookie)},
            "article": {"reference": (f"http://127.0.0.1:18081/news/{slug}", None), "zhijia": ("http://127.0.0.1:18090" + article, cookie)},
        }
        results = {}
        for test, servers in tests.items():
            for name, (url, ck) in servers.items():
                wrk(url, argparse.Namespace(threads=1, conns=4, duration=2), ck)  # warm-up
            for r in range(args.rounds):
                order = ["reference", "zhijia"] if r % 2 == 0 else ["zhijia", "reference"]
                for name in order:
                    url, ck = servers[name]
                    pid = procs[name].pid
                    c0 = cpu_ticks(pid)
                    rps, p99, total = wrk(url, args, ck)
                    cpu_us = (cpu_ticks(pid) - c0) * (1e6 / os.sysconf("SC_CLK_TCK")) / max(total, 1)
                    results.setdefault((test, name), []).append((rps, p99, cpu_us))
        print(f"wrk -t{args.threads} -c{args.conns} -d{args.duration}s, {args.rounds} rounds ABBA, loopback\n")
        print("| page | server | req/s | p99 ms | server CPU µs/req | ours / reference |")
        print("|---|---|---|---|---|---|")
        for test in tests:
            ref = sum(x[0] for x in results[(test, "reference")]) / args.rounds
            for name in ["reference", "zhijia"]:
                rows = results[(test, name)]
                rps = sum(x[0] for x in rows) / len(rows)
                p99 = max(x[1] for x in rows)
                cpu = sum(x[2] for x in rows) / len(rows)
                ratio = f"{rps / ref:.0%}" if name == "zhijia" else ""
                print(f"| {test} | {name} | {rps:,.0f} | {p99:.2f} | {cpu:.0f} | {ratio} |")
        time.sleep(3)
        print("\n| RSS (MiB) | idle after start | peak during the run | 3 s after the run |")
        print("|---|---|---|---|")
        for n in ["reference", "zhijia"]:
            pid = procs[n].pid
            print(f"| {n} | {idle[n]:.1f} | {rss_mib(pid, 'VmHWM'):.1f} | {rss_mib(pid):.1f} |")
    finally:
        for p in procs.values():
            os.killpg(p.pid, signal.SIGTERM)


if __name__ == "__main__":
    main()
