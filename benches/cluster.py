#!/usr/bin/env python3
"""The cluster test (issue 16): nginx in front of three `zhijia serve` instances on one
PostgreSQL database, on loopback, with one secret key. `.ci/run` runs it; it exits non-zero
on the first failed check and prints what it measured.

Checks:
  1. three instances started at the same moment: no job error in any log;
  2. a browser logged in through nginx lands on every instance in turn and keeps working:
     session, CSRF tokens, flash, a multipart upload, the attachment and a photo download;
  3. the background job runs once per tick, on one instance (job_runs in the database);
  4. article views and engagement events counted by all three instances all arrive;
  5. the sign-up forecast is the same number on every instance;
  6. under a steady load of members filing cases and signing up, kill -9 a random instance,
     several rounds: every acknowledged case is in the database once, no sign-up exceeds the
     capacity (and `zhijia check` finds nothing), retried posts never make a second case;
  7. the outbox (issue 33): 600 messages to 100 members through a fake WeCom and a fake SMS
     gateway (each drops a repeat as the real ones do), kill -9 a random instance while they
     drain, several rounds: every message is delivered (alone or in a digest), no delivery
     reaches the provider under two different requests, nothing fails;
  8. SIGTERM: each instance exits in time, writes its buffers and gives up its leases.

Usage: benches/cluster.py --bin target/debug/zhijia --pg postgres://postgres@127.0.0.1:5432/postgres
       [--rounds 5] [--keep]
Needs nginx (Debian package) and psql. Stdlib only.
"""
import argparse, datetime, http.client, http.server, json, os, random, re, shutil, signal
import subprocess, sys, tempfile, threading, time, urllib.parse

NGINX_PORT = 18100
PORTS = [18101, 18102, 18103]
SECRET = "cluster-test-secret-key-0123456789-abcdefghij"
PASSWORD = "zhijia-demo"
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c63f8"
    "cfc0f01f00050001ff89993d1d0000000049454e44ae426082")


def fail(msg):
    print(f"FAILED: {msg}", flush=True)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)
    print(f"ok: {msg}", flush=True)


class Db:
    def __init__(self, admin_url, name):
        self.admin_url, self.name = admin_url, name
        p = urllib.parse.urlsplit(admin_url)
        self.url = urllib.parse.urlunsplit((p.scheme, p.netloc, "/" + name, p.query, ""))

    def admin(self, sql):
        subprocess.run(["psql", self.admin_url, "-qtAc", sql], check=True,
                       stdout=subprocess.DEVNULL)

    def q(self, sql):
        out = subprocess.run(["psql", self.url, "-qtAc", sql], check=True, capture_output=True,
                             text=True).stdout.strip()
        return out

    def n(self, sql):
        return int(self.q(sql) or 0)


