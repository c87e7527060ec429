//! 主席信箱: any member writes to the chair of their company's union or of the group's union,
//! named or anonymous. An anonymous letter uses the anonymous mechanics of grievances: no
//! member, no session or address, the day instead of the time, a receipt code shown once
//! (only its digest kept), the audit row deferred. The chair answers, forwards to a cadre
//! (who answers), or turns it into a grievance; the writer sees the answer; letters whose
//! writer consented may be published with the writer's name removed.

pub mod actions;
pub mod pages;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::audit::{Actor, AuditAction};
use crate::auth::User;
use crate::db::schema::{mailbox_events, mailbox_letters};
use crate::db::{write_tx, DbConnection};
use crate::error::{AppError, AppResult};
use crate::org::Role;
use crate::outbox::{Kind, Out};
use crate::workflow::{date_only, Case, Flow, Line, Transition};

crate::text_enum! {
    pub enum State {
        New = ("new", "待答复"),
        Forwarded = ("forwarded", "已转交办理"),
        Answered = ("answered", "已答复"),
        Converted = ("converted", "已转为维权申诉"),
        Suggested = ("suggested", "已转为提案建议"),
    }
}

crate::text_enum! {
    pub enum Action {
        Answer = ("answer", "答复"),
        Forward = ("forward", "转交干部办理"),
        Convert = ("convert", "转为维权申诉"),
        Suggest = ("suggest", "转为提案建议"),
    }
}

pub static FLOW: Flow<State, Action> = Flow {
    table: "mailbox_letters",
    transitions: &[
        Transition {
            action: Action::Answer,
            from: &[State::New, State::Forwarded],
            to: State::Answered,
        },
        Transition {
            action: Action::Forward,
            from: &[State::New],
            to: State::Forwarded,
        },
        Transition {
            action: Action::Convert,
            from: &[State::New, State::Forwarded],
            to: State::Converted,
        },
        Transition {
            action: Action::Suggest,
            from: &[State::New, State::Forwarded],
            to: State::Suggested,
        },
    ],
};

#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = mailbox_letters)]
pub struct Letter {
    pub id: i32,
    pub member_id: Option<i32>,
    pub anonymous: bool,
    pub unit_id: i32,
    pub subject: String,
    pub body: String,
    pub state: State,
    pub version: i32,
    pub answer: Option<String>,
    pub forwarded_to: Option<i32>,
    pub consent_publish: bool,
    pub published: bool,
    pub created_at: NaiveDateTime,
    /// The random reference in every link: the id is a sequence that would place an anonymous
    /// letter between named ones.
    pub public_ref: String,
}

impl Letter {
    pub fn written_on(&self) -> String {
        crate::time::beijing(&self.created_at, "%Y-%m-%d")
    }
}

impl Case for Letter {
    type State = State;
    type Action = Action;
    fn flow() -> &'static Flow<State, Action> {
        &FLOW
    }
    fn id(&self) -> i32 {
        self.id
    }
    fn state(&self) -> State {
        self.state
    }
    fn version(&self) -> i32 {
        self.version
    }
    fn unit_id(&self) -> i32 {
        self.unit_id
    }
    fn audit_object(&self) -> (&'static str, String) {
        ("mailbox_letter", self.public_ref.clone())
    }
    fn timeline(
        &self,
        conn: &mut DbConnection,
        line: &Line<'_, State>,
        at: NaiveDateTime,
    ) -> AppResult<()> {
        diesel::insert_into(mailbox_events::table)
            .values((
                mailbox_events::letter_id.eq(self.id),
                mailbox_events::kind.eq(line.kind),
                mailbox_events::to_state.eq(line.to.map(State::as_str)),
                mailbox_events::author_id.eq(line.author.0),
                mailbox_events::author_label.eq(line.author.1),
                mailbox_events::body.eq(line.body),
                mailbox_events::created_at.eq(at),
            ))
            .execute(conn)?;
        Ok(())
    }
    fn outward(&self, kind: Kind) -> Out {
        if self.anonymous {
            Out::Never
        } else {
            Out::Generic(kind)
        }
    }
}

/// One line of a letter's timeline: (who, what, when (day), text).
pub type EventRow = (String, Option<String>, NaiveDateTime, String);

