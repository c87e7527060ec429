//! Member rows and their queries.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::ids::{MemberId, UnitId};
use crate::db::schema::{members, org_units, roles};
use crate::db::DbConnection;
use crate::error::AppResult;
use crate::org::Role;

#[derive(Queryable, Selectable, Identifiable, Debug, Clone)]
#[diesel(table_name = members)]
pub struct Member {
    pub id: i32,
    pub employee_no: String,
    pub phone: Option<String>,
    pub name: String,
    pub unit_id: i32,
    pub must_change_password: bool,
    pub is_admin: bool,
    pub disabled: bool,
    pub grid_cadre_id: Option<i32>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// Membership status code (`membership::Status`); the history is in membership_events.
    pub status: String,
    /// Set when retention replaced the member's personal data: such a row is never matched again.
    pub anonymised_at: Option<NaiveDateTime>,
}

impl Member {
    pub fn status_label(&self) -> &str {
        match crate::membership::Status::parse(&self.status) {
            Some(s) => s.label(),
            None => self.status.as_str(),
        }
    }
}

#[derive(Insertable)]
#[diesel(table_name = members)]
pub struct NewMember<'a> {
    pub employee_no: &'a str,
    pub phone: Option<&'a str>,
    pub name: &'a str,
    pub unit_id: i32,
    pub password_hash: Option<&'a str>,
    pub must_change_password: bool,
    pub is_admin: bool,
    pub disabled: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(AsChangeset)]
#[diesel(table_name = members)]
#[diesel(treat_none_as_null = true)]
pub struct MemberChanges<'a> {
    pub employee_no: &'a str,
    pub phone: Option<&'a str>,
    pub name: &'a str,
    pub unit_id: i32,
    pub updated_at: NaiveDateTime,
}

/// A member in a list, with the unit name.
#[derive(Debug, Clone)]
pub struct MemberRow {
    pub member: Member,
    pub unit_name: String,
}

pub fn find(conn: &mut DbConnection, id: i32) -> AppResult<Option<Member>> {
    Ok(members::table
        .find(id)
        .select(Member::as_select())
        .first(conn)
        .optional()?)
}

pub fn find_by_employee_no(conn: &mut DbConnection, no: &str) -> AppResult<Option<Member>> {
    Ok(members::table
        .filter(members::employee_no.eq(no))
        .select(Member::as_select())
        .first(conn)
        .optional()?)
}

/// Login lookup: by employee number, else by mobile phone. Returns id, hash and disabled flag.
pub fn find_for_login(
    conn: &mut DbConnection,
    identifier: &str,
) -> AppResult<Option<(i32, Option<String>, bool)>> {
    let by_no = members::table
        .filter(members::employee_no.eq(identifier))
        .select((members::id, members::password_hash, members::disabled))
        .first(conn)
        .optional()?;
    if by_no.is_some() {
        return Ok(by_no);
    }
    Ok(members::table
        .filter(members::phone.eq(identifier))
        .select((members::id, members::password_hash, members::disabled))
        .first(conn)
        .optional()?)
}

pub fn password_hash(conn: &mut DbConnection, id: i32) -> AppResult<Option<String>> {
    Ok(members::table
        .find(id)
        .select(members::password_hash)
        .first(conn)?)
}

pub fn set_password(
    conn: &mut DbConnection,
    id: i32,
    hash: &str,
    must_change: bool,
    now: NaiveDateTime,
) -> AppResult<usize> {
    Ok(diesel::update(members::table.find(id))
        .set((
            members::password_hash.eq(hash),
            members::must_change_password.eq(must_change),
            members::updated_at.eq(now),
        ))
        .execute(conn)?)
}

/// A new member; their membership history starts with a "member" row (note "建档").
pub fn insert(conn: &mut DbConnection, new: &NewMember<'_>) -> AppResult<i32> {
    insert_noted(conn, new, "建档")
}

/// `insert` with the note of the first history row ("批准入会" for an approved application).
pub fn insert_noted(conn: &mut DbConnection, new: &NewMember<'_>, note: &str) -> AppResult<i32> {
    let id: i32 = diesel::insert_into(members::table)
        .values(new)
        .returning(members::id)
        .get_result(conn)?;
    crate::membership::model::insert_event(
        conn,
        id,
        crate::membership::Status::Member,
        new.unit_id,
        None,
        note,
        new.created_at,
    )?;
    Ok(id)
}