class Browser:
    """A cookie jar over http.client: no redirects followed, so 303s are seen."""

    def __init__(self, port=NGINX_PORT, ip=None):
        self.port = port
        self.cookies = {}
        # A client address for nginx to pass on (it appends the peer): many members logging in
        # from one address would meet the per-address login limit, as they should.
        self.ip = ip

    def request(self, method, path, body=None, headers=None, port=None):
        h = dict(headers or {})
        if self.cookies:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        p = port or self.port
        h.setdefault("Origin", f"http://127.0.0.1:{p}")
        if self.ip:
            h["X-Forwarded-For"] = self.ip
        c = http.client.HTTPConnection("127.0.0.1", p, timeout=30)
        try:
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            data = r.read()
        finally:
            c.close()
        for k, v in r.getheaders():
            if k.lower() == "set-cookie":
                name, _, rest = v.partition("=")
                value = rest.split(";")[0]
                if value == "" or "Max-Age=0" in v:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = value
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), data

    def get(self, path, port=None):
        return self.request("GET", path, port=port)

    def token(self, page):
        m = re.search(rb'name="csrf_token" value="([^"]+)"', page)
        if not m:
            raise ValueError("no csrf token on the page")
        return m.group(1).decode()

    def post(self, path, fields, port=None, token_from=None):
        _, _, page = self.get(token_from or path, port=port)
        fields = [("csrf_token", self.token(page))] + list(fields)
        body = urllib.parse.urlencode(fields).encode()
        return self.request("POST", path, body,
                            {"Content-Type": "application/x-www-form-urlencoded"}, port=port)

    def post_multipart(self, path, fields, files, token):
        boundary = "----zhijiaCluster" + str(random.randrange(10**12))
        out = []
        for k, v in [("csrf_token", token)] + list(fields):
            out.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n'
                       .encode() + v.encode() + b"\r\n")
        for name, data in files:
            out.append(f'--{boundary}\r\nContent-Disposition: form-data; name="files"; '
                       f'filename="{name}"\r\nContent-Type: application/octet-stream\r\n\r\n'
                       .encode() + data + b"\r\n")
        out.append(f"--{boundary}--\r\n".encode())
        return self.request("POST", path, b"".join(out),
                            {"Content-Type": f"multipart/form-data; boundary={boundary}"})

    def login(self, user):
        st, hd, _ = self.post("/login", [("username", user), ("password", PASSWORD)])
        if st != 303 or "zj_session" not in self.cookies:
            fail(f"login of {user}: {st}")


class FakeProviders:
    """WeCom (gettoken, message/send: a repeated identical request is dropped, as WeCom's
    duplicate check does) and an SMS gateway (a repeated Idempotency-Key is dropped), each
    answering after a short random delay so that kills land mid-send."""

    def __init__(self):
        self.lock = threading.Lock()
        self.requests = {}  # key -> requests seen (the first delivered, the rest dropped)
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def reply(self, obj, status=200):
                body = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                self.reply({"errcode": 0, "errmsg": "ok", "access_token": "tok", "expires_in": 7200})

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                time.sleep(random.uniform(0.02, 0.15))
                if self.path.startswith("/sms"):
                    key = "sms:" + self.headers.get("Idempotency-Key", "")
                else:
                    key = "wecom:" + body.decode("utf-8", "replace")
                with fake.lock:
                    fake.requests[key] = fake.requests.get(key, 0) + 1
                self.reply({"errcode": 0, "errmsg": "ok", "msgid": "m", "id": "s"})

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def delivered(self):
        with self.lock:
            return dict(self.requests)


class Cluster:
    def __init__(self, binary, db, workdir, fake_port=None):
        self.binary, self.db, self.dir = binary, db, workdir
        self.fake_port = fake_port
        self.procs = {}

    def env(self, port):
        e = dict(os.environ)
        e.update({
            "ZHIJIA_DATABASE_URL": self.db.url, "ZHIJIA_BIND": f"127.0.0.1:{port}",
            "ZHIJIA_SECRET_KEY": SECRET, "ZHIJIA_TRUSTED_PROXIES": "127.0.0.1",
            "ZHIJIA_POOL_SIZE": "4", "ZHIJIA_JOB_TICK_SECS": "2", "ZHIJIA_SHUTDOWN_SECS": "5",
            "RUST_LOG": "info",
        })
        if self.fake_port:
            api = f"http://127.0.0.1:{self.fake_port}"
            e.update({
                "ZHIJIA_WECOM_CORP_ID": "corp", "ZHIJIA_WECOM_AGENT_ID": "1000002",
                "ZHIJIA_WECOM_SECRET": "cluster-wecom-secret", "ZHIJIA_WECOM_API": api,
                "ZHIJIA_SMS_URL": f"{api}/sms", "ZHIJIA_SMS_KEY": "cluster-sms-key",
                # A killed sender's claims lapse within seconds, not minutes.
                "ZHIJIA_OUTBOX_CLAIM_SECS": "6",
                # Slow enough that every kill below lands while the sender is sending (at the
                # default 100/s the 600 messages were out before the third kill).
                "ZHIJIA_OUTBOX_RATE": "25",
                # As in production, one address for all: a resend must be the same request
                # (the first run of this check, with each instance's own address, found WeCom
                # given a second, different request for 19 of 600 deliveries).
                "ZHIJIA_PUBLIC_URL": f"http://127.0.0.1:{NGINX_PORT}",
            })
        return e

    def start(self, port):
        log = open(os.path.join(self.dir, f"zhijia-{port}.log"), "ab")
        self.procs[port] = subprocess.Popen([self.binary, "serve"], env=self.env(port),
                                            stdout=log, stderr=log)

    def wait_ready(self, port, timeout=60):
        wait_ok(port, "/readyz", timeout)

    def log(self, port):
        with open(os.path.join(self.dir, f"zhijia-{port}.log"), "rb") as f:
            return f.read().decode("utf-8", "replace")

    def logs(self):
        text = ""
        for port in PORTS:
            with open(os.path.join(self.dir, f"zhijia-{port}.log"), "rb") as f:
                text += f.read().decode("utf-8", "replace")
        return text


