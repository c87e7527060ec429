//! Pure decisions of the sender, apart from the database: which channels a message takes, when
//! quiet hours let it go, how long to wait before a retry, and the per-member pace on WeCom.

use chrono::{Duration, NaiveDateTime, Timelike};

use super::kind::{Channel, Kind};

/// What the planner knows about one member when it plans their message.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub consent: bool,
    /// Quiet hours in minutes after midnight, Beijing time (start may be after end: overnight).
    pub quiet: Option<(i32, i32)>,
    /// The member's choice per kind (`None`: the defaults).
    pub prefs: Vec<(Kind, Vec<Channel>)>,
    /// Channels the member can be reached on (bound and not reported unreachable, a phone).
    pub reachable: Vec<Channel>,
}

pub const DEFAULT_QUIET: (i32, i32) = (22 * 60, 7 * 60);
const BEIJING: i64 = 8 * 3600;

/// The channels one message of `kind` goes by: none without consent; the member's choice for
/// the kind, else (when the kind is on by default) the first reachable of WeCom, WeChat and
/// SMS, plus e-mail when bound. Only channels the portal has switched on count.
pub fn choose(kind: Kind, facts: &Facts, enabled: &[Channel]) -> Vec<Channel> {
    if !facts.consent {
        return Vec::new();
    }
    let usable = |c: &Channel| enabled.contains(c) && facts.reachable.contains(c);
    if let Some((_, chosen)) = facts.prefs.iter().find(|(k, _)| *k == kind) {
        return chosen.iter().copied().filter(usable).collect();
    }
    if !kind.on_by_default() {
        return Vec::new();
    }
    let mut out: Vec<Channel> = [Channel::Wecom, Channel::Wechat, Channel::Sms]
        .into_iter()
        .find(usable)
        .into_iter()
        .collect();
    if usable(&Channel::Email) {
        out.push(Channel::Email);
    }
    out
}

/// Minutes after midnight, Beijing time, of a UTC instant.
fn beijing_minutes(at: NaiveDateTime) -> i32 {
    let local = crate::time::plus(at, Duration::seconds(BEIJING));
    i32::try_from(
        local
            .hour()
            .saturating_mul(60)
            .saturating_add(local.minute()),
    )
    .unwrap_or(0)
}

fn in_quiet(minute: i32, (start, end): (i32, i32)) -> bool {
    if start == end {
        false
    } else if start < end {
        (start..end).contains(&minute)
    } else {
        minute >= start || minute < end
    }
}

/// When a message planned at `now` may go: `None` at once; else the end of the member's quiet
/// hours plus 1–9 minutes spread by member, never on the minutes :00 and :30 (WeCom's advice
/// for scheduled sends).
pub fn held_until(
    now: NaiveDateTime,
    urgent: bool,
    quiet: (i32, i32),
    member: i32,
) -> Option<NaiveDateTime> {
    let minute = beijing_minutes(now);
    if urgent || !in_quiet(minute, quiet) {
        return None;
    }
    let (_, end) = quiet;
    let wait = end.saturating_sub(minute).rem_euclid(24 * 60);
    let spread = i64::from(member.rem_euclid(9)).saturating_add(1);
    let plus = |t, m: i64| crate::time::plus(t, Duration::minutes(m));
    let mut at = plus(
        now.with_second(0).unwrap_or(now),
        i64::from(wait).saturating_add(spread),
    );
    if at.minute().rem_euclid(30) == 0 {
        at = plus(at, 1);
    }
    Some(at)
}

/// Wait before attempt `attempts + 1`: 30 s doubling to an hour, plus up to 10 % jitter.
pub fn backoff(attempts: i32, jitter: f64) -> Duration {
    let base = 30_i64.saturating_mul(1_i64 << attempts.clamp(1, 12).saturating_sub(1));
    let secs = base.min(3600);
    // Truncation of a small positive float: jitter is in [0, 1).
    #[allow(clippy::cast_possible_truncation)]
    let extra = (secs as f64 * 0.1 * jitter.clamp(0.0, 1.0)) as i64;
    Duration::seconds(secs.saturating_add(extra))
}

/// Attempts after which a delivery is given up.
pub const MAX_ATTEMPTS: i32 = 8;

