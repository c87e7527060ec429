//! Org units as stored: a materialised path (`/1/5/12/`) makes "is in the subtree of" a prefix test.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::Role;
use crate::db::ids::{MemberId, UnitId};
use crate::db::schema::org_units;
use crate::db::DbConnection;
use crate::error::AppResult;

#[derive(Queryable, Selectable, Identifiable, Debug, Clone)]
#[diesel(table_name = org_units)]
pub struct OrgUnit {
    pub id: i32,
    pub parent_id: Option<i32>,
    pub name: String,
    pub kind: String,
    pub path: String,
    pub sort_order: i32,
    pub disabled: bool,
    pub created_at: NaiveDateTime,
}

impl OrgUnit {
    /// 0 for a root.
    pub fn depth(&self) -> usize {
        self.path.matches('/').count().saturating_sub(2)
    }

    pub fn kind_label(&self) -> &str {
        super::kind_label(&self.kind)
    }

    /// Whether `other` lies in this unit's subtree (itself included).
    pub fn contains(&self, other: &OrgUnit) -> bool {
        other.path.starts_with(&self.path)
    }
}

#[derive(Insertable)]
#[diesel(table_name = org_units)]
pub struct NewOrgUnit<'a> {
    pub parent_id: Option<i32>,
    pub name: &'a str,
    pub kind: &'a str,
    pub path: &'a str,
    pub sort_order: i32,
    pub disabled: bool,
    pub created_at: NaiveDateTime,
}

pub fn find(conn: &mut DbConnection, id: i32) -> AppResult<Option<OrgUnit>> {
    Ok(org_units::table
        .find(id)
        .select(OrgUnit::as_select())
        .first(conn)
        .optional()?)
}

/// Every unit in tree order (a subtree's rows are contiguous).
pub fn all(conn: &mut DbConnection) -> AppResult<Vec<OrgUnit>> {
    Ok(org_units::table
        .order(org_units::path.asc())
        .select(OrgUnit::as_select())
        .load(conn)?)
}

/// Units whose path starts with any of `prefixes`, in tree order.
pub fn under_paths(conn: &mut DbConnection, prefixes: &[String]) -> AppResult<Vec<OrgUnit>> {
    if prefixes.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = org_units::table.into_boxed();
    for p in prefixes {
        q = q.or_filter(org_units::path.like(format!("{p}%")));
    }
    Ok(q.order(org_units::path.asc())
        .select(OrgUnit::as_select())
        .load(conn)?)
}

/// Insert a unit and fill in its path, which needs the new id.
pub fn insert(
    conn: &mut DbConnection,
    new: NewOrgUnit<'_>,
    parent_path: &str,
) -> AppResult<OrgUnit> {
    let id: i32 = diesel::insert_into(org_units::table)
        .values(&new)
        .returning(org_units::id)
        .get_result(conn)?;
    let path = format!("{parent_path}{id}/");
    diesel::update(org_units::table.find(id))
        .set(org_units::path.eq(&path))
        .execute(conn)?;
    Ok(OrgUnit {
        id,
        parent_id: new.parent_id,
        name: new.name.to_string(),
        kind: new.kind.to_string(),
        path,
        sort_order: new.sort_order,
        disabled: new.disabled,
        created_at: new.created_at,
    })
}

pub fn rename(conn: &mut DbConnection, id: i32, name: &str) -> AppResult<usize> {
    Ok(diesel::update(org_units::table.find(id))
        .set(org_units::name.eq(name))
        .execute(conn)?)
}

pub fn set_disabled(conn: &mut DbConnection, id: i32, disabled: bool) -> AppResult<usize> {
    Ok(diesel::update(org_units::table.find(id))
        .set(org_units::disabled.eq(disabled))
        .execute(conn)?)
}

/// Re-hang a unit under a new parent: rewrite the path prefix of its whole subtree.
pub fn reparent(conn: &mut DbConnection, unit: &OrgUnit, new_parent: &OrgUnit) -> AppResult<()> {
    let new_path = format!("{}{}/", new_parent.path, unit.id);
    let old_len = unit.path.chars().count() as i32;
    diesel::update(org_units::table.find(unit.id))
        .set(org_units::parent_id.eq(Some(new_parent.id)))
        .execute(conn)?;
    // path = new_path || substr(path, old_len + 1) for every unit in the old subtree.
    diesel::sql_query("UPDATE org_units SET path = $1 || substr(path, $2) WHERE path LIKE $3")
        .bind::<diesel::sql_types::Text, _>(&new_path)
        .bind::<diesel::sql_types::Integer, _>(old_len.saturating_add(1))
        .bind::<diesel::sql_types::Text, _>(format!("{}%", unit.path))
        .execute(conn)?;
    Ok(())
}

pub fn find_by_name(conn: &mut DbConnection, name: &str) -> AppResult<Vec<OrgUnit>> {
    Ok(org_units::table
        .filter(org_units::name.eq(name))
        .select(OrgUnit::as_select())
        .load(conn)?)
}

/// Active members per unit: (unit id, count).
pub fn member_counts(conn: &mut DbConnection) -> AppResult<Vec<(i32, i64)>> {
    use crate::db::schema::members;
    Ok(members::table
        .filter(members::disabled.eq(false))
        .group_by(members::unit_id)
        .select((members::unit_id, diesel::dsl::count_star()))
        .load(conn)?)
}

/// Active members holding one of `roles` exactly at `unit_id`.
pub fn role_holders(
    conn: &mut DbConnection,
    unit_id: UnitId,
    roles: &[Role],
) -> AppResult<Vec<MemberId>> {
    use crate::db::schema::{members, roles as r};
    Ok(r::table
        .inner_join(members::table)
        .filter(r::unit_id.eq(unit_id))
        .filter(r::role.eq_any(roles.to_vec()))
        .filter(members::disabled.eq(false))
        .select(members::id)
        .distinct()
        .load(conn)?)
}
