//! Pages of 职代会提案: the board and my proposals (`/proposals`), drafting with a duplicate
//! check (`/proposals/new`), one proposal with the steps the viewer may take
//! (`/proposals/{id}`): co-sign, submit, the committee's review and assignment, the handler's
//! answer, the delegate's rating.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::model::{self, Event, Proposal, Session};
use super::{DraftForm, Grade, Rating, Standing, State, Step, CATEGORIES};
use crate::audit::Actor;
use crate::auth::csrf::Form;
use crate::auth::CurrentUser;
use crate::db;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::web::{client_ip, redirect_flash, render, render_status, Ctx, FieldErrors};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/proposals", web::get().to(list))
        .route("/proposals/compiled", web::get().to(compiled))
        .route("/proposals/compiled.xlsx", web::get().to(compiled_xlsx))
        .route("/proposals/new", web::get().to(new_form))
        .route("/proposals/new", web::post().to(create))
        .route("/proposals/{id}", web::get().to(show))
        .route("/proposals/{id}", web::post().to(act));
}

/// A proposal as lists show it.
#[derive(Debug, Clone)]
pub struct Row {
    pub p: Proposal,
    pub author: String,
    pub lead: String,
}

impl Row {
    pub fn grade_label(&self) -> &str {
        self.p
            .grade
            .as_deref()
            .and_then(Grade::parse)
            .map_or("", Grade::label)
    }
}

fn rows(conn: &mut db::DbConnection, ps: Vec<Proposal>) -> AppResult<Vec<Row>> {
    let deps = model::departments(conn)?;
    let mut out = Vec::with_capacity(ps.len());
    for p in ps {
        let author = crate::members::model::find(conn, p.author_id)?
            .map(|m| m.name)
            .unwrap_or_default();
        let lead = p
            .lead_department_id
            .and_then(|d| deps.iter().find(|x| x.0 == d).map(|x| x.1.clone()))
            .unwrap_or_default();
        out.push(Row { p, author, lead });
    }
    Ok(out)
}

#[derive(Template)]
#[template(path = "proposals/list.html")]
struct ListPage {
    ctx: Ctx,
    session: Option<Session>,
    delegate: bool,
    board: Vec<Row>,
    mine: Vec<Row>,
    drafts: Vec<Row>,
    review: Vec<Row>,
    handling: Vec<Row>,
    /// Letters the chair offered as proposal suggestions (for delegates).
    suggestions: Vec<crate::mailbox::Letter>,
}

async fn list(
    state: web::Data<AppState>,
    ctx: Ctx,
    CurrentUser(user): CurrentUser,
) -> AppResult<HttpResponse> {
    let page = db::run(&state.pool, move |conn| {
        let session = model::sessions(conn)?.into_iter().next();
        let Some(s) = session.clone() else {
            return Ok((None, false, vec![], vec![], vec![], vec![], vec![], vec![]));
        };
        let all = model::of_session(conn, s.id, State::ALL)?;
        let delegate = model::is_delegate(conn, s.id, user.id)?;
        let committee = user.is_admin || model::on_committee(conn, user.id)?;
        let handled = model::handled_by(conn, user.id)?;
        let (mut board, mut mine, mut drafts, mut review, mut handling) =
            (vec![], vec![], vec![], vec![], vec![]);
        for p in all {
            let cosigned = model::cosigners(conn, p.id)?.contains(&user.id);
            if p.author_id == user.id || cosigned {
                mine.push(p.clone());
            }
            match p.state {
                State::Draft if delegate && p.author_id != user.id && !cosigned => {
                    drafts.push(p.clone())
                }
                State::Submitted if committee => review.push(p.clone()),
                State::Accepted if committee => review.push(p.clone()),
                _ => {}
            }
            if p.state == State::Assigned
                && model::departments_of(conn, p.id)?
                    .iter()
                    .any(|d| handled.contains(&d.0))
            {
                handling.push(p.clone());
            }
            if matches!(
                p.state,
                State::Accepted | State::Assigned | State::Answered | State::Closed
            ) {
                board.push(p);
            }
        }
        let suggestions = if delegate {
            crate::mailbox::suggestions(conn)?
        } else {
            Vec::new()
        };
        Ok((
            Some(s),
            delegate,
            suggestions,
            rows(conn, board)?,
            rows(conn, mine)?,
            rows(conn, drafts)?,
            rows(conn, review)?,
            rows(conn, handling)?,
        ))
    })
    .await?;
    let (session, delegate, suggestions, board, mine, drafts, review, handling) = page;
    render(&ListPage {
        ctx,
        session,
        delegate,
        board,
        mine,
        drafts,
        review,
        handling,
        suggestions,
    })
}

