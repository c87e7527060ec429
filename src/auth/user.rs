//! The logged-in user, loaded once per request from the session cookie, and the extractors
//! handlers use to require a login, a staff role or the admin flag.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use diesel::prelude::*;

use crate::db::schema::{members, notifications, org_units, roles};
use crate::db::DbConnection;
use crate::error::{AppError, AppResult};
use crate::org::Role;
use crate::state::AppState;

/// A role held at a unit; it reaches the unit's whole subtree.
#[derive(Debug, Clone)]
pub struct RoleGrant {
    pub unit_id: i32,
    pub unit_name: String,
    pub unit_path: String,
    pub role: Role,
}

#[derive(Debug, Clone)]
pub struct User {
    pub id: i32,
    pub name: String,
    pub employee_no: String,
    pub unit_id: i32,
    pub unit_name: String,
    /// The unit with its ancestors below the top union, e.g. "第一工程公司工会 · 机关分会".
    pub unit_label: String,
    pub unit_path: String,
    pub is_admin: bool,
    pub must_change_password: bool,
    pub roles: Vec<RoleGrant>,
    /// Hash of the session token (the sessions table key).
    pub session_id: String,
    /// Unread notifications, for the badge in the layout.
    pub unread: i64,
    /// 长辈版: larger text and touch targets on every member page.
    pub large_text: bool,
    /// Membership status code (`membership::Status`).
    pub membership: String,
}

impl User {
    /// Staff: anyone with a role or the admin flag; they get the admin area and shorter sessions.
    pub fn is_staff(&self) -> bool {
        self.is_admin || !self.roles.is_empty()
    }
}

#[derive(Queryable)]
struct UserRow {
    id: i32,
    name: String,
    employee_no: String,
    unit_id: i32,
    is_admin: bool,
    must_change_password: bool,
    disabled: bool,
    large_text: bool,
    status: String,
    unit_name: String,
    unit_path: String,
    unread: Option<i64>,
}

/// Load a member with unit and roles. `None` if the member is missing or disabled. The unit
/// label is the unit's own name; a page's user (`load_for_page`) gets the full label.
pub fn load_user(
    conn: &mut DbConnection,
    member_id: i32,
    session_id: &str,
) -> AppResult<Option<User>> {
    let row: Option<UserRow> = crate::on_backend!(conn, c => members::table
        .inner_join(org_units::table)
        .filter(members::id.eq(member_id))
        .select((
            members::id,
            members::name,
            members::employee_no,
            members::unit_id,
            members::is_admin,
            members::must_change_password,
            members::disabled,
            members::large_text,
            members::status,
            org_units::name,
            org_units::path,
            // The badge count rides along in the same statement (indexed by member, read).
            // Typed, not a SQL literal, so diesel keeps the statement prepared.
            notifications::table
                .filter(notifications::member_id.eq(members::id))
                .filter(notifications::read.eq(false))
                .count()
                .single_value(),
        ))
        .first(c)
        .optional())?;
    let Some(row) = row.filter(|r| !r.disabled) else {
        return Ok(None);
    };
    let id = row.id;
    let grants: Vec<(i32, String, String, Role)> = crate::on_backend!(conn, c => roles::table
        .inner_join(org_units::table)
        .filter(roles::member_id.eq(id))
        .filter(org_units::disabled.eq(false))
        .select((
            roles::unit_id,
            org_units::name,
            org_units::path,
            roles::role,
        ))
        .order(org_units::path.asc())
        .load(c))?;
    let roles = grants
        .into_iter()
        .map(|(unit_id, unit_name, unit_path, role)| RoleGrant {
            unit_id,
            unit_name,
            unit_path,
            role,
        })
        .collect();
    Ok(Some(User {
        id,
        name: row.name,
        employee_no: row.employee_no,
        unit_id: row.unit_id,
        unit_label: row.unit_name.clone(),
        unit_name: row.unit_name,
        unit_path: row.unit_path,
        is_admin: row.is_admin,
        must_change_password: row.must_change_password,
        roles,
        session_id: session_id.to_string(),
        unread: row.unread.unwrap_or(0),
        large_text: row.large_text,
        membership: row.status,
    }))
}

/// The request's user, shared by every extractor of the request. Extractors are polled
/// together, so the first one loads and the others wait for the same result.
#[derive(Clone, Default)]
struct UserCell(std::rc::Rc<tokio::sync::OnceCell<Option<Arc<User>>>>);

/// The user if an extractor already loaded it for this request (never loads).
pub fn loaded_user(req: &HttpRequest) -> Option<Arc<User>> {
    req.extensions()
        .get::<UserCell>()
        .and_then(|c| c.0.get().cloned())
        .flatten()
}

