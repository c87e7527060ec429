//! The outbox (issue 33) against fake providers on loopback: each kind reaches each channel
//! once; a 500, a lost response and an expired token are retried and delivered once; a lapsed
//! claim is resent only inside the provider's duplicate window; permanent errors land in the
//! administrator's failed list; quiet hours, preferences and consent hold; nothing about an
//! anonymous case or letter goes out; a rolled-back change sends nothing; WeCom bursts merge.

use std::collections::HashMap;

use diesel::prelude::*;
use zhijia::db::schema::{notifications, outbox_deliveries as d, outbox_messages as m};
use zhijia::outbox::adapters::{self, Ctx};
use zhijia::outbox::kind::State;
use zhijia::outbox::sender::{Report, Sender};
use zhijia::outbox::{model, Channel, Kind, Out};

use crate::fakes::{Fakes, Fault};
use crate::helpers::*;

const HOLDER: &str = "test-sender";

fn sender(state: &zhijia::app::Instance) -> Sender {
    Sender::new(state.pool.clone(), state.config.clone())
}

/// Rounds until one does nothing (at most 20), summed.
fn drain(s: &Sender) -> Report {
    let mut total = Report::default();
    for _ in 0..20 {
        let r = s.run_once(HOLDER).unwrap();
        assert!(r.leased, "the test sender holds the lease");
        let busy = r.busy();
        total.planned += r.planned;
        total.recovered += r.recovered;
        total.sent += r.sent;
        total.retried += r.retried;
        total.failed += r.failed;
        total.skipped += r.skipped;
        total.deferred += r.deferred;
        if !busy {
            break;
        }
    }
    total
}

/// A member who consented and bound WeCom, WeChat and e-mail (their phone gives SMS).
fn reachable(state: &zhijia::app::Instance, member: i32) {
    let mut conn = state.pool.get().unwrap();
    let now = state.config.clock.now();
    model::set_consent(&mut conn, member, true, now).unwrap();
    model::bind(&mut conn, member, Channel::Wecom, "WangXM", now).unwrap();
    model::bind(&mut conn, member, Channel::Wechat, "o-wang-openid", now).unwrap();
    model::bind(&mut conn, member, Channel::Email, "wang@example.test", now).unwrap();
    for k in Kind::ALL {
        zhijia::settings::set(
            &mut conn,
            &format!("{}{}", zhijia::outbox::sender::TEMPLATE_KEY, k.as_str()),
            &format!("tpl-{}", k.as_str()),
            now,
        )
        .unwrap();
    }
}

/// Every member of the base union agrees (so a test of what is *not* queued can fail).
fn everyone_agrees(state: &zhijia::app::Instance) {
    use zhijia::db::schema::members;
    let mut conn = state.pool.get().unwrap();
    let ids: Vec<i32> = members::table.select(members::id).load(&mut conn).unwrap();
    for id in ids {
        model::set_consent(&mut conn, id, true, state.config.clock.now()).unwrap();
    }
}

fn prefer(state: &zhijia::app::Instance, member: i32, prefs: &[(Kind, Vec<Channel>)]) {
    model::set_prefs(&mut state.pool.get().unwrap(), member, prefs).unwrap();
}

/// What a change does: the notification and its outbox message, in one transaction.
fn notify(state: &zhijia::app::Instance, member: i32, title: &str, out: Out) {
    let mut conn = state.pool.get().unwrap();
    let now = state.config.clock.now();
    zhijia::db::write_tx(&mut conn, |c| {
        zhijia::notifications::notify(c, member, title, "/grievances/WQ-2026-TEST1", now, out)
    })
    .unwrap();
}

fn states(state: &zhijia::app::Instance) -> Vec<(Channel, State, i32)> {
    d::table
        .order(d::id)
        .select((d::channel, d::state, d::attempts))
        .load(&mut state.pool.get().unwrap())
        .unwrap()
}

fn refs(state: &zhijia::app::Instance) -> Vec<String> {
    notifications::table
        .select(notifications::public_ref)
        .load(&mut state.pool.get().unwrap())
        .unwrap()
}

#[actix_web::test]
async fn each_kind_reaches_each_channel_once() {
    let fakes = Fakes::start();
    let app = spawn_base_with(|c| c.channels = fakes.channels()).await;
    let member = app.member_id("demo-member");
    reachable(&app.state, member);
    let s = sender(&app.state);
    for kind in Kind::ALL {
        for ch in Channel::ALL {
            prefer(&app.state, member, &[(*kind, vec![*ch])]);
            notify(
                &app.state,
                member,
                &format!("{}经{}", kind.label(), ch.label()),
                Out::Full(*kind),
            );
            let r = drain(&s);
            assert_eq!((r.sent, r.failed), (1, 0), "{kind} by {ch}: {r:?}");
        }
    }
    let n = Kind::ALL.len();
    let wecom = fakes.accepted("wecom");
    let wechat = fakes.accepted("wechat");
    let (sms, smtp) = (fakes.accepted("sms"), fakes.accepted("smtp"));
    assert_eq!(
        (wecom.len(), wechat.len(), sms.len(), smtp.len()),
        (n, n, n, n)
    );
    // Each message opens its own notification on the configured address, never a request's host.
    let refs = refs(&app.state);
    for v in &wecom {
        assert_eq!(v["touser"], "WangXM");
        let url = v["textcard"]["url"].as_str().unwrap();
        let r = url
            .strip_prefix(&format!("{PUBLIC_URL}/notifications/"))
            .unwrap();
        assert!(refs.iter().any(|x| x == r), "{url}");
    }
    for v in &wechat {
        assert_eq!(v["touser"], "o-wang-openid");
        assert!(v["template_id"].as_str().unwrap().starts_with("tpl-"));
        assert!(v["url"].as_str().unwrap().starts_with(PUBLIC_URL));
    }
    for v in &sms {
        assert_eq!(v["to"], "13800000001");
        assert!(v["text"]
            .as_str()
            .unwrap()
            .contains(&format!("{PUBLIC_URL}/notifications/")));
    }
    for v in &smtp {
        assert!(v["message_id"].as_str().unwrap().starts_with("<zj-"), "{v}");
    }
    assert_eq!(fakes.with(|f| (f.duplicates, f.bad_signatures)), (0, 0));
    // Every delivery is sent, after one attempt each.
    assert!(states(&app.state)
        .iter()
        .all(|(_, st, a)| *st == State::Sent && *a == 1));
}

