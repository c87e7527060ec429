#!/usr/bin/env python3
"""Throughput on PostgreSQL with one and with three instances behind nginx (issue 16), in one
run on this machine: the news list (wrk, logged in) and a sign-up burst (300 members at once
for 100 seats). Prints a Markdown table for docs/performance.md.

Usage: benches/cluster_bench.py --bin target/release/zhijia --pg postgres://postgres@127.0.0.1:5432/postgres
Needs nginx, wrk and psql. Reuses benches/cluster.py's pieces. Stdlib only.
"""
import argparse, os, re, shutil, subprocess, sys, tempfile, threading, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster as c  # noqa: E402


def cpu_ticks(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                parts = f.read().rsplit(")", 1)[1].split()
            total += int(parts[11]) + int(parts[12])
        except OSError:
            pass
    return total


def wrk(path, cookie, seconds):
    out = subprocess.run(["wrk", "-t2", "-c32", f"-d{seconds}s", "--latency", "-H", f"Cookie: {cookie}",
                          f"http://127.0.0.1:{c.NGINX_PORT}{path}"], capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    p99_ms = float(p99.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[p99.group(2)]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, p99_ms, int(non2xx.group(1)) if non2xx else 0


def run(binary, db, n, seconds):
    work = tempfile.mkdtemp(prefix="zhijia-bench-")
    cl = c.Cluster(binary, db, work)
    ports = c.PORTS[:n]
    saved = c.PORTS
    c.PORTS = ports
    nginx = None
    try:
        for p in ports:
            cl.start(p)
        for p in ports:
            cl.wait_ready(p)
        nginx = c.start_nginx(work)
        b = c.Browser()
        b.login("demo-member")
        cookie = "; ".join(f"{k}={v}" for k, v in b.cookies.items())
        wrk("/news", cookie, 3)  # warm-up
        pids = [p.pid for p in cl.procs.values()]
        t0 = cpu_ticks(pids)
        rps, p99, bad = wrk("/news", cookie, seconds)
        cpu_us = (cpu_ticks(pids) - t0) * 1e6 / os.sysconf("SC_CLK_TCK") / max(rps * seconds, 1)
        # The sign-up burst: 300 members, one request each, all at once, for 100 seats.
        admin = c.Browser()
        admin.login("demo-admin")
        root = db.n("SELECT id FROM org_units WHERE parent_id IS NULL")
        st, hd, _ = admin.post("/admin/activities/new", [
            ("title", f"压测活动 {n}"), ("kind", "文体活动"), ("place", "礼堂"),
            ("starts_at", c.beijing_local(60 * 24 * 3)), ("ends_at", c.beijing_local(60 * 24 * 3 + 60)),
            ("capacity", "100"), ("audience", str(root))])
        act = int(hd["location"].rsplit("/", 1)[1])
        members = []
        for i in range(300):
            m = c.Browser(ip=f"10.9.{i // 250}.{i % 250 + 1}")
            m.login(f"ZJ{10001 + i:05d}" if i < 293 else ["demo-member", "demo-member-b", "demo-cadre", "demo-cadre-b", "demo-chair", "demo-finance", "demo-admin"][i - 293])
            _, _, page = m.get(f"/activities/{act}")
            members.append((m, m.token(page)))
        go = threading.Barrier(len(members) + 1)
        codes = []
        lock = threading.Lock()

        def one(m, token):
            go.wait()
            try:
                st, _, _ = m.request("POST", f"/activities/{act}/signup",
                                     f"csrf_token={token}".encode(),
                                     {"Content-Type": "application/x-www-form-urlencoded"})
            except OSError as e:
                st = type(e).__name__
            with lock:
                codes.append(st)

        threads = [threading.Thread(target=one, args=mt) for mt in members]
        for t in threads:
            t.start()
        start = time.time()
        go.wait()
        for t in threads:
            t.join()
        burst = time.time() - start
        confirmed = db.n(f"SELECT count(*) FROM activity_signups WHERE activity_id = {act} AND status = 'confirmed'")
        ok = sum(1 for s in codes if s == 303)
        print(f"  sign-up answers: { {k: codes.count(k) for k in set(codes)} }", flush=True)
        return {"n": n, "rps": rps, "p99": p99, "bad": bad, "cpu_us": cpu_us, "burst_s": burst,
                "burst_ok": ok, "confirmed": confirmed}
    finally:
        for p in cl.procs.values():
            p.terminate()
        for p in cl.procs.values():
            p.wait(timeout=30)
        if nginx:
            nginx.kill()
        c.PORTS = saved
        shutil.rmtree(work, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--pg", required=True)
    ap.add_argument("--seconds", type=int, default=10)
    a = ap.parse_args()
    db = c.Db(a.pg, "zhijia_cluster_bench")
    db.admin("DROP DATABASE IF EXISTS zhijia_cluster_bench WITH (FORCE)")
    db.admin("CREATE DATABASE zhijia_cluster_bench")
    binary = os.path.abspath(a.bin)
    env = c.Cluster(binary, db, "/tmp").env(c.PORTS[0])
    subprocess.run([binary, "demo"], env=env, check=True, stdout=subprocess.DEVNULL)
    rows = []
    try:
        for n in (1, 3, 1, 3):
            r = run(binary, db, n, a.seconds)
            print(r, flush=True)
            rows.append(r)
    finally:
        db.admin("DROP DATABASE IF EXISTS zhijia_cluster_bench WITH (FORCE)")
    print("\n| instances | news list req/s | p99 ms | non-2xx | server CPU µs/req | 300 sign-ups at once | answered 303 | confirmed (100 seats) |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['n']} | {r['rps']:,.0f} | {r['p99']:.1f} | {r['bad']} | {r['cpu_us']:.0f} | "
              f"{r['burst_s']:.2f} s | {r['burst_ok']} | {r['confirmed']} |")


if __name__ == "__main__":
    main()
