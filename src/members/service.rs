//! Member and role changes, each checked against the actor's scope and audited in the same
//! transaction.

use diesel::prelude::*;

use crate::audit::{self, Actor};
use crate::auth::{session, User};
use crate::db::ids::{MemberId, UnitId};
use crate::db::{write_tx, DbConnection};
use crate::error::{AppError, AppResult};
use crate::forms::FieldErrors;
use crate::org::{self, scope, Role};
use crate::outbox::{Kind, Out};
use crate::text::to_halfwidth;

use super::model::{self, Member, MemberChanges, NewMember};

/// What a member form posts (all text, validated here).
#[derive(Debug, Default, Clone, serde::Deserialize)]
pub struct MemberForm {
    #[serde(default)]
    pub employee_no: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub phone: String,
    #[serde(default)]
    pub unit_id: String,
}

/// A validated member form.
#[derive(Debug, Clone)]
pub struct MemberInput {
    pub employee_no: String,
    pub name: String,
    pub phone: Option<String>,
    pub unit_id: i32,
}

/// Mainland mobile number from what people type ("138 0013 8000", "+86-13800138000", 全角).
pub fn normalize_phone(raw: &str) -> Result<Option<String>, &'static str> {
    let s: String = to_halfwidth(raw)
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '(' | ')'))
        .collect();
    if s.is_empty() {
        return Ok(None);
    }
    let s = s
        .strip_prefix("+86")
        .or_else(|| s.strip_prefix("0086"))
        .unwrap_or(&s);
    if s.len() == 11 && s.starts_with('1') && s.chars().all(|c| c.is_ascii_digit()) {
        Ok(Some(s.to_string()))
    } else {
        Err("手机号应为 11 位数字，以 1 开头")
    }
}

/// The employee-number prefix of anonymised members (`membership::model::anonymise`).
pub const ANONYMISED_PREFIX: &str = "removed-";

pub fn normalize_employee_no(raw: &str) -> Result<String, &'static str> {
    let s = to_halfwidth(raw).trim().to_string();
    if s.is_empty() {
        return Err("请填写工号");
    }
    if s.chars().count() > 32 {
        return Err("工号不能超过 32 位");
    }
    // Retention gives an anonymised member the number `removed-{id}`: a live account must never
    // hold or claim one.
    if s.to_ascii_lowercase().starts_with(ANONYMISED_PREFIX) {
        return Err("工号不能以 removed- 开头");
    }
    if !s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err("工号只能包含字母、数字、- 和 _");
    }
    Ok(s)
}

pub fn normalize_name(raw: &str) -> Result<String, &'static str> {
    let s = raw.trim();
    if s.is_empty() {
        return Err("请填写姓名");
    }
    if s.chars().count() > 30 {
        return Err("姓名不能超过 30 个字");
    }
    if s.chars().any(char::is_control) {
        return Err("姓名含有不可见字符");
    }
    Ok(s.to_string())
}

impl MemberForm {
    pub fn validate(&self) -> Result<MemberInput, FieldErrors> {
        let mut errors = FieldErrors::default();
        let employee_no = normalize_employee_no(&self.employee_no)
            .map_err(|e| errors.add("employee_no", e))
            .unwrap_or_default();
        let name = normalize_name(&self.name)
            .map_err(|e| errors.add("name", e))
            .unwrap_or_default();
        let phone = normalize_phone(&self.phone)
            .map_err(|e| errors.add("phone", e))
            .unwrap_or_default();
        let unit_id = self.unit_id.trim().parse::<i32>().unwrap_or_else(|_| {
            errors.add("unit_id", "请选择所属单位");
            0
        });
        if errors.is_empty() {
            Ok(MemberInput {
                employee_no,
                name,
                phone,
                unit_id,
            })
        } else {
            Err(errors)
        }
    }
}