def wait_ok(port, path, timeout=60):
    """Wait until GET `path` on `port` answers 200."""
    end = time.time() + timeout
    while time.time() < end:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", path)
            if c.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    fail(f"no 200 from {path} on {port}")


def start_nginx(work):
    """nginx in front of PORTS, its files under `work` (readable by its non-root workers)."""
    os.chmod(work, 0o755)
    for sub in ("body", "proxy", "fcgi", "uwsgi", "scgi"):
        os.makedirs(os.path.join(work, sub), exist_ok=True)
        os.chmod(os.path.join(work, sub), 0o777)
    conf = os.path.join(work, "nginx.conf")
    with open(conf, "w") as f:
        f.write(nginx_conf(work))
    proc = subprocess.Popen(["nginx", "-c", conf, "-p", work],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_ok(NGINX_PORT, "/readyz")
    return proc


def nginx_conf(d):
    servers = "\n".join(f"    server 127.0.0.1:{p} max_fails=1 fail_timeout=1s;" for p in PORTS)
    return f"""
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/nginx-error.log warn;
daemon off;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {d}/body; proxy_temp_path {d}/proxy; fastcgi_temp_path {d}/fcgi;
  uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;
  client_max_body_size 12m;
  upstream zhijia {{
{servers}
  }}
  server {{
    listen 127.0.0.1:{NGINX_PORT};
    location / {{
      proxy_pass http://zhijia;
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      # Which instance answered (the test reads it; a real site need not send it).
      add_header X-Upstream $upstream_addr always;
      # A connection refused by a dead instance is retried on the next one; a POST that
      # reached an instance is never sent twice (nginx's default for non-idempotent methods).
      proxy_next_upstream error timeout;
      proxy_connect_timeout 1s;
    }}
  }}
}}
"""


def beijing_local(minutes):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=8, minutes=minutes)
    return t.strftime("%Y-%m-%dT%H:%M")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--pg", required=True, help="admin URL of the PostgreSQL server")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--keep", action="store_true", help="keep the database and the logs")
    a = ap.parse_args()
    if not shutil.which("nginx"):
        fail("nginx is not installed (apt-get install nginx)")
    binary = os.path.abspath(a.bin)
    work = tempfile.mkdtemp(prefix="zhijia-cluster-")
    db = Db(a.pg, "zhijia_cluster")
    db.admin("DROP DATABASE IF EXISTS zhijia_cluster WITH (FORCE)")
    db.admin("CREATE DATABASE zhijia_cluster")
    started = time.time()
    fake = FakeProviders()
    cl = Cluster(binary, db, work, fake.port)
    nginx = None
    try:
        subprocess.run([binary, "demo"], env=cl.env(PORTS[0]), check=True,
                       stdout=subprocess.DEVNULL)
        # 1. Three instances at the same moment.
        for p in PORTS:
            cl.start(p)
        for p in PORTS:
            cl.wait_ready(p)
        nginx = start_nginx(work)
        time.sleep(5)  # two job ticks
        errors = [l for l in cl.logs().splitlines() if "background job" in l or "duplicate key" in l]
        check(not errors, f"three instances started together: no job error ({errors[:2]})")

        browsing(cl, db)
        jobs(db)
        counting(db)
        forecast(db)
        crashes(cl, db, a.rounds)
        outbox(cl, db, fake, a.rounds)
        stopping(cl, db)
        print(f"cluster test passed in {time.time() - started:.0f} s", flush=True)
    finally:
        for p in cl.procs.values():
            if p.poll() is None:
                p.kill()
        if nginx and nginx.poll() is None:
            nginx.kill()
        if not a.keep:
            db.admin("DROP DATABASE IF EXISTS zhijia_cluster WITH (FORCE)")
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept: database zhijia_cluster, logs in {work}")


