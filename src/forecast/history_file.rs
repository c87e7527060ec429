//! A history from a file, for `zhijia forecast-backtest --history FILE.csv`: one row per
//! member × event with the columns `member_id, event_id, group_id, event_kind, starts_at,
//! announced_at, signed_up`. It becomes the same `History` the portal builds from its database,
//! so the backtest runs the portal's model code. `group_id` plays the publishing unit (and the
//! member's company); a member's rows for a group's events are the audience of each. Rows are
//! read one at a time (memory grows with the member × event pairs, not the file's text).

use std::collections::HashMap;
use std::path::Path;

use chrono::NaiveDateTime;

use super::history::{History, PastRow};
use super::Plan;

const COLUMNS: [&str; 7] = [
    "member_id",
    "event_id",
    "group_id",
    "event_kind",
    "starts_at",
    "announced_at",
    "signed_up",
];

/// The sign-up window assumed when an event's announce time is unknown.
const DEFAULT_WINDOW_DAYS: f64 = 7.0;

struct Event {
    line: u64,
    group: i32,
    kind: String,
    starts: NaiveDateTime,
    announced: Option<NaiveDateTime>,
    invited: Vec<(i32, i32)>,
    signed: super::IdSet,
}

/// Read a history file. Errors name the line (as a spreadsheet counts, the header is line 1).
pub fn read(path: &Path) -> Result<History, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    read_from(file)
}

/// `read` over any reader (tests pass text).
pub fn read_from(input: impl std::io::Read) -> Result<History, String> {
    let mut rdr = csv::ReaderBuilder::new().flexible(true).from_reader(input);
    let header: Vec<String> = rdr
        .headers()
        .map_err(|e| format!("第 1 行：无法读取表头（{e}）"))?
        .iter()
        .map(|h| h.trim().trim_start_matches('\u{feff}').to_string())
        .collect();
    let mut col = [0usize; 7];
    for (i, name) in COLUMNS.iter().enumerate() {
        col[i] = header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| format!("第 1 行：缺少列 {name}（需要 {}）", COLUMNS.join(", ")))?;
    }
    let mut ids: [HashMap<String, i32>; 3] = Default::default();
    let mut events: HashMap<i32, Event> = HashMap::new();
    let mut record = csv::StringRecord::new();
    loop {
        let more = rdr
            .read_record(&mut record)
            .map_err(|e| format!("第 {} 行：{e}", rdr.position().line()))?;
        if !more {
            break;
        }
        let line = record.position().map_or(0, |p| p.line());
        let cell = |i: usize| record.get(col[i]).unwrap_or("").trim();
        let at = |what: &str, text: &str| -> Result<NaiveDateTime, String> {
            chrono::DateTime::parse_from_rfc3339(text)
                .map(|t| t.naive_utc())
                .map_err(|_| {
                    format!("第 {line} 行：{what} “{text}” 不是带时区的 ISO 8601 时间（如 2016-05-01T19:00:00+08:00）")
                })
        };
        let member = intern(&mut ids[0], cell(0), line, "member_id")?;
        let event = intern(&mut ids[1], cell(1), line, "event_id（活动不明）")?;
        let group = intern(&mut ids[2], cell(2), line, "group_id")?;
        let kind = cell(3).to_string();
        let starts = at("starts_at", cell(4))?;
        let announced = match cell(5) {
            "" => None,
            t => Some(at("announced_at", t)?),
        };
        let signed = match cell(6) {
            "1" | "true" | "TRUE" | "yes" => true,
            "0" | "false" | "FALSE" | "no" => false,
            other => return Err(format!("第 {line} 行：signed_up “{other}” 应为 1 或 0")),
        };
        let e = events.entry(event).or_insert_with(|| Event {
            line,
            group,
            kind: kind.clone(),
            starts,
            announced,
            invited: Vec::new(),
            signed: Default::default(),
        });
        if e.group != group || e.kind != kind || e.starts != starts {
            return Err(format!(
                "第 {line} 行：活动 {} 的 group_id、event_kind 或 starts_at 与第 {} 行不同",
                cell(1),
                e.line
            ));
        }
        e.invited.push((member, group));
        if signed {
            e.signed.insert(member);
        }
    }
    if events.len() < 2 {
        return Err(format!(
            "文件里只有 {} 个活动：回测要用较早的活动训练、较晚的活动检验，至少需要 20 个",
            events.len()
        ));
    }
    Ok(into_history(events))
}

