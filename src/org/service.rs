//! Changes to the org tree, each with its audit row in one transaction.

use crate::audit::{self, Actor};
use crate::auth::User;
use crate::db::{write_tx, DbConnection};
use crate::error::{AppError, AppResult};

use super::model::{self, NewOrgUnit};
use super::{scope, OrgUnit, UNIT_KINDS};

fn clean_name(name: &str) -> AppResult<String> {
    let name = name.trim();
    if name.is_empty() {
        return Err(AppError::Validation("请填写组织名称".into()));
    }
    if name.chars().count() > 60 {
        return Err(AppError::Validation("组织名称不能超过 60 个字".into()));
    }
    Ok(name.to_string())
}

fn check_kind(kind: &str) -> AppResult<()> {
    if UNIT_KINDS.iter().any(|(k, _)| *k == kind) {
        Ok(())
    } else {
        Err(AppError::Validation("请选择组织类型".into()))
    }
}

fn load(conn: &mut DbConnection, id: i32) -> AppResult<OrgUnit> {
    model::find(conn, id)?.ok_or(AppError::NotFound)
}

/// Create a root unit (CLI, demo, import). No scope check: callers are trusted.
pub fn create_root(
    conn: &mut DbConnection,
    actor: &Actor,
    name: &str,
    kind: &str,
) -> AppResult<OrgUnit> {
    let name = clean_name(name)?;
    check_kind(kind)?;
    write_tx(conn, |conn| {
        let unit = model::insert(
            conn,
            NewOrgUnit {
                parent_id: None,
                name: &name,
                kind,
                path: "",
                sort_order: 0,
                disabled: false,
                created_at: actor.now,
            },
            "/",
        )?;
        audit::record(
            conn,
            actor,
            Some(unit.id),
            crate::audit::AuditAction::OrgCreate,
            ("org_unit", Some(unit.id)),
            &name,
        )?;
        Ok(unit)
    })
}

fn too_deep() -> AppError {
    AppError::Validation(format!(
        "组织层级最多 {} 级，请在更上一级下建立",
        scope::PATH_SLOTS
    ))
}

/// Create a unit under `parent_id`. Fails with NotFound outside the user's reach.
pub fn create_child(
    conn: &mut DbConnection,
    user: Option<&User>,
    actor: &Actor,
    parent_id: i32,
    name: &str,
    kind: &str,
) -> AppResult<OrgUnit> {
    let name = clean_name(name)?;
    check_kind(kind)?;
    write_tx(conn, |conn| {
        let parent = load(conn, parent_id)?;
        if let Some(u) = user {
            if !scope::may_add_child(u, &parent) {
                return Err(AppError::NotFound);
            }
        }
        if parent.depth().saturating_add(2) > scope::PATH_SLOTS {
            return Err(too_deep());
        }
        let unit = model::insert(
            conn,
            NewOrgUnit {
                parent_id: Some(parent.id),
                name: &name,
                kind,
                path: "",
                sort_order: 0,
                disabled: false,
                created_at: actor.now,
            },
            &parent.path,
        )?;
        audit::record(
            conn,
            actor,
            Some(unit.id),
            crate::audit::AuditAction::OrgCreate,
            ("org_unit", Some(unit.id)),
            &format!("{name}（上级：{}）", parent.name),
        )?;
        Ok(unit)
    })
}

pub fn rename(
    conn: &mut DbConnection,
    user: &User,
    actor: &Actor,
    id: i32,
    name: &str,
) -> AppResult<()> {
    let name = clean_name(name)?;
    write_tx(conn, |conn| {
        let unit = load(conn, id)?;
        if !scope::may_edit_unit(user, &unit) {
            return Err(AppError::NotFound);
        }
        model::rename(conn, id, &name)?;
        audit::record(
            conn,
            actor,
            Some(id),
            crate::audit::AuditAction::OrgRename,
            ("org_unit", Some(id)),
            &format!("{} → {name}", unit.name),
        )
    })
}

/// Move a unit (with its subtree) under a new parent. Refuses cycles.
pub fn move_unit(
    conn: &mut DbConnection,
    user: &User,
    actor: &Actor,
    id: i32,
    new_parent_id: i32,
) -> AppResult<()> {
    write_tx(conn, |conn| {
        let unit = load(conn, id)?;
        let parent = load(conn, new_parent_id)?;
        if !scope::may_edit_unit(user, &unit) || !scope::may_add_child(user, &parent) {
            return Err(AppError::NotFound);
        }
        if unit.contains(&parent) {
            return Err(AppError::Validation(
                "不能把组织移动到它自己或它的下级之下".into(),
            ));
        }
        if unit.parent_id == Some(parent.id) {
            return Ok(());
        }
        let below = model::under_paths(conn, std::slice::from_ref(&unit.path))?
            .iter()
            .map(|u| u.depth().saturating_sub(unit.depth()))
            .max()
            .unwrap_or(0);
        if parent.depth().saturating_add(2).saturating_add(below) > scope::PATH_SLOTS {
            return Err(too_deep());
        }
        model::reparent(conn, &unit, &parent)?;
        audit::record(
            conn,
            actor,
            Some(id),
            crate::audit::AuditAction::OrgMove,
            ("org_unit", Some(id)),
            &format!("{} → {}", unit.name, parent.name),
        )
    })
}

pub fn set_disabled(
    conn: &mut DbConnection,
    user: &User,
    actor: &Actor,
    id: i32,
    disabled: bool,
) -> AppResult<()> {
    write_tx(conn, |conn| {
        let unit = load(conn, id)?;
        if !scope::may_edit_unit(user, &unit) {
            return Err(AppError::NotFound);
        }
        model::set_disabled(conn, id, disabled)?;
        let action = if disabled {
            crate::audit::AuditAction::OrgDisable
        } else {
            crate::audit::AuditAction::OrgEnable
        };
        audit::record(
            conn,
            actor,
            Some(id),
            action,
            ("org_unit", Some(id)),
            &unit.name,
        )
    })
}

/// Resolve a unit written in an import file: a unique name ("结构所分会") or a path of names
/// ending at the unit ("第一工程公司工会/机关分会", or from the root).
pub fn resolve_unit(units: &[OrgUnit], text: &str) -> Result<i32, String> {
    let names: Vec<&str> = text
        .split('/')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    let Some((leaf, above)) = names.split_last() else {
        return Err("单位为空".into());
    };
    let by_id = |id: i32| units.iter().find(|u| u.id == id);
    let matches: Vec<&OrgUnit> = units
        .iter()
        .filter(|u| u.name == *leaf)
        .filter(|u| {
            // Walk up from the candidate, matching the written ancestors from the right.
            let mut parent = u.parent_id;
            above.iter().rev().all(|name| match parent.and_then(by_id) {
                Some(p) if p.name == *name => {
                    parent = p.parent_id;
                    true
                }
                _ => false,
            })
        })
        .collect();
    match matches.as_slice() {
        [] => Err(format!("找不到单位“{text}”")),
        [only] => Ok(only.id),
        _ => Err(format!("单位“{text}”重名，请写上级，如 上级单位/{leaf}")),
    }
}