#[derive(Template)]
#[template(path = "proposals/new.html")]
struct NewPage {
    ctx: Ctx,
    sessions: Vec<Session>,
    form: DraftForm,
    errors: FieldErrors,
    categories: &'static [&'static str],
    /// Proposals of this and past sessions whose titles look alike.
    similar: Vec<(i32, String, String)>,
    checked: bool,
}

async fn new_page(
    state: &web::Data<AppState>,
    ctx: Ctx,
    user: &crate::auth::User,
    form: DraftForm,
    errors: FieldErrors,
    check: bool,
) -> AppResult<NewPage> {
    let (uid, title) = (user.id, form.title.clone());
    let (sessions, similar) = db::run(&state.pool, move |conn| {
        let mut mine = Vec::new();
        for s in model::sessions(conn)? {
            if model::is_delegate(conn, s.id, uid)? {
                mine.push(s);
            }
        }
        let similar = if check {
            similar_titles(conn, &title)?
        } else {
            Vec::new()
        };
        Ok((mine, similar))
    })
    .await?;
    Ok(NewPage {
        ctx,
        sessions,
        form,
        errors,
        categories: CATEGORIES,
        similar,
        checked: check,
    })
}

/// Character bigrams of a title (the way the site's Chinese search splits text).
fn bigrams(s: &str) -> std::collections::HashSet<(char, char)> {
    let cs: Vec<char> = s.chars().filter(|c| c.is_alphanumeric()).collect();
    cs.windows(2)
        .filter_map(|w| match w {
            [a, b] => Some((*a, *b)),
            _ => None,
        })
        .collect()
}

/// Proposals of any session whose titles share at least a third of their bigrams with `title`.
fn similar_titles(
    conn: &mut db::DbConnection,
    title: &str,
) -> AppResult<Vec<(i32, String, String)>> {
    let mine = bigrams(title);
    if mine.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for s in model::sessions(conn)? {
        for p in model::of_session(conn, s.id, State::ALL)? {
            // What anyone may read: proposals on the public board.
            if !matches!(
                p.state,
                State::Accepted | State::Assigned | State::Answered | State::Closed
            ) {
                continue;
            }
            let theirs = bigrams(&p.title);
            let shared = mine.intersection(&theirs).count();
            if shared.saturating_mul(3) >= mine.len().max(theirs.len()) && shared > 0 {
                out.push((
                    p.id,
                    p.title.clone(),
                    format!("{} · {}", s.name, p.state.label()),
                ));
            }
        }
    }
    out.truncate(10);
    Ok(out)
}

#[derive(Deserialize)]
pub struct NewQuery {
    #[serde(default)]
    session: String,
}

async fn new_form(
    state: web::Data<AppState>,
    ctx: Ctx,
    CurrentUser(user): CurrentUser,
    q: web::Query<NewQuery>,
) -> AppResult<HttpResponse> {
    let form = DraftForm {
        session: q.session.clone(),
        ..DraftForm::default()
    };
    render(&new_page(&state, ctx, &user, form, FieldErrors::default(), false).await?)
}

#[derive(Deserialize)]
pub struct CreateForm {
    #[serde(flatten)]
    draft: DraftForm,
    #[serde(default)]
    action: String,
}

