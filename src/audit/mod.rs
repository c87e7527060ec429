//! The append-only audit log. Every state change writes its row through `record`, inside the
//! same transaction as the change itself.

pub mod admin;
pub mod privacy;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::auth::User;
use crate::db::schema::{audit_deferred, audit_log, audit_subjects};
use crate::db::DbConnection;
use crate::error::AppResult;

/// Who did it, and from where.
#[derive(Debug, Clone)]
pub struct Actor {
    pub id: Option<i32>,
    pub name: String,
    pub ip: Option<String>,
    pub now: NaiveDateTime,
}

impl Actor {
    pub fn user(user: &User, ip: Option<String>, now: NaiveDateTime) -> Self {
        Actor {
            id: Some(user.id),
            name: user.name.clone(),
            ip,
            now,
        }
    }

    /// The command line or the system itself (imports, setup, background jobs).
    pub fn system(name: &str, now: NaiveDateTime) -> Self {
        Actor {
            id: None,
            name: name.to_string(),
            ip: None,
            now,
        }
    }
}

#[derive(Insertable)]
#[diesel(table_name = audit_log)]
struct NewAuditEntry<'a> {
    at: NaiveDateTime,
    actor_id: Option<i32>,
    actor_name: &'a str,
    unit_id: Option<i32>,
    action: &'a str,
    object_type: &'a str,
    object_id: Option<&'a str>,
    detail: &'a str,
    ip: Option<&'a str>,
}

/// Append one audit row. Call it inside the transaction that makes the change.
pub fn record(
    conn: &mut DbConnection,
    actor: &Actor,
    unit_id: Option<i32>,
    action: AuditAction,
    object: (&str, Option<i32>),
    detail: &str,
) -> AppResult<()> {
    let object_id = object.1.map(|i| i.to_string());
    record_as(
        conn,
        actor,
        unit_id,
        action,
        (object.0, object_id.as_deref()),
        detail,
    )
}

/// `record` for objects known by a text reference (a case's public reference).
pub fn record_as(
    conn: &mut DbConnection,
    actor: &Actor,
    unit_id: Option<i32>,
    action: AuditAction,
    object: (&str, Option<&str>),
    detail: &str,
) -> AppResult<()> {
    insert_entry(conn, actor, unit_id, action.as_str(), object, detail)?;
    Ok(())
}

/// Another person read a member's personal data (a named letter, an application, a transfer):
/// one audit row, with the member named as its subject when known, so they find it on
/// /me/privacy. Nothing is written when the reader is that member. A read changes nothing else,
/// so the row has its own transaction. Never for anything anonymous: the subject would link it.
pub fn record_view(
    conn: &mut DbConnection,
    actor: &Actor,
    unit_id: Option<i32>,
    action: AuditAction,
    object: (&str, &str),
    subject: Option<i32>,
) -> AppResult<()> {
    if subject.is_some() && subject == actor.id {
        return Ok(());
    }
    crate::db::write_tx(conn, |conn| {
        let id = insert_entry(
            conn,
            actor,
            unit_id,
            action.as_str(),
            (object.0, Some(object.1)),
            "",
        )?;
        if let Some(member) = subject {
            diesel::insert_into(audit_subjects::table)
                .values((
                    audit_subjects::audit_id.eq(id),
                    audit_subjects::member_id.eq(member),
                ))
                .execute(conn)?;
        }
        Ok(())
    })
}

/// The audit row itself (the action as stored: a deferred row carries its code as text).
/// Returns its id.
fn insert_entry(
    conn: &mut DbConnection,
    actor: &Actor,
    unit_id: Option<i32>,
    action: &str,
    object: (&str, Option<&str>),
    detail: &str,
) -> AppResult<i32> {
    Ok(diesel::insert_into(audit_log::table)
        .values(NewAuditEntry {
            at: actor.now,
            actor_id: actor.id,
            actor_name: &actor.name,
            unit_id,
            action,
            object_type: object.0,
            object_id: object.1,
            detail,
            ip: actor.ip.as_deref(),
        })
        .returning(audit_log::id)
        .get_result(conn)?)
}

/// An export that names members: one audit row (who, when, how many) and the members it named,
/// so each of them sees it on /me/privacy.
pub fn record_export(
    conn: &mut DbConnection,
    actor: &Actor,
    unit_id: Option<i32>,
    action: AuditAction,
    object: (&str, Option<i32>),
    members: &[i32],
) -> AppResult<()> {
    let mut members = members.to_vec();
    members.sort_unstable();
    members.dedup();
    let object_id = object.1.map(|i| i.to_string());
    let detail = format!("导出名单 {} 人", members.len());
    let id = insert_entry(
        conn,
        actor,
        unit_id,
        action.as_str(),
        (object.0, object_id.as_deref()),
        &detail,
    )?;
    for chunk in members.chunks(500) {
        let rows: Vec<_> = chunk
            .iter()
            .map(|m| {
                (
                    audit_subjects::audit_id.eq(id),
                    audit_subjects::member_id.eq(*m),
                )
            })
            .collect();
        // A multi-row insert needs the concrete backend (MultiConnection has no batch form).
        crate::on_backend!(conn, c => diesel::insert_into(audit_subjects::table)
            .values(&rows)
            .execute(c))?;
    }
    Ok(())
}