pub fn events(conn: &mut DbConnection, id: i32) -> AppResult<Vec<EventRow>> {
    Ok(crate::on_backend!(conn, c => mailbox_events::table
        .filter(mailbox_events::letter_id.eq(id))
        .select((mailbox_events::author_label, mailbox_events::to_state, mailbox_events::created_at, mailbox_events::body))
        .order((mailbox_events::created_at.asc(), mailbox_events::id.asc()))
        .load(c))?)
}

pub fn find(conn: &mut DbConnection, r: &str) -> AppResult<Option<Letter>> {
    Ok(crate::on_backend!(conn, c => mailbox_letters::table
        .filter(mailbox_letters::public_ref.eq(r))
        .select(Letter::as_select())
        .first(c)
        .optional())?)
}

/// The unions a member may write to: their company's union and the group's (the root).
pub fn addressees(conn: &mut DbConnection, user: &User) -> AppResult<Vec<crate::org::OrgUnit>> {
    let root = crate::members::service::ancestor_ids(&user.unit_path)
        .first()
        .copied();
    let company = crate::org::scope::company_of(&user.unit_path);
    let mut out = Vec::new();
    for id in root.into_iter().chain([company]) {
        if let Some(u) = crate::org::model::find(conn, id)? {
            if !out.iter().any(|x: &crate::org::OrgUnit| x.id == u.id) {
                out.push(u);
            }
        }
    }
    Ok(out)
}

#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct WriteForm {
    #[serde(default)]
    pub unit_id: String,
    #[serde(default)]
    pub subject: String,
    #[serde(default)]
    pub body: String,
    #[serde(default)]
    pub anonymous: String,
    #[serde(default)]
    pub consent: String,
}

/// Write a letter. Returns its reference and, for an anonymous one, the receipt (shown once).
pub fn write(
    conn: &mut DbConnection,
    user: &User,
    f: &WriteForm,
    now: NaiveDateTime,
) -> AppResult<(String, Option<String>)> {
    let mut e = crate::forms::FieldErrors::default();
    let subject = crate::text::clean(&f.subject);
    let body = crate::text::clean(&f.body);
    if !(2..=60).contains(&subject.chars().count()) {
        e.add("subject", "主题请写 2 到 60 个字");
    }
    if !(10..=5000).contains(&body.chars().count()) {
        e.add("body", "内容请写 10 到 5000 个字");
    }
    let unit: i32 = f.unit_id.trim().parse().unwrap_or(0);
    if !e.is_empty() {
        return Err(AppError::Fields(e));
    }
    let anonymous = f.anonymous == "1";
    write_tx(conn, |conn| {
        let to = addressees(conn, user)?
            .into_iter()
            .find(|u| u.id == unit)
            .ok_or_else(|| AppError::field("unit_id", "请选择收信的工会"))?;
        let letter = NewLetter {
            user,
            anonymous,
            unit_id: to.id,
            subject: &subject,
            body: &body,
            consent: f.consent == "1",
            // An anonymous letter is stamped with its day only.
            at: if anonymous { date_only(now) } else { now },
        };
        let (public_ref, receipt) = insert_letter(conn, &letter)?;
        announce(conn, &letter, &public_ref, now)?;
        Ok((public_ref, receipt))
    })
}

/// A checked letter about to be stored.
struct NewLetter<'a> {
    user: &'a User,
    anonymous: bool,
    unit_id: i32,
    subject: &'a str,
    body: &'a str,
    consent: bool,
    at: NaiveDateTime,
}

/// The letter and its first timeline line; its reference and, if anonymous, the receipt.
fn insert_letter(
    conn: &mut DbConnection,
    l: &NewLetter<'_>,
) -> AppResult<(String, Option<String>)> {
    let receipt = l.anonymous.then(|| crate::auth::random_token(10));
    let public_ref = crate::auth::random_token(8);
    let writer = (!l.anonymous).then_some(l.user.id);
    let id: i32 = crate::on_backend!(conn, c => diesel::insert_into(mailbox_letters::table)
        .values((
            mailbox_letters::member_id.eq(writer),
            mailbox_letters::anonymous.eq(l.anonymous),
            mailbox_letters::receipt_hash.eq(receipt.as_deref().map(receipt_hash)),
            mailbox_letters::unit_id.eq(l.unit_id),
            mailbox_letters::subject.eq(l.subject),
            mailbox_letters::body.eq(l.body),
            mailbox_letters::state.eq(State::New),
            mailbox_letters::consent_publish.eq(l.consent),
            mailbox_letters::created_at.eq(l.at),
            mailbox_letters::updated_at.eq(l.at),
            mailbox_letters::public_ref.eq(&public_ref),
        ))
        .returning(mailbox_letters::id)
        .get_result(c))?;
    let label = if l.anonymous {
        crate::audit::ANONYMOUS
    } else {
        l.user.name.as_str()
    };
    diesel::insert_into(mailbox_events::table)
        .values((
            mailbox_events::letter_id.eq(id),
            mailbox_events::kind.eq("state"),
            mailbox_events::to_state.eq(State::New.as_str()),
            mailbox_events::author_id.eq(writer),
            mailbox_events::author_label.eq(label),
            mailbox_events::body.eq("来信"),
            mailbox_events::created_at.eq(l.at),
        ))
        .execute(conn)?;
    Ok((public_ref, receipt))
}