/// Load a member the user may manage; NotFound otherwise (outsiders learn nothing).
pub fn load_in_scope(
    conn: &mut DbConnection,
    user: &User,
    id: i32,
) -> AppResult<(Member, org::OrgUnit)> {
    let member = model::find(conn, id)?.ok_or(AppError::NotFound)?;
    let unit = org::model::find(conn, member.unit_id)?.ok_or(AppError::NotFound)?;
    let role_paths = model::role_paths_of(conn, id)?;
    if !scope::may_manage_account(user, member.id, &unit.path, member.is_admin, &role_paths) {
        return Err(AppError::NotFound);
    }
    Ok((member, unit))
}

fn unit_in_scope(
    conn: &mut DbConnection,
    user: Option<&User>,
    unit_id: i32,
) -> AppResult<Option<org::OrgUnit>> {
    let Some(unit) = org::model::find(conn, unit_id)? else {
        return Ok(None);
    };
    match user {
        Some(u) if !scope::manages(u, &unit.path) => Ok(None),
        _ => Ok(Some(unit)),
    }
}

/// Uniqueness and unit checks that need the database; adds field errors.
fn check_input(
    conn: &mut DbConnection,
    user: Option<&User>,
    input: &MemberInput,
    except: Option<i32>,
) -> AppResult<FieldErrors> {
    let mut errors = FieldErrors::default();
    if let Some(existing) = model::find_by_employee_no(conn, &input.employee_no)? {
        if Some(existing.id) != except {
            errors.add("employee_no", "该工号已存在");
        }
    }
    if let Some(p) = &input.phone {
        if model::phone_taken(conn, p, except)? {
            errors.add("phone", "该手机号已被其他会员使用");
        }
    }
    match unit_in_scope(conn, user, input.unit_id)? {
        None => errors.add("unit_id", "请选择您管理范围内的单位"),
        Some(u) if u.disabled => errors.add("unit_id", "该单位已停用"),
        Some(_) => {}
    }
    Ok(errors)
}

/// Create a member with a hashed initial password they must change at first login.
/// `user` is None for trusted callers (CLI import, demo). Returns field errors as Validation.
pub fn create(
    conn: &mut DbConnection,
    user: Option<&User>,
    actor: &Actor,
    input: &MemberInput,
    password_hash: &str,
    must_change: bool,
) -> AppResult<i32> {
    write_tx(conn, |conn| {
        let errors = check_input(conn, user, input, None)?;
        if !errors.is_empty() {
            return Err(AppError::Fields(errors));
        }
        let id = model::insert(
            conn,
            &NewMember {
                employee_no: &input.employee_no,
                phone: input.phone.as_deref(),
                name: &input.name,
                unit_id: input.unit_id,
                password_hash: Some(password_hash),
                must_change_password: must_change,
                is_admin: false,
                disabled: false,
                created_at: actor.now,
                updated_at: actor.now,
            },
        )?;
        audit::record(
            conn,
            actor,
            Some(input.unit_id),
            crate::audit::AuditAction::MemberCreate,
            ("member", Some(id)),
            &format!("{} {}", input.employee_no, input.name),
        )?;
        Ok(id)
    })
}

/// Edit a member's details; the member and the new unit must both be in the user's scope.
/// NotFound for an anonymised member (a name is never given back to the placeholder).
pub fn update(
    conn: &mut DbConnection,
    user: &User,
    actor: &Actor,
    id: i32,
    input: &MemberInput,
) -> AppResult<()> {
    write_tx(conn, |conn| {
        let (before, _) = load_in_scope(conn, user, id)?;
        if before.anonymised_at.is_some() {
            return Err(AppError::NotFound);
        }
        let errors = check_input(conn, Some(user), input, Some(id))?;
        if !errors.is_empty() {
            return Err(AppError::Fields(errors));
        }
        model::update(
            conn,
            id,
            &MemberChanges {
                employee_no: &input.employee_no,
                phone: input.phone.as_deref(),
                name: &input.name,
                unit_id: input.unit_id,
                updated_at: actor.now,
            },
        )?;
        let mut changes = Vec::new();
        if before.name != input.name {
            changes.push(format!("姓名 {} → {}", before.name, input.name));
        }
        if before.employee_no != input.employee_no {
            changes.push(format!(
                "工号 {} → {}",
                before.employee_no, input.employee_no
            ));
        }
        if before.phone != input.phone {
            changes.push("手机号已修改".to_string());
        }
        if before.unit_id != input.unit_id {
            changes.push(format!("单位 {} → {}", before.unit_id, input.unit_id));
        }
        audit::record(
            conn,
            actor,
            Some(input.unit_id),
            crate::audit::AuditAction::MemberUpdate,
            ("member", Some(id)),
            &changes.join("；"),
        )?;
        Ok(())
    })
}

