#!/usr/bin/env python3
"""The forecast's training at group scale (issue 32): a demo union grown to 100,000 members and
5,000 more past activities (audiences of a branch or a whole company: about 55 million
member x activity pairs), with synthetic sign-ups drawn from known chances (members with a
propensity, regulars who come often, each company's taste for each kind, events that draw a
crowd now and then). Then `zhijia forecast-backtest` on it, which does what the training job
does (load the history, train, backtest): wall time, peak RSS, the MAE against the simple
figures and the 80 % coverage. Prints a Markdown row for docs/performance.md.

Usage: benches/forecast_scale.py --bin target/release/zhijia [--members 100000] [--activities 5000]
Stdlib only. The database is a fresh SQLite demo in a temporary directory (about 2 GB free
needed at full size).
"""
import argparse, datetime, math, os, random, sqlite3, subprocess, sys, tempfile, time

KINDS = ["文体活动", "培训讲座", "志愿服务", "劳动竞赛", "亲子活动"]


def env(db):
    e = dict(os.environ)
    e.update({"ZHIJIA_DATABASE_URL": f"sqlite://{db}",
              "ZHIJIA_SECRET_KEY": "forecast-scale-bench-secret-0123456789", "RUST_LOG": "warn"})
    return e


def poisson(rng, lam):
    """A Poisson draw (Knuth for small means, normal beyond)."""
    if lam > 30:
        return max(0, int(round(rng.gauss(lam, math.sqrt(lam)))))
    l, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= l:
            return k
        k += 1


