#!/usr/bin/env python3
"""The outbox under a large backlog (issue 33): N queued messages (100,000 by default) drained
through a fake SMS gateway that answers after a fixed latency and refuses with 429 above a rate
limit, while a member keeps opening the home page. Prints the drain time and rate, the
instance's resident memory while it drains, and the home page's latency before and during the
drain (median and p99). Stdlib only; SQLite.

Usage: benches/outbox_bench.py --bin target/release/zhijia [--messages 100000] [--workers 8]
       [--latency-ms 20] [--rate 1000] [--pace 900] [--keep]
"""
import argparse, http.client, http.server, json, os, random, re, shutil, sqlite3, statistics
import subprocess, sys, tempfile, threading, time, urllib.parse

PORT = 18201
OURS_SENT = ("SELECT count(*) FROM outbox_deliveries d JOIN outbox_messages o ON o.id = d.message_id "
             "WHERE o.title LIKE '压测消息 %' AND d.state = 'sent'")


class Gateway:
    """The SMS gateway: `latency` per request, 429 above `rate` requests a second, a repeated
    Idempotency-Key dropped (counted)."""

    def __init__(self, latency, rate):
        self.lock = threading.Lock()
        self.keys, self.repeats, self.refused = set(), 0, 0
        self.window, self.in_window = int(time.time()), 0
        gw = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                time.sleep(latency)
                key = self.headers.get("Idempotency-Key", "")
                with gw.lock:
                    now = int(time.time())
                    if now != gw.window:
                        gw.window, gw.in_window = now, 0
                    gw.in_window += 1
                    over = gw.in_window > rate
                    if over:
                        gw.refused += 1
                    elif key in gw.keys:
                        gw.repeats += 1
                    else:
                        gw.keys.add(key)
                body = b'{"id":"s"}'
                self.send_response(429 if over else 200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


class Member:
    def __init__(self):
        self.cookies = {}

    def request(self, method, path, body=None, headers=None):
        h = dict(headers or {})
        if self.cookies:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        h.setdefault("Origin", f"http://127.0.0.1:{PORT}")
        c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        c.close()
        for k, v in r.getheaders():
            if k.lower() == "set-cookie":
                name, _, rest = v.partition("=")
                self.cookies[name] = rest.split(";")[0]
        return r.status, data

    def login(self, user):
        _, page = self.request("GET", "/login")
        token = re.search(rb'name="csrf_token" value="([^"]+)"', page).group(1).decode()
        body = urllib.parse.urlencode([("csrf_token", token), ("username", user),
                                       ("password", "zhijia-demo")]).encode()
        st, _ = self.request("POST", "/login", body,
                             {"Content-Type": "application/x-www-form-urlencoded"})
        assert st == 303, f"login {st}"

    def timed_home(self):
        t = time.perf_counter()
        st, _ = self.request("GET", "/")
        assert st == 200, st
        return (time.perf_counter() - t) * 1000


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--latency-ms", type=float, default=20)
    ap.add_argument("--rate", type=int, default=1000, help="the gateway's limit, requests a second")
    ap.add_argument("--pace", type=int, default=0,
                    help="ZHIJIA_OUTBOX_RATE, the sender's requests a second (default: 90%% of --rate)")
    ap.add_argument("--timeout", type=int, default=3600)
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="zhijia-outbox-bench-")
    db_path = os.path.join(work, "z.db")
    gw = Gateway(a.latency_ms / 1000, a.rate)
    pace = a.pace or max(1, a.rate * 9 // 10)
    env = dict(os.environ, ZHIJIA_DATABASE_URL=f"sqlite://{db_path}", ZHIJIA_BIND=f"127.0.0.1:{PORT}",
               ZHIJIA_PUBLIC_URL="https://union.example.test", RUST_LOG="warn",
               ZHIJIA_SMS_URL=f"http://127.0.0.1:{gw.port}/sms", ZHIJIA_SMS_KEY="bench-key",
               ZHIJIA_OUTBOX_WORKERS=str(a.workers), ZHIJIA_OUTBOX_RATE=str(pace))
    proc = None
    try:
        subprocess.run([a.bin, "demo"], env=env, check=True, stdout=subprocess.DEVNULL)
        db = sqlite3.connect(db_path, timeout=30)
        db.execute("PRAGMA journal_mode=WAL")
        members = [r[0] for r in db.execute("SELECT id FROM members WHERE phone IS NOT NULL AND phone <> '' AND NOT disabled")]
        now = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
        # Everyone agrees, no quiet hours (the bench is not about the night), SMS only.
        db.executemany("INSERT INTO channel_profiles (member_id, quiet_start, quiet_end, consent, updated_at) "
                       "VALUES (?, 0, 0, 1, ?) ON CONFLICT (member_id) DO UPDATE SET consent = 1, quiet_start = 0, quiet_end = 0",
                       [(m, now) for m in members])
        db.execute("DELETE FROM channel_bindings")
        db.commit()
        proc = subprocess.Popen([a.bin, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            try:
                c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=2)
                c.request("GET", "/healthz")
                if c.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.1)
        m = Member()
        m.login("demo-member")
        for _ in range(5):
            m.timed_home()
        before = [m.timed_home() for _ in range(40)]
        rss_idle = rss_mb(proc.pid)
        rng = random.Random(7)
        rows = [(rng.choice(members), "progress", f"压测消息 {i}", f"/notifications/b{i}", 0, now)
                for i in range(a.messages)]
        t_insert = time.perf_counter()
        db.executemany("INSERT INTO outbox_messages (member_id, kind, title, link, urgent, created_at) "
                       "VALUES (?, ?, ?, ?, ?, ?)", rows)
        db.commit()
        print(f"queued {a.messages} messages for {len(members)} members in "
              f"{time.perf_counter() - t_insert:.1f} s", flush=True)
        started = time.perf_counter()
        during, rss = [], []
        last_print, done = started, 0
        while time.perf_counter() - started < a.timeout:
            during.append(m.timed_home())
            rss.append(rss_mb(proc.pid))
            time.sleep(0.2)
            done = db.execute(OURS_SENT).fetchone()[0]
            if done >= a.messages:
                break
            if time.perf_counter() - last_print > 30:
                last_print = time.perf_counter()
                el = last_print - started
                print(f"  {el:.0f} s: {done} delivered ({done / el:.0f}/s), RSS {rss[-1]:.0f} MB", flush=True)
        took = time.perf_counter() - started
        with gw.lock:
            accepted = len(gw.keys)
        print(json.dumps({
            "messages": a.messages, "delivered": done, "gateway_accepted": accepted, "seconds": round(took, 1),
            "per_second": round(done / took, 1), "gateway_repeats": gw.repeats, "gateway_429": gw.refused,
            "workers": a.workers, "latency_ms": a.latency_ms, "rate_limit": a.rate, "pace": pace,
            "rss_mb": {"idle": round(rss_idle, 1), "median": round(statistics.median(rss), 1), "max": round(max(rss), 1)},
            "home_ms_before": {"p50": round(pct(before, 0.5), 1), "p99": round(pct(before, 0.99), 1)},
            "home_ms_during": {"p50": round(pct(during, 0.5), 1), "p99": round(pct(during, 0.99), 1), "n": len(during)},
        }, indent=1), flush=True)
        if done < a.messages:
            sys.exit(f"not drained within {a.timeout} s")
    finally:
        if proc and proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=30)
        if a.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