/// Disable (revoking every session at once) or re-enable a member.
pub fn set_disabled(
    conn: &mut DbConnection,
    user: &User,
    actor: &Actor,
    id: i32,
    disabled: bool,
) -> AppResult<()> {
    if id == user.id {
        return Err(AppError::Validation("不能停用自己的账号".into()));
    }
    write_tx(conn, |conn| {
        let (m, _) = load_in_scope(conn, user, id)?;
        model::set_disabled(conn, id, disabled, actor.now)?;
        if disabled {
            session::delete_for_member(conn, id)?;
        } else if crate::membership::model::swap_status(
            conn,
            id,
            &[crate::membership::Status::Left],
            crate::membership::Status::Member,
            actor.now,
        )? {
            // Re-enabling someone who had left makes them a member again (and takes them off
            // the retention job's list).
            crate::membership::set_status(
                conn,
                actor,
                id,
                crate::membership::Status::Member,
                m.unit_id,
                "重新启用账号",
            )?;
        }
        let action = if disabled {
            crate::audit::AuditAction::MemberDisable
        } else {
            crate::audit::AuditAction::MemberEnable
        };
        audit::record(
            conn,
            actor,
            Some(m.unit_id),
            action,
            ("member", Some(id)),
            &m.name,
        )
    })
}

/// Set a new initial password (the member must change it at next login); revokes sessions.
pub fn reset_password(
    conn: &mut DbConnection,
    user: &User,
    actor: &Actor,
    id: i32,
    hash: &str,
) -> AppResult<()> {
    write_tx(conn, |conn| {
        let (m, _) = load_in_scope(conn, user, id)?;
        model::set_password(conn, id, hash, true, actor.now)?;
        session::delete_for_member(conn, id)?;
        // The account's owner learns who reset it (shown after their next login).
        crate::notifications::notify(
            conn,
            id,
            &format!("您的密码已被 {} 重置；如非本人要求，请联系工会", actor.name),
            "/me/password",
            actor.now,
            Out::Full(Kind::Account),
        )?;
        audit::record(
            conn,
            actor,
            Some(m.unit_id),
            crate::audit::AuditAction::PasswordReset,
            ("member", Some(id)),
            &m.name,
        )
    })
}

/// Grant a role at a unit. Only admins and chairs above the unit may; nobody changes their own.
pub fn grant_role(
    conn: &mut DbConnection,
    user: &User,
    actor: &Actor,
    member_id: i32,
    unit_id: i32,
    role: Role,
) -> AppResult<()> {
    if member_id == user.id {
        return Err(AppError::Validation("不能修改自己的角色".into()));
    }
    write_tx(conn, |conn| {
        let (m, _) = load_in_scope(conn, user, member_id)?;
        let unit = org::model::find(conn, unit_id)?.ok_or(AppError::NotFound)?;
        if !scope::may_grant_roles(user, &unit.path) {
            return Err(AppError::Validation("您无权在该单位授予角色".into()));
        }
        if model::has_role(conn, MemberId(member_id), UnitId(unit_id), role)? {
            return Err(AppError::Validation("该会员已拥有这个角色".into()));
        }
        model::insert_role(conn, MemberId(member_id), UnitId(unit_id), role, actor.now)?;
        // A new role shortens session lifetimes: make the member log in again.
        session::delete_for_member(conn, member_id)?;
        audit::record(
            conn,
            actor,
            Some(unit_id),
            crate::audit::AuditAction::RoleGrant,
            ("member", Some(member_id)),
            &format!("{}：{}（{}）", m.name, role.label(), unit.name),
        )
    })
}