def browsing(cl, db):
    b = Browser()
    b.login("demo-member")
    seen = set()
    for path in ["/", "/news", "/me", "/activities", "/showcase", "/grievances", "/", "/me"]:
        st, hd, body = b.get(path)
        if st != 200 or "王小明".encode() not in body:
            fail(f"{path} through nginx: {st}")
        seen.add(hd.get("x-upstream"))
    check(len(seen) == 3, f"one session served by all three instances {sorted(seen)}")
    # A form read from one instance, posted to the next, its flash shown by the third.
    _, _, page = b.get("/grievances/new")
    token = b.token(page)
    title = "集群测试：加班费"
    st, hd, body = b.post_multipart("/grievances/new", [
        ("submit_token", "cluster-browse-0000000001"), ("category", "pay"), ("title", title),
        ("description", "三月份加班费至今未发放。"), ("desired_outcome", "足额发放。")],
        [("工资条.png", PNG)], token)
    why = re.findall(r'class="(?:field-error|flash flash-error)"[^>]*>([^<]+)', body.decode("utf-8", "replace"))
    check(st == 303 and hd.get("location", "").startswith("/grievances/WQ-"),
          f"a multipart post with a token from another instance is taken ({st} {why})")
    case = hd["location"]
    st, hd, body = b.get(case)
    check(st == 200 and "申诉已提交".encode() in body, "its flash is shown by the next instance")
    m = re.search(rb'href="(/grievances/WQ-[^"]+/attachments/\d+)"', body)
    check(m is not None, "the case page lists the attachment")
    for _ in range(3):
        st, hd, data = b.get(m.group(1).decode())
        if st != 200 or not hd.get("content-type", "").startswith("image/"):
            fail(f"attachment download: {st} {hd.get('content-type')}")
    check(True, "the attachment downloads from every instance")
    _, _, gallery = b.get("/showcase")
    img = re.search(rb'src="(/showcase/\d+/photos/\d+(?:/thumb)?)"', gallery)
    check(img is not None, "the gallery shows photos")
    for p in PORTS:
        st, hd, _ = b.get(img.group(1).decode(), port=p)
        if st != 200:
            fail(f"photo from {p}: {st}")
    check(True, "a photo is served by each instance directly")


def jobs(db):
    # Three instances tick every 2 s: over 12 s that is 18 chances to run, 6 ticks to run in.
    # (The deadlines job; the forecast job claims its own ticks under its own name.)
    first = db.n("SELECT COALESCE(max(extract(epoch FROM tick))::bigint, 0) FROM job_runs WHERE name = 'deadlines'")
    time.sleep(12)
    ticks = [int(t) for t in db.q(
        f"SELECT extract(epoch FROM tick)::bigint FROM job_runs WHERE name = 'deadlines' AND extract(epoch FROM tick) > {first} ORDER BY tick"
    ).split()]
    holders = db.n(f"SELECT count(DISTINCT holder) FROM job_runs WHERE name = 'deadlines' AND extract(epoch FROM tick) > {first}")
    gaps = [b - a for a, b in zip(ticks, ticks[1:])]
    # (A tick may be skipped when the holder's timer lands on a boundary; none is ever doubled:
    # the key on (job, tick) refuses a second run.)
    check(4 <= len(ticks) <= 6 and all(g in (2, 4) for g in gaps),
          f"the job ran once per tick, no tick doubled ({len(ticks)} runs in 12 s, gaps {set(gaps)}, {holders} holder(s))")
    # The forecast model: trained once by one of the three (its job: lease + per-tick claim).
    models = db.n("SELECT count(*) FROM forecast_models")
    check(models == 1, f"three instances trained one forecast model ({models})")


