#!/usr/bin/env python3
"""A rolling upgrade on PostgreSQL (issue 16): the old binary serves under load while the new
binary starts beside it on the same database and applies its (additive) migrations under the
advisory lock; the old one must keep answering, and a session works on both.

Usage: benches/rolling.py --old OLD_BINARY --new NEW_BINARY --pg postgres://postgres@127.0.0.1:5432/postgres
The old binary must be one whose migrations are a prefix of the new one's, and the new
migrations additive (README: which migrations need a short stop). Stdlib only.
"""
import argparse, os, subprocess, sys, tempfile, threading, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster as c  # noqa: E402

OLD, NEW = 18111, 18112


def wait_health(port):
    # /healthz: an older binary may have no /readyz.
    c.wait_ok(port, "/healthz", timeout=90)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--old", required=True)
    ap.add_argument("--new", required=True)
    ap.add_argument("--pg", required=True)
    a = ap.parse_args()
    db = c.Db(a.pg, "zhijia_rolling")
    db.admin("DROP DATABASE IF EXISTS zhijia_rolling WITH (FORCE)")
    db.admin("CREATE DATABASE zhijia_rolling")
    work = tempfile.mkdtemp(prefix="zhijia-rolling-")
    old_bin, new_bin = os.path.abspath(a.old), os.path.abspath(a.new)
    cl = c.Cluster(old_bin, db, work)
    procs = []
    try:
        subprocess.run([old_bin, "demo"], env=cl.env(OLD), check=True, stdout=subprocess.DEVNULL)
        before = db.n("SELECT count(*) FROM __diesel_schema_migrations")
        log = open(os.path.join(work, "old.log"), "ab")
        procs.append(subprocess.Popen([old_bin, "serve"], env=cl.env(OLD), stdout=log, stderr=log))
        wait_health(OLD)
        b = c.Browser(port=OLD)
        b.login("demo-member")
        results, stop = [], threading.Event()

        def load():
            while not stop.is_set():
                try:
                    st, _, _ = b.get("/news", port=OLD)
                except OSError:
                    st = 0
                results.append((time.time(), st))

        t = threading.Thread(target=load, daemon=True)
        t.start()
        time.sleep(1)
        started = time.time()
        log = open(os.path.join(work, "new.log"), "ab")
        procs.append(subprocess.Popen([new_bin, "serve"], env=cl.env(NEW), stdout=log, stderr=log))
        wait_health(NEW)
        ready = time.time() - started
        time.sleep(2)
        stop.set()
        t.join()
        after = db.n("SELECT count(*) FROM __diesel_schema_migrations")
        c.check(after > before, f"the new binary applied {after - before} migration(s) in {ready:.1f} s")
        during = [st for at, st in results if at >= started]
        bad = [st for st in during if st != 200]
        c.check(len(during) > 20 and not bad,
                f"the old binary kept serving meanwhile ({len(during)} requests, {len(bad)} not 200)")
        st, _, body = b.get("/news", port=NEW)
        c.check(st == 200 and "王小明".encode() in body, "the same session works on the new binary")
        st, _, _ = b.get("/me", port=OLD)
        c.check(st == 200, "and still on the old one after the migration")
        # What a contract migration does to the old binary (README: those need a short stop):
        # shown, not checked, since it depends on which migrations lie between the two.
        for path in ["/benefits"]:
            st, _, _ = b.get(path, port=OLD)
            print(f"info: old binary after the migrations: GET {path} -> {st}", flush=True)
        print("rolling upgrade passed", flush=True)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        db.admin("DROP DATABASE IF EXISTS zhijia_rolling WITH (FORCE)")


if __name__ == "__main__":
    main()