#[actix_web::test]
async fn a_500_a_lost_response_and_an_expired_token_are_retried_and_delivered_once() {
    let fakes = Fakes::start();
    let app = spawn_base_with(|c| c.channels = fakes.channels()).await;
    let member = app.member_id("demo-member");
    reachable(&app.state, member);
    prefer(
        &app.state,
        member,
        &[(Kind::Progress, vec![Channel::Wecom])],
    );
    fakes.script(&[Fault::Http500, Fault::Stall, Fault::ExpireToken]);
    notify(
        &app.state,
        member,
        "您的申诉有新进展",
        Out::Full(Kind::Progress),
    );
    let s = sender(&app.state);
    let clock = &app.state.config.clock;
    assert_eq!(s.run_once(HOLDER).unwrap().retried, 1, "the 500");
    clock.advance(40);
    assert_eq!(s.run_once(HOLDER).unwrap().retried, 1, "the lost response");
    clock.advance(70);
    // The expired token is fetched again and the same request sent: WeCom's duplicate check
    // drops it, since the lost response's request did arrive.
    let r = s.run_once(HOLDER).unwrap();
    assert_eq!(r.sent, 1, "{r:?}");
    assert_eq!(fakes.accepted("wecom").len(), 1);
    assert_eq!(fakes.with(|f| (f.duplicates, f.tokens_issued)), (1, 2));
    assert_eq!(states(&app.state), [(Channel::Wecom, State::Sent, 3)]);
    // Nothing is left to do.
    clock.advance(3600);
    assert!(!s.run_once(HOLDER).unwrap().busy());
}

/// A provider's "too many" (HTTP 429; WeCom and WeChat 45009) rests that channel for a minute
/// on the portal's clock: what comes meanwhile waits, untried; then both go, once each.
#[actix_web::test]
async fn a_rate_limit_answer_rests_the_channel_for_a_minute() {
    let fakes = Fakes::start();
    let app = spawn_base_with(|c| c.channels = fakes.channels()).await;
    let member = app.member_id("demo-member");
    reachable(&app.state, member);
    prefer(&app.state, member, &[(Kind::Progress, vec![Channel::Sms])]);
    fakes.script(&[Fault::Errcode(429)]);
    notify(&app.state, member, "第一条进展", Out::Full(Kind::Progress));
    let s = sender(&app.state);
    let clock = &app.state.config.clock;
    let r = s.run_once(HOLDER).unwrap();
    assert_eq!((r.sent, r.retried), (0, 1), "{r:?}");
    notify(&app.state, member, "第二条进展", Out::Full(Kind::Progress));
    let r = s.run_once(HOLDER).unwrap();
    assert_eq!((r.sent, r.deferred), (0, 1), "the channel rests: {r:?}");
    clock.advance(30);
    assert!(!s.run_once(HOLDER).unwrap().busy(), "still resting");
    assert_eq!(
        fakes.with(|f| f.send_requests),
        1,
        "nothing asked of the gateway meanwhile"
    );
    clock.advance(35);
    assert_eq!(drain(&s).sent, 2);
    let texts: Vec<String> = fakes
        .accepted("sms")
        .iter()
        .map(|v| v.to_string())
        .collect();
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert!(texts.iter().any(|t| t.contains("第一条进展")));
    assert!(texts.iter().any(|t| t.contains("第二条进展")));
}

/// The sender spaces its requests to one provider at the configured rate (the gateway refuses
/// above its limit): twelve messages at 5 a second take at least 11 gaps of 200 ms.
#[actix_web::test]
async fn the_sender_paces_each_provider_at_the_configured_rate() {
    let fakes = Fakes::start();
    let app = spawn_base_with(|c| {
        c.channels = fakes.channels();
        c.channels.rate = 5;
    })
    .await;
    let member = app.member_id("demo-member");
    reachable(&app.state, member);
    prefer(&app.state, member, &[(Kind::Progress, vec![Channel::Sms])]);
    for i in 0..12 {
        notify(
            &app.state,
            member,
            &format!("进展 {i}"),
            Out::Full(Kind::Progress),
        );
    }
    let r = drain(&sender(&app.state));
    assert_eq!(r.sent, 12, "{r:?}");
    let arrivals = fakes.with(|f| f.arrivals.clone());
    assert_eq!(arrivals.len(), 12);
    let span = arrivals[11].duration_since(arrivals[0]);
    // 11 gaps of 200 ms is 2.2 s; the first request may arrive a little after its slot.
    assert!(span >= std::time::Duration::from_millis(1900), "{span:?}");
}