fn intern(map: &mut HashMap<String, i32>, key: &str, line: u64, what: &str) -> Result<i32, String> {
    if key.is_empty() {
        return Err(format!("第 {line} 行：{what} 为空"));
    }
    if let Some(id) = map.get(key) {
        return Ok(*id);
    }
    let id = i32::try_from(map.len()).map_err(|_| format!("第 {line} 行：{what} 太多"))? + 1;
    map.insert(key.to_string(), id);
    Ok(id)
}

fn into_history(events: HashMap<i32, Event>) -> History {
    let mut rows: Vec<PastRow> = events
        .into_iter()
        .map(|(id, mut e)| {
            // A member listed twice for one event is invited once: training leaves each pair's
            // own outcome out once, so a second copy would leak it into the member's counts.
            let mut seen = super::IdSet::default();
            e.invited.retain(|(m, _)| seen.insert(*m));
            PastRow {
                id,
                unit_id: e.group,
                plan: Plan {
                    kind: e.kind,
                    publisher: e.group,
                    starts_at: e.starts,
                    window_days: e.announced.map_or(DEFAULT_WINDOW_DAYS, |a| {
                        ((e.starts - a).num_minutes() as f64 / 1440.0).max(0.0)
                    }),
                    capacity: 0,
                },
                invited: e.invited.into(),
                signed: e.signed,
                attended: 0,
            }
        })
        .collect();
    rows.sort_by_key(|r| (r.plan.starts_at, r.id));
    let mut paths = HashMap::new();
    let mut members = HashMap::new();
    for r in &rows {
        // A group stands for a top-level unit: its path is itself (company_of reads it back).
        paths.insert(r.unit_id, format!("/{}/", r.unit_id));
        for (m, g) in r.invited.iter() {
            members.insert(*m, *g);
        }
    }
    History {
        rows,
        paths,
        members: members.into_iter().collect(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::read_from;

    const HEAD: &str = "member_id,event_id,group_id,event_kind,starts_at,announced_at,signed_up\n";

    fn events(n: usize) -> String {
        let mut s = HEAD.to_string();
        for e in 0..n {
            for m in 0..3 {
                s.push_str(&format!(
                    "m{m},e{e},g1,文体活动,2016-05-{:02}T19:00:00+08:00,,{}\n",
                    e % 28 + 1,
                    (m + e) % 2
                ));
            }
        }
        s
    }

    #[test]
    fn a_good_file_becomes_a_history_in_time_order() {
        let h = read_from(events(25).as_bytes()).unwrap();
        assert_eq!(h.rows.len(), 25);
        assert!(h
            .rows
            .windows(2)
            .all(|w| w[0].plan.starts_at <= w[1].plan.starts_at));
        assert_eq!(h.rows[0].invited.len(), 3);
        assert_eq!(h.members.len(), 3);
    }

    #[test]
    fn bad_rows_are_refused_with_their_line() {
        let bad_date = events(3).replacen("2016-05-02T19:00:00+08:00", "2016-05-02 19:00", 1);
        let e = read_from(bad_date.as_bytes()).unwrap_err();
        assert!(e.starts_with("第 5 行") && e.contains("starts_at"), "{e}");
        let missing = "member_id,event_id,group_id,event_kind,starts_at,signed_up\n";
        let e = read_from(missing.as_bytes()).unwrap_err();
        assert!(
            e.starts_with("第 1 行") && e.contains("announced_at"),
            "{e}"
        );
        let unknown = format!("{}m9,,g1,文体活动,2016-05-01T19:00:00Z,,1\n", events(3));
        let e = read_from(unknown.as_bytes()).unwrap_err();
        assert!(e.starts_with("第 11 行") && e.contains("event_id"), "{e}");
        let clash = format!(
            "{}m9,e0,g2,文体活动,2016-05-01T19:00:00+08:00,,1\n",
            events(3)
        );
        let e = read_from(clash.as_bytes()).unwrap_err();
        assert!(e.starts_with("第 11 行") && e.contains("第 2 行"), "{e}");
        let flag = events(3).replacen(",,1\n", ",,maybe\n", 1);
        assert!(read_from(flag.as_bytes())
            .unwrap_err()
            .contains("signed_up"));
        let e = read_from(events(1).as_bytes()).unwrap_err();
        assert!(e.contains("只有 1 个活动"), "{e}");
    }
}
