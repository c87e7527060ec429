#!/usr/bin/env python3
"""Engagement recording on vs off, in one run: two instances of our binary on copies of the same
demo database, one started with --no-events, the same logged-in pages hammered with wrk in ABBA
order. Prints a Markdown table for docs/performance.md.

Usage: benches/events_bench.py --ours target/release/zhijia [--duration 8] [--rounds 2]
Needs wrk. Stdlib only.
"""
import argparse, http.cookiejar, os, re, shutil, signal, subprocess, sys, tempfile, time, urllib.parse, urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from news_bench import wait, cpu_ticks, rss_mib, wrk  # noqa: E402


def login(base):
    jar = http.cookiejar.CookieJar()
    op = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = op.open(base + "/login").read().decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    op.open(base + "/login", urllib.parse.urlencode({"csrf_token": token, "username": "demo-member", "password": "zhijia-demo"}).encode())
    return "; ".join(f"{c.name}={c.value}" for c in jar if c.name == "zj_session"), op


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ours", required=True)
    ap.add_argument("--duration", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--conns", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="zhijia-events-")
    base_env = dict(os.environ, ZHIJIA_SECRET_KEY="bench-secret-key-0123456789abcdef0123", RUST_LOG="warn")
    subprocess.run([args.ours, "demo"], env=dict(base_env, ZHIJIA_DATABASE_URL=f"sqlite://{work}/a.db"), check=True, capture_output=True)
    shutil.copy(f"{work}/a.db", f"{work}/b.db")
    servers = {
        "events on": (18093, f"sqlite://{work}/a.db", []),
        "events off": (18094, f"sqlite://{work}/b.db", ["--no-events"]),
    }
    procs = {}
    try:
        for name, (port, url, extra) in servers.items():
            env = dict(base_env, ZHIJIA_DATABASE_URL=url, ZHIJIA_BIND=f"127.0.0.1:{port}")
            procs[name] = subprocess.Popen([args.ours, "serve", *extra], env=env, stdout=subprocess.DEVNULL,
                                           stderr=subprocess.DEVNULL, start_new_session=True)
        cookies, article = {}, None
        for name, (port, _, _) in servers.items():
            base = f"http://127.0.0.1:{port}"
            wait(base + "/healthz")
            cookies[name], op = login(base)
            listing = op.open(base + "/news").read().decode()
            article = article or re.search(r'href="(/news/\d+)"', listing).group(1)
            op.open(base + article).read()
        pages = {"home": "/", "news list": "/news", "article": article}
        results = {}
        for page, path in pages.items():
            for name, (port, _, _) in servers.items():
                wrk(f"http://127.0.0.1:{port}{path}", argparse.Namespace(threads=1, conns=4, duration=2), cookies[name])
            for r in range(args.rounds):
                order = list(servers) if r % 2 == 0 else list(reversed(servers))
                for name in order:
                    port = servers[name][0]
                    pid = procs[name].pid
                    c0 = cpu_ticks(pid)
                    rps, p99, total = wrk(f"http://127.0.0.1:{port}{path}", args, cookies[name])
                    cpu = (cpu_ticks(pid) - c0) * (1e6 / os.sysconf("SC_CLK_TCK")) / max(total, 1)
                    results.setdefault((page, name), []).append((rps, p99, cpu))
        time.sleep(6)  # let the events-on instance flush its buffer
        rows = subprocess.run(["sqlite3", f"{work}/a.db", "SELECT COUNT(*) FROM engagement_events"], capture_output=True, text=True).stdout.strip()
        print(f"wrk -t{args.threads} -c{args.conns} -d{args.duration}s, {args.rounds} rounds ABBA, loopback, logged in as demo-member\n")
        print("| page | recording | req/s | p99 ms | server CPU µs/req | on / off |")
        print("|---|---|---|---|---|---|")
        for page in pages:
            off = sum(x[0] for x in results[(page, "events off")]) / args.rounds
            for name in ["events off", "events on"]:
                rs = results[(page, name)]
                rps = sum(x[0] for x in rs) / len(rs)
                ratio = f"{rps / off:.1%}" if name == "events on" else ""
                print(f"| {page} | {name} | {rps:,.0f} | {max(x[1] for x in rs):.2f} | {sum(x[2] for x in rs) / len(rs):.0f} | {ratio} |")
        print(f"\nevents stored by the recording instance after the run: {rows}")
        print(f"RSS after the run: events on {rss_mib(procs['events on'].pid):.1f} MiB, events off {rss_mib(procs['events off'].pid):.1f} MiB")
    finally:
        for p in procs.values():
            os.killpg(p.pid, signal.SIGTERM)


if __name__ == "__main__":
    main()