async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    ctx: Ctx,
    CurrentUser(user): CurrentUser,
    Form(f): Form<CreateForm>,
) -> AppResult<HttpResponse> {
    if f.action == "check" {
        return render(&new_page(&state, ctx, &user, f.draft, FieldErrors::default(), true).await?);
    }
    let actor = Actor::user(&user, client_ip(&req), state.config.clock.now());
    let (u, d) = (user.clone(), f.draft.clone());
    match db::run(&state.pool, move |conn| super::draft(conn, &u, &actor, &d)).await {
        Ok(id) => Ok(redirect_flash(
            &format!("/proposals/{id}"),
            "ok",
            "提案草稿已保存：请邀请其他代表附议，附议人数够了再提交",
        )),
        Err(e) => {
            let errors = e.fields()?;
            let page = new_page(&state, ctx, &user, f.draft, errors, false).await?;
            render_status(&page, StatusCode::UNPROCESSABLE_ENTITY)
        }
    }
}

#[derive(Template)]
#[template(path = "proposals/show.html")]
struct ShowPage {
    ctx: Ctx,
    p: Proposal,
    s: Standing,
    session: Session,
    author: String,
    cosigners: Vec<String>,
    departments: Vec<(i32, String, bool)>,
    all_departments: Vec<(i32, String)>,
    events: Vec<Event>,
    errors: FieldErrors,
    grades: &'static [Grade],
    ratings: &'static [Rating],
}

impl ShowPage {
    fn grade_label(&self) -> &str {
        self.p
            .grade
            .as_deref()
            .and_then(Grade::parse)
            .map_or("", Grade::label)
    }
    fn rating_label(&self) -> &str {
        self.p
            .rating
            .as_deref()
            .and_then(Rating::parse)
            .map_or("", Rating::label)
    }
    fn due(&self) -> String {
        self.p
            .due_at
            .map(|d| crate::time::beijing(&d, "%Y-%m-%d"))
            .unwrap_or_default()
    }
}

async fn show_page(
    state: &web::Data<AppState>,
    ctx: Ctx,
    user: std::sync::Arc<crate::auth::User>,
    id: i32,
    errors: FieldErrors,
) -> AppResult<ShowPage> {
    db::run(&state.pool, move |conn| {
        let (p, s) = super::load_for(conn, &user, id)?;
        let session = model::session(conn, p.session_id)?.ok_or(AppError::NotFound)?;
        let name = |conn: &mut db::DbConnection, id: i32| -> AppResult<String> {
            Ok(crate::members::model::find(conn, id)?
                .map(|m| m.name)
                .unwrap_or_default())
        };
        let author = name(conn, p.author_id)?;
        let mut cosigners = Vec::new();
        for m in model::cosigners(conn, p.id)? {
            cosigners.push(name(conn, m)?);
        }
        // Internal review notes are for the committee only.
        let events = model::events(conn, p.id, s.committee)?;
        Ok(ShowPage {
            departments: model::departments_of(conn, p.id)?,
            all_departments: model::departments(conn)?,
            ctx,
            p,
            s,
            session,
            author,
            cosigners,
            events,
            errors,
            grades: Grade::ALL,
            ratings: Rating::ALL,
        })
    })
    .await
}

async fn show(
    state: web::Data<AppState>,
    ctx: Ctx,
    CurrentUser(user): CurrentUser,
    path: web::Path<i32>,
) -> AppResult<HttpResponse> {
    render(&show_page(&state, ctx, user, path.into_inner(), FieldErrors::default()).await?)
}

/// The posted step, read from pairs (co-handling departments come as repeated `co` fields).
struct ActForm {
    action: String,
    version: i32,
    note: String,
    into: String,
    lead: String,
    co: Vec<i32>,
    grade: String,
    answer: String,
    rating: String,
}

impl ActForm {
    fn from_pairs(pairs: &[(String, String)]) -> ActForm {
        let get = |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        ActForm {
            action: get("action"),
            version: get("version").trim().parse().unwrap_or(-1),
            note: get("note"),
            into: get("into"),
            lead: get("lead"),
            co: pairs
                .iter()
                .filter(|(k, _)| k == "co")
                .filter_map(|(_, v)| v.parse().ok())
                .collect(),
            grade: get("grade"),
            answer: get("answer"),
            rating: get("rating"),
        }
    }
}

