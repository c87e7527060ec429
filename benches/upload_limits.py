#!/usr/bin/env python3
"""Peak memory while hostile multipart requests are refused (issue 12).

Starts the release binary on a demo database, logs in as demo-member, and sends to
/grievances/new (a multipart form with files):
  1. one form with 20,000 distinct small fields (about 2 MB, under the size limit, so only the
     part count can stop it);
  2. one 200 MB body with an honest Content-Length (refused from the header);
  3. one 38 MB body with an honest Content-Length, under the 40 MB total (read, the file refused
     for its size; the global upload budget lets one such body in at a time);
  4. one 200 MB body sent chunked, without a Content-Length (refused before it is read);
  5. eight of each at once.
Reads the server's status and its peak resident set (VmHWM from /proc) before and after, and
checks that the server still serves a page afterwards. Prints a Markdown table for
docs/performance.md. Stdlib only.

Usage: benches/upload_limits.py --ours target/release/zhijia
"""
import argparse, http.client, http.cookiejar, os, re, subprocess, sys, tempfile, threading, time
import urllib.parse, urllib.request

PORT = 18093


def wait(url, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except Exception:
            time.sleep(0.05)
    sys.exit(f"server at {url} did not start")


def status_kib(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def send(path, headers, body, chunked=False):
    """POST and return (status, seconds); a connection the server closed counts as refused."""
    c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=120)
    t0 = time.time()
    try:
        c.request("POST", path, body=body, headers=headers, encode_chunked=chunked)
        r = c.getresponse()
        r.read()
        return r.status, time.time() - t0
    except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected) as e:
        return f"closed ({type(e).__name__})", time.time() - t0
    finally:
        c.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ours", required=True)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="zhijia-upload-")
    env = dict(os.environ, ZHIJIA_DATABASE_URL=f"sqlite://{work}/zhijia.db", ZHIJIA_BIND=f"127.0.0.1:{PORT}",
               ZHIJIA_SECRET_KEY="bench-secret-key-0123456789abcdef0123", RUST_LOG="warn")
    subprocess.run([args.ours, "demo"], env=env, check=True, capture_output=True)
    server = subprocess.Popen([args.ours, "serve"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{PORT}"
    try:
        wait(base + "/healthz")
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        page = opener.open(base + "/login").read().decode()
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        opener.open(base + "/login", urllib.parse.urlencode(
            {"csrf_token": token, "username": "demo-member", "password": "zhijia-demo"}).encode())
        form = opener.open(base + "/grievances/new").read().decode()
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
        cookie = "; ".join(f"{c.name}={c.value}" for c in jar)
        boundary = "zhijiaBenchBoundary"
        ctype = f"multipart/form-data; boundary={boundary}"

        def field(name, value):
            return f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n".encode()

        many = field("csrf_token", csrf) + b"".join(field(f"f{i}", "x") for i in range(20_000)) \
            + f"--{boundary}--\r\n".encode()
        big_head = field("csrf_token", csrf) + (
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"big.pdf\"\r\n"
            "Content-Type: application/pdf\r\n\r\n%PDF-1.4\n").encode()
        big_len = 200 * 1024 * 1024
        chunk = b"\0" * (1024 * 1024)

        def big_body():
            yield big_head
            for _ in range(big_len // len(chunk)):
                yield chunk
            yield f"\r\n--{boundary}--\r\n".encode()

        near_len = 38 * 1024 * 1024
        tail = f"\r\n--{boundary}--\r\n".encode()

        def near_body():
            yield big_head
            for _ in range(near_len // len(chunk)):
                yield chunk
            yield tail

        pid = server.pid
        rows = []
        base_rss = status_kib(pid, "VmRSS")
        cases = {
            "20,000 distinct fields (%.1f MB)" % (len(many) / 1e6):
                lambda: send("/grievances/new", {"Content-Type": ctype, "Cookie": cookie,
                                                  "Content-Length": str(len(many))}, many),
            "200 MB, with Content-Length":
                lambda: send("/grievances/new", {"Content-Type": ctype, "Cookie": cookie,
                                                  "Content-Length": str(big_len + len(big_head) + 40)}, big_body()),
            "38 MB, declared and sent (under the total limit)":
                lambda: send("/grievances/new", {"Content-Type": ctype, "Cookie": cookie,
                                                  "Content-Length": str(near_len + len(big_head) + len(tail))},
                             near_body()),
            "200 MB, chunked (no Content-Length)":
                lambda: send("/grievances/new", {"Content-Type": ctype, "Cookie": cookie}, big_body(), chunked=True),
        }
        for name, fn in cases.items():
            status, secs = fn()
            rows.append((name, "1", status, secs, status_kib(pid, "VmHWM")))
        for name, fn in cases.items():
            out = []
            threads = [threading.Thread(target=lambda: out.append(fn())) for _ in range(8)]
            t0 = time.time()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            statuses = sorted({str(s) for s, _ in out})
            rows.append((name, "8 at once", ", ".join(statuses), time.time() - t0, status_kib(pid, "VmHWM")))
        req = urllib.request.Request(base + "/news", headers={"Cookie": cookie})
        after = urllib.request.urlopen(req).status
        print(f"server RSS before: {base_rss / 1024:.1f} MiB; /news afterwards: {after}\n")
        print("| request | count | status | seconds | peak RSS so far (VmHWM) |")
        print("|---|---|---|---|---|")
        for name, count, status, secs, hwm in rows:
            print(f"| {name} | {count} | {status} | {secs:.2f} | {hwm / 1024:.1f} MiB |")
        peak = max(r[4] for r in rows) / 1024
        print(f"\npeak RSS over the whole run: {peak:.1f} MiB (aim: under 100 MiB)")
        if after != 200 or peak >= 100:
            sys.exit(1)
    finally:
        os.killpg(server.pid, 15)


if __name__ == "__main__":
    main()
