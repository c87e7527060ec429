//! Login, logout, password change and first-run setup pages.

use actix_web::cookie::Cookie;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::csrf::Form;
use super::password::weak_password_reason;
use super::{service, session, CurrentUser};
use crate::audit::Actor;
use crate::db;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::web::{
    client_ip, redirect, redirect_flash, render, render_status, safe_next, Ctx, FieldErrors,
};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/login", web::get().to(login_form))
        .route("/login", web::post().to(login))
        .route("/logout", web::post().to(logout))
        .route("/me/password", web::get().to(password_form))
        .route("/me/password", web::post().to(change_password))
        .route("/setup", web::get().to(setup_form))
        .route("/setup", web::post().to(setup));
}

#[derive(Template)]
#[template(path = "auth/login.html")]
pub struct LoginPage {
    ctx: Ctx,
    username: String,
    next: String,
    error: String,
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

async fn login_form(ctx: Ctx, q: web::Query<NextQuery>) -> AppResult<HttpResponse> {
    if ctx.logged_in() {
        return Ok(redirect(&safe_next(q.next.as_deref())));
    }
    render(&LoginPage {
        ctx,
        username: String::new(),
        next: safe_next(q.next.as_deref()),
        error: String::new(),
    })
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

const BAD_LOGIN: &str = "账号或密码错误";

async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    ctx: Ctx,
    Form(form): Form<LoginForm>,
) -> AppResult<HttpResponse> {
    let next = safe_next(form.next.as_deref());
    let identifier = service::normalize_identifier(&form.username);
    let page = |ctx: Ctx, error: String| LoginPage {
        ctx,
        username: form.username.trim().to_string(),
        next: next.clone(),
        error,
    };
    if identifier.is_empty() || form.password.is_empty() {
        return render_status(
            &page(ctx, "请输入工号（或手机号）和密码".into()),
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    // Longer than any real account: refused before any lookup or hashing.
    if identifier.chars().count() > service::MAX_IDENTIFIER_CHARS || form.password.len() > 1024 {
        return render_status(
            &page(ctx, BAD_LOGIN.into()),
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    let now = state.config.clock.now();
    let ip = client_ip(&req);
    let id2 = identifier.clone();
    let ip2 = ip.clone();
    let attempt = db::run(&state.pool, move |conn| {
        service::reserve_attempt(conn, &id2, ip2.as_deref(), now)
    })
    .await?;
    let account = match attempt {
        service::Attempt::Go(account) => account,
        service::Attempt::Wait(wait) => {
            let msg = format!("登录失败次数过多，请 {} 后再试", human_wait(wait));
            return render_status(&page(ctx, msg), StatusCode::TOO_MANY_REQUESTS);
        }
    };
    let (member_id, hash) = match account {
        Some((id, hash, false)) => (Some(id), hash),
        _ => (None, None),
    };
    let ok = state.hasher.verify(hash, form.password.clone()).await?;
    let Some(member_id) = member_id.filter(|_| ok) else {
        let id3 = identifier.clone();
        db::run(&state.pool, move |conn| {
            service::record_failure(conn, &id3, ip, now)
        })
        .await?;
        return render_status(
            &page(ctx, BAD_LOGIN.into()),
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    };
    let ua = req
        .headers()
        .get(actix_web::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let token = db::run(&state.pool, move |conn| {
        service::start_session(conn, member_id, &identifier, ip, ua, now)
    })
    .await?;
    // A fresh session id at every login: a token planted before login is worthless.
    let mut res = redirect(&next);
    res.add_cookie(&session::cookie(token, state.config.secure_cookies))
        .map_err(|e| AppError::Internal(format!("cookie: {e}")))?;
    Ok(res)
}

fn human_wait(secs: i64) -> String {
    if secs >= 60 {
        format!("{} 分钟", secs.saturating_add(59) / 60)
    } else {
        format!("{secs} 秒")
    }
}

#[derive(Deserialize)]
pub struct EmptyForm {}

async fn logout(
    req: HttpRequest,
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    Form(_): Form<EmptyForm>,
) -> AppResult<HttpResponse> {
    let actor = Actor::user(&user, client_ip(&req), state.config.clock.now());
    db::run(&state.pool, move |conn| {
        service::end_session(conn, &user, &actor)
    })
    .await?;
    let mut gone = Cookie::new(session::COOKIE, "");
    gone.set_path("/");
    gone.make_removal();
    let mut res = redirect_flash("/login", "ok", "您已安全退出");
    res.add_cookie(&gone)
        .map_err(|e| AppError::Internal(format!("cookie: {e}")))?;
    // A WeCom/WeChat identity waiting to be bound (channels::oauth) is not offered to the
    // next person who signs in on this device.
    let mut pending = Cookie::new("zj_bind", "");
    pending.set_path("/");
    pending.make_removal();
    res.add_cookie(&pending)
        .map_err(|e| AppError::Internal(format!("cookie: {e}")))?;
    Ok(res)
}

#[derive(Template)]
#[template(path = "auth/password.html")]
pub struct PasswordPage {
    ctx: Ctx,
    forced: bool,
    errors: FieldErrors,
}

async fn password_form(ctx: Ctx, CurrentUser(user): CurrentUser) -> AppResult<HttpResponse> {
    render(&PasswordPage {
        ctx,
        forced: user.must_change_password,
        errors: FieldErrors::default(),
    })
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    current: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    confirm: String,
}

async fn change_password(
    req: HttpRequest,
    state: web::Data<AppState>,
    ctx: Ctx,
    CurrentUser(user): CurrentUser,
    Form(form): Form<PasswordForm>,
) -> AppResult<HttpResponse> {
    let mut errors = FieldErrors::default();
    if let Some(reason) = weak_password_reason(&form.new_password, &user.employee_no) {
        errors.add("new_password", reason);
    } else if form.new_password != form.confirm {
        errors.add("confirm", "两次输入的新密码不一致");
    } else if form.new_password == form.current {
        errors.add("new_password", "新密码不能与当前密码相同");
    }
    let uid = user.id;
    let hash = db::run(&state.pool, move |conn| {
        crate::members::model::password_hash(conn, uid)
    })
    .await?;
    if !state.hasher.verify(hash, form.current.clone()).await? {
        errors.0.insert(0, ("current", "当前密码不正确".into()));
    }
    if !errors.is_empty() {
        let forced = user.must_change_password;
        return render_status(
            &PasswordPage {
                ctx,
                forced,
                errors,
            },
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    let hash = state.hasher.hash(form.new_password).await?;
    let actor = Actor::user(&user, client_ip(&req), state.config.clock.now());
    db::run(&state.pool, move |conn| {
        crate::members::service::change_own_password(conn, &user, &actor, &hash)
    })
    .await?;
    Ok(redirect_flash(
        "/me",
        "ok",
        "密码已修改，其他设备上的登录已失效",
    ))
}

#[derive(Template)]
#[template(path = "auth/setup.html")]
pub struct SetupPage {
    ctx: Ctx,
    token: String,
    form: SetupForm,
    errors: FieldErrors,
}

#[derive(Deserialize, Default, Clone)]
pub struct SetupForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    union_name: String,
    #[serde(default)]
    employee_no: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
}

#[derive(Deserialize)]
pub struct TokenQuery {
    #[serde(default)]
    token: String,
}

async fn setup_form(
    state: web::Data<AppState>,
    ctx: Ctx,
    q: web::Query<TokenQuery>,
) -> AppResult<HttpResponse> {
    let token = q.into_inner().token;
    let t = token.clone();
    if !db::run(&state.pool, move |conn| {
        service::setup_token_valid(conn, &t)
    })
    .await?
    {
        return Err(AppError::NotFound);
    }
    render(&SetupPage {
        ctx,
        token,
        form: SetupForm {
            union_name: "集团工会".into(),
            ..SetupForm::default()
        },
        errors: FieldErrors::default(),
    })
}

async fn setup(
    state: web::Data<AppState>,
    ctx: Ctx,
    Form(form): Form<SetupForm>,
) -> AppResult<HttpResponse> {
    let t = form.token.clone();
    if !db::run(&state.pool, move |conn| {
        service::setup_token_valid(conn, &t)
    })
    .await?
    {
        return Err(AppError::NotFound);
    }
    let mut errors = FieldErrors::default();
    let union_name = form.union_name.trim().to_string();
    if union_name.is_empty() {
        errors.add("union_name", "请填写工会名称");
    }
    let employee_no = crate::members::service::normalize_employee_no(&form.employee_no)
        .map_err(|e| errors.add("employee_no", e))
        .unwrap_or_default();
    let name = crate::members::service::normalize_name(&form.name)
        .map_err(|e| errors.add("name", e))
        .unwrap_or_default();
    if let Some(r) = weak_password_reason(&form.password, &employee_no) {
        errors.add("password", r);
    } else if form.password != form.confirm {
        errors.add("confirm", "两次输入的密码不一致");
    }
    if !errors.is_empty() {
        let token = form.token.clone();
        return render_status(
            &SetupPage {
                ctx,
                token,
                form,
                errors,
            },
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    let password_hash = state.hasher.hash(form.password.clone()).await?;
    let input = service::SetupInput {
        union_name,
        employee_no,
        name,
        password_hash,
    };
    let now = state.config.clock.now();
    let token = form.token;
    db::run(&state.pool, move |conn| {
        service::complete_setup(conn, &token, &input, now)
    })
    .await?;
    log::info!("first administrator created; the setup link is now disabled");
    Ok(redirect_flash("/login", "ok", "管理员账号已创建，请登录"))
}