def counting(db):
    b = Browser()
    b.login("demo-member-b")
    _, _, page = b.get("/news")
    art = re.search(rb'href="/news/(\d+)"', page)
    check(art is not None, "the news list links an article")
    aid = int(art.group(1))
    views = lambda: db.n(f"SELECT view_count FROM news_articles WHERE id = {aid}")
    events = lambda: db.n("SELECT count(*) FROM engagement_events")
    v0, e0 = views(), events()
    served = set()
    for _ in range(30):
        st, hd, _ = b.get(f"/news/{aid}")
        if st != 200:
            fail(f"article view {st}")
        served.add(hd.get("x-upstream"))
    time.sleep(4)  # the buffers are written every 2 s
    check(len(served) == 3 and views() - v0 == 30,
          f"30 views counted by three instances all arrive ({views() - v0})")
    check(events() - e0 >= 30, f"their engagement events arrive ({events() - e0})")


def forecast(db):
    # The chair's own union (a chair may only address units they manage).
    unit = db.n("SELECT id FROM org_units WHERE name = '第一工程公司工会'")
    b = Browser()
    b.login("demo-chair")
    numbers = []
    fields = [("title", "周末亲子运动会"), ("kind", "亲子活动"), ("place", "体育馆"),
              ("starts_at", beijing_local(60 * 24 * 9)), ("ends_at", beijing_local(60 * 24 * 9 + 180)),
              ("capacity", "40"), ("audience", str(unit)), ("action", "forecast")]
    for p in PORTS:
        st, _, body = b.post("/admin/activities/new", fields, port=p)
        m = re.search(rb'<span class="big">(\d+)</span>', body)
        if st != 200 or not m:
            fail(f"forecast on {p}: {st}")
        numbers.append(int(m.group(1)))
    check(numbers[0] > 0 and len(set(numbers)) == 1,
          f"the forecast is the same on every instance {numbers}")


