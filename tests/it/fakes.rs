//! Fake providers on loopback for the outbox tests: WeCom (gettoken, message/send with its
//! duplicate check and `invaliduser`), WeChat (stable_token, template/send with
//! `client_msg_id`), the SMS gateway (signature, Idempotency-Key) and an SMTP server. Each
//! counts what it accepted, once per message as the real provider would, and follows a script
//! of faults (a 500, a stall past the client's timeout, an expired token, an error code).

use std::collections::{HashSet, VecDeque};
use std::io::{BufRead, BufReader, Write};
use std::sync::{Arc, Mutex};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use serde_json::{json, Value};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer 500 without accepting.
    Http500,
    /// Accept the message, then answer too late (the client times out): a lost response.
    Stall,
    /// Say the access token expired (WeCom 42001, WeChat 40001).
    ExpireToken,
    /// Answer with this error code.
    Errcode(i64),
    /// Accept, but report the user unreachable (`invaliduser`).
    InvalidUser,
}

#[derive(Default)]
pub struct FakeState {
    /// Faults for the next send requests, any provider, first first.
    pub script: VecDeque<Fault>,
    pub tokens_issued: usize,
    pub send_requests: usize,
    /// When each send request arrived (any provider).
    pub arrivals: Vec<std::time::Instant>,
    /// Accepted messages per provider: (provider, body).
    pub accepted: Vec<(&'static str, Value)>,
    /// Requests a provider dropped as duplicates.
    pub duplicates: usize,
    pub bad_signatures: usize,
    pub smtp_reject: bool,
    /// OAuth codes the providers will accept once: code → userid or openid.
    pub codes: std::collections::HashMap<String, String>,
    seen: HashSet<String>,
    token: String,
}

impl FakeState {
    pub fn accepted_by(&self, provider: &str) -> Vec<&Value> {
        self.accepted
            .iter()
            .filter(|(p, _)| *p == provider)
            .map(|(_, v)| v)
            .collect()
    }
}

pub type Shared = Arc<Mutex<FakeState>>;

pub struct Fakes {
    pub url: String,
    pub smtp_url: String,
    pub state: Shared,
    handle: actix_web::dev::ServerHandle,
}

impl Drop for Fakes {
    fn drop(&mut self) {
        let h = self.handle.clone();
        std::thread::spawn(move || actix_web::rt::System::new().block_on(h.stop(false)));
    }
}

pub const SMS_KEY: &str = "fake-sms-key";
/// The client's timeout in the tests; a stall lasts longer.
pub const TIMEOUT_MS: u64 = 1500;

impl Fakes {
    pub fn start() -> Fakes {
        let state: Shared = Arc::default();
        state.lock().unwrap().token = "tok-1".into();
        let (tx, rx) = std::sync::mpsc::channel();
        let st = state.clone();
        std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let data = web::Data::new(st);
                let srv = HttpServer::new(move || {
                    App::new()
                        .app_data(data.clone())
                        .route("/cgi-bin/gettoken", web::get().to(wecom_token))
                        .route("/cgi-bin/message/send", web::post().to(wecom_send))
                        .route("/cgi-bin/stable_token", web::post().to(wechat_token))
                        .route(
                            "/cgi-bin/message/template/send",
                            web::post().to(wechat_send),
                        )
                        .route("/sms", web::post().to(sms_send))
                        .route("/cgi-bin/auth/getuserinfo", web::get().to(wecom_userinfo))
                        .route("/sns/oauth2/access_token", web::get().to(wechat_oauth))
                })
                .workers(1)
                .bind("127.0.0.1:0")
                .unwrap();
                let addr = srv.addrs()[0];
                let server = srv.run();
                tx.send((addr, server.handle())).unwrap();
                let _ = server.await;
            });
        });
        let (addr, handle) = rx.recv().unwrap();
        let smtp_url = smtp_server(state.clone());
        Fakes {
            url: format!("http://{addr}"),
            smtp_url,
            state,
            handle,
        }
    }

    /// The channel configuration pointing at these fakes.
    pub fn channels(&self) -> zhijia::config::ChannelsConfig {
        use zhijia::config::*;
        ChannelsConfig {
            wecom: Some(WecomConfig {
                corp_id: "corp".into(),
                agent_id: 1000002,
                secret: Secret("wecom-secret-value".into()),
                api: self.url.clone(),
            }),
            wechat: Some(WechatConfig {
                app_id: "wx-app".into(),
                secret: Secret("wechat-secret-value".into()),
                api: self.url.clone(),
            }),
            sms: Some(SmsConfig {
                url: format!("{}/sms", self.url),
                key: Secret(SMS_KEY.into()),
            }),
            smtp: Some(SmtpConfig {
                url: Secret(self.smtp_url.clone()),
                from: "职工之家 <noreply@union.example.test>".into(),
            }),
            workers: 4,
            timeout_ms: TIMEOUT_MS,
            claim_secs: 0,
            rate: 0,
        }
    }

    pub fn script(&self, faults: &[Fault]) {
        self.state
            .lock()
            .unwrap()
            .script
            .extend(faults.iter().cloned());
    }

    pub fn accepted(&self, provider: &str) -> Vec<Value> {
        self.state
            .lock()
            .unwrap()
            .accepted_by(provider)
            .into_iter()
            .cloned()
            .collect()
    }

    pub fn with<T>(&self, f: impl FnOnce(&mut FakeState) -> T) -> T {
        f(&mut self.state.lock().unwrap())
    }
}