/// Revoke role `role_id` of member `member_id`: NotFound unless the role is that member's.
pub fn revoke_role(
    conn: &mut DbConnection,
    user: &User,
    actor: &Actor,
    member_id: i32,
    role_id: i32,
) -> AppResult<()> {
    write_tx(conn, |conn| {
        let (_, unit_id, role) =
            model::find_role(conn, member_id, role_id)?.ok_or(AppError::NotFound)?;
        if member_id == user.id {
            return Err(AppError::Validation("不能修改自己的角色".into()));
        }
        let (m, _) = load_in_scope(conn, user, member_id)?;
        let unit = org::model::find(conn, unit_id)?.ok_or(AppError::NotFound)?;
        if !scope::may_grant_roles(user, &unit.path) {
            return Err(AppError::Validation("您无权撤销该单位的角色".into()));
        }
        model::delete_role(conn, role_id)?;
        session::delete_for_member(conn, member_id)?;
        let label = role.label();
        audit::record(
            conn,
            actor,
            Some(unit_id),
            crate::audit::AuditAction::RoleRevoke,
            ("member", Some(member_id)),
            &format!("{}：{}（{}）", m.name, label, unit.name),
        )
    })
}

/// Assign the member's grid cadre (网格员): a cadre at the member's unit or an ancestor.
pub fn set_grid_cadre(
    conn: &mut DbConnection,
    user: &User,
    actor: &Actor,
    member_id: i32,
    cadre_id: Option<i32>,
) -> AppResult<()> {
    write_tx(conn, |conn| {
        let (m, unit) = load_in_scope(conn, user, member_id)?;
        if let Some(c) = cadre_id {
            let ancestors = ancestor_ids(&unit.path);
            if !model::cadres_at(conn, &ancestors)?
                .iter()
                .any(|(id, _)| *id == c)
            {
                return Err(AppError::Validation(
                    "网格员必须是该会员所在单位或上级单位的工会干部".into(),
                ));
            }
        }
        model::set_grid_cadre(conn, MemberId(member_id), cadre_id.map(MemberId), actor.now)?;
        audit::record(
            conn,
            actor,
            Some(m.unit_id),
            crate::audit::AuditAction::MemberUpdate,
            ("member", Some(member_id)),
            &format!("{}：网格员已调整", m.name),
        )
    })
}

/// Ids along a path, root first: "/1/5/12/" → [1, 5, 12].
pub fn ancestor_ids(path: &str) -> Vec<i32> {
    path.split('/').filter_map(|s| s.parse().ok()).collect()
}

/// Change one's own password; needs the current one (checked by the caller, off-thread).
/// Keeps the current session and revokes the others.
pub fn change_own_password(
    conn: &mut DbConnection,
    user: &User,
    actor: &Actor,
    hash: &str,
) -> AppResult<()> {
    write_tx(conn, |conn| {
        model::set_password(conn, user.id, hash, false, actor.now)?;
        session::delete_others(conn, user.id, &user.session_id)?;
        audit::record(
            conn,
            actor,
            Some(user.unit_id),
            crate::audit::AuditAction::PasswordChange,
            ("member", Some(user.id)),
            "",
        )
    })
}

/// Count members (for the admin overview).
pub fn count_in(conn: &mut DbConnection, unit_ids: Option<&[i32]>) -> AppResult<i64> {
    use crate::db::schema::members;
    let mut q = members::table
        .filter(members::disabled.eq(false))
        .into_boxed();
    if let Some(ids) = unit_ids {
        q = q.filter(members::unit_id.eq_any(ids.to_vec()));
    }
    Ok(q.count().get_result(conn)?)
}
