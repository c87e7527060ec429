//! Scope rules. A role held at a unit reaches that unit's whole subtree and nothing outside it;
//! admins reach everything. Later features call these instead of writing their own checks.

use crate::auth::User;
use crate::db::ids::UnitId;
use crate::db::DbConnection;
use crate::error::AppResult;

use super::{model, OrgUnit, Role};

/// Units on one path, root included: a unit may sit at most this many levels deep (the union's
/// tree has four: 集团工会 → 二级单位工会 → 分会 → 小组). Audience filters bind exactly this many
/// ids, so their SQL is the same for every reader and its prepared statement is reused.
pub const PATH_SLOTS: usize = 8;

/// Unit ids on the reader's path, root first: an audience unit among them reaches the reader.
pub fn ancestors(user: &User) -> Vec<i32> {
    path_ids(&user.unit_path)
}

fn path_ids(path: &str) -> Vec<i32> {
    path.split('/').filter_map(|s| s.parse().ok()).collect()
}

/// The reader's path as exactly `PATH_SLOTS` ids (the last one repeated), for `on_path!`.
pub fn path_slots(user: &User) -> [i32; PATH_SLOTS] {
    let ids = ancestors(user);
    let mut out = [ids.last().copied().unwrap_or(0); PATH_SLOTS];
    for (slot, id) in out.iter_mut().zip(ids) {
        *slot = id;
    }
    out
}

/// `$col` is one of the eight ids of `path_slots`. Written as equalities rather than
/// `eq_any`: diesel never caches a statement with an `IN (?, …)` list, while this SQL never
/// changes. SQLite and PostgreSQL both turn the ORs back into one index lookup per id.
#[macro_export]
macro_rules! on_path {
    ($col:expr, $slots:expr) => {{
        let s: [i32; $crate::org::scope::PATH_SLOTS] = $slots;
        $col.eq(s[0])
            .or($col.eq(s[1]))
            .or($col.eq(s[2]))
            .or($col.eq(s[3]))
            .or($col.eq(s[4]))
            .or($col.eq(s[5]))
            .or($col.eq(s[6]))
            .or($col.eq(s[7]))
    }};
}

/// Path prefixes where the user may manage members and content (cadre or chair roles).
/// `None` means no limit (admin).
pub fn manage_prefixes(user: &User) -> Option<Vec<String>> {
    if user.is_admin {
        return None;
    }
    Some(prefixes_for(user, &[Role::Cadre, Role::Chair]))
}

fn prefixes_for(user: &User, roles: &[Role]) -> Vec<String> {
    let mut out: Vec<String> = user
        .roles
        .iter()
        .filter(|g| roles.contains(&g.role))
        .map(|g| g.unit_path.clone())
        .collect();
    out.sort();
    // Drop prefixes already covered by a shorter one.
    let mut kept: Vec<String> = Vec::new();
    for p in out {
        if !kept.iter().any(|k| p.starts_with(k.as_str())) {
            kept.push(p);
        }
    }
    kept
}

/// Whether the user may manage members and content of the unit with this path.
pub fn manages(user: &User, unit_path: &str) -> bool {
    match manage_prefixes(user) {
        None => true,
        Some(ps) => ps.iter().any(|p| unit_path.starts_with(p.as_str())),
    }
}

/// The lowest common ancestor of units, from their paths ("/1/5/12/"): the owner of an item
/// published to several units, so that only a cadre who manages every audience unit manages it.
pub fn lowest_common_ancestor(units: &[OrgUnit]) -> Option<i32> {
    let mut paths = units.iter().map(|u| {
        u.path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| s.parse::<i32>().ok())
            .collect::<Vec<Option<i32>>>()
    });
    let mut common = paths.next()?;
    for p in paths {
        let same = common.iter().zip(&p).take_while(|(a, b)| a == b).count();
        common.truncate(same);
    }
    common.last().copied().flatten()
}

/// Who may manage whom (edit, disable, reset the password, roles, grid): a cadre or chair
/// manages plain members in their subtree; an account that holds any role, or is an
/// administrator, is managed only by an administrator, or by a chair whose unit is strictly
/// above every unit where the target holds a role. Nobody manages their own account here.
pub fn may_manage_account(
    actor: &User,
    target_id: i32,
    target_unit_path: &str,
    target_is_admin: bool,
    target_role_paths: &[String],
) -> bool {
    if actor.id == target_id {
        return false;
    }
    if actor.is_admin {
        return true;
    }
    if target_is_admin || !manages(actor, target_unit_path) {
        return false;
    }
    let chairs = prefixes_for(actor, &[Role::Chair]);
    target_role_paths.iter().all(|p| {
        chairs
            .iter()
            .any(|c| p.starts_with(c.as_str()) && p.len() > c.len())
    })
}