/// Audit the letter (deferred and dated by the day when anonymous) and tell the chairs.
fn announce(
    conn: &mut DbConnection,
    l: &NewLetter<'_>,
    public_ref: &str,
    now: NaiveDateTime,
) -> AppResult<()> {
    if l.anonymous {
        crate::audit::record_anonymous(
            conn,
            Some(l.unit_id),
            AuditAction::MailboxWrite,
            ("mailbox_letter", public_ref),
            "",
            now,
        )?;
    } else {
        crate::audit::record_as(
            conn,
            &Actor::user(l.user, None, now),
            Some(l.unit_id),
            AuditAction::MailboxWrite,
            ("mailbox_letter", Some(public_ref)),
            l.subject,
        )?;
    }
    let chairs =
        crate::org::model::role_holders(conn, crate::db::ids::UnitId(l.unit_id), &[Role::Chair])?;
    for chair in chairs {
        crate::notifications::notify(
            conn,
            chair.0,
            &format!("主席信箱来信：{}", l.subject),
            &format!("/admin/mailbox/{public_ref}"),
            l.at,
            if l.anonymous {
                Out::Never
            } else {
                Out::Generic(Kind::Approval)
            },
        )?;
    }
    Ok(())
}

fn receipt_hash(r: &str) -> String {
    crate::auth::digest(&[
        b"zhijia-mailbox",
        crate::grievances::service::normalize_receipt(r).as_bytes(),
    ])
}

/// The anonymous letter behind a receipt.
pub fn by_receipt(conn: &mut DbConnection, receipt: &str) -> AppResult<Letter> {
    let h = receipt_hash(receipt);
    let found: Option<Letter> = crate::on_backend!(conn, c => mailbox_letters::table
        .filter(mailbox_letters::receipt_hash.eq(h))
        .select(Letter::as_select())
        .first(c)
        .optional())?;
    found.ok_or(AppError::NotFound)
}

/// The writer's own named letters, newest first.
pub fn mine(conn: &mut DbConnection, user: &User) -> AppResult<Vec<Letter>> {
    Ok(crate::on_backend!(conn, c => mailbox_letters::table
        .filter(mailbox_letters::member_id.eq(user.id))
        .select(Letter::as_select())
        .order((mailbox_letters::created_at.desc(), mailbox_letters::public_ref.asc()))
        .limit(200)
        .load(c))?)
}

/// Letters the user handles, one page of them, newest first: to a union where they are chair,
/// or forwarded to them (all for an administrator). Filtered in SQL before the page is cut, so
/// no flood of letters to one union hides another's; ordered by time and the random reference.
pub fn for_staff(
    conn: &mut DbConnection,
    user: &User,
    pager: &crate::forms::Pager,
) -> AppResult<Vec<Letter>> {
    let chaired = chaired(user);
    let admin = user.is_admin;
    let uid = user.id;
    Ok(crate::on_backend!(conn, c => {
        let mut q = mailbox_letters::table.into_boxed();
        if !admin {
            q = q.filter(
                mailbox_letters::unit_id
                    .eq_any(&chaired)
                    .or(mailbox_letters::forwarded_to.eq(uid)),
            );
        }
        q.select(Letter::as_select())
            .order((mailbox_letters::created_at.desc(), mailbox_letters::public_ref.asc()))
            .limit(pager.per_page)
            .offset(pager.offset())
            .load(c)
    })?)
}

/// The unions where the user is chair (whose letters they handle).
pub(super) fn chaired(user: &User) -> Vec<i32> {
    user.roles
        .iter()
        .filter(|r| r.role == Role::Chair)
        .map(|r| r.unit_id)
        .collect()
}

