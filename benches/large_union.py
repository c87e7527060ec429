#!/usr/bin/env python3
"""A group union at scale (issue 34): a `zhijia demo` database grown by SQL to N members (default
100,000) in ~N/230 units, with news for company audiences, open and closed cases (each with its
state event, so `zhijia check` holds), twelve months of dues (one member in fifteen behind),
engagement events over 90 days (pseudonymous keys made as the app makes them) and
notifications. Then the grown instance and a plain demo instance are served side by side and
every page is asked of both, interleaved, for each demo role: the median of `--requests` each.
Prints a Markdown table for docs/performance.md. SQLite only for now (PostgreSQL: not yet).

Usage: benches/large_union.py --bin target/release/zhijia [--members 100000] [--requests 15]
       [--keep DIR]   (keep the grown database; about 1 GB at full size)
Stdlib only. `.ci/run` runs it at --members 5000 --requests 3 as a check that it works.
"""
import argparse, datetime, hashlib, http.cookiejar, os, random, re, shutil, sqlite3, statistics
import subprocess, sys, tempfile, time, urllib.error, urllib.parse, urllib.request

SECRET = "large-union-bench-secret-0123456789abcdef"
KINDS = [("news", 5), ("activity", 2), ("showcase", 1), ("survey", 1), ("home", 4), ("search", 1)]
ADMIN_PAGES = ["/admin", "/admin/dashboard", "/admin/dashboard.xlsx", "/admin/membership/dues",
               "/admin/membership/dues?months=1", "/admin/membership/dues/arrears.xlsx?months=3",
               "/admin/members", "/admin/members?q=张", "/admin/inbox", "/admin/grievances",
               "/admin/benefits"]
MEMBER_PAGES = ["/", "/news", "/search?q=工会", "/notifications", "/activities", "/grievances",
                "/me", "/me/channels"]
ROLES = {"admin": "demo-admin", "chair": "demo-chair", "cadre": "demo-cadre", "member": "demo-member"}


def env(db, port):
    e = dict(os.environ)
    e.update({"ZHIJIA_DATABASE_URL": f"sqlite://{db}", "ZHIJIA_SECRET_KEY": SECRET,
              "ZHIJIA_BIND": f"127.0.0.1:{port}", "RUST_LOG": "warn"})
    return e


def member_key(member_id):
    """`engagement::member_key`: BLAKE2b-512 over length-prefixed parts, hex, first 20."""
    h = hashlib.blake2b(digest_size=64)
    for p in (SECRET.encode(), b"engagement", str(member_id).encode()):
        h.update(len(p).to_bytes(8, "little"))
        h.update(p)
    return h.hexdigest()[:20]


def bigrams(text):
    """Close to `search::token_string`: CJK bigrams and ASCII words (enough for load)."""
    out, run = [], []
    for ch in text + " ":
        if "\u4e00" <= ch <= "\u9fff":
            run.append(ch)
            continue
        out += ["".join(run[i:i + 2]) for i in range(max(1, len(run) - 1))] if run else []
        run = []
    return " ".join(w for w in out if w)