def grow(db, members, activities, seed):
    rng = random.Random(seed)
    c = sqlite3.connect(db)
    units = c.execute("SELECT id, path, kind FROM org_units").fetchall()
    companies = [u for u in units if u[2] == "subsidiary"]
    leaves = [u for u in units if u[2] in ("branch", "team")
              and any(u[1].startswith(co[1]) for co in companies)]
    now = datetime.datetime.utcnow().replace(microsecond=0)
    stamp = now.strftime("%Y-%m-%d %H:%M:%S")
    t0 = time.monotonic()
    rows = []
    for i in range(members):
        u = rng.choice(leaves)[0]
        rows.append((f"g{i:06d}", f"职工{i}", u, stamp, stamp))
    c.executemany("INSERT INTO members (employee_no, name, unit_id, must_change_password, is_admin,"
                  " disabled, created_at, updated_at, large_text, status) VALUES (?, ?, ?, 0, 0, 0, ?, ?, 0, 'member')",
                  rows)
    by_unit = {}
    for mid, uid in c.execute("SELECT id, unit_id FROM members WHERE disabled = 0"):
        by_unit.setdefault(uid, []).append(mid)
    path_of = {u[0]: u[1] for u in units}
    # Propensities: 1.5 % regulars, the rest nearly silent; a company's taste for each kind.
    regular = {}
    for ms in by_unit.values():
        for m in ms:
            if rng.random() < 0.015:
                regular[m] = rng.uniform(0.05, 0.25)
    taste = {(co[0], k): rng.uniform(0.5, 1.8) for co in companies for k in KINDS}
    author = c.execute("SELECT id FROM members WHERE employee_no = 'demo-chair'").fetchone()[0]
    print(f"  {members} members in {time.monotonic() - t0:.1f} s", file=sys.stderr)
    t0 = time.monotonic()
    start = now - datetime.timedelta(days=3 * 365)
    pairs, signs = 0, 0
    audiences = {}
    for a in range(activities):
        starts = start + datetime.timedelta(minutes=int((3 * 365 - 10) * 1440 * a / activities))
        starts = starts.replace(hour=rng.choice([1, 2, 6, 11, 12]), minute=0, second=0)
        # Most go to one branch (or team), one in seven to a whole company: about 50 million
        # pairs at full size, as on the grown demo issue 32 measured.
        if rng.random() < 0.85:
            unit = rng.choice(leaves)
        else:
            unit = rng.choice(companies)
        company = next(co for co in companies if unit[1].startswith(co[1]))
        kind = rng.choice(KINDS)
        opens = starts - datetime.timedelta(days=rng.randint(2, 14))
        f = lambda t: t.strftime("%Y-%m-%d %H:%M:%S")
        cur = c.execute(
            "INSERT INTO activities (unit_id, author_id, title, kind, description, place, starts_at, ends_at,"
            " capacity, signup_opens_at, signup_closes_at, extra_fields, confirmed_count, waitlist_seq,"
            " checkin_secret, published, title_tokens, body_tokens, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, '', '礼堂', ?, ?, 100000, ?, ?, '', 0, 0, ?, 1, '', '', ?, ?)",
            (unit[0], author, f"往期活动 {a}", kind, f(starts), f(starts + datetime.timedelta(hours=2)),
             f(opens), f(starts - datetime.timedelta(hours=1)), f"S{a:024d}", f(opens), f(opens)))
        aid = cur.lastrowid
        c.execute("INSERT INTO activity_audiences (activity_id, unit_id) VALUES (?, ?)", (aid, unit[0]))
        if unit[0] not in audiences:
            inside = [m for uid, ms in by_unit.items() if path_of[uid].startswith(unit[1]) for m in ms]
            audiences[unit[0]] = ([(m, regular[m]) for m in inside if m in regular],
                                  [m for m in inside if m not in regular])
        regulars, silent = audiences[unit[0]]
        pairs += len(regulars) + len(silent)
        buzz = 2.5 if rng.random() < 0.06 else (0.5 if rng.random() < 0.25 else 1.0)
        mult = taste[(company[0], kind)] * buzz
        signed = {m for m, p in regulars if rng.random() < min(0.95, p * mult)}
        n = min(len(silent), poisson(rng, len(silent) * 0.0008 * mult))
        signed.update(rng.sample(silent, n))
        signs += len(signed)
        c.executemany(
            "INSERT INTO activity_signups (activity_id, member_id, status, position, answers, rating_comment,"
            " created_at, updated_at) VALUES (?, ?, 'confirmed', 0, '', '', ?, ?)",
            [(aid, m, f(opens), f(opens)) for m in signed])
        if a % 500 == 499:
            print(f"  {a + 1} activities, {pairs:,} pairs, {signs:,} sign-ups, {time.monotonic() - t0:.0f} s",
                  file=sys.stderr)
    c.commit()
    c.close()
    return pairs, signs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--members", type=int, default=100_000)
    ap.add_argument("--activities", type=int, default=5_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", help="directory to keep the grown database in (reused when there)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or tmp
        db = f"{work}/scale.db"
        if os.path.exists(db):
            c = sqlite3.connect(db)
            pairs, signs = 0, c.execute("SELECT COUNT(*) FROM activity_signups").fetchone()[0]
            c.close()
        else:
            subprocess.run([args.bin, "demo"], env=env(db), check=True, capture_output=True)
            print("growing the demo…", file=sys.stderr)
            pairs, signs = grow(db, args.members, args.activities, args.seed)
        print(f"{pairs:,} pairs, {signs:,} sign-ups; training…", file=sys.stderr)
        t0 = time.monotonic()
        out = subprocess.run(["/usr/bin/time", "-f", "%M", args.bin, "forecast-backtest"],
                             env=env(db), capture_output=True, text=True)
        took = time.monotonic() - t0
        if out.returncode != 0:
            sys.exit(out.stdout + out.stderr)
        rss = int(out.stderr.strip().splitlines()[-1]) / 1024
        print(out.stdout)
        last = out.stdout.strip().splitlines()[-1]
        pairs = pairs or int(out.stdout.split(" member")[0].split(", ")[-1])
        print(f"| {args.members:,} members, {args.activities:,} + demo activities, {pairs / 1e6:.1f} M pairs,"
              f" {signs:,} sign-ups | {took:.1f} s | {rss:.0f} MB | {last} |")


if __name__ == "__main__":
    main()