pub fn update(conn: &mut DbConnection, id: i32, changes: &MemberChanges<'_>) -> AppResult<usize> {
    Ok(diesel::update(members::table.find(id))
        .set(changes)
        .execute(conn)?)
}

pub fn set_disabled(
    conn: &mut DbConnection,
    id: i32,
    disabled: bool,
    now: NaiveDateTime,
) -> AppResult<usize> {
    Ok(diesel::update(members::table.find(id))
        .set((members::disabled.eq(disabled), members::updated_at.eq(now)))
        .execute(conn)?)
}

pub fn set_grid_cadre(
    conn: &mut DbConnection,
    id: MemberId,
    cadre: Option<MemberId>,
    now: NaiveDateTime,
) -> AppResult<usize> {
    Ok(diesel::update(members::table.find(id))
        .set((
            members::grid_cadre_id.eq(cadre),
            members::updated_at.eq(now),
        ))
        .execute(conn)?)
}

/// The first `limit` active members of a unit (by id).
pub fn ids_in_unit(conn: &mut DbConnection, unit_id: i32, limit: i64) -> AppResult<Vec<i32>> {
    Ok(members::table
        .filter(members::unit_id.eq(unit_id))
        .filter(members::disabled.eq(false))
        .select(members::id)
        .order(members::id.asc())
        .limit(limit)
        .load(conn)?)
}