/// The audit row of an anonymous action. It is written now, in the action's transaction, but
/// waits in `audit_deferred` until `release_deferred` moves it into the log at a random moment
/// between one and 25 hours later, dated by day only and with no actor, so neither its id nor its time
/// sits next to the member's own rows (login, page views) in the log.
pub fn record_anonymous(
    conn: &mut DbConnection,
    unit_id: Option<i32>,
    action: AuditAction,
    object: (&str, &str),
    detail: &str,
    now: NaiveDateTime,
) -> AppResult<()> {
    // Between one and 25 hours later: never the moment of the action itself.
    let delay = chrono::Duration::seconds(i64::from(random_below(86_400)).saturating_add(3600));
    diesel::insert_into(audit_deferred::table)
        .values((
            audit_deferred::release_at.eq(crate::time::plus(now, delay)),
            audit_deferred::at.eq(crate::time::date_only(now)),
            audit_deferred::actor_name.eq(ANONYMOUS),
            audit_deferred::unit_id.eq(unit_id),
            audit_deferred::action.eq(action),
            audit_deferred::object_type.eq(object.0),
            audit_deferred::object_id.eq(object.1),
            audit_deferred::detail.eq(detail),
        ))
        .execute(conn)?;
    Ok(())
}

/// The name anonymous actions carry in the log.
pub const ANONYMOUS: &str = "匿名会员";

/// Move the deferred rows that are due into the log, in random order (background job). Each
/// row moves in its own transaction with its deletion, so two instances cannot both move it.
pub fn release_deferred(conn: &mut DbConnection, now: NaiveDateTime) -> AppResult<usize> {
    type Deferred = (
        i32,
        NaiveDateTime,
        String,
        Option<i32>,
        String,
        String,
        Option<String>,
        String,
    );
    let mut due: Vec<Deferred> = audit_deferred::table
        .filter(audit_deferred::release_at.le(now))
        .select((
            audit_deferred::id,
            audit_deferred::at,
            audit_deferred::actor_name,
            audit_deferred::unit_id,
            audit_deferred::action,
            audit_deferred::object_type,
            audit_deferred::object_id,
            audit_deferred::detail,
        ))
        .limit(500)
        .load(conn)?;
    // Fisher–Yates: rows released in one round do not keep the order they were written in.
    for i in (1..due.len()).rev() {
        let j = random_below(u32::try_from(i).unwrap_or(u32::MAX).saturating_add(1)) as usize;
        due.swap(i, j);
    }
    let mut moved = 0usize;
    for (id, at, actor_name, unit_id, action, object_type, object_id, detail) in due {
        let done = crate::db::write_tx(conn, |conn| {
            let gone = diesel::delete(audit_deferred::table.find(id)).execute(conn)?;
            if gone == 0 {
                return Ok(false);
            }
            let actor = Actor {
                id: None,
                name: actor_name.clone(),
                ip: None,
                now: at,
            };
            insert_entry(
                conn,
                &actor,
                unit_id,
                &action,
                (&object_type, object_id.as_deref()),
                &detail,
            )?;
            Ok(true)
        })?;
        if done {
            moved = moved.saturating_add(1);
        }
    }
    Ok(moved)
}

/// A uniformly random number below `n` (n > 0), from the OS source.
fn random_below(n: u32) -> u32 {
    let mut b = [0u8; 8];
    if getrandom::fill(&mut b).is_err() {
        return 0;
    }
    // 64 random bits reduced mod n: the bias is below 2^-32.
    u64::from_le_bytes(b)
        .checked_rem(u64::from(n))
        .and_then(|r| u32::try_from(r).ok())
        .unwrap_or(0)
}

#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = audit_log)]
pub struct AuditEntry {
    pub id: i32,
    pub at: NaiveDateTime,
    pub actor_id: Option<i32>,
    pub actor_name: String,
    pub unit_id: Option<i32>,
    pub action: String,
    pub object_type: String,
    pub object_id: Option<String>,
    pub detail: String,
    pub ip: Option<String>,
}

impl AuditEntry {
    pub fn when(&self) -> String {
        crate::time::beijing(&self.at, "%Y-%m-%d %H:%M:%S")
    }
}