fn next_fault(st: &Shared) -> Option<Fault> {
    let mut s = st.lock().unwrap();
    s.send_requests += 1;
    s.arrivals.push(std::time::Instant::now());
    s.script.pop_front()
}

/// Accept `body` under `key` unless seen before: true when new.
fn accept(st: &Shared, provider: &'static str, key: String, body: Value) -> bool {
    let mut s = st.lock().unwrap();
    if !s.seen.insert(format!("{provider}:{key}")) {
        s.duplicates += 1;
        return false;
    }
    s.accepted.push((provider, body));
    true
}

async fn stall() {
    actix_web::rt::time::sleep(std::time::Duration::from_millis(TIMEOUT_MS + 1500)).await;
}

async fn wecom_token(st: web::Data<Shared>, q: web::Query<Value>) -> HttpResponse {
    if q.get("corpsecret").and_then(Value::as_str) != Some("wecom-secret-value") {
        return HttpResponse::Ok().json(json!({"errcode": 40001, "errmsg": "invalid credential"}));
    }
    let mut s = st.lock().unwrap();
    s.tokens_issued += 1;
    s.token = format!("tok-{}", s.tokens_issued);
    HttpResponse::Ok()
        .json(json!({"errcode": 0, "errmsg": "ok", "access_token": s.token, "expires_in": 7200}))
}

fn token_ok(st: &Shared, req: &HttpRequest) -> bool {
    let q: Value = web::Query::<Value>::from_query(req.query_string())
        .map(|q| q.into_inner())
        .unwrap_or_default();
    q.get("access_token").and_then(Value::as_str) == Some(st.lock().unwrap().token.as_str())
}