async fn act(
    req: HttpRequest,
    state: web::Data<AppState>,
    ctx: Ctx,
    CurrentUser(user): CurrentUser,
    path: web::Path<i32>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<HttpResponse> {
    let f = ActForm::from_pairs(&pairs);
    let id = path.into_inner();
    let bad = |field: &'static str, m: &str| AppError::field(field, m.to_string());
    let step = match f.action.as_str() {
        "cosign" => None,
        "submit" => Some(Step::Submit),
        "accept" => Some(Step::Accept {
            note: f.note.clone(),
        }),
        "convert" => Some(Step::Convert {
            note: f.note.clone(),
        }),
        "reject" => Some(Step::Reject {
            note: f.note.clone(),
        }),
        "merge" => Some(Step::Merge {
            into: f
                .into
                .trim()
                .trim_start_matches('#')
                .parse()
                .map_err(|_| bad("into", "请填写要并入的提案编号"))?,
            note: f.note.clone(),
        }),
        "assign" => Some(Step::Assign {
            lead: f.lead.parse().map_err(|_| bad("lead", "请选择主办部门"))?,
            co: f.co.clone(),
        }),
        "answer" => Some(Step::Answer {
            grade: Grade::parse(&f.grade).ok_or_else(|| bad("grade", "请选择办理结果"))?,
            text: f.answer.clone(),
        }),
        "rate" => Some(Step::Rate {
            rating: Rating::parse(&f.rating).ok_or_else(|| bad("rating", "请选择评价"))?,
        }),
        _ => return Err(AppError::Validation("未知的操作".into())),
    };
    let actor = Actor::user(&user, client_ip(&req), state.config.clock.now());
    let u = user.clone();
    let version = f.version;
    let result = db::run(&state.pool, move |conn| match step {
        None => super::cosign(conn, &u, &actor, id, version).map(|()| "已附议".to_string()),
        Some(step) => super::act(conn, &u, &actor, id, version, &step)
            .map(|s| format!("已办理，现在：{}", s.label())),
    })
    .await;
    let to = format!("/proposals/{id}");
    match result {
        Ok(m) => Ok(redirect_flash(&to, "ok", &m)),
        Err(AppError::Conflict(m) | AppError::Validation(m) | AppError::Refused(m)) => {
            Ok(redirect_flash(&to, "error", &m))
        }
        Err(e) => {
            let errors = e.fields()?;
            let page = show_page(&state, ctx, user, id, errors).await?;
            render_status(&page, StatusCode::UNPROCESSABLE_ENTITY)
        }
    }
}

#[derive(Deserialize)]
pub struct SessionQuery {
    session: Option<i32>,
}

#[derive(Template)]
#[template(path = "proposals/compiled.html")]
struct CompiledPage {
    ctx: Ctx,
    session: Session,
    rows: Vec<super::Compiled>,
    figures: Vec<super::DepartmentFigures>,
}

async fn compiled_data(
    state: &web::Data<AppState>,
    q: &SessionQuery,
) -> AppResult<(Session, Vec<super::Compiled>, Vec<super::DepartmentFigures>)> {
    let wanted = q.session;
    db::run(&state.pool, move |conn| {
        let session = match wanted {
            Some(id) => model::session(conn, id)?,
            None => model::sessions(conn)?.into_iter().next(),
        }
        .ok_or(AppError::NotFound)?;
        let (rows, figures) = super::compile(conn, session.id)?;
        Ok((session, rows, figures))
    })
    .await
}

/// The printable compilation (汇编): every member may read it.
async fn compiled(
    state: web::Data<AppState>,
    ctx: Ctx,
    CurrentUser(_): CurrentUser,
    q: web::Query<SessionQuery>,
) -> AppResult<HttpResponse> {
    let (session, rows, figures) = compiled_data(&state, &q).await?;
    render(&CompiledPage {
        ctx,
        session,
        rows,
        figures,
    })
}

async fn compiled_xlsx(
    state: web::Data<AppState>,
    CurrentUser(_): CurrentUser,
    q: web::Query<SessionQuery>,
) -> AppResult<HttpResponse> {
    let (session, rows, figures) = compiled_data(&state, &q).await?;
    let bytes = super::compiled_xlsx(&session.name, &rows, &figures)?;
    Ok(HttpResponse::Ok()
        .insert_header((
            actix_web::http::header::CONTENT_TYPE,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ))
        .insert_header((
            actix_web::http::header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"proposals-{}.xlsx\"", session.id),
        ))
        .body(bytes))
}