/// Whether the user may grant or revoke roles at this unit: admins, and chairs of an
/// ancestor-or-self unit. Cadres cannot hand out roles.
pub fn may_grant_roles(user: &User, unit_path: &str) -> bool {
    user.is_admin
        || prefixes_for(user, &[Role::Chair])
            .iter()
            .any(|p| unit_path.starts_with(p.as_str()))
}

/// Whether the user may restructure the tree at this unit (create children, rename, move,
/// disable): admins anywhere, chairs strictly below their own unit.
pub fn may_edit_unit(user: &User, unit: &OrgUnit) -> bool {
    user.is_admin
        || prefixes_for(user, &[Role::Chair])
            .iter()
            .any(|p| unit.path.starts_with(p.as_str()) && unit.path != *p)
}

/// Whether the user may add a child under `parent`.
pub fn may_add_child(user: &User, parent: &OrgUnit) -> bool {
    user.is_admin
        || prefixes_for(user, &[Role::Chair])
            .iter()
            .any(|p| parent.path.starts_with(p.as_str()))
}

/// Units the user manages, in tree order.
pub fn managed_units(conn: &mut DbConnection, user: &User) -> AppResult<Vec<OrgUnit>> {
    match manage_prefixes(user) {
        None => model::all(conn),
        Some(ps) => model::under_paths(conn, &ps),
    }
}

/// Ids of the units the user manages; `None` for admins (everything).
pub fn managed_unit_ids(conn: &mut DbConnection, user: &User) -> AppResult<Option<Vec<i32>>> {
    if user.is_admin {
        return Ok(None);
    }
    Ok(Some(
        managed_units(conn, user)?
            .into_iter()
            .map(|u| u.id)
            .collect(),
    ))
}

/// The cadres answerable for a unit: cadres and chairs at the unit itself, else at the nearest
/// ancestor that has any (a team without its own cadre is served by its branch).
pub fn responsible_cadres(conn: &mut DbConnection, unit: &OrgUnit) -> AppResult<Vec<i32>> {
    nearest_holders(conn, unit, &[Role::Cadre, Role::Chair])
}

/// Holders of `roles` at the unit itself, else at the nearest ancestor that has any.
pub fn nearest_holders(
    conn: &mut DbConnection,
    unit: &OrgUnit,
    roles: &[Role],
) -> AppResult<Vec<i32>> {
    for id in path_ids(&unit.path).iter().rev() {
        let holders = model::role_holders(conn, UnitId(*id), roles)?;
        if !holders.is_empty() {
            return Ok(holders.into_iter().map(|m| m.0).collect());
        }
    }
    Ok(Vec::new())
}

/// The company of a unit: the second level of its path (the top union counts as its own).
pub fn company_of(path: &str) -> i32 {
    let ids = path_ids(path);
    ids.get(1).or(ids.first()).copied().unwrap_or(0)
}

/// Whether the user handles cases of this unit (cadre or chair at it or above, or admin).
pub fn handles(user: &User, unit_path: &str) -> bool {
    manages(user, unit_path)
}

/// Path prefixes where the user holds any of `roles`; `None` for admins (everything).
pub fn role_prefixes(user: &User, roles: &[Role]) -> Option<Vec<String>> {
    if user.is_admin {
        return None;
    }
    Some(prefixes_for(user, roles))
}

/// Units under the user's `roles` (all units for admins), in tree order.
pub fn units_for_roles(
    conn: &mut DbConnection,
    user: &User,
    roles: &[Role],
) -> AppResult<Vec<OrgUnit>> {
    match role_prefixes(user, roles) {
        None => model::all(conn),
        Some(ps) => model::under_paths(conn, &ps),
    }
}

/// Whether the user holds one of `roles` at this unit or above (admins: always).
pub fn holds_over(user: &User, unit_path: &str, roles: &[Role]) -> bool {
    match role_prefixes(user, roles) {
        None => true,
        Some(ps) => ps.iter().any(|p| unit_path.starts_with(p.as_str())),
    }
}

/// The audience units of something the user publishes (news, activities): each must be in
/// the user's reach and at least one chosen; failures go to the `audience` field.
pub fn audience_units(
    conn: &mut DbConnection,
    user: &User,
    audience: &[i32],
    errors: &mut crate::forms::FieldErrors,
    none_chosen: &str,
) -> AppResult<Vec<OrgUnit>> {
    let mut units = Vec::new();
    for u in audience {
        match model::find(conn, *u)? {
            Some(unit) if manages(user, &unit.path) => units.push(unit),
            _ => errors.add("audience", "只能面向您管理范围内的组织发布"),
        }
    }
    if audience.is_empty() {
        errors.add("audience", none_chosen.to_string());
    }
    Ok(units)
}