def crashes(cl, db, rounds):
    root = db.n("SELECT id FROM org_units WHERE parent_id IS NULL")
    admin = Browser()
    admin.login("demo-admin")
    st, hd, _ = admin.post("/admin/activities/new", [
        ("title", "集群测试限额活动"), ("kind", "文体活动"), ("place", "礼堂"),
        ("starts_at", beijing_local(60 * 24 * 3)), ("ends_at", beijing_local(60 * 24 * 3 + 60)),
        ("capacity", "3"), ("audience", str(root))])
    check(st == 303, "a 3-seat activity for everyone (six members will want it)")
    act = int(hd["location"].rsplit("/", 1)[1])
    workers = []
    acked, lock, stop = [], threading.Lock(), threading.Event()
    stats = {"posts": 0, "errors": 0, "retries": 0, "signups": 0}

    def worker(n):
        b = Browser()
        b.login(f"ZJ{10001 + n:05d}")
        i = 0
        while not stop.is_set():
            i += 1
            token_key = f"cluster-{n:02d}-{i:05d}-xxxxxxxxxx"
            title = f"集群压测 {n}-{i}"
            for attempt in range(4):
                try:
                    _, _, page = b.get("/grievances/new")
                    st, hd, _ = b.post_multipart("/grievances/new", [
                        ("submit_token", token_key), ("category", "other"), ("title", title),
                        ("description", "压测用的申诉内容。"), ("desired_outcome", "无")],
                        [], b.token(page))
                except (OSError, http.client.HTTPException, ValueError):
                    st = 0
                with lock:
                    stats["posts"] += 1
                if st == 303:
                    with lock:
                        acked.append((token_key, title))
                    break
                with lock:
                    stats["errors"] += 1
                    stats["retries"] += 1
                time.sleep(0.2)
            if i % 5 == 1:
                try:
                    st, _, _ = b.post(f"/activities/{act}/signup", [], token_from=f"/activities/{act}")
                    if st == 303:
                        with lock:
                            stats["signups"] += 1
                except (OSError, http.client.HTTPException, ValueError):
                    pass

    for n in range(6):
        t = threading.Thread(target=worker, args=(n,), daemon=True)
        t.start()
        workers.append(t)
    for r in range(rounds):
        time.sleep(random.uniform(1.0, 3.0))
        victim = random.choice(PORTS)
        cl.procs[victim].send_signal(signal.SIGKILL)
        cl.procs[victim].wait()
        print(f"round {r + 1}: killed the instance on {victim}", flush=True)
        time.sleep(random.uniform(0.5, 1.5))
        cl.start(victim)
        cl.wait_ready(victim)
    time.sleep(2)
    stop.set()
    for t in workers:
        t.join(timeout=60)
    print(f"load: {stats}, {len(acked)} acknowledged cases", flush=True)
    check(len(acked) > 20, "the load ran")
    titles = db.q("SELECT title FROM grievances WHERE title LIKE '集群压测 %'").splitlines()
    missing = [t for _, t in acked if t not in titles]
    check(not missing, f"every acknowledged case is in the database ({len(missing)} missing)")
    dup = len(titles) - len(set(titles))
    check(dup == 0, f"no form made two cases, retries included ({dup} duplicates)")
    confirmed = db.n(f"SELECT count(*) FROM activity_signups WHERE activity_id = {act} AND status = 'confirmed'")
    waiting = db.n(f"SELECT count(*) FROM activity_signups WHERE activity_id = {act} AND status = 'waitlisted'")
    check(confirmed == 3 and waiting == 3,
          f"the seats filled and no sign-up over the capacity ({confirmed} of 3 confirmed, {waiting} waiting)")
    r = subprocess.run([cl.binary, "check"], env=cl.env(PORTS[0]), capture_output=True, text=True)
    check(r.returncode == 0, f"zhijia check finds no broken count: {r.stdout.strip()[-200:]}")