async fn wecom_send(st: web::Data<Shared>, req: HttpRequest, body: String) -> HttpResponse {
    if !token_ok(&st, &req) {
        return HttpResponse::Ok()
            .json(json!({"errcode": 40014, "errmsg": "invalid access_token"}));
    }
    let v: Value = serde_json::from_str(&body).unwrap_or_default();
    let user = v["touser"].as_str().unwrap_or_default().to_string();
    match next_fault(&st) {
        Some(Fault::Http500) => return HttpResponse::InternalServerError().finish(),
        Some(Fault::ExpireToken) => {
            return HttpResponse::Ok()
                .json(json!({"errcode": 42001, "errmsg": "access_token expired"}))
        }
        Some(Fault::Errcode(c)) => {
            return HttpResponse::Ok().json(json!({"errcode": c, "errmsg": "fake error"}))
        }
        Some(Fault::InvalidUser) => {
            return HttpResponse::Ok()
                .json(json!({"errcode": 0, "errmsg": "ok", "invaliduser": user.to_uppercase()}))
        }
        Some(Fault::Stall) => {
            // WeCom's duplicate check is on the whole request body.
            accept(&st, "wecom", body.clone(), v);
            stall().await;
            return HttpResponse::Ok()
                .json(json!({"errcode": 0, "errmsg": "ok", "msgid": "m-late"}));
        }
        None => {}
    }
    let dup_check = v["enable_duplicate_check"] == json!(1);
    let key = if dup_check {
        body.clone()
    } else {
        zhijia::auth::random_token(8)
    };
    accept(&st, "wecom", key, v);
    HttpResponse::Ok().json(json!({"errcode": 0, "errmsg": "ok", "msgid": "m-1"}))
}

async fn wechat_token(st: web::Data<Shared>, body: web::Json<Value>) -> HttpResponse {
    if body["secret"] != json!("wechat-secret-value") {
        return HttpResponse::Ok().json(json!({"errcode": 40001, "errmsg": "invalid credential"}));
    }
    let mut s = st.lock().unwrap();
    s.tokens_issued += 1;
    s.token = format!("tok-{}", s.tokens_issued);
    HttpResponse::Ok().json(json!({"access_token": s.token, "expires_in": 7200}))
}

async fn wechat_send(
    st: web::Data<Shared>,
    req: HttpRequest,
    body: web::Json<Value>,
) -> HttpResponse {
    if !token_ok(&st, &req) {
        return HttpResponse::Ok().json(json!({"errcode": 40001, "errmsg": "invalid credential"}));
    }
    let v = body.into_inner();
    let key = format!("{}:{}", v["touser"], v["client_msg_id"]);
    match next_fault(&st) {
        Some(Fault::Http500) => return HttpResponse::InternalServerError().finish(),
        Some(Fault::ExpireToken) => {
            return HttpResponse::Ok()
                .json(json!({"errcode": 40001, "errmsg": "invalid credential"}))
        }
        Some(Fault::Errcode(c)) => {
            return HttpResponse::Ok().json(json!({"errcode": c, "errmsg": "fake error"}))
        }
        Some(Fault::InvalidUser) => {
            return HttpResponse::Ok()
                .json(json!({"errcode": 43004, "errmsg": "require subscribe"}))
        }
        Some(Fault::Stall) => {
            accept(&st, "wechat", key, v);
            stall().await;
            return HttpResponse::Ok().json(json!({"errcode": 0, "errmsg": "ok", "msgid": 1}));
        }
        None => {}
    }
    accept(&st, "wechat", key, v);
    HttpResponse::Ok().json(json!({"errcode": 0, "errmsg": "ok", "msgid": 2}))
}