def grow(db, n, seed):
    rng = random.Random(seed)
    c = sqlite3.connect(db)
    c.execute("PRAGMA journal_mode=WAL")
    c.execute("PRAGMA synchronous=OFF")
    now = datetime.datetime.utcnow().replace(microsecond=0)
    ts = lambda t: t.strftime("%Y-%m-%d %H:%M:%S")
    t0 = time.monotonic()
    root_id, root_path = c.execute("SELECT id, path FROM org_units WHERE parent_id IS NULL").fetchone()
    # Units: subsidiaries of ~12 branches each, ~230 members a branch.
    branches_wanted = max(8, n // 230)
    subs = max(2, branches_wanted // 12)
    branches = []
    for s in range(subs):
        cur = c.execute("INSERT INTO org_units (parent_id, name, kind, path, sort_order, disabled, created_at)"
                        " VALUES (?, ?, 'subsidiary', '', ?, 0, ?)", (root_id, f"第{s + 3}工程公司工会", s + 10, ts(now)))
        sid = cur.lastrowid
        spath = f"{root_path}{sid}/"
        c.execute("UPDATE org_units SET path = ? WHERE id = ?", (spath, sid))
        for b in range(branches_wanted // subs):
            cur = c.execute("INSERT INTO org_units (parent_id, name, kind, path, sort_order, disabled, created_at)"
                            " VALUES (?, ?, 'branch', '', ?, 0, ?)", (sid, f"项目{b + 1}部分会", b, ts(now)))
            bid = cur.lastrowid
            c.execute("UPDATE org_units SET path = ? WHERE id = ?", (f"{spath}{bid}/", bid))
            branches.append((bid, sid))
    surnames = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
    rows = []
    for i in range(n):
        bid, _ = rng.choice(branches)
        joined = now - datetime.timedelta(days=rng.randrange(0, 3650))
        rows.append((f"g{i:06d}", rng.choice(surnames) + f"职工{i}", bid, ts(joined), ts(joined)))
    c.executemany("INSERT INTO members (employee_no, name, unit_id, must_change_password, is_admin, disabled,"
                  " created_at, updated_at, large_text, status) VALUES (?, ?, ?, 0, 0, 0, ?, ?, 0, 'member')", rows)
    members = c.execute("SELECT id, unit_id FROM members WHERE employee_no LIKE 'g%'").fetchall()
    print(f"  {len(branches)} branches in {subs} companies, {len(members)} members ({time.monotonic() - t0:.0f} s)", flush=True)
    # Dues: twelve months; one member in fifteen has paid nothing for four months.
    months = []
    d = now.date().replace(day=1)
    for _ in range(12):
        d = (d - datetime.timedelta(days=1)).replace(day=1)
        months.append(d.strftime("%Y-%m"))
    dues = []
    for k, (mid, _) in enumerate(members):
        for j, m in enumerate(months):
            if k % 15 == 7 and j < 4:
                continue
            dues.append((mid, m, 1500, ts(now)))
    c.executemany("INSERT INTO member_dues (member_id, month, amount_fen, imported_at) VALUES (?, ?, ?, ?)", dues)
    c.execute("UPDATE members SET last_dues_month = (SELECT MAX(month) FROM member_dues d WHERE d.member_id = members.id)"
              " WHERE employee_no LIKE 'g%'")
    print(f"  {len(dues)} dues rows ({time.monotonic() - t0:.0f} s)", flush=True)
    # News: one per five members, for a company (or the whole group, one in ten).
    author = c.execute("SELECT id FROM members WHERE employee_no = 'demo-admin'").fetchone()[0]
    category = c.execute("SELECT MIN(id) FROM news_categories").fetchone()[0]
    sub_ids = sorted({s for _, s in branches})
    for i in range(n // 5):
        aud = root_id if i % 10 == 0 else rng.choice(sub_ids)
        title = f"工会通知 第{i}期：{rng.choice(['安全生产', '职工福利', '文体活动', '劳动竞赛', '技能培训'])}"
        body = f"各分会：{title}。请职工相互转告，按时参加。"
        at = ts(now - datetime.timedelta(hours=rng.randrange(1, 24 * 365)))
        cur = c.execute("INSERT INTO news_articles (category_id, unit_id, author_id, title, summary, body_md, pinned,"
                        " mandatory, draft, publish_at, view_count, title_tokens, body_tokens, created_at, updated_at,"
                        " comments_enabled) VALUES (?, ?, ?, ?, ?, ?, 0, 0, 0, ?, 0, ?, ?, ?, ?, 1)",
                        (category, aud, author, title, body[:80], body, at, bigrams(title), bigrams(body), at, at))
        c.execute("INSERT INTO news_audiences (article_id, unit_id) VALUES (?, ?)", (cur.lastrowid, aud))
    print(f"  {n // 5} news items ({time.monotonic() - t0:.0f} s)", flush=True)
    # Cases: three per ten members; a third open, some handed to a demo cadre.
    cadre = c.execute("SELECT id FROM members WHERE employee_no = 'demo-cadre'").fetchone()[0]
    states = ["submitted", "accepted", "closed", "closed", "closed", "answered"]
    for i in range(n * 3 // 10):
        mid, uid = rng.choice(members)
        st = rng.choice(states)
        at = now - datetime.timedelta(days=rng.randrange(0, 720))
        handler = cadre if i % 50 == 0 else None
        cur = c.execute("INSERT INTO grievances (member_id, anonymous, submit_token, unit_id, handler_id, category,"
                        " title, description, desired_outcome, state, version, due_at, overdue, escalations,"
                        " reopened, created_at, updated_at, public_ref) VALUES (?, 0, ?, ?, ?, 'pay', ?, ?, ?, ?, 1,"
                        " ?, 0, 0, 0, ?, ?, ?)",
                        (mid, f"bench-{i}", uid, handler, f"加班费问题 {i}", "三月份加班费至今未发放。", "足额发放。",
                         st, ts(at + datetime.timedelta(days=15)), ts(at), ts(at), f"WQ-B{i:07d}"))
        c.execute("INSERT INTO grievance_events (grievance_id, kind, from_state, to_state, author_id, author_label,"
                  " body, internal, created_at) VALUES (?, 'state', NULL, ?, NULL, '系统', '', 0, ?)",
                  (cur.lastrowid, st, ts(at)))
    print(f"  {n * 3 // 10} cases ({time.monotonic() - t0:.0f} s)", flush=True)
    # Engagement: ~30 events a member over 90 days (hourly buckets), and 2 notifications each.
    kinds = [k for k, w in KINDS for _ in range(w)]
    keys = {mid: member_key(mid) for mid, _ in members}
    batch = []
    for _ in range(n * 30):
        mid, uid = members[rng.randrange(len(members))]
        hour = (now - datetime.timedelta(hours=rng.randrange(1, 90 * 24))).replace(minute=0, second=0)
        kind = rng.choice(kinds)
        obj = rng.randrange(1, 1000) if kind in ("news", "activity") and rng.random() < 0.6 else None
        batch.append((keys[mid], uid, kind, obj, "view", ts(hour), "phone"))
        if len(batch) >= 200_000:
            c.executemany("INSERT INTO engagement_events (member_key, unit_id, object_type, object_id, action, hour,"
                          " device) VALUES (?, ?, ?, ?, ?, ?, ?)", batch)
            batch = []
    c.executemany("INSERT INTO engagement_events (member_key, unit_id, object_type, object_id, action, hour, device)"
                  " VALUES (?, ?, ?, ?, ?, ?, ?)", batch)
    c.executemany("INSERT INTO notifications (member_id, title, link, read, created_at, public_ref)"
                  " VALUES (?, '您的申诉有新进展', '/grievances', 0, ?, ?)",
                  [(mid, ts(now), f"NB{mid}x{j}") for mid, _ in members for j in range(2)])
    print(f"  {n * 30} engagement events, {2 * len(members)} notifications ({time.monotonic() - t0:.0f} s)", flush=True)
    c.commit()
    c.execute("ANALYZE")
    c.close()


def wait(port):
    for _ in range(400):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
            return
        except Exception:
            time.sleep(0.05)
    sys.exit(f"the server on {port} did not start")


def login(port, user):
    jar = http.cookiejar.CookieJar()
    op = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = op.open(f"http://127.0.0.1:{port}/login").read().decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    op.open(f"http://127.0.0.1:{port}/login", urllib.parse.urlencode(
        {"csrf_token": token, "username": user, "password": "zhijia-demo"}).encode())
    return op


def timed(op, port, path):
    t = time.perf_counter()
    try:
        r = op.open(f"http://127.0.0.1:{port}{urllib.parse.quote(path, safe='/?=&')}")
        r.read()
        status = r.status
    except urllib.error.HTTPError as e:
        status = e.code
    return (time.perf_counter() - t) * 1000, status


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--members", type=int, default=100_000)
    ap.add_argument("--requests", type=int, default=15)
    ap.add_argument("--seed", type=int, default=34)
    ap.add_argument("--keep")
    a = ap.parse_args()
    work = a.keep or tempfile.mkdtemp(prefix="zhijia-large-")
    os.makedirs(work, exist_ok=True)
    plain, large = os.path.join(work, "plain.db"), os.path.join(work, "large.db")
    for db in (plain, large):
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(db + suffix):
                os.remove(db + suffix)
    subprocess.run([a.bin, "demo"], env=env(plain, 0), check=True, stdout=subprocess.DEVNULL)
    shutil.copy(plain, large)
    print(f"growing a demo to {a.members} members more", flush=True)
    grow(large, a.members, a.seed)
    check = subprocess.run([a.bin, "check"], env=env(large, 0), capture_output=True, text=True)
    print(f"zhijia check on the grown union: exit {check.returncode}"
          + ("" if check.returncode == 0 else f"\n{check.stdout[-2000:]}{check.stderr[-2000:]}"), flush=True)
    size = os.path.getsize(large) / 2**20
    procs = {}
    try:
        for name, db, port in (("plain", plain, 18351), ("large", large, 18352)):
            procs[name] = (subprocess.Popen([a.bin, "serve"], env=env(db, port), stdout=subprocess.DEVNULL,
                                            stderr=subprocess.DEVNULL), port)
        for _, port in procs.values():
            wait(port)
        sessions = {(r, n): login(p, u) for r, u in ROLES.items() for n, (_, p) in procs.items()}
        print(f"\nlarge union: {a.members} members more, {size:.0f} MiB SQLite file; median of {a.requests}"
              " requests each, plain demo and large union interleaved, release build\n")
        print("| page | role | demo ms | large ms | status |")
        print("|---|---|---|---|---|")
        failures = 0
        for role in ROLES:
            pages = MEMBER_PAGES if role == "member" else ADMIN_PAGES
            for path in pages:
                times, statuses = {"plain": [], "large": []}, set()
                for _ in range(a.requests):
                    for n, (_, port) in procs.items():
                        ms, st = timed(sessions[(role, n)], port, path)
                        times[n].append(ms)
                        statuses.add(st)
                bad = any(s >= 500 for s in statuses)
                failures += bad
                print(f"| `{path}` | {role} | {statistics.median(times['plain']):.1f} | "
                      f"{statistics.median(times['large']):.1f} | {'/'.join(map(str, sorted(statuses)))} |", flush=True)
        for p, _ in procs.values():
            print(f"RSS of pid {p.pid}: {int(open(f'/proc/{p.pid}/status').read().split('VmRSS:')[1].split()[0]) / 1024:.0f} MiB")
        if failures or check.returncode != 0:
            sys.exit(f"{failures} page(s) answered 5xx; check exit {check.returncode}")
    finally:
        for p, _ in procs.values():
            p.terminate()
            p.wait(timeout=30)
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