/// An instance killed after sending and before writing the result: its claim lapses and the
/// next sender resends the same request, which the provider drops, inside the provider's
/// window; an e-mail (SMTP has no duplicate check) is never resent and shows as failed.
#[actix_web::test]
async fn a_lapsed_claim_is_resent_inside_the_window_and_never_duplicated() {
    let fakes = Fakes::start();
    let app = spawn_base_with(|c| c.channels = fakes.channels()).await;
    let member = app.member_id("demo-member");
    reachable(&app.state, member);
    prefer(
        &app.state,
        member,
        &[
            (Kind::Progress, vec![Channel::Wecom]),
            (Kind::Approval, vec![Channel::Email]),
        ],
    );
    notify(&app.state, member, "进展", Out::Full(Kind::Progress));
    notify(&app.state, member, "待审批", Out::Full(Kind::Approval));
    // The dead instance: plans, claims and sends, and dies before `finish`.
    let now = app.state.config.clock.now();
    let mut conn = app.conn();
    let enabled = Sender::enabled(&mut conn, &app.state.config).unwrap();
    zhijia::outbox::sender::plan_round(&mut conn, &enabled, now).unwrap();
    let ttl = app.state.config.channels.claim_ttl();
    let due = model::claim(&mut conn, now, 10, "dead-instance", ttl).unwrap();
    assert_eq!(due.len(), 2);
    let (agent, tokens) = (
        zhijia::outbox::http::agent(std::time::Duration::from_secs(2)),
        Default::default(),
    );
    let ctx = Ctx {
        agent: &agent,
        tokens: &tokens,
        channels: &app.state.config.channels,
        public_url: &app.state.config.public_url,
        templates: &HashMap::new(),
    };
    for x in &due {
        assert!(matches!(
            adapters::send(&ctx, x),
            zhijia::outbox::http::Outcome::Sent(_)
        ));
    }
    drop(conn);
    assert_eq!(
        (fakes.accepted("wecom").len(), fakes.accepted("smtp").len()),
        (1, 1)
    );
    // Before the claim lapses the next sender leaves the rows alone.
    let s = sender(&app.state);
    assert!(!s.run_once(HOLDER).unwrap().busy());
    app.state.config.clock.advance(130);
    let r = drain(&s);
    assert_eq!((r.recovered, r.sent), (2, 1), "{r:?}");
    assert_eq!(
        (fakes.accepted("wecom").len(), fakes.accepted("smtp").len()),
        (1, 1)
    );
    assert_eq!(fakes.with(|f| f.duplicates), 1);
    let st = states(&app.state);
    assert!(st.contains(&(Channel::Wecom, State::Sent, 2)), "{st:?}");
    assert!(st.contains(&(Channel::Email, State::Failed, 1)), "{st:?}");
    let failed = model::failed(&mut app.conn(), 10).unwrap();
    assert_eq!(failed[0].error.as_deref(), Some(model::IN_DOUBT));
    // A lost answer from WeChat (the request arrived), then the provider is down long enough
    // that the retry would come after WeChat's ten-minute duplicate window: never resent.
    prefer(
        &app.state,
        member,
        &[(Kind::Progress, vec![Channel::Wechat])],
    );
    fakes.script(&[Fault::Stall, Fault::Http500, Fault::Http500]);
    notify(&app.state, member, "微信", Out::Full(Kind::Progress));
    let clock = &app.state.config.clock;
    // Attempts at +0 (lost), +200 s and +400 s (500s); at +600 s the window has passed.
    let mut failed = 0;
    for _ in 0..4 {
        failed += s.run_once(HOLDER).unwrap().failed;
        clock.advance(200);
    }
    assert_eq!(failed, 1);
    assert_eq!(
        fakes.accepted("wechat").len(),
        1,
        "the stalled request only"
    );
    let st = states(&app.state);
    assert_eq!(st.last(), Some(&(Channel::Wechat, State::Failed, 4)));
}

/// A member who leaves gets nothing more: bindings go, consent is withdrawn on the record,
/// waiting messages are not sent; and retention can still remove their rows afterwards.
#[actix_web::test]
async fn a_member_who_leaves_gets_nothing_more_and_retention_removes_their_rows() {
    let fakes = Fakes::start();
    let mut app = spawn_base_with(|c| c.channels = fakes.channels()).await;
    let member = app.member_id("demo-member");
    reachable(&app.state, member);
    prefer(
        &app.state,
        member,
        &[(Kind::Progress, vec![Channel::Wecom])],
    );
    notify(&app.state, member, "白天的", Out::Full(Kind::Progress));
    let s = sender(&app.state);
    assert_eq!(drain(&s).sent, 1);
    app.state.config.clock.advance(12 * 3600 + 1800);
    notify(&app.state, member, "夜里的", Out::Full(Kind::Progress));
    drain(&s);
    assert!(states(&app.state).contains(&(Channel::Wecom, State::Held, 0)));
    app.login_ok("demo-admin").await;
    app.post(
        &format!("/admin/membership/members/{member}/leave"),
        &[("choice", "leave"), ("note", "本人申请")],
    )
    .await
    .assert_status(303);
    assert!(model::bindings(&mut app.conn(), member).unwrap().is_empty());
    assert!(!model::profile(&mut app.conn(), member).unwrap().consent);
    app.state.config.clock.advance(9 * 3600);
    drain(&s);
    assert_eq!(fakes.accepted("wecom").len(), 1);
    assert!(states(&app.state).contains(&(Channel::Wecom, State::Skipped, 0)));
    // Retention: deliveries go before their messages (a foreign key), in one transaction.
    zhijia::db::write_tx(&mut app.conn(), |c| {
        zhijia::membership::model::anonymise(c, member, app.state.config.clock.now())
    })
    .unwrap();
    assert_eq!(
        app.count(&format!("outbox_deliveries WHERE member_id = {member}")),
        0
    );
    assert_eq!(
        app.count(&format!("outbox_messages WHERE member_id = {member}")),
        0
    );
    assert_eq!(
        app.count(&format!("channel_consents WHERE member_id = {member}")),
        2,
        "kept: the record"
    );
}