/// Content published by `unit_id` that the user manages, else 404 (never "exists but hidden"):
/// the one check behind every feature's cadre-side loader.
pub fn require_manages(conn: &mut DbConnection, user: &User, unit_id: i32) -> AppResult<()> {
    match model::find(conn, unit_id)? {
        Some(unit) if manages(user, &unit.path) => Ok(()),
        _ => Err(crate::error::AppError::NotFound),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)] // a failing test should panic
mod tests {
    use super::*;
    use crate::auth::user::RoleGrant;

    // A small tree: 1 集团 → 2 公司A (→ 5 分会, → 55 分会), 3 公司B.
    fn user(id: i32, path: &str, admin: bool, roles: &[(Role, &str)]) -> User {
        User {
            id,
            name: format!("u{id}"),
            employee_no: format!("E{id}"),
            unit_id: path_ids(path).last().copied().unwrap_or(0),
            unit_name: String::new(),
            unit_label: String::new(),
            unit_path: path.to_string(),
            is_admin: admin,
            must_change_password: false,
            roles: roles
                .iter()
                .map(|(role, p)| RoleGrant {
                    unit_id: path_ids(p).last().copied().unwrap_or(0),
                    unit_name: String::new(),
                    unit_path: (*p).to_string(),
                    role: *role,
                })
                .collect(),
            session_id: String::new(),
            unread: 0,
            large_text: false,
            membership: "member".into(),
        }
    }

    fn unit(id: i32, path: &str) -> OrgUnit {
        OrgUnit {
            id,
            parent_id: None,
            name: String::new(),
            kind: String::new(),
            path: path.to_string(),
            sort_order: 0,
            disabled: false,
            created_at: chrono::NaiveDateTime::default(),
        }
    }

    #[test]
    fn path_slots_fill_with_the_reader_unit() {
        let u = user(9, "/1/2/5/", false, &[]);
        assert_eq!(ancestors(&u), vec![1, 2, 5]);
        assert_eq!(path_slots(&u), [1, 2, 5, 5, 5, 5, 5, 5]);
        let root = user(9, "/1/", false, &[]);
        assert_eq!(path_slots(&root), [1; PATH_SLOTS]);
        assert_eq!(path_slots(&user(9, "", false, &[])), [0; PATH_SLOTS]);
    }

    #[test]
    fn prefixes_keep_only_the_highest_grant_of_the_asked_roles() {
        let u = user(
            9,
            "/1/2/5/",
            false,
            &[
                (Role::Cadre, "/1/2/5/"),
                (Role::Chair, "/1/2/"),
                (Role::Finance, "/1/3/"),
            ],
        );
        assert_eq!(manage_prefixes(&u), Some(vec!["/1/2/".to_string()]));
        assert_eq!(
            role_prefixes(&u, &[Role::Finance]),
            Some(vec!["/1/3/".to_string()])
        );
        assert_eq!(
            role_prefixes(&u, &[Role::Cadre]),
            Some(vec!["/1/2/5/".to_string()])
        );
        // Sibling prefixes that share leading digits are both kept ("/1/5/" does not cover "/1/55/").
        let v = user(
            9,
            "/1/",
            false,
            &[(Role::Cadre, "/1/55/"), (Role::Cadre, "/1/5/")],
        );
        assert_eq!(
            manage_prefixes(&v),
            Some(vec!["/1/5/".to_string(), "/1/55/".to_string()])
        );
        let admin = user(1, "/1/", true, &[]);
        assert_eq!(manage_prefixes(&admin), None);
        assert_eq!(role_prefixes(&admin, &[Role::Finance]), None);
        assert_eq!(manage_prefixes(&user(9, "/1/", false, &[])), Some(vec![]));
    }

    #[test]
    fn manages_and_holds_over_reach_the_subtree_only() {
        let cadre = user(9, "/1/2/", false, &[(Role::Cadre, "/1/2/")]);
        assert!(manages(&cadre, "/1/2/"));
        assert!(manages(&cadre, "/1/2/5/"));
        assert!(!manages(&cadre, "/1/"));
        assert!(!manages(&cadre, "/1/3/"));
        assert!(!manages(&cadre, "/1/22/"));
        assert!(handles(&cadre, "/1/2/5/"));
        assert!(!handles(&cadre, "/1/3/"));
        let finance = user(9, "/1/2/", false, &[(Role::Finance, "/1/2/")]);
        assert!(!manages(&finance, "/1/2/"));
        assert!(holds_over(&finance, "/1/2/5/", &[Role::Finance]));
        assert!(!holds_over(&finance, "/1/3/", &[Role::Finance]));
        assert!(!holds_over(&finance, "/1/2/", &[Role::Cadre]));
        let admin = user(1, "/1/", true, &[]);
        assert!(manages(&admin, "/1/3/"));
        assert!(holds_over(&admin, "/1/3/", &[Role::Finance]));
        assert!(!manages(&user(9, "/1/2/", false, &[]), "/1/2/"));
    }