/// The user behind this request's session cookie, loaded at most once per request.
pub async fn user_of(req: &HttpRequest) -> AppResult<Option<Arc<User>>> {
    let cell = {
        let mut ext = req.extensions_mut();
        match ext.get::<UserCell>() {
            Some(c) => c.clone(),
            None => {
                let c = UserCell::default();
                ext.insert(c.clone());
                c
            }
        }
    };
    let user = cell
        .0
        .get_or_try_init(|| async {
            let Some(token) = req
                .cookie(super::session::COOKIE)
                .map(|c| c.value().to_string())
            else {
                return Ok(None);
            };
            let state = req
                .app_data::<web::Data<AppState>>()
                .ok_or_else(|| AppError::Internal("app state missing".into()))?
                .clone();
            let now = state.config.clock.now();
            // Fast path: a live session that needs no write, read on this thread (SQLite).
            let inline = crate::db::try_read_inline(
                &state.pool,
                state.config.database.is_sqlite(),
                |conn| match super::session::peek(conn, &token, now)? {
                    None => Ok(Some(None)),
                    Some(Some(s)) => Ok(Some(load_for_page(
                        conn,
                        &state.labels,
                        s.member_id,
                        &s.id,
                    )?)),
                    Some(None) => Ok(None),
                },
            );
            if let Some(Some(user)) = inline.transpose()? {
                return Ok::<_, AppError>(user.map(Arc::new));
            }
            let labels = state.clone();
            let user = crate::db::run(&state.pool, move |conn| {
                let Some(s) = super::session::load(conn, &token, now)? else {
                    return Ok(None);
                };
                load_for_page(conn, &labels.labels, s.member_id, &s.id)
            })
            .await?;
            Ok::<_, AppError>(user.map(Arc::new))
        })
        .await?;
    Ok(user.clone())
}

type Fut<T> = Pin<Box<dyn Future<Output = Result<T, AppError>>>>;

/// Optional login.
pub struct MaybeUser(pub Option<Arc<User>>);

impl FromRequest for MaybeUser {
    type Error = AppError;
    type Future = Fut<Self>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { Ok(MaybeUser(user_of(&req).await?)) })
    }
}

/// Paths a member who must change the password may still reach.
const ALLOWED_BEFORE_PASSWORD_CHANGE: &[&str] = &["/me/password", "/logout"];

async fn required(req: &HttpRequest) -> AppResult<Arc<User>> {
    let Some(user) = user_of(req).await? else {
        let next = match req.query_string() {
            "" => req.path().to_string(),
            q => format!("{}?{q}", req.path()),
        };
        return Err(AppError::Unauthorized { next });
    };
    if user.must_change_password && !ALLOWED_BEFORE_PASSWORD_CHANGE.contains(&req.path()) {
        return Err(AppError::Redirect("/me/password".into()));
    }
    Ok(user)
}

/// Any logged-in member.
pub struct CurrentUser(pub Arc<User>);

impl FromRequest for CurrentUser {
    type Error = AppError;
    type Future = Fut<Self>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { Ok(CurrentUser(required(&req).await?)) })
    }
}

/// A cadre, chair or finance role holder, or an admin: the admin area.
pub struct StaffUser(pub Arc<User>);

impl FromRequest for StaffUser {
    type Error = AppError;
    type Future = Fut<Self>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let user = required(&req).await?;
            if !user.is_staff() {
                return Err(AppError::Forbidden);
            }
            Ok(StaffUser(user))
        })
    }
}

/// The system administrator.
pub struct AdminUser(pub Arc<User>);

impl FromRequest for AdminUser {
    type Error = AppError;
    type Future = Fut<Self>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let user = required(&req).await?;
            if !user.is_admin {
                return Err(AppError::Forbidden);
            }
            Ok(AdminUser(user))
        })
    }
}

/// A page's user: `load_user` with the unit's full label ("第一工程公司工会 · 机关分会").
fn load_for_page(
    conn: &mut DbConnection,
    labels: &crate::org::labels::UnitLabels,
    member_id: i32,
    session_id: &str,
) -> AppResult<Option<User>> {
    let Some(mut user) = load_user(conn, member_id, session_id)? else {
        return Ok(None);
    };
    if let Some(label) = labels.label(conn, &user.unit_path)? {
        user.unit_label = label;
    }
    Ok(Some(user))
}

/// An account as the app sees a logged-in user, by employee number (the demo seeders act
/// through it); NotFound if there is none.
pub fn by_employee_no(conn: &mut DbConnection, no: &str) -> AppResult<User> {
    let id = crate::members::model::find_by_employee_no(conn, no)?
        .map(|m| m.id)
        .ok_or(AppError::NotFound)?;
    load_user(conn, id, "")?.ok_or(AppError::NotFound)
}