#[actix_web::test]
async fn permanent_errors_land_in_the_failed_list_and_an_unreachable_member_falls_back_to_sms() {
    let fakes = Fakes::start();
    let mut app = spawn_base_with(|c| c.channels = fakes.channels()).await;
    let member = app.member_id("demo-member");
    reachable(&app.state, member);
    prefer(
        &app.state,
        member,
        &[
            (Kind::Progress, vec![Channel::Wecom]),
            (Kind::Approval, vec![Channel::Sms]),
            (Kind::Waitlist, vec![Channel::Email]),
        ],
    );
    fakes.with(|f| f.smtp_reject = true);
    let s = sender(&app.state);
    fakes.script(&[Fault::Errcode(40003)]);
    notify(&app.state, member, "a", Out::Full(Kind::Progress));
    drain(&s);
    fakes.script(&[Fault::Errcode(400)]);
    notify(&app.state, member, "b", Out::Full(Kind::Approval));
    drain(&s);
    notify(&app.state, member, "c", Out::Full(Kind::Waitlist));
    let r = drain(&s);
    assert_eq!(r.failed, 1);
    let st = states(&app.state);
    assert_eq!(
        st,
        [
            (Channel::Wecom, State::Failed, 1),
            (Channel::Sms, State::Failed, 1),
            (Channel::Email, State::Failed, 1)
        ]
    );
    app.login_ok("demo-admin").await;
    app.get("/admin/settings/channels")
        .await
        .assert_status(200)
        .assert_contains("错误码 40003")
        .assert_contains("HTTP 400")
        .assert_contains("邮件服务器拒收");
    // WeCom reports the member outside the app's range: the binding is marked and the next
    // message (automatic choice) goes by the next road. Without WeChat, that is SMS.
    fakes.with(|f| f.smtp_reject = false);
    model::unbind(&mut app.conn(), member, Channel::Wechat).unwrap();
    model::unbind(&mut app.conn(), member, Channel::Email).unwrap();
    prefer(&app.state, member, &[]);
    fakes.script(&[Fault::InvalidUser]);
    notify(&app.state, member, "d", Out::Full(Kind::Progress));
    drain(&s);
    let unreachable: Option<chrono::NaiveDateTime> = {
        use zhijia::db::schema::channel_bindings as b;
        b::table
            .filter(b::member_id.eq(member))
            .filter(b::channel.eq(Channel::Wecom))
            .select(b::unreachable_at)
            .first(&mut app.conn())
            .unwrap()
    };
    assert!(unreachable.is_some());
    let sms_before = fakes.accepted("sms").len();
    notify(&app.state, member, "e", Out::Full(Kind::Progress));
    assert_eq!(drain(&s).sent, 1);
    assert_eq!(fakes.accepted("sms").len(), sms_before + 1);
    assert_eq!(fakes.accepted("wecom").len(), 0, "WeCom delivered nothing");
    assert_eq!(fakes.with(|f| f.send_requests), 4, "WeCom, SMS, WeCom, SMS");
}

#[actix_web::test]
async fn quiet_hours_hold_a_message_until_seven_and_urgent_kinds_go_at_once() {
    let fakes = Fakes::start();
    let app = spawn_base_with(|c| c.channels = fakes.channels()).await;
    let member = app.member_id("demo-member");
    reachable(&app.state, member);
    prefer(
        &app.state,
        member,
        &[
            (Kind::Progress, vec![Channel::Sms]),
            (Kind::Account, vec![Channel::Sms]),
        ],
    );
    let clock = &app.state.config.clock;
    // The tests start at 10:00 Beijing; move to 22:30.
    clock.advance(12 * 3600 + 1800);
    let s = sender(&app.state);
    notify(&app.state, member, "夜里的进展", Out::Full(Kind::Progress));
    notify(
        &app.state,
        member,
        "您的密码已被重置",
        Out::Full(Kind::Account),
    );
    let r = drain(&s);
    assert_eq!((r.planned, r.sent), (2, 1), "{r:?}");
    assert!(fakes.accepted("sms")[0]["text"]
        .as_str()
        .unwrap()
        .contains("密码"));
    // 06:59 Beijing: still held.
    clock.advance(8 * 3600 + 29 * 60);
    assert_eq!(drain(&s).sent, 0);
    assert!(states(&app.state).contains(&(Channel::Sms, State::Held, 0)));
    // 07:15: sent.
    clock.advance(16 * 60);
    assert_eq!(drain(&s).sent, 1);
    assert_eq!(fakes.accepted("sms").len(), 2);
}

#[actix_web::test]
async fn preferences_and_consent_are_honoured_even_for_queued_messages() {
    let fakes = Fakes::start();
    let app = spawn_base_with(|c| c.channels = fakes.channels()).await;
    let member = app.member_id("demo-member");
    let s = sender(&app.state);
    // No consent: nothing is even queued.
    notify(&app.state, member, "未同意", Out::Full(Kind::Progress));
    let r = drain(&s);
    assert_eq!((r.planned, r.sent), (0, 0));
    assert_eq!(app.count("outbox_messages"), 0);
    reachable(&app.state, member);
    // A kind turned off, and the social kind (off by default): nothing.
    prefer(&app.state, member, &[(Kind::Progress, vec![])]);
    notify(&app.state, member, "关掉的", Out::Full(Kind::Progress));
    notify(&app.state, member, "联名", Out::Full(Kind::Social));
    assert_eq!(drain(&s).sent, 0);
    assert!(states(&app.state).is_empty());
    // Consent withdrawn while a message waits for quiet hours to end: it is never sent.
    prefer(&app.state, member, &[]);
    app.state.config.clock.advance(12 * 3600 + 1800);
    notify(&app.state, member, "夜里", Out::Full(Kind::Progress));
    drain(&s);
    assert!(states(&app.state)
        .iter()
        .all(|(_, st, _)| *st == State::Held));
    model::set_consent(&mut app.conn(), member, false, app.state.config.clock.now()).unwrap();
    app.state.config.clock.advance(9 * 3600);
    let r = drain(&s);
    assert_eq!((r.sent, r.skipped), (0, 2), "{r:?}");
    assert!(fakes.with(|f| f.accepted.is_empty()));
}

#[actix_web::test]
async fn a_rolled_back_change_leaves_no_notification_and_no_outbox_message() {
    let app = spawn_base().await;
    let member = app.member_id("demo-member");
    everyone_agrees(&app.state);
    let mut conn = app.conn();
    let now = app.state.config.clock.now();
    let res: Result<(), zhijia::error::AppError> = zhijia::db::write_tx(&mut conn, |c| {
        zhijia::notifications::notify(c, member, "不会发生", "/", now, Out::Full(Kind::Progress))?;
        Err(zhijia::error::AppError::Conflict("另一位干部已处理".into()))
    });
    assert!(res.is_err());
    drop(conn);
    assert_eq!(
        (app.count("notifications"), app.count("outbox_messages")),
        (0, 0)
    );
    notify(&app.state, member, "会发生", Out::Full(Kind::Progress));
    assert_eq!(
        (app.count("notifications"), app.count("outbox_messages")),
        (1, 1)
    );
    // Nothing is kept for a member who did not agree; a title with a link in it goes out as
    // the kind's fixed text (a name typed on the public join form, say).
    let other = app.member_id("demo-member-b");
    model::set_consent(&mut app.conn(), other, false, app.state.config.clock.now()).unwrap();
    notify(&app.state, other, "不会排队", Out::Full(Kind::Progress));
    assert_eq!(app.count("outbox_messages"), 1);
    for title in [
        "王小明 http://evil.example/k",
        "工资卡异常速登 evil.cn 核验",
        "ｗｗｗ．ｅｖｉｌ．ｃｎ",
    ] {
        notify(&app.state, member, title, Out::Full(Kind::Approval));
    }
    let titles: Vec<String> = m::table
        .order(m::id)
        .select(m::title)
        .load(&mut app.conn())
        .unwrap();
    assert_eq!(&titles[1..], [Kind::Approval.generic_text(); 3]);
}

