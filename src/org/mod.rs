//! The org tree, roles and scope: who may see and act on which units and members.
//! Every feature asks this module, never its own query, whether a user reaches a unit.

pub mod admin;
pub mod labels;
pub mod model;
pub mod scope;
pub mod service;

pub use model::OrgUnit;

crate::text_enum! {
    /// A role held at a unit. Membership itself is not a role: every member belongs to one unit.
    pub enum Role {
        /// 工会干部 (incl. 网格员): handles cases and content in the unit's subtree.
        Cadre = ("cadre", "工会干部"),
        /// 工会主席: final approvals, budget, role assignment in the subtree.
        Chair = ("chair", "工会主席"),
        /// 财务: marks approved payments paid.
        Finance = ("finance", "财务"),
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
