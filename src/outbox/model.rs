//! The outbox's SQL: messages written with the change they report, deliveries planned, claimed
//! and finished by the sender, and the member's bindings, preferences and consent.

use std::collections::HashMap;

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use super::kind::{Channel, Kind, Out, State, CONSENT_VERSION};
use super::plan::{Facts, DEFAULT_QUIET};
use crate::db::schema::{
    channel_bindings, channel_consents, channel_prefs, channel_profiles, members, oauth_codes,
    outbox_deliveries as d, outbox_messages as m,
};
use crate::db::DbConnection;
use crate::error::AppResult;
use crate::time::{minus, plus};

/// What leaves the portal is short: WeCom's text card title holds 128 bytes.
const TEXT_CHARS: usize = 60;

/// Queue one message for `member` in the caller's transaction (nothing for `Out::Never`).
/// `link` is the portal path the message opens.
pub fn enqueue(
    conn: &mut DbConnection,
    member: i32,
    out: Out,
    title: &str,
    link: &str,
    at: NaiveDateTime,
) -> AppResult<()> {
    let (kind, text) = match out {
        Out::Never => return Ok(()),
        Out::Generic(k) => (k, k.generic_text().to_string()),
        // A title with anything like a link in it (a name typed on the public join form, a
        // post's title) would be someone's words sent in the union's name: the fixed text.
        Out::Full(k) if looks_like_link(title) => (k, k.generic_text().to_string()),
        Out::Full(k) => (k, title.chars().take(TEXT_CHARS).collect()),
    };
    // Only for a member who agreed: nothing is kept for the others (they may agree later;
    // what happened before stays in the portal).
    use diesel::sql_types::{Bool, Integer, Text, Timestamp};
    diesel::sql_query(
        "INSERT INTO outbox_messages (member_id, kind, title, link, urgent, created_at) \
         SELECT member_id, $1, $2, $3, $4, $5 FROM channel_profiles \
         WHERE member_id = $6 AND consent = TRUE",
    )
    .bind::<Text, _>(kind.as_str())
    .bind::<Text, _>(&text)
    .bind::<Text, _>(link)
    .bind::<Bool, _>(kind.urgent())
    .bind::<Timestamp, _>(at)
    .bind::<Integer, _>(member)
    .execute(conn)?;
    Ok(())
}

/// Something a phone would make clickable: a scheme, `www.`, or a dotted host name.
pub fn looks_like_link(s: &str) -> bool {
    let lower = crate::text::to_halfwidth(s).to_ascii_lowercase();
    if lower.contains("://") || lower.contains("www.") {
        return true;
    }
    // host.tld: letters or digits, a dot, then two or more letters.
    let b = lower.as_bytes();
    b.windows(4).any(|w| {
        matches!(w, [a, b'.', c, d] if a.is_ascii_alphanumeric() && c.is_ascii_alphabetic() && d.is_ascii_alphabetic())
    })
}

/// A message not yet turned into deliveries.
#[derive(Queryable, Debug, Clone)]
pub struct Unplanned {
    pub id: i32,
    pub member_id: i32,
    pub kind: Kind,
    pub urgent: bool,
}

pub fn unplanned(conn: &mut DbConnection, n: i64) -> AppResult<Vec<Unplanned>> {
    Ok(m::table
        .filter(m::planned_at.is_null())
        .order(m::id)
        .limit(n)
        .select((m::id, m::member_id, m::kind, m::urgent))
        .load(conn)?)
}

/// What the planner needs about each member: consent, quiet hours, preferences and reach.
pub fn facts(conn: &mut DbConnection, ids: &[i32]) -> AppResult<HashMap<i32, Facts>> {
    let mut out: HashMap<i32, Facts> = ids.iter().map(|&id| (id, Facts::default())).collect();
    let profiles: Vec<(i32, i32, i32, bool)> = channel_profiles::table
        .filter(channel_profiles::member_id.eq_any(ids))
        .select((
            channel_profiles::member_id,
            channel_profiles::quiet_start,
            channel_profiles::quiet_end,
            channel_profiles::consent,
        ))
        .load(conn)?;
    let active: Vec<i32> = members::table
        .filter(members::id.eq_any(ids))
        .filter(members::disabled.eq(false))
        .select(members::id)
        .load(conn)?;
    for (id, start, end, consent) in profiles {
        if let Some(f) = out.get_mut(&id) {
            // A disabled account (left, or switched off) gets nothing.
            f.consent = consent && active.contains(&id);
            f.quiet = Some((start, end));
        }
    }
    let prefs: Vec<(i32, String, String)> = channel_prefs::table
        .filter(channel_prefs::member_id.eq_any(ids))
        .select((
            channel_prefs::member_id,
            channel_prefs::kind,
            channel_prefs::channels,
        ))
        .load(conn)?;
    for (id, kind, channels) in prefs {
        if let (Some(f), Some(kind)) = (out.get_mut(&id), Kind::parse(&kind)) {
            f.prefs.push((kind, parse_channels(&channels)));
        }
    }
    let bound: Vec<(i32, Channel)> = channel_bindings::table
        .filter(channel_bindings::member_id.eq_any(ids))
        .filter(channel_bindings::unreachable_at.is_null())
        .select((channel_bindings::member_id, channel_bindings::channel))
        .load(conn)?;
    for (id, ch) in bound {
        if let Some(f) = out.get_mut(&id) {
            f.reachable.push(ch);
        }
    }
    let phones: Vec<i32> = members::table
        .filter(members::id.eq_any(ids))
        .filter(members::phone.is_not_null().and(members::phone.ne("")))
        .filter(members::disabled.eq(false))
        .select(members::id)
        .load(conn)?;
    for id in phones {
        if let Some(f) = out.get_mut(&id) {
            f.reachable.push(Channel::Sms);
        }
    }
    Ok(out)
}