#[actix_web::test]
async fn a_burst_on_wecom_goes_as_digests_under_the_per_member_limit() {
    let fakes = Fakes::start();
    let app = spawn_base_with(|c| c.channels = fakes.channels()).await;
    let member = app.member_id("demo-member");
    reachable(&app.state, member);
    prefer(
        &app.state,
        member,
        &[(Kind::Progress, vec![Channel::Wecom])],
    );
    for i in 0..40 {
        notify(
            &app.state,
            member,
            &format!("第{i}条"),
            Out::Full(Kind::Progress),
        );
    }
    let r = drain(&sender(&app.state));
    let sent = fakes.accepted("wecom");
    assert!(
        sent.len() <= 20,
        "{} requests to one member in a minute",
        sent.len()
    );
    assert_eq!(r.sent, sent.len());
    let mut total = 0;
    for v in &sent {
        let text = v["textcard"]["description"].as_str().unwrap();
        total += regex_lite::Regex::new(r"您有 (\d+) 条新消息")
            .unwrap()
            .captures(text)
            .map_or(1, |c| c[1].parse::<usize>().unwrap());
    }
    assert_eq!(total, 40, "every message went, alone or in a digest");
    assert_eq!(
        app.count("outbox_deliveries WHERE state = 'merged'"),
        40 - sent.len() as i64
    );
}

/// Nothing about an anonymous grievance or letter reaches the outbox, whoever is told of it
/// and whatever step; a named grievance goes out as the kind's fixed text, never its title.
#[actix_web::test]
async fn an_anonymous_case_or_letter_sends_nothing_external() {
    let mut app = spawn_base().await;
    everyone_agrees(&app.state);
    app.login_ok("demo-member").await;
    let token = zhijia::auth::random_token(16);
    let unit = crate::builders::unit_id(&mut app.conn(), "第一工程公司工会").to_string();
    let fields = [
        ("submit_token", token.as_str()),
        ("category", "pay"),
        ("title", "举报车间主任克扣加班费"),
        (
            "description",
            "三月份加班费至今未发放，车间主任说要等年底统一结算。",
        ),
        ("desired_outcome", "足额发放"),
        ("anonymous", "1"),
        ("unit_id", unit.as_str()),
    ];
    app.post_multipart("/grievances/new", &fields, &[])
        .await
        .assert_status(200)
        .assert_contains("回执码");
    app.post(
        "/mailbox",
        &[
            ("unit_id", &unit),
            ("subject", "反映班组长作风问题"),
            ("body", "班组长经常当众辱骂职工，大家敢怒不敢言。"),
            ("anonymous", "1"),
        ],
    )
    .await
    .assert_status(200);
    assert!(
        app.count("notifications") > 0,
        "the cadres are told in the portal"
    );
    assert_eq!(app.count("outbox_messages"), 0);
    // A cadre's steps on the anonymous case tell nobody outside either.
    app.logout().await;
    app.login_ok("demo-chair").await;
    let case: String = {
        use zhijia::db::schema::grievances as g;
        g::table
            .filter(g::anonymous.eq(true))
            .select(g::public_ref)
            .first(&mut app.conn())
            .unwrap()
    };
    let notes_before = app.count("notifications");
    let version = zhijia::grievances::model::find_by_ref(&mut app.conn(), &case)
        .unwrap()
        .unwrap()
        .version
        .to_string();
    app.post(
        &format!("/admin/grievances/{case}/act"),
        &[
            ("action", "escalate"),
            ("version", &version),
            ("text", "上报集团工会"),
        ],
    )
    .await
    .assert_status(303);
    assert!(app.count("notifications") > notes_before);
    assert_eq!(app.count("outbox_messages"), 0);
    // `zhijia check` walks the rows for the same promise: clean now, and it would see a message
    // that opened a notification about the anonymous case.
    let outbox_violations = |app_conn: &mut zhijia::db::DbConnection| {
        zhijia::invariants::check(app_conn)
            .unwrap()
            .into_iter()
            .filter(|v| v.what == "outbox message")
            .count()
    };
    assert_eq!(outbox_violations(&mut app.conn()), 0);
    let leaked: String = notifications::table
        .filter(notifications::link.like(format!("%{case}%")))
        .select(notifications::public_ref)
        .first(&mut app.conn())
        .unwrap();
    let mut conn = app.conn();
    zhijia::db::write_tx(&mut conn, |c| {
        diesel::insert_into(m::table)
            .values((
                m::member_id.eq(app.member_id("demo-chair")),
                m::kind.eq("approval"),
                m::title.eq("x"),
                m::link.eq(format!("/notifications/{leaked}")),
                m::urgent.eq(false),
                m::created_at.eq(app.state.config.clock.now()),
            ))
            .execute(c)?;
        assert_eq!(outbox_violations(c), 1);
        Err::<(), _>(zhijia::error::AppError::Conflict("roll back".into()))
    })
    .unwrap_err();
    drop(conn);
    // A named case: out as the fixed text, the title stays in the portal.
    app.logout().await;
    app.login_ok("demo-member").await;
    let token = zhijia::auth::random_token(16);
    let mut named: Vec<(&str, &str)> = fields[..5].to_vec();
    named[0] = ("submit_token", &token);
    app.post_multipart("/grievances/new", &named, &[])
        .await
        .assert_status(303);
    let titles: Vec<String> = m::table.select(m::title).load(&mut app.conn()).unwrap();
    assert!(!titles.is_empty());
    assert!(
        titles.iter().all(|t| t == Kind::Approval.generic_text()),
        "{titles:?}"
    );
}

