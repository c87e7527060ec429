//! The activity history as the model sees it: for each past activity, who was invited (members
//! of its audience, with their company) and who signed up.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::NaiveDateTime;

use super::Plan;
use crate::activities::model as am;
use crate::db::DbConnection;
use crate::error::AppResult;

#[derive(Debug, Clone)]
pub struct PastRow {
    pub id: i32,
    pub unit_id: i32,
    pub plan: Plan,
    /// (member id, company unit id); shared by the activities with the same audience (at group
    /// scale thousands of activities go to a few hundred audiences of thousands each).
    pub invited: Arc<[(i32, i32)]>,
    pub signed: super::IdSet,
    pub attended: usize,
}

#[derive(Debug)]
pub struct History {
    pub rows: Vec<PastRow>,
    /// unit id → path, for audiences and companies.
    pub paths: HashMap<i32, String>,
    /// (member id, unit id) of active members.
    pub members: Vec<(i32, i32)>,
}

/// The company of a unit: the second level of its path (the top union counts as its own).
pub use crate::org::scope::company_of;

impl History {
    pub fn load(conn: &mut DbConnection, now: NaiveDateTime) -> AppResult<History> {
        let paths: HashMap<i32, String> = crate::org::model::all(conn)?
            .into_iter()
            .map(|u| (u.id, u.path))
            .collect();
        let members = am::active_members(conn)?;
        let past = am::past(conn, now)?;
        let ids: Vec<i32> = past.iter().map(|p| p.0).collect();
        let mut audiences: HashMap<i32, Vec<i32>> = HashMap::new();
        for chunk in ids.chunks(500) {
            for (a, u) in am::audiences_of(conn, chunk)? {
                audiences.entry(a).or_default().push(u);
            }
        }
        let mut signups: HashMap<i32, (super::IdSet, usize)> = HashMap::new();
        for chunk in ids.chunks(500) {
            for (a, m, checked) in am::signups_of(conn, chunk)? {
                let e = signups.entry(a).or_default();
                e.0.insert(m);
                if checked {
                    e.1 = e.1.saturating_add(1);
                }
            }
        }
        let mut h = History {
            rows: Vec::new(),
            paths,
            members,
        };
        let mut shared: HashMap<Vec<i32>, Arc<[(i32, i32)]>> = HashMap::new();
        for (id, kind, unit_id, starts, opens, closes, capacity) in past {
            let mut aud = audiences.remove(&id).unwrap_or_default();
            aud.sort_unstable();
            aud.dedup();
            let invited = match shared.get(&aud) {
                Some(i) => i.clone(),
                None => {
                    let i: Arc<[(i32, i32)]> = h.invited(&aud).into();
                    shared.insert(aud, i.clone());
                    i
                }
            };
            let (signed, attended) = signups.remove(&id).unwrap_or_default();
            h.rows.push(PastRow {
                id,
                unit_id,
                plan: Plan {
                    kind,
                    publisher: h.paths.get(&unit_id).map_or(0, |p| company_of(p)),
                    starts_at: starts,
                    window_days: closes.signed_duration_since(opens).num_minutes() as f64 / 1440.0,
                    capacity,
                },
                invited,
                signed,
                attended,
            });
        }
        Ok(h)
    }

    /// Active members inside the audience subtrees, with their company.
    pub fn invited(&self, audience: &[i32]) -> Vec<(i32, i32)> {
        let prefixes: Vec<&str> = audience
            .iter()
            .filter_map(|u| self.paths.get(u).map(String::as_str))
            .collect();
        self.members
            .iter()
            .filter_map(|(m, u)| {
                let p = self.paths.get(u)?;
                prefixes
                    .iter()
                    .any(|pre| p.starts_with(pre))
                    .then(|| (*m, company_of(p)))
            })
            .collect()
    }
}