def outbox(cl, db, fake, rounds):
    members = "SELECT id FROM members WHERE employee_no LIKE 'ZJ1%' ORDER BY id LIMIT 100"
    db.q(f"""
        INSERT INTO channel_profiles (member_id, quiet_start, quiet_end, consent, updated_at)
          SELECT id, 0, 0, TRUE, now() FROM ({members}) m
          ON CONFLICT (member_id) DO UPDATE SET consent = TRUE, quiet_start = 0, quiet_end = 0;
        INSERT INTO channel_bindings (member_id, channel, address, created_at)
          SELECT id, 'wecom', 'u' || id, now() FROM ({members}) m WHERE id % 2 = 0
          ON CONFLICT DO NOTHING;
        INSERT INTO outbox_messages (member_id, kind, title, link, urgent, created_at)
          SELECT m.id, 'progress', '集群消息 ' || g, '/notifications/x' || m.id || '-' || g, FALSE, now()
          FROM ({members}) m, generate_series(1, 6) g;""")
    ours = "outbox_deliveries d JOIN outbox_messages o ON o.id = d.message_id WHERE o.title LIKE '集群消息 %'"
    sent_so_far = lambda: db.n(f"SELECT count(*) FROM {ours} AND d.state = 'sent'")
    # Each round: once sending is under way, kill the instance holding the sender's lease
    # while it sends (its claims lapse; another instance takes over).
    last = 0
    for r in range(rounds):
        deadline = time.time() + 30
        while sent_so_far() <= last and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(random.uniform(0.0, 0.3))
        holder = db.q("SELECT holder FROM job_leases WHERE name = 'outbox'")
        victim = next((p for p in PORTS if holder and f"held as {holder}" in cl.log(p)), random.choice(PORTS))
        cl.procs[victim].send_signal(signal.SIGKILL)
        cl.procs[victim].wait()
        last = sent_so_far()
        print(f"outbox round {r + 1}: killed the sender on {victim} ({last} sent so far)", flush=True)
        cl.start(victim)
        cl.wait_ready(victim)
    last_kill = time.time()
    deadline = time.time() + 120
    while time.time() < deadline:
        left = db.n(f"SELECT count(*) FROM outbox_messages WHERE title LIKE '集群消息 %' AND planned_at IS NULL")
        left += db.n(f"SELECT count(*) FROM {ours} AND d.state NOT IN ('sent', 'merged', 'failed', 'skipped')")
        if left == 0:
            break
        time.sleep(1)
    messages = db.n("SELECT count(*) FROM outbox_messages WHERE title LIKE '集群消息 %'")
    done = db.n(f"SELECT count(DISTINCT d.message_id) FROM {ours} AND d.state IN ('sent', 'merged')")
    bad = db.q(f"SELECT d.state || ' ' || coalesce(d.last_error, '') FROM {ours} "
               "AND d.state NOT IN ('sent', 'merged') LIMIT 3")
    check(messages == 600 and done == messages,
          f"every message delivered, alone or in a digest ({done} of {messages}; {bad!r})")
    sent = db.n(f"SELECT count(*) FROM {ours} AND d.state = 'sent'")
    sms_keys = set("sms:" + k for k in db.q(f"SELECT d.idem_key FROM {ours} AND d.channel = 'sms'").split())
    ids = set(db.q(f"SELECT id FROM ({members}) m").split())

    def is_ours(key):
        if key.startswith("sms:"):
            return key in sms_keys
        touser = json.loads(key[len("wecom:"):]).get("touser", "")
        return touser.startswith("u") and touser[1:] in ids

    seen = fake.delivered()
    keys = [k for k in seen if is_ours(k)]
    ours_keys = len(keys)
    resent = sum(seen[k] - 1 for k in keys)
    print(f"outbox: {sent} deliveries sent for {messages} messages, {ours_keys} distinct requests "
          f"reached the providers, {resent} repeats dropped by them", flush=True)
    if ours_keys != sent:
        by_user = {}
        for k in keys:
            if k.startswith("wecom:"):
                v = json.loads(k[len("wecom:"):])
                by_user.setdefault(v["touser"], []).append(v["textcard"])
        odd = {u: cards for u, cards in by_user.items() if len(cards) > 6}
        print(f"members with more than six distinct WeCom requests: {list(odd.items())[:2]}", flush=True)
    check(ours_keys == sent, "no delivery reached a provider under two different requests "
          f"({ours_keys} distinct requests for {sent} sent deliveries)")
    # A killed instance's leases stay until they lapse (6 s) and a live instance takes them over
    # (its next round, within 2 s); the stop check that follows is about clean stops only.
    time.sleep(max(0.0, last_kill + 10 - time.time()))


def stopping(cl, db):
    for p in PORTS:
        cl.procs[p].send_signal(signal.SIGTERM)
    for p in PORTS:
        try:
            code = cl.procs[p].wait(timeout=15)
        except subprocess.TimeoutExpired:
            fail(f"the instance on {p} did not stop within 15 s of SIGTERM")
        check(code == 0, f"the instance on {p} stopped cleanly on SIGTERM")
    logs = cl.logs()
    check(logs.count("leases released") >= 3, "each stopped instance wrote its buffers and released its leases")
    check(db.n("SELECT count(*) FROM job_leases") == 0, "no lease is left behind")
    bad = [l for l in logs.splitlines() if "background job failed" in l or "panicked" in l]
    check(not bad, f"no job failure or panic in any log ({bad[:2]})")


if __name__ == "__main__":
    main()