#[actix_web::test]
async fn the_member_sets_consent_preferences_quiet_hours_and_bindings() {
    let fakes = Fakes::start();
    let mut app = spawn_base_with(|c| c.channels = fakes.channels()).await;
    let member = app.member_id("demo-member");
    app.login_ok("demo-member").await;
    app.get("/me/channels")
        .await
        .assert_status(200)
        .assert_contains("同意接收站外提醒");
    app.post("/me/channels/consent", &[("given", "1")])
        .await
        .assert_status(303);
    assert!(model::profile(&mut app.conn(), member).unwrap().consent);
    assert_eq!(app.audit_count("channel.consent"), 1);
    // Bad values come back as a 422 with the message, nothing saved.
    app.post(
        "/me/channels",
        &[
            ("kind_progress", "pigeon"),
            ("quiet_start", "25:00"),
            ("quiet_end", "07:00"),
        ],
    )
    .await
    .assert_status(422)
    .assert_contains("请选择列表中的渠道")
    .assert_contains("免打扰时段");
    app.post(
        "/me/channels",
        &[
            ("kind_progress", "sms"),
            ("kind_social", "email"),
            ("kind_notice", "off"),
            ("quiet_start", "23:00"),
            ("quiet_end", "06:00"),
        ],
    )
    .await
    .assert_status(303);
    let mut prefs = model::prefs(&mut app.conn(), member).unwrap();
    prefs.sort_by_key(|(k, _)| k.as_str());
    assert_eq!(
        prefs,
        [
            (Kind::Notice, vec![]),
            (Kind::Progress, vec![Channel::Sms]),
            (Kind::Social, vec![Channel::Email])
        ]
    );
    let p = model::profile(&mut app.conn(), member).unwrap();
    assert_eq!((p.quiet_start, p.quiet_end), (23 * 60, 6 * 60));
    app.post("/me/channels/email", &[("address", "not an address")])
        .await
        .assert_status(422)
        .assert_contains("请填写正确的邮箱地址");
    app.post("/me/channels/email", &[("address", "wang@ex@ample.test")])
        .await
        .assert_status(422)
        .assert_contains("请填写正确的邮箱地址");
    // An address is bound only once its owner opens the link mailed to it.
    app.post("/me/channels/email", &[("address", "Wang@Example.test")])
        .await
        .assert_status(303);
    app.get("/me/channels")
        .await
        .assert_contains("待确认：wa***@example.test")
        .assert_ok_without("Wang@Example.test");
    assert!(model::bindings(&mut app.conn(), member).unwrap().is_empty());
    let r = drain(&sender(&app.state));
    assert_eq!(
        r.sent, 1,
        "only the confirmation goes to the address: {r:?}"
    );
    let mail = fakes.accepted("smtp");
    assert_eq!(mail.len(), 1);
    assert!(mail[0]["data"]
        .as_str()
        .unwrap()
        .contains("To: wang@example.test"));
    let link: String = m::table
        .filter(m::member_id.eq(member))
        .filter(m::kind.eq("account"))
        .select(m::link)
        .first(&mut app.conn())
        .unwrap();
    let code = link
        .strip_prefix("/me/channels/email/confirm?code=")
        .unwrap()
        .to_string();
    let confirm = format!("/me/channels/email/confirm?code={code}");
    // Opening the link changes nothing (mail scanners open links); a wrong code is refused.
    app.get(&confirm)
        .await
        .assert_status(200)
        .assert_contains("确认绑定");
    assert!(model::bindings(&mut app.conn(), member).unwrap().is_empty());
    app.post("/me/channels/email/confirm", &[("code", "WRONGCODE")])
        .await
        .assert_status(422)
        .assert_contains("确认链接无效或已过期");
    // Another member cannot use the code, nor take the address pending or bound.
    app.logout().await;
    app.login_ok("demo-member-b").await;
    app.get(&confirm).await.assert_status(422);
    app.post("/me/channels/email/confirm", &[("code", code.as_str())])
        .await
        .assert_status(422);
    app.post("/me/channels/email", &[("address", "wang@example.test")])
        .await
        .assert_status(422)
        .assert_contains("请先同意");
    app.post("/me/channels/consent", &[("given", "1")])
        .await
        .assert_status(303);
    app.logout().await;
    app.login_ok("demo-member").await;
    app.post("/me/channels/email/confirm", &[("code", code.as_str())])
        .await
        .assert_status(303);
    app.get("/me/channels")
        .await
        .assert_contains("邮箱已绑定")
        .assert_contains("wa***@example.test")
        .assert_ok_without("待确认");
    assert_eq!(model::bindings(&mut app.conn(), member).unwrap().len(), 1);
    // The code is used up.
    app.post("/me/channels/email/confirm", &[("code", code.as_str())])
        .await
        .assert_status(422);
    // Three confirmation mails a day to one address, whoever asks.
    for _ in 0..2 {
        app.post("/me/channels/email", &[("address", "other@example.test")])
            .await
            .assert_status(303);
    }
    app.post("/me/channels/email", &[("address", "other@example.test")])
        .await
        .assert_status(303);
    app.post("/me/channels/email", &[("address", "other@example.test")])
        .await
        .assert_status(422)
        .assert_contains("24 小时内已收到 3 封确认邮件");
    app.logout().await;
    app.login_ok("demo-member-b").await;
    app.post("/me/channels/email", &[("address", "wang@example.test")])
        .await
        .assert_status(422)
        .assert_contains("已被其他会员绑定");
    app.post("/me/channels/pigeon/unbind", &[])
        .await
        .assert_status(404);
    // Unbinding acts on the caller's own binding only: the other member's e-mail stays.
    app.post("/me/channels/email/unbind", &[])
        .await
        .assert_status(303);
    assert_eq!(model::bindings(&mut app.conn(), member).unwrap().len(), 1);
    app.logout().await;
    app.login_ok("demo-member").await;
    app.post("/me/channels/email/unbind", &[])
        .await
        .assert_status(303);
    assert!(model::bindings(&mut app.conn(), member).unwrap().is_empty());
    app.post("/me/channels/consent", &[("given", "0")])
        .await
        .assert_status(303);
    assert_eq!(model::consents(&mut app.conn(), member).unwrap().len(), 2);
}

