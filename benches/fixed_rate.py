#!/usr/bin/env python3
"""Open-loop load at a fixed rate (default 100 req/s) against a few logged-in pages, for the
"p99 at a fixed 100 requests/s" target. Latency is measured from each request's scheduled start
(no coordinated omission): if the server stalls, the queued requests count as late.

Usage: benches/fixed_rate.py --ours target/release/zhijia [--rate 100] [--duration 30]
Starts its own demo database and server on 127.0.0.1:18092. Stdlib only.
"""
import argparse, http.client, http.cookiejar, os, re, signal, subprocess, sys, tempfile, threading, time
import urllib.parse, urllib.request


def wait(url, timeout=20):
    end = time.time() + timeout
    while time.time() < end:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except Exception:
            time.sleep(0.05)
    sys.exit(f"server at {url} did not start")


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    return 0.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ours", required=True)
    ap.add_argument("--rate", type=float, default=100.0)
    ap.add_argument("--duration", type=float, default=30.0)
    ap.add_argument("--workers", type=int, default=8)
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="zhijia-rate-")
    port = 18092
    env = dict(os.environ, ZHIJIA_DATABASE_URL=f"sqlite://{work}/zhijia.db", ZHIJIA_BIND=f"127.0.0.1:{port}",
               ZHIJIA_SECRET_KEY="bench-secret-key-0123456789abcdef0123", RUST_LOG="warn")
    subprocess.run([args.ours, "demo"], env=env, check=True, capture_output=True)
    proc = subprocess.Popen([args.ours, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        wait(base + "/healthz")
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        page = opener.open(base + "/login").read().decode()
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        body = urllib.parse.urlencode({"csrf_token": token, "username": "demo-member", "password": "zhijia-demo"}).encode()
        opener.open(base + "/login", body)
        cookie = "; ".join(f"{c.name}={c.value}" for c in jar if c.name == "zj_session")
        listing = opener.open(base + "/news").read().decode()
        article = re.search(r'href="(/news/\d+)"', listing).group(1)
        opener.open(base + article).read()
        pages = {"home": "/", "news list": "/news", "article": article}

        results = {}
        for name, path in pages.items():
            n = int(args.rate * args.duration)
            start = time.perf_counter() + 0.2
            slots = [start + i / args.rate for i in range(n)]
            lat, errors, lock, nxt = [], [0], threading.Lock(), [0]

            def worker():
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                while True:
                    with lock:
                        i = nxt[0]
                        nxt[0] += 1
                    if i >= n:
                        break
                    delay = slots[i] - time.perf_counter()
                    if delay > 0:
                        time.sleep(delay)
                    try:
                        conn.request("GET", path, headers={"Cookie": cookie})
                        r = conn.getresponse()
                        r.read()
                        if r.status != 200:
                            errors[0] += 1
                    except Exception:
                        errors[0] += 1
                        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                    done = time.perf_counter()
                    with lock:
                        lat.append((done - slots[i]) * 1000)

            threads = [threading.Thread(target=worker) for _ in range(args.workers)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            lat.sort()
            pct = lambda p: lat[min(len(lat) - 1, int(len(lat) * p))]
            results[name] = (len(lat), pct(0.5), pct(0.99), lat[-1], errors[0])
        print(f"fixed rate {args.rate:.0f} req/s for {args.duration:.0f} s per page, {args.workers} keep-alive "
              f"connections, latency from the scheduled start, loopback (client: Python)\n")
        print("| page | requests | p50 ms | p99 ms | max ms | errors |")
        print("|---|---|---|---|---|---|")
        for name, (n, p50, p99, mx, err) in results.items():
            print(f"| {name} | {n} | {p50:.2f} | {p99:.2f} | {mx:.2f} | {err} |")
        print(f"\nRSS after the run: {rss_mib(proc.pid):.1f} MiB")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)


if __name__ == "__main__":
    main()
