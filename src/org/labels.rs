//! Unit labels by path ("第一工程公司工会 · 机关分会"), shown on every page and cached by each
//! instance for a minute. Below `auth` and `state`, which both use it.

use diesel::prelude::*;

use crate::db::schema::org_units;
use crate::db::DbConnection;
use crate::error::AppResult;

/// Unit labels by path, kept for a minute by each instance: every page shows one, and units
/// are renamed rarely (a rename clears this instance's copy at once; other instances catch up
/// within the minute).
#[derive(Default)]
pub struct UnitLabels(
    std::sync::Mutex<std::collections::HashMap<String, (std::time::Instant, String)>>,
);

const LABEL_TTL: std::time::Duration = std::time::Duration::from_secs(60);

impl UnitLabels {
    /// Forget cached labels (after renaming or moving a unit).
    pub fn forget(&self) {
        if let Ok(mut m) = self.0.lock() {
            m.clear();
        }
    }

    pub fn label(&self, conn: &mut DbConnection, path: &str) -> AppResult<Option<String>> {
        if let Ok(m) = self.0.lock() {
            if let Some((at, label)) = m.get(path) {
                if at.elapsed() < LABEL_TTL {
                    return Ok(Some(label.clone()));
                }
            }
        }
        let label = unit_label_uncached(conn, path)?;
        if let (Some(l), Ok(mut m)) = (&label, self.0.lock()) {
            if m.len() > 10_000 {
                m.clear();
            }
            m.insert(path.to_string(), (std::time::Instant::now(), l.clone()));
        }
        Ok(label)
    }
}

/// Names along a unit path below the root, joined for display.
fn unit_label_uncached(conn: &mut DbConnection, path: &str) -> AppResult<Option<String>> {
    let ids: Vec<i32> = path.split('/').filter_map(|s| s.parse().ok()).collect();
    let shown: Vec<i32> = match ids.get(1..) {
        Some(below_root) if !below_root.is_empty() => below_root.to_vec(),
        _ => ids,
    };
    let names: Vec<(i32, String)> = org_units::table
        .filter(org_units::id.eq_any(shown.clone()))
        .select((org_units::id, org_units::name))
        .load(conn)?;
    let parts: Vec<&str> = shown
        .iter()
        .filter_map(|id| names.iter().find(|(i, _)| i == id).map(|(_, n)| n.as_str()))
        .collect();
    Ok((!parts.is_empty()).then(|| parts.join(" · ")))
}