#[actix_web::test]
async fn the_administrator_sees_channels_without_secrets_and_can_test_and_switch_them() {
    let fakes = Fakes::start();
    let mut app = spawn_base_with(|c| c.channels = fakes.channels()).await;
    let secrets = [
        "wecom-secret-value",
        "wechat-secret-value",
        crate::fakes::SMS_KEY,
    ];
    let debug = format!("{:?}", app.state.config);
    for s in secrets {
        assert!(!debug.contains(s), "{s} in the configuration's Debug");
    }
    app.login_ok("demo-member").await;
    app.get("/admin/settings/channels").await.assert_status(403);
    app.logout().await;
    app.login_ok("demo-admin").await;
    let page = app.get("/admin/settings/channels").await;
    page.assert_status(200).assert_contains("已配置");
    for s in secrets.iter().chain([&fakes.url.as_str()]) {
        page.assert_ok_without(s);
    }
    // The test message goes through the outbox like any other.
    let admin = app.member_id("demo-admin");
    model::set_consent(&mut app.conn(), admin, true, app.state.config.clock.now()).unwrap();
    model::bind(
        &mut app.conn(),
        admin,
        Channel::Wecom,
        "admin",
        app.state.config.clock.now(),
    )
    .unwrap();
    app.post("/admin/settings/channels/test", &[])
        .await
        .assert_status(303);
    assert_eq!(drain(&sender(&app.state)).sent, 1);
    assert_eq!(fakes.accepted("wecom").len(), 1);
    // Switched off: planned for nothing.
    app.post(
        "/admin/settings/channels",
        &[("on_sms", "1"), ("tpl_progress", "abc<script>")],
    )
    .await
    .assert_status(303);
    let enabled = Sender::enabled(&mut app.conn(), &app.state.config).unwrap();
    assert_eq!(enabled, [Channel::Sms]);
    assert_eq!(
        zhijia::settings::get(&mut app.conn(), "channels.wechat.template.progress")
            .unwrap()
            .as_deref(),
        Some("abcscript")
    );
    app.post("/admin/settings/channels/test", &[])
        .await
        .assert_status(303);
    let r = drain(&sender(&app.state));
    assert_eq!(r.sent, 0, "the administrator has no phone and WeCom is off");
    app.get("/admin/settings/channels")
        .await
        .assert_contains("近30天已发");
}

/// Start a sign-in from the menu; returns the `state` the provider would send back.
async fn start_oauth<S, B>(app: &mut TestApp<S>, provider: &str, next: &str) -> String
where
    S: actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<B>,
        Error = actix_web::Error,
    >,
    B: actix_web::body::MessageBody,
{
    let r = app
        .get(&format!("/auth/{provider}/start?next={next}"))
        .await;
    r.assert_status(303);
    let to = r.location().to_string();
    assert!(to.starts_with(zhijia::channels::oauth::AUTHORIZE), "{to}");
    assert!(
        to.contains("redirect_uri=https%3A//union.example.test/auth/"),
        "{to}"
    );
    assert!(
        to.contains("scope=snsapi_base") && to.ends_with("#wechat_redirect"),
        "{to}"
    );
    regex_lite::Regex::new(r"state=([0-9a-f]{32})")
        .unwrap()
        .captures(&to)
        .unwrap()[1]
        .to_string()
}