pub fn any_admin(conn: &mut DbConnection) -> AppResult<bool> {
    let n: i64 = members::table
        .filter(members::is_admin.eq(true))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

pub fn phone_taken(conn: &mut DbConnection, phone: &str, except: Option<i32>) -> AppResult<bool> {
    let mut q = members::table.filter(members::phone.eq(phone)).into_boxed();
    if let Some(id) = except {
        q = q.filter(members::id.ne(id));
    }
    let n: i64 = q.count().get_result(conn)?;
    Ok(n > 0)
}

/// Active (not disabled) members of the given units, by employee number: (id, name, employee
/// number, unit id). Disabled ones are left out in SQL, so however many accumulate they never
/// crowd active members out of a read-receipt count.
pub fn active_in_units(
    conn: &mut DbConnection,
    unit_ids: &[i32],
) -> AppResult<Vec<(i32, String, String, i32)>> {
    Ok(members::table
        .filter(members::unit_id.eq_any(unit_ids.to_vec()))
        .filter(members::disabled.eq(false))
        .order(members::employee_no.asc())
        .select((
            members::id,
            members::name,
            members::employee_no,
            members::unit_id,
        ))
        .load(conn)?)
}

/// List filter for the admin member page.
#[derive(Debug, Default, Clone, serde::Deserialize)]
pub struct MemberFilter {
    #[serde(default)]
    pub q: String,
    pub unit: Option<i32>,
    pub page: Option<i64>,
}

/// One page of members within `unit_ids` (None: all units), matching the filter.
pub fn search(
    conn: &mut DbConnection,
    unit_ids: Option<&[i32]>,
    filter: &MemberFilter,
    per_page: i64,
) -> AppResult<(Vec<MemberRow>, crate::forms::Pager)> {
    let build = || {
        let mut q = members::table.into_boxed();
        if let Some(ids) = unit_ids {
            q = q.filter(members::unit_id.eq_any(ids.to_vec()));
        }
        if let Some(u) = filter.unit {
            q = q.filter(members::unit_id.eq(u));
        }
        let text = crate::text::clean_search(&filter.q);
        if !text.is_empty() {
            let pat = format!("%{text}%");
            q = q.filter(
                members::name
                    .like(pat.clone())
                    .or(members::employee_no.like(pat.clone()))
                    .or(members::phone.like(pat)),
            );
        }
        q
    };
    let total: i64 = build().count().get_result(conn)?;
    let pager = crate::forms::Pager::new(filter.page, per_page, total);
    let rows: Vec<Member> = build()
        .order(members::employee_no.asc())
        .limit(pager.per_page)
        .offset(pager.offset())
        .select(Member::as_select())
        .load(conn)?;
    let unit_ids: Vec<i32> = rows.iter().map(|m| m.unit_id).collect();
    let names: Vec<(i32, String)> = org_units::table
        .filter(org_units::id.eq_any(unit_ids))
        .select((org_units::id, org_units::name))
        .load(conn)?;
    let rows = rows
        .into_iter()
        .map(|m| {
            let unit_name = names
                .iter()
                .find(|(id, _)| *id == m.unit_id)
                .map(|(_, n)| n.clone())
                .unwrap_or_default();
            MemberRow {
                member: m,
                unit_name,
            }
        })
        .collect();
    Ok((rows, pager))
}

/// A member's roles with unit names: (role id, unit id, unit name, role code).
/// Paths of the units where the member holds a role.
pub fn role_paths_of(conn: &mut DbConnection, member_id: i32) -> AppResult<Vec<String>> {
    Ok(roles::table
        .inner_join(org_units::table)
        .filter(roles::member_id.eq(member_id))
        .select(org_units::path)
        .load(conn)?)
}

pub fn roles_of(
    conn: &mut DbConnection,
    member_id: i32,
) -> AppResult<Vec<(i32, i32, String, Role)>> {
    Ok(roles::table
        .inner_join(org_units::table)
        .filter(roles::member_id.eq(member_id))
        .select((roles::id, roles::unit_id, org_units::name, roles::role))
        .order(org_units::path.asc())
        .load(conn)?)
}

pub fn insert_role(
    conn: &mut DbConnection,
    member_id: MemberId,
    unit_id: UnitId,
    role: Role,
    now: NaiveDateTime,
) -> AppResult<()> {
    diesel::insert_into(roles::table)
        .values((
            roles::member_id.eq(member_id),
            roles::unit_id.eq(unit_id),
            roles::role.eq(role),
            roles::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn has_role(
    conn: &mut DbConnection,
    member_id: MemberId,
    unit_id: UnitId,
    role: Role,
) -> AppResult<bool> {
    let n: i64 = roles::table
        .filter(roles::member_id.eq(member_id))
        .filter(roles::unit_id.eq(unit_id))
        .filter(roles::role.eq(role))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// Role `role_id` of member `member_id` (None when the role is someone else's).
pub fn find_role(
    conn: &mut DbConnection,
    member_id: i32,
    role_id: i32,
) -> AppResult<Option<(i32, i32, Role)>> {
    Ok(roles::table
        .find(role_id)
        .filter(roles::member_id.eq(member_id))
        .select((roles::member_id, roles::unit_id, roles::role))
        .first(conn)
        .optional()?)
}

pub fn delete_role(conn: &mut DbConnection, role_id: i32) -> AppResult<usize> {
    Ok(diesel::delete(roles::table.find(role_id)).execute(conn)?)
}

/// Cadres (cadre role) at the given units: candidates for a member's grid cadre.
pub fn cadres_at(conn: &mut DbConnection, unit_ids: &[i32]) -> AppResult<Vec<(i32, String)>> {
    Ok(roles::table
        .inner_join(members::table)
        .filter(roles::unit_id.eq_any(unit_ids.to_vec()))
        .filter(roles::role.eq(Role::Cadre))
        .filter(members::disabled.eq(false))
        .select((members::id, members::name))
        .distinct()
        .load(conn)?)
}

/// 长辈版 on or off (the member's own choice; no audit needed).
pub fn set_large_text(conn: &mut DbConnection, id: i32, on: bool) -> AppResult<()> {
    diesel::update(members::table.find(id))
        .set(members::large_text.eq(on))
        .execute(conn)?;
    Ok(())
}

/// Names and employee numbers of these members in one query per 500 (lists that show who
/// asked: no lookup per row).
pub fn names_of(
    conn: &mut DbConnection,
    ids: &[i32],
) -> AppResult<std::collections::HashMap<i32, (String, String)>> {
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    let mut out = std::collections::HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        let rows: Vec<(i32, String, String)> = members::table
            .filter(members::id.eq_any(chunk))
            .select((members::id, members::name, members::employee_no))
            .load(conn)?;
        out.extend(rows.into_iter().map(|(id, n, e)| (id, (n, e))));
    }
    Ok(out)
}