/// Filters of the audit page.
#[derive(Debug, Default, Clone, serde::Deserialize)]
pub struct AuditFilter {
    #[serde(default)]
    pub actor: String,
    #[serde(default)]
    pub action: String,
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
    pub page: Option<i64>,
}

crate::text_enum! {
    /// What an audit row records: one code per kind of step, with its label in the log.
    pub enum AuditAction {
        ActivityCheckin = ("activity.checkin", "活动签到"),
        ActivityCreate = ("activity.create", "新建活动"),
        ActivityUpdate = ("activity.update", "修改活动"),
        ActivityExport = ("activity.export", "导出签到表"),
        BenefitApply = ("benefit.apply", "申请普惠"),
        ChannelConsent = ("channel.consent", "消息提醒同意"),
        ChannelBind = ("channel.bind", "绑定消息渠道"),
        ChannelUnbind = ("channel.unbind", "解除消息渠道"),
        ChannelTest = ("channel.test", "发送测试消息"),
        BenefitApprove = ("benefit.approve", "审批同意"),
        BenefitReject = ("benefit.reject", "审批不同意"),
        BenefitReturn = ("benefit.return", "退回补充"),
        BenefitResubmit = ("benefit.resubmit", "补充材料"),
        BenefitWithdraw = ("benefit.withdraw", "撤回申请"),
        BenefitPay = ("benefit.pay", "标记发放"),
        BenefitViewDetails = ("benefit.view_details", "查看敏感信息"),
        BenefitExportPayouts = ("benefit.export_payouts", "导出待发放清单"),
        BenefitBudget = ("benefit.budget", "设置预算"),
        BenefitItemCreate = ("benefit.item_create", "新增普惠项目"),
        BenefitItemToggle = ("benefit.item_toggle", "启停普惠项目"),
        CheckRepair = ("check.repair", "修复统计数"),
        CommentHide = ("comment.hide", "隐藏评论"),
        CommentRestore = ("comment.restore", "恢复评论"),
        GrievanceSubmit = ("grievance.submit", "提交申诉"),
        GrievanceView = ("grievance.view", "查看申诉"),
        GrievanceAccept = ("grievance.accept", "受理申诉"),
        GrievanceReject = ("grievance.reject", "不予受理"),
        GrievanceReply = ("grievance.reply", "回复申诉"),
        GrievanceNote = ("grievance.note", "内部备注"),
        GrievanceAnswer = ("grievance.answer", "答复申诉"),
        GrievanceAssign = ("grievance.assign", "指派承办人"),
        GrievanceEscalate = ("grievance.escalate", "转办申诉"),
        GrievanceClose = ("grievance.close", "办结申诉"),
        GrievanceMemberReply = ("grievance.member_reply", "会员补充说明"),
        GrievanceRate = ("grievance.rate", "会员评价"),
        GrievanceReopen = ("grievance.reopen", "申请重新办理"),
        LoginSuccess = ("login.success", "登录成功"),
        LoginFailed = ("login.failed", "登录失败"),
        Logout = ("logout", "退出登录"),
        MemberCreate = ("member.create", "新建会员"),
        MemberUpdate = ("member.update", "修改会员"),
        MemberDisable = ("member.disable", "停用会员"),
        MemberEnable = ("member.enable", "启用会员"),
        MemberImport = ("member.import", "导入会员"),
        MemberView = ("member.view", "查看会员资料"),
        MemberDataExport = ("member.data_export", "下载我的数据"),
        MemberExport = ("member.export", "导出名单"),
        MembershipApply = ("membership.apply", "入会申请"),
        MembershipReview = ("membership.review", "入会初审"),
        MembershipReturn = ("membership.return", "入会申请退回"),
        MembershipResubmit = ("membership.resubmit", "入会申请重新提交"),
        MembershipReject = ("membership.reject", "入会申请不予通过"),
        MembershipApprove = ("membership.approve", "批准入会"),
        MembershipStatus = ("membership.status", "会籍变更"),
        MembershipView = ("membership.view", "查看入会申请"),
        TransferStart = ("transfer.start", "发起转会"),
        TransferRelease = ("transfer.release", "转出单位同意"),
        TransferAccept = ("transfer.accept", "转入单位接收"),
        TransferRefuse = ("transfer.refuse", "转会被拒"),
        TransferCancel = ("transfer.cancel", "撤回转会"),
        TransferView = ("transfer.view", "查看转会"),
        CaseHandover = ("case.handover", "转会移交事项"),
        CardCheck = ("card.check", "核验会员证"),
        DuesImport = ("dues.import", "导入会费"),
        MailboxWrite = ("mailbox.write", "主席信箱来信"),
        MailboxAnswer = ("mailbox.answer", "答复来信"),
        MailboxForward = ("mailbox.forward", "转交来信"),
        MailboxConvert = ("mailbox.convert", "来信转为申诉"),
        MailboxPublish = ("mailbox.publish", "公开来信"),
        MailboxSuggest = ("mailbox.suggest", "来信转为提案建议"),
        MailboxView = ("mailbox.view", "查看实名来信"),
        ProposalDraft = ("proposal.draft", "起草提案"),
        ProposalCosign = ("proposal.cosign", "附议提案"),
        ProposalSubmit = ("proposal.submit", "提交提案"),
        ProposalAccept = ("proposal.accept", "提案立案"),
        ProposalConvert = ("proposal.convert", "提案转为意见建议"),
        ProposalMerge = ("proposal.merge", "提案并案"),
        ProposalReject = ("proposal.reject", "提案不予立案"),
        ProposalAssign = ("proposal.assign", "交办提案"),
        ProposalAnswer = ("proposal.answer", "答复提案"),
        ProposalRate = ("proposal.rate", "评价提案答复"),
        ProposalOverdue = ("proposal.overdue", "提案答复超期"),
        DuesExport = ("dues.export", "导出欠缴会费名单"),
        MemberRetire = ("member.retire", "退休保留会籍"),
        MemberLeave = ("member.leave", "退会"),
        MemberAnonymise = ("member.anonymise", "注销个人信息"),
        NewsCreate = ("news.create", "发布资讯"),
        NewsUpdate = ("news.update", "修改资讯"),
        NewsCategory = ("news.category", "资讯栏目"),
        NewsFiles = ("news.files", "资讯附件"),
        NewsExportUnread = ("news.export_unread", "导出未读名单"),
        OrgCreate = ("org.create", "新建组织"),
        OrgRename = ("org.rename", "重命名组织"),
        OrgMove = ("org.move", "移动组织"),
        OrgDisable = ("org.disable", "停用组织"),
        OrgEnable = ("org.enable", "启用组织"),
        PasswordChange = ("password.change", "修改密码"),
        PasswordReset = ("password.reset", "重置密码"),
        RoleGrant = ("role.grant", "授予角色"),
        RoleRevoke = ("role.revoke", "撤销角色"),
        SettingsChange = ("settings.change", "修改设置"),
        SettingsCalendar = ("settings.calendar", "工作日历"),
        SetupAdmin = ("setup.admin", "初始化管理员"),
        ShowcaseSubmit = ("showcase.submit", "提交风采"),
        ShowcaseApprove = ("showcase.approve", "风采审核通过"),
        ShowcaseReject = ("showcase.reject", "风采退回"),
        ShowcaseFeature = ("showcase.feature", "风采设为精选"),
        ShowcaseUnfeature = ("showcase.unfeature", "风采取消精选"),
        SurveyCreate = ("survey.create", "发布问卷"),
        SurveyExport = ("survey.export", "导出实名问卷结果"),
    }
}

