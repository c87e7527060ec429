//! Who may see a showcase post: below the showcase service and the shared comments, which both
//! ask it.

use super::model::{self, Post};
use crate::auth::User;
use crate::db::DbConnection;
use crate::error::{AppError, AppResult};
use crate::org::scope;

pub fn may_view(user: &User, p: &Post) -> bool {
    p.is_approved() || p.member_id == user.id || scope::manages(user, &p.unit_path)
}

/// A post the user may see, else 404 (never "exists but hidden").
pub fn open(conn: &mut DbConnection, user: &User, id: i32) -> AppResult<Post> {
    model::find(conn, id)?
        .filter(|p| may_view(user, p))
        .ok_or(AppError::NotFound)
}