/// WeCom drops, silently, more than 30 messages a minute or 1,000 an hour from one application
/// to one member; we stay well below.
pub const WECOM_PER_MINUTE: i64 = 20;
pub const WECOM_PER_HOUR: i64 = 600;

/// When a WeCom message to a member who was sent `last_minute` and `last_hour` messages may go
/// (`None`: now).
pub fn wecom_pace(now: NaiveDateTime, last_minute: i64, last_hour: i64) -> Option<NaiveDateTime> {
    if last_hour >= WECOM_PER_HOUR {
        Some(crate::time::plus(now, Duration::minutes(10)))
    } else if last_minute >= WECOM_PER_MINUTE {
        Some(crate::time::plus(now, Duration::seconds(61)))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(h: u32, m: u32) -> NaiveDateTime {
        chrono::NaiveDate::from_ymd_opt(2026, 12, 7)
            .and_then(|d| d.and_hms_opt(h, m, 0))
            .unwrap_or_default()
    }

    #[test]
    fn quiet_hours_hold_until_seven_beijing_off_the_hour_and_half_hour() {
        // 14:30 UTC is 22:30 in Beijing: held until 07:0x the next morning (23:0x UTC).
        let held = held_until(utc(14, 30), false, DEFAULT_QUIET, 9).unwrap_or_default();
        assert_eq!(held, utc(23, 1));
        let held = held_until(utc(14, 30), false, DEFAULT_QUIET, 4).unwrap_or_default();
        assert_eq!(held, utc(23, 5));
        // 06:59 Beijing (22:59 UTC) is still quiet; 07:00 is not.
        assert!(held_until(utc(22, 59), false, DEFAULT_QUIET, 1).is_some());
        assert_eq!(held_until(utc(23, 0), false, DEFAULT_QUIET, 1), None);
        // Urgent kinds go at once; a day window (12:00–13:00) works too.
        assert_eq!(held_until(utc(14, 30), true, DEFAULT_QUIET, 1), None);
        assert!(held_until(utc(4, 10), false, (12 * 60, 13 * 60), 1).is_some());
        assert_eq!(held_until(utc(5, 10), false, (12 * 60, 13 * 60), 1), None);
        // An end at 06:29 plus a spread of one minute lands on :30 and moves off it.
        let at = held_until(utc(14, 30), false, (22 * 60, 6 * 60 + 29), 0).unwrap_or_default();
        assert_eq!(at, utc(22, 31));
    }

    #[test]
    fn channels_follow_consent_preferences_and_reach() {
        let enabled = [
            Channel::Wecom,
            Channel::Wechat,
            Channel::Sms,
            Channel::Email,
        ];
        let mut f = Facts {
            consent: true,
            reachable: vec![Channel::Wechat, Channel::Sms, Channel::Email],
            ..Facts::default()
        };
        assert_eq!(
            choose(Kind::Progress, &f, &enabled),
            [Channel::Wechat, Channel::Email]
        );
        assert_eq!(choose(Kind::Social, &f, &enabled), []);
        assert_eq!(choose(Kind::Progress, &f, &[Channel::Sms]), [Channel::Sms]);
        f.prefs = vec![(Kind::Progress, vec![Channel::Sms, Channel::Wecom])];
        assert_eq!(choose(Kind::Progress, &f, &enabled), [Channel::Sms]);
        f.prefs = vec![(Kind::Notice, vec![])];
        assert_eq!(choose(Kind::Notice, &f, &enabled), []);
        f.consent = false;
        assert_eq!(choose(Kind::Progress, &f, &enabled), []);
    }

    #[test]
    fn backoff_doubles_to_an_hour_and_pace_stays_under_wecoms_limits() {
        assert_eq!(backoff(1, 0.0), Duration::seconds(30));
        assert_eq!(backoff(3, 0.0), Duration::seconds(120));
        assert_eq!(backoff(20, 0.0), Duration::seconds(3600));
        assert_eq!(backoff(1, 0.99), Duration::seconds(32));
        let now = utc(3, 0);
        assert_eq!(wecom_pace(now, 19, 100), None);
        assert_eq!(wecom_pace(now, 20, 100), Some(now + Duration::seconds(61)));
        assert_eq!(wecom_pace(now, 0, 600), Some(now + Duration::minutes(10)));
    }
}