#[actix_web::test]
async fn wecom_sign_in_binds_once_then_signs_in_by_code_and_refuses_replays_and_forgeries() {
    let fakes = Fakes::start();
    let mut app = spawn_base_with(|c| c.channels = fakes.channels()).await;
    app.session_may_end = true;
    let member = app.member_id("demo-member");
    // First time: the code names a WeCom user nobody bound; the member signs in once.
    let state = start_oauth(&mut app, "wecom", "/activities").await;
    fakes.with(|f| f.codes.insert("CODE1".into(), "WangXM".into()));
    let r = app
        .get(&format!("/auth/wecom/callback?code=CODE1&state={state}"))
        .await;
    r.assert_status(303);
    assert_eq!(r.location(), "/login?next=/me/channels/bind");
    assert!(!app.cookies.contains_key("zj_session"));
    app.login_ok("demo-member").await;
    app.get("/me/channels/bind")
        .await
        .assert_status(200)
        .assert_contains("确认绑定");
    app.post("/me/channels/bind", &[]).await.assert_status(303);
    assert_eq!(
        model::bindings(&mut app.conn(), member)
            .unwrap()
            .first()
            .map(|b| (b.0, b.1.clone())),
        Some((Channel::Wecom, "WangXM".to_string()))
    );
    assert_eq!(app.audit_count("channel.bind"), 1);
    app.logout().await;
    // From then on the menu signs the member in: the same session as a password, audited alike.
    let logins = app.audit_count("login.success");
    let state = start_oauth(&mut app, "wecom", "/activities").await;
    fakes.with(|f| f.codes.insert("CODE2".into(), "WangXM".into()));
    let r = app
        .get(&format!("/auth/wecom/callback?code=CODE2&state={state}"))
        .await;
    r.assert_status(303);
    assert_eq!(r.location(), "/activities");
    app.get("/me")
        .await
        .assert_status(200)
        .assert_contains("王小明");
    assert_eq!(app.audit_count("login.success"), logins + 1);
    app.logout().await;
    // The same code again: refused, even with a fresh state.
    let state = start_oauth(&mut app, "wecom", "/").await;
    app.get(&format!("/auth/wecom/callback?code=CODE2&state={state}"))
        .await
        .assert_status(403)
        .assert_contains("已经用过");
    // A wrong state (a link forged elsewhere, or another browser's): refused before any lookup.
    let _ = start_oauth(&mut app, "wecom", "/").await;
    fakes.with(|f| f.codes.insert("CODE3".into(), "WangXM".into()));
    app.get("/auth/wecom/callback?code=CODE3&state=0123456789abcdef0123456789abcdef")
        .await
        .assert_status(403);
    app.cookies.remove("zj_oauth");
    app.get("/auth/wecom/callback?code=CODE3&state=")
        .await
        .assert_status(403);
    assert!(!app.cookies.contains_key("zj_session"));
    assert!(
        fakes.with(|f| f.codes.contains_key("CODE3")),
        "the code was never sent to WeCom"
    );
    // An outside contact (no userid) is never signed in.
    let state = start_oauth(&mut app, "wecom", "/").await;
    fakes.with(|f| f.codes.insert("CODE4".into(), "wmOUTSIDER".into()));
    app.get(&format!("/auth/wecom/callback?code=CODE4&state={state}"))
        .await
        .assert_status(403);
    // The return path cannot leave the site.
    for evil in [
        "//evil.example/x",
        "https://evil.example",
        "/\\evil.example",
    ] {
        let state = start_oauth(&mut app, "wecom", &zhijia::text::url_encode(evil)).await;
        fakes.with(|f| f.codes.insert("CODE5".into(), "WangXM".into()));
        let r = app
            .get(&format!("/auth/wecom/callback?code=CODE5&state={state}"))
            .await;
        r.assert_status(303);
        assert_eq!(r.location(), "/", "{evil}");
        app.logout().await;
        zhijia::db::write_tx(&mut app.conn(), |c| {
            diesel::delete(zhijia::db::schema::oauth_codes::table).execute(c)?;
            Ok(())
        })
        .unwrap();
    }
    // A return path in Chinese (a search) survives the round trip.
    let state = start_oauth(&mut app, "wecom", "/search%3Fq%3D%E5%B7%A5%E4%BC%9A").await;
    fakes.with(|f| f.codes.insert("CODE7".into(), "WangXM".into()));
    let r = app
        .get(&format!("/auth/wecom/callback?code=CODE7&state={state}"))
        .await;
    r.assert_status(303);
    assert!(r.location().starts_with("/search?q="), "{}", r.location());
    app.logout().await;
    // Unbound: the next code leads to the password again.
    app.login_ok("demo-member").await;
    app.post("/me/channels/wecom/unbind", &[])
        .await
        .assert_status(303);
    app.logout().await;
    let state = start_oauth(&mut app, "wecom", "/").await;
    fakes.with(|f| f.codes.insert("CODE6".into(), "WangXM".into()));
    let r = app
        .get(&format!("/auth/wecom/callback?code=CODE6&state={state}"))
        .await;
    assert_eq!(r.location(), "/login?next=/me/channels/bind");
    // A forged bind cookie binds nothing.
    app.cookies.insert(
        "zj_bind".into(),
        format!("wecom|boss|{}|{}", i64::MAX, "0".repeat(64)),
    );
    app.login_ok("demo-member-b").await;
    app.post("/me/channels/bind", &[]).await.assert_status(303);
    assert!(
        model::bindings(&mut app.conn(), app.member_id("demo-member-b"))
            .unwrap()
            .is_empty()
    );
}

#[actix_web::test]
async fn wechat_sign_in_by_openid_and_an_unconfigured_provider_is_not_found() {
    let fakes = Fakes::start();
    let mut app = spawn_base_with(|c| c.channels = fakes.channels()).await;
    app.session_may_end = true;
    let member = app.member_id("demo-member-b");
    model::bind(
        &mut app.conn(),
        member,
        Channel::Wechat,
        "o-li-openid",
        app.state.config.clock.now(),
    )
    .unwrap();
    let state = start_oauth(&mut app, "wechat", "/me").await;
    fakes.with(|f| f.codes.insert("WXCODE".into(), "o-li-openid".into()));
    let r = app
        .get(&format!("/auth/wechat/callback?code=WXCODE&state={state}"))
        .await;
    assert_eq!(r.location(), "/me");
    app.get("/me").await.assert_contains("李晓红");
    let mut plain = spawn_base().await;
    plain.get("/auth/wecom/start").await.assert_status(404);
    plain.get("/auth/sms/start").await.assert_status(404);
}

/// A mandatory notice (no in-app notification: the home page lists it) goes once to each
/// member of its audience who consented and has not read it, and never twice.
#[actix_web::test]
async fn a_mandatory_notice_reaches_its_audience_once() {
    let fakes = Fakes::start();
    let app = spawn_base_with(|c| c.channels = fakes.channels()).await;
    let (me, other) = (app.member_id("demo-member"), app.member_id("demo-member-b"));
    reachable(&app.state, me);
    let id = app.with(|c, now| {
        crate::builders::article(
            c,
            now,
            "第一工程公司工会",
            "关于开展安全生产月活动的通知",
            "全体职工必读。",
            false,
        )
    });
    let unread_only = app.with(|c, now| {
        crate::builders::article(
            c,
            now,
            "中建华能集团工会",
            "已读过的必读通知",
            "正文",
            false,
        )
    });
    app.with(|c, now| {
        use zhijia::db::schema::news_articles as a;
        diesel::update(a::table.filter(a::id.eq_any([id, unread_only])))
            .set(a::mandatory.eq(true))
            .execute(c)
            .unwrap();
        zhijia::news::model::record_read(c, unread_only, me, now).unwrap();
    });
    let s = sender(&app.state);
    let r = drain(&s);
    assert_eq!((r.planned, r.sent), (1, 2), "WeCom and e-mail: {r:?}");
    let sent = fakes.accepted("wecom");
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0]["textcard"]["url"],
        format!("{PUBLIC_URL}/news/{id}")
    );
    assert_eq!(
        sent[0]["textcard"]["description"],
        "关于开展安全生产月活动的通知"
    );
    let to: Vec<i32> = m::table.select(m::member_id).load(&mut app.conn()).unwrap();
    assert_eq!(to, [me], "member {other} gave no consent");
    app.state.config.clock.advance(600);
    assert!(!drain(&s).busy());
    assert_eq!(fakes.accepted("wecom").len(), 1);
}