pub fn parse_channels(s: &str) -> Vec<Channel> {
    s.split(',').filter_map(Channel::parse).collect()
}

/// One planned delivery of a message.
pub struct Planned {
    pub channel: Channel,
    pub state: State,
    pub next_at: NaiveDateTime,
}

/// Record the plan of one message (once: a message another round planned is left alone).
pub fn save_plan(
    conn: &mut DbConnection,
    msg: &Unplanned,
    plan: &[Planned],
    now: NaiveDateTime,
) -> AppResult<bool> {
    let taken = diesel::update(
        m::table
            .filter(m::id.eq(msg.id))
            .filter(m::planned_at.is_null()),
    )
    .set(m::planned_at.eq(now))
    .execute(conn)?;
    if taken != 1 {
        return Ok(false);
    }
    for p in plan {
        diesel::insert_into(d::table)
            .values((
                d::message_id.eq(msg.id),
                d::member_id.eq(msg.member_id),
                d::channel.eq(p.channel),
                d::state.eq(p.state),
                d::next_at.eq(p.next_at),
                d::idem_key.eq(format!("zj-{}", crate::auth::random_token(12))),
                d::created_at.eq(now),
                d::updated_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(true)
}

/// How long after a lost claim a resend is still caught by the provider's own duplicate check
/// (WeCom's `duplicate_check_interval` we send, WeChat's `client_msg_id`, our SMS gateway's
/// idempotency key). E-mail has none: an e-mail in doubt is never resent.
pub fn dedupe_window(ch: Channel) -> Duration {
    match ch {
        Channel::Wecom => Duration::hours(4),
        Channel::Wechat => Duration::minutes(10),
        Channel::Sms => Duration::hours(24),
        Channel::Email => Duration::zero(),
    }
}

pub const IN_DOUBT: &str = "发送途中实例中断，已超出服务商防重窗口，为免重复未再发送";

/// Deliveries whose sender died mid-send: sent again (same key) while the provider would still
/// drop a duplicate, else marked failed for an administrator to look at.
pub fn recover(conn: &mut DbConnection, now: NaiveDateTime, ttl: Duration) -> AppResult<usize> {
    let mut n = 0usize;
    for ch in Channel::ALL {
        let window = dedupe_window(*ch);
        if window > Duration::zero() {
            n = n.saturating_add(
                diesel::update(
                    d::table
                        .filter(d::state.eq(State::Sending))
                        .filter(d::channel.eq(ch))
                        .filter(d::claim_until.lt(now))
                        // The first attempt was at claim_until − CLAIM; resend inside the window.
                        .filter(
                            d::claim_until
                                .gt(minus(now, window.checked_sub(&ttl).unwrap_or_default())),
                        ),
                )
                .set((
                    d::state.eq(State::Retry),
                    d::next_at.eq(now),
                    d::claim_token.eq(None::<String>),
                    d::in_doubt.eq(true),
                    d::updated_at.eq(now),
                ))
                .execute(conn)?,
            );
        }
    }
    n = n.saturating_add(
        diesel::update(
            d::table
                .filter(d::state.eq(State::Sending))
                .filter(d::claim_until.lt(now)),
        )
        .set((
            d::state.eq(State::Failed),
            d::last_error.eq(IN_DOUBT),
            d::claim_token.eq(None::<String>),
            d::updated_at.eq(now),
        ))
        .execute(conn)?,
    );
    Ok(n)
}

/// One delivery claimed for sending, with what it needs.
#[derive(Debug, Clone)]
pub struct Due {
    pub id: i32,
    pub member_id: i32,
    pub channel: Channel,
    pub attempts: i32,
    pub idem_key: String,
    pub kind: Kind,
    pub title: String,
    pub link: String,
    /// Userid, openid, phone or e-mail address; `None` when it is gone (unbound since).
    pub address: Option<String>,
    pub consent: bool,
    /// Deliveries sent with this one as a digest (WeCom bursts).
    pub merged: i64,
    pub first_try_at: Option<NaiveDateTime>,
    /// An earlier attempt may have reached the provider.
    pub in_doubt: bool,
    /// Sent to this address, not the member's binding (an e-mail address being confirmed).
    pub to_address: Option<String>,
}

type DueRow = (
    i32,
    i32,
    Channel,
    i32,
    String,
    Kind,
    String,
    String,
    Option<NaiveDateTime>,
    bool,
    Option<String>,
);

/// Claim up to `n` due deliveries for this round (`token` marks them ours until `now + ttl`).
/// A row another sender claimed first is skipped.
pub fn claim(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    n: i64,
    token: &str,
    ttl: Duration,
) -> AppResult<Vec<Due>> {
    let due = [State::Queued, State::Retry, State::Held];
    let rows: Vec<DueRow> = d::table
        .inner_join(m::table)
        .filter(d::state.eq_any(due))
        .filter(d::next_at.le(now))
        .order((d::next_at, d::id))
        .limit(n)
        .select((
            d::id,
            d::member_id,
            d::channel,
            d::attempts,
            d::idem_key,
            m::kind,
            m::title,
            m::link,
            d::first_try_at,
            d::in_doubt,
            d::to_address,
        ))
        .load(conn)?;
    let until = plus(now, ttl);
    let mut out = Vec::with_capacity(rows.len());
    for (id, member_id, channel, attempts, idem_key, kind, title, link, first, in_doubt, to) in rows
    {
        let first_try_at = Some(first.unwrap_or(now));
        let took = diesel::update(d::table.filter(d::id.eq(id)).filter(d::state.eq_any(due)))
            .set((
                d::state.eq(State::Sending),
                d::claim_token.eq(token),
                d::claim_until.eq(until),
                d::attempts.eq(attempts.saturating_add(1)),
                d::first_try_at.eq(first_try_at),
                d::updated_at.eq(now),
            ))
            .execute(conn)?;
        if took == 1 {
            out.push(Due {
                id,
                member_id,
                channel,
                attempts: attempts.saturating_add(1),
                idem_key,
                kind,
                title,
                link,
                address: None,
                consent: false,
                merged: 0,
                first_try_at,
                in_doubt,
                to_address: to,
            });
        }
    }
    fill_addresses(conn, &mut out)?;
    Ok(out)
}

fn fill_addresses(conn: &mut DbConnection, due: &mut [Due]) -> AppResult<()> {
    let ids: Vec<i32> = due.iter().map(|x| x.member_id).collect();
    let consent: HashMap<i32, bool> = channel_profiles::table
        .filter(channel_profiles::member_id.eq_any(&ids))
        .select((channel_profiles::member_id, channel_profiles::consent))
        .load::<(i32, bool)>(conn)?
        .into_iter()
        .collect();
    let bound: HashMap<(i32, Channel), String> = channel_bindings::table
        .filter(channel_bindings::member_id.eq_any(&ids))
        .select((
            channel_bindings::member_id,
            channel_bindings::channel,
            channel_bindings::address,
        ))
        .load::<(i32, Channel, String)>(conn)?
        .into_iter()
        .map(|(id, ch, a)| ((id, ch), a))
        .collect();
    let phones: HashMap<i32, Option<String>> = members::table
        .filter(members::id.eq_any(&ids))
        .filter(members::disabled.eq(false))
        .select((members::id, members::phone))
        .load::<(i32, Option<String>)>(conn)?
        .into_iter()
        .collect();
    for x in due.iter_mut() {
        // A disabled account (left, or switched off) gets nothing, whatever it agreed to.
        x.consent = consent.get(&x.member_id).copied().unwrap_or(false)
            && phones.contains_key(&x.member_id);
        x.address = match (x.channel, &x.to_address) {
            (_, Some(to)) => Some(to.clone()),
            (Channel::Sms, None) => phones.get(&x.member_id).cloned().flatten(),
            (ch, None) => bound.get(&(x.member_id, ch)).cloned(),
        }
        .filter(|a| !a.is_empty());
    }
    Ok(())
}

/// Of a member's never-tried WeCom deliveries in this claim, all but the newest go as one digest
/// with it (WeCom drops what exceeds its per-member limits without a word).
pub fn merge_bursts(
    conn: &mut DbConnection,
    due: &mut Vec<Due>,
    min: usize,
    now: NaiveDateTime,
) -> AppResult<()> {
    let mut by_member: HashMap<i32, Vec<usize>> = HashMap::new();
    for (i, x) in due.iter().enumerate() {
        // Only never-sent rows that carry no digest of their own.
        if x.channel == Channel::Wecom && x.attempts == 1 && x.merged == 0 && !x.in_doubt {
            by_member.entry(x.member_id).or_default().push(i);
        }
    }
    let mut drop = Vec::new();
    for idx in by_member.values().filter(|v| v.len() >= min) {
        let Some((&keep, rest)) = idx.split_last() else {
            continue;
        };
        let ids: Vec<i32> = rest
            .iter()
            .filter_map(|&i| due.get(i))
            .map(|x| x.id)
            .collect();
        let Some(survivor) = due.get(keep).map(|x| x.id) else {
            continue;
        };
        diesel::update(d::table.filter(d::id.eq_any(&ids)))
            .set((
                d::state.eq(State::Merged),
                d::merged_into.eq(survivor),
                d::claim_token.eq(None::<String>),
                d::updated_at.eq(now),
            ))
            .execute(conn)?;
        if let Some(x) = due.get_mut(keep) {
            x.merged = i64::try_from(ids.len()).unwrap_or(0);
        }
        drop.extend_from_slice(rest);
    }
    drop.sort_unstable();
    for i in drop.into_iter().rev() {
        due.remove(i);
    }
    Ok(())
}

/// Deliveries already merged into `id` (a resend of a digest says the same count).
pub fn merged_count(conn: &mut DbConnection, id: i32) -> AppResult<i64> {
    Ok(d::table
        .filter(d::merged_into.eq(id))
        .count()
        .get_result(conn)?)
}

/// WeCom messages tried for a member since `since` (the pace counts every attempt: one that
/// reached WeCom counts there whatever came back).
pub fn tried_since(
    conn: &mut DbConnection,
    member: i32,
    ch: Channel,
    since: NaiveDateTime,
) -> AppResult<i64> {
    Ok(d::table
        .filter(d::member_id.eq(member))
        .filter(d::channel.eq(ch))
        .filter(d::sent_at.ge(since))
        .filter(d::state.ne(State::Merged))
        .count()
        .get_result(conn)?)
}

/// The end of one delivery's claim.
#[derive(Debug, Clone)]
pub struct Finish {
    pub state: State,
    pub next_at: Option<NaiveDateTime>,
    pub provider_ref: Option<String>,
    pub error: Option<String>,
    /// Give an attempt back (a pace deferral is not an attempt).
    pub uncount: bool,
    /// The request went out (what WeCom's pace counts).
    pub tried: bool,
    /// The provider may have received it though no answer came.
    pub doubt: bool,
}

/// Write the result of a claim; false when the claim was lost (another sender recovered it),
/// in which case nothing is written.
pub fn finish(
    conn: &mut DbConnection,
    id: i32,
    token: &str,
    f: &Finish,
    now: NaiveDateTime,
) -> AppResult<bool> {
    let target = d::table
        .filter(d::id.eq(id))
        .filter(d::claim_token.eq(token))
        .filter(d::state.eq(State::Sending));
    #[allow(clippy::arithmetic_side_effects)] // `attempts - 1` builds SQL, not Rust arithmetic
    let minus_one = d::attempts - 1;
    let n = if f.uncount {
        diesel::update(target)
            .set((
                d::state.eq(f.state),
                d::next_at.eq(f.next_at.unwrap_or(now)),
                d::claim_token.eq(None::<String>),
                d::attempts.eq(minus_one),
                d::updated_at.eq(now),
            ))
            .execute(conn)?
    } else {
        diesel::update(target)
            .set((
                d::state.eq(f.state),
                d::next_at.eq(f.next_at.unwrap_or(now)),
                d::claim_token.eq(None::<String>),
                d::provider_ref.eq(&f.provider_ref),
                d::last_error.eq(&f.error),
                d::updated_at.eq(now),
            ))
            .execute(conn)?
    };
    if n == 1 && (f.tried || f.doubt) {
        // Every attempt that may have reached the provider: what WeCom's pace counts.
        diesel::update(d::table.filter(d::id.eq(id)))
            .set(d::sent_at.eq(now))
            .execute(conn)?;
    }
    if n == 1 && f.doubt {
        diesel::update(d::table.filter(d::id.eq(id)))
            .set(d::in_doubt.eq(true))
            .execute(conn)?;
    }
    Ok(n == 1)
}

/// A provider reported the member unreachable on `ch` (left the WeCom app's scope, stopped
/// following the account): the next plan tries their next channel.
pub fn mark_unreachable(
    conn: &mut DbConnection,
    member: i32,
    ch: Channel,
    now: NaiveDateTime,
) -> AppResult<()> {
    diesel::update(
        channel_bindings::table
            .filter(channel_bindings::member_id.eq(member))
            .filter(channel_bindings::channel.eq(ch)),
    )
    .set(channel_bindings::unreachable_at.eq(now))
    .execute(conn)?;
    Ok(())
}

/// Deliveries per channel and state since `since` (the administrator's figures).
pub fn figures(
    conn: &mut DbConnection,
    since: NaiveDateTime,
) -> AppResult<Vec<(Channel, State, i64)>> {
    Ok(d::table
        .filter(d::created_at.ge(since))
        .group_by((d::channel, d::state))
        .select((d::channel, d::state, diesel::dsl::count_star()))
        .load(conn)?)
}

/// A failed delivery as the administrator sees it: never the text or the address.
#[derive(Queryable, Debug, Clone)]
pub struct FailedRow {
    pub id: i32,
    pub channel: Channel,
    pub kind: Kind,
    pub attempts: i32,
    pub error: Option<String>,
    pub at: NaiveDateTime,
}

pub fn failed(conn: &mut DbConnection, limit: i64) -> AppResult<Vec<FailedRow>> {
    Ok(d::table
        .inner_join(m::table)
        .filter(d::state.eq(State::Failed))
        .order(d::updated_at.desc())
        .limit(limit)
        .select((
            d::id,
            d::channel,
            m::kind,
            d::attempts,
            d::last_error,
            d::updated_at,
        ))
        .load(conn)?)
}

/// A member's recent deliveries (their own /me/channels page).
#[derive(Queryable, Debug, Clone)]
pub struct MineRow {
    pub channel: Channel,
    pub state: State,
    pub kind: Kind,
    pub title: String,
    pub at: NaiveDateTime,
}

pub fn mine(conn: &mut DbConnection, member: i32, limit: i64) -> AppResult<Vec<MineRow>> {
    Ok(d::table
        .inner_join(m::table)
        .filter(d::member_id.eq(member))
        .order(d::id.desc())
        .limit(limit)
        .select((d::channel, d::state, m::kind, m::title, d::updated_at))
        .load(conn)?)
}

/// Old rows go: finished deliveries and their messages after 90 days, failed ones after 180,
/// used OAuth codes after an hour.
/// Deliveries waiting or in flight by state, and messages not yet planned (`/metrics`).
pub fn depths(conn: &mut DbConnection) -> AppResult<(Vec<(State, i64)>, i64)> {
    use diesel::dsl::count_star;
    let by_state = d::table
        .filter(d::state.eq_any([State::Queued, State::Held, State::Retry, State::Sending]))
        .group_by(d::state)
        .select((d::state, count_star()))
        .load(conn)?;
    let unplanned = m::table
        .filter(m::planned_at.is_null())
        .count()
        .get_result(conn)?;
    Ok((by_state, unplanned))
}

pub fn purge(conn: &mut DbConnection, now: NaiveDateTime) -> AppResult<usize> {
    let done = [State::Sent, State::Merged, State::Skipped];
    let mut n = diesel::delete(
        d::table
            .filter(d::state.eq_any(done))
            .filter(d::updated_at.lt(minus(now, Duration::days(90)))),
    )
    .execute(conn)?;
    n = n.saturating_add(
        diesel::delete(
            d::table
                .filter(d::state.eq(State::Failed))
                .filter(d::updated_at.lt(minus(now, Duration::days(180)))),
        )
        .execute(conn)?,
    );
    let pending = d::table.select(d::message_id);
    n = n.saturating_add(
        diesel::delete(
            m::table
                .filter(m::planned_at.lt(minus(now, Duration::days(90))))
                .filter(m::id.ne_all(pending)),
        )
        .execute(conn)?,
    );
    n = n.saturating_add(
        diesel::delete(
            oauth_codes::table.filter(oauth_codes::used_at.lt(minus(now, Duration::hours(1)))),
        )
        .execute(conn)?,
    );
    Ok(n)
}

// ---- the member's own settings ----

#[derive(Debug, Clone)]
pub struct Profile {
    pub quiet_start: i32,
    pub quiet_end: i32,
    pub consent: bool,
}

pub fn profile(conn: &mut DbConnection, member: i32) -> AppResult<Profile> {
    let row: Option<(i32, i32, bool)> = channel_profiles::table
        .find(member)
        .select((
            channel_profiles::quiet_start,
            channel_profiles::quiet_end,
            channel_profiles::consent,
        ))
        .first(conn)
        .optional()?;
    let (quiet_start, quiet_end) = DEFAULT_QUIET;
    Ok(row.map_or(
        Profile {
            quiet_start,
            quiet_end,
            consent: false,
        },
        |(s, e, c)| Profile {
            quiet_start: s,
            quiet_end: e,
            consent: c,
        },
    ))
}

fn ensure_profile(conn: &mut DbConnection, member: i32, now: NaiveDateTime) -> AppResult<()> {
    let (s, e) = DEFAULT_QUIET;
    crate::on_backend!(conn, c => diesel::insert_into(channel_profiles::table)
        .values((
            channel_profiles::member_id.eq(member),
            channel_profiles::quiet_start.eq(s),
            channel_profiles::quiet_end.eq(e),
            channel_profiles::consent.eq(false),
            channel_profiles::updated_at.eq(now),
        ))
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(())
}

/// Give or withdraw consent: the profile's flag and one appended record, together.
pub fn set_consent(
    conn: &mut DbConnection,
    member: i32,
    given: bool,
    now: NaiveDateTime,
) -> AppResult<()> {
    ensure_profile(conn, member, now)?;
    diesel::update(channel_profiles::table.find(member))
        .set((
            channel_profiles::consent.eq(given),
            channel_profiles::updated_at.eq(now),
        ))
        .execute(conn)?;
    diesel::insert_into(channel_consents::table)
        .values((
            channel_consents::member_id.eq(member),
            channel_consents::given.eq(given),
            channel_consents::version.eq(CONSENT_VERSION),
            channel_consents::at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// The member's consent record, newest first.
pub fn consents(
    conn: &mut DbConnection,
    member: i32,
) -> AppResult<Vec<(bool, String, NaiveDateTime)>> {
    Ok(channel_consents::table
        .filter(channel_consents::member_id.eq(member))
        .order(channel_consents::id.desc())
        .limit(20)
        .select((
            channel_consents::given,
            channel_consents::version,
            channel_consents::at,
        ))
        .load(conn)?)
}

pub fn set_quiet(
    conn: &mut DbConnection,
    member: i32,
    (start, end): (i32, i32),
    now: NaiveDateTime,
) -> AppResult<()> {
    ensure_profile(conn, member, now)?;
    diesel::update(channel_profiles::table.find(member))
        .set((
            channel_profiles::quiet_start.eq(start),
            channel_profiles::quiet_end.eq(end),
            channel_profiles::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// The member's choice per kind (kinds absent: the defaults).
pub fn prefs(conn: &mut DbConnection, member: i32) -> AppResult<Vec<(Kind, Vec<Channel>)>> {
    let rows: Vec<(String, String)> = channel_prefs::table
        .filter(channel_prefs::member_id.eq(member))
        .select((channel_prefs::kind, channel_prefs::channels))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(k, c)| Kind::parse(&k).map(|k| (k, parse_channels(&c))))
        .collect())
}

pub fn set_prefs(
    conn: &mut DbConnection,
    member: i32,
    prefs: &[(Kind, Vec<Channel>)],
) -> AppResult<()> {
    diesel::delete(channel_prefs::table.filter(channel_prefs::member_id.eq(member)))
        .execute(conn)?;
    for (kind, channels) in prefs {
        let list: Vec<&str> = channels.iter().map(|c| c.as_str()).collect();
        diesel::insert_into(channel_prefs::table)
            .values((
                channel_prefs::member_id.eq(member),
                channel_prefs::kind.eq(kind.as_str()),
                channel_prefs::channels.eq(list.join(",")),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// A member's bindings: channel, address, unreachable since.
pub fn bindings(
    conn: &mut DbConnection,
    member: i32,
) -> AppResult<Vec<(Channel, String, Option<NaiveDateTime>)>> {
    Ok(channel_bindings::table
        .filter(channel_bindings::member_id.eq(member))
        .order(channel_bindings::id)
        .select((
            channel_bindings::channel,
            channel_bindings::address,
            channel_bindings::unreachable_at,
        ))
        .load(conn)?)
}

/// The member bound to `address` on `ch`.
pub fn bound_member(conn: &mut DbConnection, ch: Channel, address: &str) -> AppResult<Option<i32>> {
    Ok(channel_bindings::table
        .filter(channel_bindings::channel.eq(ch))
        .filter(channel_bindings::address.eq(address))
        .select(channel_bindings::member_id)
        .first(conn)
        .optional()?)
}

/// Bind `address` on `ch` to `member`, replacing the member's earlier binding there. False when
/// the address is bound to someone else.
pub fn bind(
    conn: &mut DbConnection,
    member: i32,
    ch: Channel,
    address: &str,
    now: NaiveDateTime,
) -> AppResult<bool> {
    if bound_member(conn, ch, address)?.is_some_and(|m| m != member) {
        return Ok(false);
    }
    unbind(conn, member, ch)?;
    let res = diesel::insert_into(channel_bindings::table)
        .values((
            channel_bindings::member_id.eq(member),
            channel_bindings::channel.eq(ch),
            channel_bindings::address.eq(address),
            channel_bindings::created_at.eq(now),
        ))
        .execute(conn);
    match res {
        Ok(_) => Ok(true),
        // Bound at the same moment by another request (a double click): theirs stands.
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

pub fn unbind(conn: &mut DbConnection, member: i32, ch: Channel) -> AppResult<usize> {
    Ok(diesel::delete(
        channel_bindings::table
            .filter(channel_bindings::member_id.eq(member))
            .filter(channel_bindings::channel.eq(ch)),
    )
    .execute(conn)?)
}

/// An e-mail address waiting for its owner's confirmation: (address, code digest, lapses at).
pub type PendingEmail = (String, String, NaiveDateTime);

pub fn pending_email(conn: &mut DbConnection, member: i32) -> AppResult<Option<PendingEmail>> {
    let row: Option<(Option<String>, Option<String>, Option<NaiveDateTime>)> =
        channel_profiles::table
            .find(member)
            .select((
                channel_profiles::email_pending,
                channel_profiles::email_code_digest,
                channel_profiles::email_pending_until,
            ))
            .first(conn)
            .optional()?;
    Ok(match row {
        Some((Some(a), Some(d), Some(u))) => Some((a, d, u)),
        _ => None,
    })
}

/// Set (or with `None`, clear) the member's pending e-mail address.
pub fn set_pending_email(
    conn: &mut DbConnection,
    member: i32,
    pending: Option<&PendingEmail>,
    now: NaiveDateTime,
) -> AppResult<()> {
    ensure_profile(conn, member, now)?;
    diesel::update(channel_profiles::table.find(member))
        .set((
            channel_profiles::email_pending.eq(pending.map(|p| p.0.clone())),
            channel_profiles::email_code_digest.eq(pending.map(|p| p.1.clone())),
            channel_profiles::email_pending_until.eq(pending.map(|p| p.2)),
            channel_profiles::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Messages sent or queued to this address outside the planner since `since` (any member).
pub fn mails_to(conn: &mut DbConnection, address: &str, since: NaiveDateTime) -> AppResult<i64> {
    Ok(d::table
        .filter(d::to_address.eq(address))
        .filter(d::created_at.ge(since))
        .count()
        .get_result(conn)?)
}

/// Queue one message to one address on one channel, outside the planner (a confirmation
/// mail to an address not yet bound). Only for a consenting member, like `enqueue`: false when
/// nothing was queued.
#[allow(clippy::too_many_arguments)]
pub fn enqueue_to(
    conn: &mut DbConnection,
    member: i32,
    kind: Kind,
    title: &str,
    link: &str,
    (channel, address): (Channel, &str),
    now: NaiveDateTime,
) -> AppResult<bool> {
    if !profile(conn, member)?.consent {
        return Ok(false);
    }
    let id: i32 = diesel::insert_into(m::table)
        .values((
            m::member_id.eq(member),
            m::kind.eq(kind.as_str()),
            m::title.eq(title),
            m::link.eq(link),
            m::urgent.eq(kind.urgent()),
            m::created_at.eq(now),
            m::planned_at.eq(now),
        ))
        .returning(m::id)
        .get_result(conn)?;
    diesel::insert_into(d::table)
        .values((
            d::message_id.eq(id),
            d::member_id.eq(member),
            d::channel.eq(channel),
            d::state.eq(State::Queued),
            d::next_at.eq(now),
            d::idem_key.eq(format!("zj-{}", crate::auth::random_token(12))),
            d::to_address.eq(address),
            d::created_at.eq(now),
            d::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(true)
}

/// Use a one-time OAuth code: false when it was used before.
pub fn use_code(conn: &mut DbConnection, code: &str, now: NaiveDateTime) -> AppResult<bool> {
    let n = crate::on_backend!(conn, c => diesel::insert_into(oauth_codes::table)
        .values((
            oauth_codes::code_hash.eq(crate::auth::digest(&[b"oauth-code", code.as_bytes()])),
            oauth_codes::used_at.eq(now),
        ))
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(n == 1)
}

/// Counts of outbox rows (tests and the demo).
pub fn count_messages(conn: &mut DbConnection) -> AppResult<i64> {
    Ok(m::table.count().get_result(conn)?)
}

/// Mandatory notices have no in-app notification (the home page lists the unread ones): each
/// one published in the last week and not yet announced becomes one message for every member of
/// its audience who consented and has not read it, written with its `outbox_announced` row.
pub fn announce_notices(conn: &mut DbConnection, now: NaiveDateTime) -> AppResult<usize> {
    use crate::db::schema::{news_articles as a, outbox_announced};
    use diesel::sql_types::{Integer, Text, Timestamp};
    let due: Vec<(i32, String)> = a::table
        .filter(a::mandatory.eq(true))
        .filter(a::draft.eq(false))
        .filter(a::publish_at.le(now))
        .filter(a::publish_at.ge(minus(now, Duration::days(7))))
        .filter(diesel::dsl::not(a::id.eq_any(
            outbox_announced::table.select(outbox_announced::article_id),
        )))
        .order(a::id)
        .limit(20)
        .select((a::id, a::title))
        .load(conn)?;
    let mut n = 0usize;
    for (id, title) in due {
        n = n.saturating_add(crate::db::write_tx(conn, |c| {
            let first = crate::on_backend!(c, cc => diesel::insert_into(outbox_announced::table)
                .values((outbox_announced::article_id.eq(id), outbox_announced::at.eq(now)))
                .on_conflict_do_nothing()
                .execute(cc))?;
            if first != 1 {
                return Ok(0);
            }
            let text: String = title.chars().take(TEXT_CHARS).collect();
            Ok(diesel::sql_query(
                "INSERT INTO outbox_messages (member_id, kind, title, link, urgent, created_at) \
                 SELECT m.id, $1, $2, $3, FALSE, $4 FROM members m \
                 JOIN org_units u ON u.id = m.unit_id \
                 JOIN channel_profiles p ON p.member_id = m.id AND p.consent = TRUE \
                 WHERE m.disabled = FALSE \
                 AND EXISTS (SELECT 1 FROM news_audiences na JOIN org_units au ON au.id = na.unit_id \
                             WHERE na.article_id = $5 AND u.path LIKE au.path || '%') \
                 AND NOT EXISTS (SELECT 1 FROM news_reads r WHERE r.article_id = $5 AND r.member_id = m.id)",
            )
            .bind::<Text, _>(Kind::Notice.as_str())
            .bind::<Text, _>(&text)
            .bind::<Text, _>(format!("/news/{id}"))
            .bind::<Timestamp, _>(now)
            .bind::<Integer, _>(id)
            .execute(c)?)
        })?);
    }
    Ok(n)
}

/// The newest messages of these members (the demo gives them a delivery history).
pub fn recent_messages(
    conn: &mut DbConnection,
    members: &[i32],
    n: i64,
) -> AppResult<Vec<(i32, i32, NaiveDateTime)>> {
    Ok(m::table
        .filter(m::member_id.eq_any(members))
        .order(m::id.desc())
        .limit(n)
        .select((m::id, m::member_id, m::created_at))
        .load(conn)?)
}

/// A delivery with a given outcome, written directly (the demo has no network).
pub fn record_delivery(
    conn: &mut DbConnection,
    message: i32,
    member: i32,
    ch: Channel,
    state: State,
    next_at: NaiveDateTime,
    error: Option<&str>,
) -> AppResult<()> {
    let tried = !matches!(state, State::Held | State::Queued);
    diesel::update(m::table.find(message))
        .set(m::planned_at.eq(next_at))
        .execute(conn)?;
    diesel::insert_into(d::table)
        .values((
            d::message_id.eq(message),
            d::member_id.eq(member),
            d::channel.eq(ch),
            d::state.eq(state),
            d::attempts.eq(if tried { 1 } else { 0 }),
            d::next_at.eq(next_at),
            d::idem_key.eq(format!("zj-{}", crate::auth::random_token(12))),
            d::sent_at.eq(tried.then_some(next_at)),
            d::last_error.eq(error),
            d::created_at.eq(next_at),
            d::updated_at.eq(next_at),
        ))
        .execute(conn)?;
    Ok(())
}

/// A member who left: their bindings go, their consent is withdrawn (recorded) and nothing
/// waiting for them is sent.
pub fn forget(conn: &mut DbConnection, member: i32, now: NaiveDateTime) -> AppResult<()> {
    diesel::delete(channel_bindings::table.filter(channel_bindings::member_id.eq(member)))
        .execute(conn)?;
    diesel::update(channel_profiles::table.find(member))
        .set((
            channel_profiles::email_pending.eq(None::<String>),
            channel_profiles::email_code_digest.eq(None::<String>),
            channel_profiles::email_pending_until.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)?;
    if profile(conn, member)?.consent {
        set_consent(conn, member, false, now)?;
    }
    diesel::update(
        d::table
            .filter(d::member_id.eq(member))
            .filter(d::state.eq_any([State::Queued, State::Held, State::Retry])),
    )
    .set((
        d::state.eq(State::Skipped),
        d::last_error.eq("会员已退会"),
        d::updated_at.eq(now),
    ))
    .execute(conn)?;
    Ok(())
}

/// Messages of these members not yet planned count as planned (the demo's past).
pub fn mark_planned(
    conn: &mut DbConnection,
    members: &[i32],
    now: NaiveDateTime,
) -> AppResult<usize> {
    Ok(diesel::update(
        m::table
            .filter(m::member_id.eq_any(members))
            .filter(m::planned_at.is_null()),
    )
    .set(m::planned_at.eq(now))
    .execute(conn)?)
}