async fn sms_send(st: web::Data<Shared>, req: HttpRequest, body: String) -> HttpResponse {
    let h = |n: &str| {
        req.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let expected =
        zhijia::outbox::adapters::sms::signature(SMS_KEY, &h("X-Zhijia-Timestamp"), &body);
    if h("X-Zhijia-Signature") != expected {
        st.lock().unwrap().bad_signatures += 1;
        return HttpResponse::Unauthorized().finish();
    }
    let v: Value = serde_json::from_str(&body).unwrap_or_default();
    let key = h("Idempotency-Key");
    match next_fault(&st) {
        Some(Fault::Http500) => return HttpResponse::InternalServerError().finish(),
        Some(Fault::Errcode(c)) => {
            return HttpResponse::build(
                actix_web::http::StatusCode::from_u16(u16::try_from(c).unwrap()).unwrap(),
            )
            .body("fake refusal")
        }
        Some(Fault::Stall) => {
            accept(&st, "sms", key, v);
            stall().await;
            return HttpResponse::Ok().json(json!({"id": "s-late"}));
        }
        Some(_) | None => {}
    }
    accept(&st, "sms", key, v);
    HttpResponse::Ok().json(json!({"id": "s-1"}))
}

/// A code is good once (WeCom 40029 after that).
async fn wecom_userinfo(
    st: web::Data<Shared>,
    req: HttpRequest,
    q: web::Query<Value>,
) -> HttpResponse {
    if !token_ok(&st, &req) {
        return HttpResponse::Ok()
            .json(json!({"errcode": 40014, "errmsg": "invalid access_token"}));
    }
    let code = q.get("code").and_then(Value::as_str).unwrap_or_default();
    match st.lock().unwrap().codes.remove(code) {
        Some(id) if id.starts_with("wmOUT") => HttpResponse::Ok()
            .json(json!({"errcode": 0, "errmsg": "ok", "openid": id, "external_userid": id})),
        Some(id) => HttpResponse::Ok().json(json!({"errcode": 0, "errmsg": "ok", "userid": id})),
        None => HttpResponse::Ok().json(json!({"errcode": 40029, "errmsg": "invalid code"})),
    }
}

async fn wechat_oauth(st: web::Data<Shared>, q: web::Query<Value>) -> HttpResponse {
    if q.get("secret").and_then(Value::as_str) != Some("wechat-secret-value") {
        return HttpResponse::Ok().json(json!({"errcode": 40001, "errmsg": "invalid credential"}));
    }
    let code = q.get("code").and_then(Value::as_str).unwrap_or_default();
    match st.lock().unwrap().codes.remove(code) {
        Some(id) => HttpResponse::Ok().json(json!({"access_token": "user-token", "expires_in": 7200, "openid": id, "scope": "snsapi_base"})),
        None => HttpResponse::Ok().json(json!({"errcode": 40029, "errmsg": "invalid code"})),
    }
}

/// A minimal SMTP server (no TLS, no AUTH): records each message's Message-ID and body.
fn smtp_server(st: Shared) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let st = st.clone();
            std::thread::spawn(move || {
                let _ = smtp_session(stream, &st);
            });
        }
    });
    format!("smtp://{addr}")
}

fn smtp_session(stream: std::net::TcpStream, st: &Shared) -> std::io::Result<()> {
    let mut out = stream.try_clone()?;
    let mut lines = BufReader::new(stream);
    out.write_all(b"220 fake.smtp ESMTP\r\n")?;
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let cmd = line.trim_end().to_ascii_uppercase();
        if cmd.starts_with("EHLO") || cmd.starts_with("HELO") {
            out.write_all(b"250-fake.smtp\r\n250 8BITMIME\r\n")?;
        } else if cmd.starts_with("MAIL FROM") {
            out.write_all(b"250 OK\r\n")?;
        } else if cmd.starts_with("RCPT TO") {
            if st.lock().unwrap().smtp_reject {
                out.write_all(b"550 5.1.1 no such user\r\n")?;
            } else {
                out.write_all(b"250 OK\r\n")?;
            }
        } else if cmd == "DATA" {
            out.write_all(b"354 go ahead\r\n")?;
            let mut data = String::new();
            loop {
                line.clear();
                if lines.read_line(&mut line)? == 0 {
                    return Ok(());
                }
                if line == ".\r\n" {
                    break;
                }
                data.push_str(&line);
            }
            let id = data
                .lines()
                .find_map(|l| l.strip_prefix("Message-ID: "))
                .unwrap_or_default()
                .to_string();
            accept(
                st,
                "smtp",
                zhijia::auth::random_token(8),
                json!({"message_id": id, "data": data}),
            );
            out.write_all(b"250 OK queued as fake\r\n")?;
        } else if cmd == "QUIT" {
            out.write_all(b"221 bye\r\n")?;
            return Ok(());
        } else if cmd == "RSET" || cmd == "NOOP" {
            out.write_all(b"250 OK\r\n")?;
        } else {
            out.write_all(b"502 unknown\r\n")?;
        }
    }
}