    #[test]
    fn lowest_common_ancestor_of_paths() {
        assert_eq!(lowest_common_ancestor(&[]), None);
        assert_eq!(lowest_common_ancestor(&[unit(5, "/1/2/5/")]), Some(5));
        assert_eq!(
            lowest_common_ancestor(&[unit(5, "/1/2/5/"), unit(6, "/1/2/6/")]),
            Some(2)
        );
        assert_eq!(
            lowest_common_ancestor(&[unit(5, "/1/2/5/"), unit(3, "/1/3/"), unit(2, "/1/2/")]),
            Some(1)
        );
        assert_eq!(
            lowest_common_ancestor(&[unit(5, "/1/2/5/"), unit(2, "/1/2/")]),
            Some(2)
        );
        assert_eq!(
            lowest_common_ancestor(&[unit(5, "/1/2/5/"), unit(9, "/7/9/")]),
            None
        );
    }

    #[test]
    fn who_may_manage_an_account() {
        let chair = user(10, "/1/2/", false, &[(Role::Chair, "/1/2/")]);
        let cadre = user(11, "/1/2/", false, &[(Role::Cadre, "/1/2/")]);
        let admin = user(1, "/1/", true, &[]);
        let none: &[String] = &[];
        let below = ["/1/2/5/".to_string()];
        let same = ["/1/2/".to_string()];
        // A plain member in the subtree: cadre and chair; outside: neither.
        assert!(may_manage_account(&cadre, 20, "/1/2/5/", false, none));
        assert!(may_manage_account(&chair, 20, "/1/2/5/", false, none));
        assert!(!may_manage_account(&cadre, 20, "/1/3/", false, none));
        // Nobody manages their own account, not even an admin.
        assert!(!may_manage_account(&chair, 10, "/1/2/", false, none));
        assert!(!may_manage_account(&admin, 1, "/1/", true, none));
        // An admin manages anyone else, admins included; nobody else manages an admin.
        assert!(may_manage_account(&admin, 20, "/1/3/", true, &same));
        assert!(!may_manage_account(&chair, 20, "/1/2/5/", true, none));
        // Role holders: only a chair strictly above every unit where they hold a role.
        assert!(may_manage_account(&chair, 20, "/1/2/5/", false, &below));
        assert!(!may_manage_account(&chair, 20, "/1/2/", false, &same));
        assert!(!may_manage_account(&cadre, 20, "/1/2/5/", false, &below));
        let both = ["/1/2/5/".to_string(), "/1/3/".to_string()];
        assert!(!may_manage_account(&chair, 20, "/1/2/5/", false, &both));
    }

    #[test]
    fn roles_and_tree_edits_belong_to_chairs() {
        let chair = user(10, "/1/2/", false, &[(Role::Chair, "/1/2/")]);
        let cadre = user(11, "/1/2/", false, &[(Role::Cadre, "/1/2/")]);
        let admin = user(1, "/1/", true, &[]);
        assert!(may_grant_roles(&chair, "/1/2/"));
        assert!(may_grant_roles(&chair, "/1/2/5/"));
        assert!(!may_grant_roles(&chair, "/1/3/"));
        assert!(!may_grant_roles(&cadre, "/1/2/5/"));
        assert!(may_grant_roles(&admin, "/1/3/"));

        assert!(may_edit_unit(&chair, &unit(5, "/1/2/5/")));
        assert!(!may_edit_unit(&chair, &unit(2, "/1/2/")));
        assert!(!may_edit_unit(&chair, &unit(3, "/1/3/")));
        assert!(!may_edit_unit(&cadre, &unit(5, "/1/2/5/")));
        assert!(may_edit_unit(&admin, &unit(1, "/1/")));

        assert!(may_add_child(&chair, &unit(2, "/1/2/")));
        assert!(may_add_child(&chair, &unit(5, "/1/2/5/")));
        assert!(!may_add_child(&chair, &unit(3, "/1/3/")));
        assert!(!may_add_child(&cadre, &unit(2, "/1/2/")));
        assert!(may_add_child(&admin, &unit(3, "/1/3/")));
    }
}