/// How many letters `for_staff` pages through.
pub fn count_for_staff(conn: &mut DbConnection, user: &User) -> AppResult<i64> {
    let chaired = chaired(user);
    let mut q = mailbox_letters::table.into_boxed();
    if !user.is_admin {
        q = q.filter(
            mailbox_letters::unit_id
                .eq_any(chaired)
                .or(mailbox_letters::forwarded_to.eq(user.id)),
        );
    }
    Ok(q.count().get_result(conn)?)
}

/// The chair of the addressed union (or an administrator), or the cadre it was forwarded to.
pub fn handles(user: &User, l: &Letter) -> bool {
    user.is_admin || l.forwarded_to == Some(user.id) || chaired(user).contains(&l.unit_id)
}

/// Letters offered to the delegates as proposal suggestions (subject and text only), newest
/// first.
pub fn suggestions(conn: &mut DbConnection) -> AppResult<Vec<Letter>> {
    Ok(crate::on_backend!(conn, c => mailbox_letters::table
        .filter(mailbox_letters::state.eq(State::Suggested))
        .select(Letter::as_select())
        .order((mailbox_letters::created_at.desc(), mailbox_letters::public_ref.asc()))
        .limit(50)
        .load(c))?)
}

/// Published letters (writer's consent, chair's choice), newest first, without names.
pub fn published(conn: &mut DbConnection) -> AppResult<Vec<Letter>> {
    Ok(crate::on_backend!(conn, c => mailbox_letters::table
        .filter(mailbox_letters::published.eq(true))
        .filter(mailbox_letters::consent_publish.eq(true))
        .select(Letter::as_select())
        .order((mailbox_letters::created_at.desc(), mailbox_letters::public_ref.asc()))
        .limit(100)
        .load(c))?)
}

pub use actions::{act, Step};

/// The demo's mailbox: a named letter answered and published, one forwarded, one new, and an
/// anonymous one.
pub fn seed_demo(conn: &mut DbConnection, now: NaiveDateTime) -> AppResult<usize> {
    let load = crate::auth::user::by_employee_no;
    let member = load(conn, "demo-member")?;
    let other = load(conn, "demo-member-b")?;
    let chair = load(conn, "demo-chair")?;
    let company = addressees(conn, &member)?
        .into_iter()
        .last()
        .ok_or(AppError::NotFound)?
        .id
        .to_string();
    let day = |d: i64| crate::time::minus(now, chrono::Duration::days(d));
    let letter = |subject: &str, body: &str, anonymous: bool, consent: bool| WriteForm {
        unit_id: company.clone(),
        subject: subject.into(),
        body: body.into(),
        anonymous: if anonymous { "1".into() } else { String::new() },
        consent: if consent { "1".into() } else { String::new() },
    };
    let (a, _) = write(
        conn,
        &member,
        &letter(
            "建议延长食堂晚餐时间",
            "项目加班的同事下班时食堂已经关门，建议晚餐供应到八点。",
            false,
            true,
        ),
        day(20),
    )?;
    let actor = Actor::user(&chair, None, day(18));
    act(
        conn,
        &chair,
        &actor,
        &a,
        0,
        &Step::Answer("已与后勤商定，下月起晚餐供应到八点，周末照常。".into()),
    )?;
    act(conn, &chair, &actor, &a, 1, &Step::Publish(true))?;
    let (b, _) = write(
        conn,
        &other,
        &letter(
            "班车太挤",
            "早班车经常坐不下，希望增加一辆车或者错峰发车。",
            false,
            false,
        ),
        day(6),
    )?;
    let cadre = load(conn, "demo-cadre")?;
    act(
        conn,
        &chair,
        &Actor::user(&chair, None, day(5)),
        &b,
        0,
        &Step::Forward(cadre.id),
    )?;
    write(
        conn,
        &member,
        &letter(
            "关于职工书屋开放时间",
            "职工书屋只在工作日白天开放，上班时间去不了，建议晚上和周末也开放。",
            false,
            true,
        ),
        day(2),
    )?;
    write(
        conn,
        &other,
        &letter(
            "反映班组长作风问题",
            "班组长经常当众训斥职工，言语粗暴，希望工会了解情况。",
            true,
            false,
        ),
        day(1),
    )?;
    Ok(4)
}
