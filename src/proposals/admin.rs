//! The administrator's congress page (`/admin/congress`): create a session with its proposal
//! window, mark its delegates (a list of employee numbers with their delegation), the
//! proposals committee, and departments with their handlers.

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::model::{self, Session};
use crate::audit::{Actor, AuditAction};
use crate::auth::csrf::Form;
use crate::auth::user::AdminUser;
use crate::db::{self, write_tx, DbConnection};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::web::{client_ip, redirect_flash, render, Ctx};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/congress", web::get().to(page))
        .route("/admin/congress", web::post().to(post));
}

#[derive(Template)]
#[template(path = "admin/congress.html")]
struct Page {
    ctx: Ctx,
    sessions: Vec<(Session, i64)>,
    departments: Vec<(i32, String)>,
    committee: Vec<String>,
}

async fn page(
    state: web::Data<AppState>,
    ctx: Ctx,
    AdminUser(_): AdminUser,
) -> AppResult<HttpResponse> {
    let (sessions, departments, committee) = db::run(&state.pool, |conn| {
        let mut sessions = Vec::new();
        for s in model::sessions(conn)? {
            let n = model::delegate_count(conn, s.id)?;
            sessions.push((s, n));
        }
        let mut committee = Vec::new();
        for m in model::committee(conn)? {
            if let Some(x) = crate::members::model::find(conn, m)? {
                committee.push(x.name);
            }
        }
        Ok((sessions, model::departments(conn)?, committee))
    })
    .await?;
    render(&Page {
        ctx,
        sessions,
        departments,
        committee,
    })
}

#[derive(Deserialize, Clone)]
pub struct PostForm {
    #[serde(default)]
    action: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    opens: String,
    #[serde(default)]
    closes: String,
    #[serde(default)]
    min_cosigners: String,
    #[serde(default)]
    session: String,
    #[serde(default)]
    lines: String,
}

/// Members by employee number from "工号[,其他]" lines; an unknown number is an error naming
/// its line.
fn members_of(conn: &mut DbConnection, lines: &str) -> AppResult<Vec<(i32, String)>> {
    let mut out = Vec::new();
    for (i, line) in lines
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .take(2000)
    {
        let mut parts = line.splitn(2, [',', '，', '\t']);
        let no = parts.next().unwrap_or("").trim();
        let rest = parts.next().unwrap_or("").trim().to_string();
        let m = crate::members::model::find_by_employee_no(conn, no)?.ok_or_else(|| {
            AppError::Validation(format!(
                "第 {} 行：没有工号为“{no}”的会员",
                i.saturating_add(1)
            ))
        })?;
        out.push((m.id, rest));
    }
    Ok(out)
}

fn apply(conn: &mut DbConnection, actor: &Actor, f: &PostForm) -> AppResult<String> {
    write_tx(conn, |conn| {
        let msg = match f.action.as_str() {
            "session" => {
                let at = |s: &str| {
                    crate::time::parse_input(s)
                        .map_err(|_| AppError::Validation("请填写征集开始和截止时间".into()))
                };
                let (opens, closes) = (at(&f.opens)?, at(&f.closes)?);
                let name = crate::text::clean(&f.name);
                if name.chars().count() < 4 || closes <= opens {
                    return Err(AppError::Validation(
                        "请填写会议名称，截止时间要晚于开始时间".into(),
                    ));
                }
                let min: i32 = f
                    .min_cosigners
                    .trim()
                    .parse()
                    .ok()
                    .filter(|n| (0..=20).contains(n))
                    .unwrap_or(2);
                model::insert_session(conn, &name, opens, closes, min, actor.now)?;
                format!("已创建：{name}")
            }
            "delegates" => {
                let s: i32 = f
                    .session
                    .parse()
                    .map_err(|_| AppError::Validation("请选择职代会".into()))?;
                model::session(conn, s)?
                    .ok_or_else(|| AppError::Validation("请选择职代会".into()))?;
                let list = members_of(conn, &f.lines)?;
                for (m, delegation) in &list {
                    let d = if delegation.is_empty() {
                        "未分团"
                    } else {
                        delegation.as_str()
                    };
                    model::add_delegate(conn, s, *m, d)?;
                }
                format!("已登记代表 {} 名", list.len())
            }
            "committee" => {
                let list = members_of(conn, &f.lines)?;
                for (m, _) in &list {
                    model::add_to_committee(conn, *m)?;
                }
                format!("提案工作委员会增加 {} 人", list.len())
            }
            "handlers" => {
                // "工号,部门名" per line; a new department is created.
                let list = members_of(conn, &f.lines)?;
                for (m, dept) in &list {
                    let dept = crate::text::clean(dept);
                    if dept.is_empty() {
                        return Err(AppError::Validation("每行写“工号,部门名称”".into()));
                    }
                    let id = match model::departments(conn)?.into_iter().find(|d| d.1 == dept) {
                        Some(d) => d.0,
                        None => model::insert_department(conn, &dept, actor.now)?,
                    };
                    model::add_handler(conn, id, *m)?;
                }
                format!("已登记承办人 {} 名", list.len())
            }
            _ => return Err(AppError::Validation("未知的操作".into())),
        };
        crate::audit::record(
            conn,
            actor,
            None,
            AuditAction::SettingsChange,
            ("congress", None),
            &msg,
        )?;
        Ok(msg)
    })
}

async fn post(
    req: HttpRequest,
    state: web::Data<AppState>,
    AdminUser(user): AdminUser,
    Form(f): Form<PostForm>,
) -> AppResult<HttpResponse> {
    let actor = Actor::user(&user, client_ip(&req), state.config.clock.now());
    match db::run(&state.pool, move |conn| apply(conn, &actor, &f)).await {
        Ok(m) => Ok(redirect_flash("/admin/congress", "ok", &m)),
        Err(AppError::Validation(m)) => Ok(redirect_flash("/admin/congress", "error", &m)),
        Err(e) => Err(e),
    }
}