/// Zh-CN label of a stored action code (a code no longer written shows as itself).
pub fn action_label(action: &str) -> &str {
    match AuditAction::parse(action) {
        Some(a) => a.label(),
        None => action,
    }
}

/// One page of audit entries matching the filter, newest first. `unit_ids` limits the rows to
/// a cadre's scope; `None` means everything (admins).
pub fn search(
    conn: &mut DbConnection,
    filter: &AuditFilter,
    unit_ids: Option<&[i32]>,
    per_page: i64,
) -> AppResult<(Vec<AuditEntry>, crate::forms::Pager)> {
    let build = |f: &AuditFilter| {
        let mut q = audit_log::table.into_boxed();
        let actor = crate::text::clean_search(&f.actor);
        if !actor.is_empty() {
            q = q.filter(audit_log::actor_name.like(format!("%{actor}%")));
        }
        if let Some(action) = AuditAction::parse(&f.action) {
            q = q.filter(audit_log::action.eq(action));
        }
        if let Ok(d) = crate::time::parse_date_input(&f.from) {
            q = q.filter(audit_log::at.ge(crate::time::day_start(d)));
        }
        if let Ok(d) = crate::time::parse_date_input(&f.to) {
            let end = crate::time::day_start(d.succ_opt().unwrap_or(d));
            q = q.filter(audit_log::at.lt(end));
        }
        if let Some(ids) = unit_ids {
            q = q.filter(audit_log::unit_id.eq_any(ids.to_vec()));
        }
        q
    };
    let total: i64 = build(filter).count().get_result(conn)?;
    let pager = crate::forms::Pager::new(filter.page, per_page, total);
    let rows = build(filter)
        .order(audit_log::id.desc())
        .limit(pager.per_page)
        .offset(pager.offset())
        .select(AuditEntry::as_select())
        .load(conn)?;
    Ok((rows, pager))
}
