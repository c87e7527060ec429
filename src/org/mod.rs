//! The org tree, roles and scope: who may see and act on which units and members.
//! Every feature asks this module, never its own query, whether a user reaches a unit.

pub mod admin;
pub mod model;
pub mod scope;
pub mod service;

pub use model::OrgUnit;

/// A role held at a unit. Membership itself is not a role: every member belongs to one unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// 工会干部 (incl. 网格员): handles cases and content in the unit's subtree.
    Cadre,
    /// 工会主席: final approvals, budget, role assignment in the subtree.
    Chair,
    /// 财务: marks approved payments paid.
    Finance,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Cadre, Role::Chair, Role::Finance];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Cadre => "cadre",
            Role::Chair => "chair",
            Role::Finance => "finance",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::Cadre => "工会干部",
            Role::Chair => "工会主席",
            Role::Finance => "财务",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// Kinds of org unit, top to bottom. The tree may be deeper; the kind is a label.
pub const UNIT_KINDS: &[(&str, &str)] = &[
    ("group", "集团工会"),
    ("subsidiary", "二级单位工会"),
    ("branch", "分会"),
    ("team", "小组"),
];

pub fn kind_label(kind: &str) -> &str {
    UNIT_KINDS
        .iter()
        .find(|(k, _)| *k == kind)
        .map_or(kind, |(_, l)| l)
}
