//! The real binary, on a free port: it migrates, serves pages and its embedded CSS.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

use crate::helpers::*;

/// A running `zhijia serve`, killed on drop.
pub struct Server {
    pub child: Child,
    pub addr: String,
    /// The server's database, for a test that changes it behind the server's back.
    pub db: zhijia::db::DbUrl,
    pub _db: TestDb,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn db_url_string(url: &zhijia::db::DbUrl) -> String {
    match url {
        zhijia::db::DbUrl::Sqlite(p) => format!("sqlite://{}", p.display()),
        zhijia::db::DbUrl::Postgres(u) => u.clone(),
    }
}

/// Start the binary (after `zhijia demo` when `demo`) and wait for its address.
pub fn start_server(demo: bool) -> Server {
    start_server_with(demo, &[])
}

/// `start_server` with more environment for `serve` (e.g. a short job tick).
pub fn start_server_with(demo: bool, more_env: &[(&str, &str)]) -> Server {
    let (db_url, db) = fresh_db();
    let url = db_url_string(&db_url);
    let bin = env!("CARGO_BIN_EXE_zhijia");
    if demo {
        let out = Command::new(bin)
            .arg("demo")
            .env("ZHIJIA_DATABASE_URL", &url)
            .env("ZHIJIA_CLOCK_START", crate::helpers::TEST_NOW)
            .env(
                "ZHIJIA_SECRET_KEY",
                "smoke-test-secret-key-0123456789abcdef",
            )
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "demo failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("demo-member"));
    }
    let mut child = Command::new(bin)
        .arg("serve")
        .env("ZHIJIA_DATABASE_URL", &url)
        .env("ZHIJIA_CLOCK_START", crate::helpers::TEST_NOW)
        .env("ZHIJIA_BIND", "127.0.0.1:0")
        .env(
            "ZHIJIA_SECRET_KEY",
            "smoke-test-secret-key-0123456789abcdef",
        )
        .env("RUST_LOG", "info")
        .envs(more_env.iter().copied())
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let mut addr = None;
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(i) = line.find("listening on http://") {
            addr = Some(line[i + "listening on http://".len()..].trim().to_string());
            break;
        }
        seen.push(line);
    }
    // Keep draining the log so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    let addr = addr.unwrap_or_else(|| panic!("server did not start:\n{}", seen.join("\n")));
    Server {
        child,
        addr,
        db: db_url,
        _db: db,
    }
}

/// A bare HTTP/1.0 GET: (status, headers, body).
pub fn http_get(addr: &str, path: &str) -> (u16, String, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).unwrap();
    let split = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&buf[..split]).to_string();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, head, buf[split + 4..].to_vec())
}

#[test]
fn the_real_binary_serves_pages_and_embedded_css_on_a_free_port() {
    let server = start_server(false);
    let (status, _, body) = http_get(&server.addr, "/healthz");
    assert_eq!(status, 200);
    assert_eq!(body, b"ok");
    let (status, head, body) = http_get(&server.addr, "/login");
    assert_eq!(status, 200);
    assert!(head.to_lowercase().contains("content-security-policy"));
    let html = String::from_utf8(body).unwrap();
    assert!(html.contains("登录职工之家"));
    let start = html.find("/static/app.").unwrap();
    let css_url = &html[start..start + html[start..].find('"').unwrap()];
    let (status, head, css) = http_get(&server.addr, css_url);
    assert_eq!(status, 200);
    assert!(head.contains("immutable"), "{head}");
    assert!(String::from_utf8_lossy(&css).contains(".tabbar"));
}

#[test]
fn an_empty_install_logs_a_one_time_setup_link() {
    let (url, _db) = fresh_db();
    let url = db_url_string(&url);
    let mut child = Command::new(env!("CARGO_BIN_EXE_zhijia"))
        .env("ZHIJIA_CLOCK_START", crate::helpers::TEST_NOW)
        .env("ZHIJIA_DATABASE_URL", &url)
        .env("ZHIJIA_BIND", "127.0.0.1:0")
        .env(
            "ZHIJIA_SECRET_KEY",
            "smoke-test-secret-key-0123456789abcdef",
        )
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut link = None;
    for line in BufReader::new(child.stderr.take().unwrap()).lines() {
        let line = line.unwrap();
        if let Some(i) = line.find("/setup?token=") {
            link = Some(line[i..].split_whitespace().next().unwrap().to_string());
        }
        if line.contains("listening on") {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let link = link.expect("no setup link logged");
    assert!(link.len() > "/setup?token=".len() + 20, "{link}");
}

#[test]
fn help_documents_every_command_and_setting() {
    let out = Command::new(env!("CARGO_BIN_EXE_zhijia"))
        .env("ZHIJIA_CLOCK_START", crate::helpers::TEST_NOW)
        .arg("--help")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for word in [
        "serve",
        "migrate",
        "admin",
        "import-members",
        "demo",
        "backup",
        "ZHIJIA_DATABASE_URL",
        "ZHIJIA_BIND",
        "ZHIJIA_SECRET_KEY",
    ] {
        assert!(text.contains(word), "--help lacks {word}:\n{text}");
    }
}

#[test]
fn backup_writes_a_consistent_copy_on_sqlite_and_explains_pg_dump_on_postgres() {
    let (url, _db) = fresh_db();
    let url_s = db_url_string(&url);
    let dir = tempfile_dir::TempDir::new();
    let dest = dir.0.join("backup.db");
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_zhijia"))
            .env("ZHIJIA_CLOCK_START", crate::helpers::TEST_NOW)
            .args(args)
            .env("ZHIJIA_DATABASE_URL", &url_s)
            .env(
                "ZHIJIA_SECRET_KEY",
                "smoke-test-secret-key-0123456789abcdef",
            )
            .output()
            .unwrap()
    };
    assert!(run(&["migrate"]).status.success());
    let out = run(&["backup", dest.to_str().unwrap()]);
    match url {
        zhijia::db::DbUrl::Sqlite(_) => {
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let copy = zhijia::db::DbUrl::parse(&format!("sqlite://{}", dest.display())).unwrap();
            let pool = zhijia::db::build_pool(&copy, 2).unwrap();
            let mut conn = pool.get().unwrap();
            assert_eq!(
                zhijia::db::migrate(&mut conn).unwrap(),
                0,
                "the copy has the whole schema"
            );
            // Refuses to overwrite.
            assert!(!run(&["backup", dest.to_str().unwrap()]).status.success());
        }
        zhijia::db::DbUrl::Postgres(_) => {
            assert!(!out.status.success());
            assert!(String::from_utf8_lossy(&out.stderr).contains("pg_dump"));
        }
    }
}
