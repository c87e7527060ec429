//! What the outbox sends and by which road: the kind of event (a member's preferences are per
//! kind), how much of it may leave the portal, the channels and a delivery's states.

crate::text_enum! {
    /// The kinds of event a member chooses channels for.
    pub enum Kind {
        Progress = ("progress", "我的申诉、申请、提案和来信有进展"),
        Waitlist = ("waitlist", "活动候补转为正式报名"),
        Notice = ("notice", "必读通知"),
        Approval = ("approval", "有待我处理的审批（干部）"),
        Account = ("account", "账户安全（密码重置等）"),
        Social = ("social", "联名、互动等其他消息"),
    }
}

impl Kind {
    /// On unless the member turns it off; social messages are off unless turned on.
    pub fn on_by_default(self) -> bool {
        self != Kind::Social
    }

    /// Urgent kinds are not held for quiet hours.
    pub fn urgent(self) -> bool {
        self == Kind::Account
    }

    /// The fixed text sent instead of the title where the title may say too much.
    pub fn generic_text(self) -> &'static str {
        match self {
            Kind::Progress => "您在职工之家办理的事项有新进展，请点开查看。",
            Kind::Waitlist => "您候补的活动有名额了，请点开查看。",
            Kind::Notice => "职工之家有一则必读通知，请点开查看。",
            Kind::Approval => "职工之家有一项待您处理的事项，请点开查看。",
            Kind::Account => "您的职工之家账户有变更，请点开查看。",
            Kind::Social => "职工之家有一条新消息，请点开查看。",
        }
    }

    /// A cadre's work lives under /admin; everything else a member is told is about their own
    /// case, request or sign-up.
    pub fn of_link(link: &str) -> Kind {
        if link.starts_with("/admin") {
            Kind::Approval
        } else {
            Kind::Progress
        }
    }
}

/// How much of a notification may leave the portal (WeCom, WeChat, SMS, e-mail).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Out {
    /// In the portal only: anything about an anonymous case or letter.
    Never,
    /// The kind's fixed text, never the title: grievances, letters, benefit requests (WeCom is
    /// the employer's system; a title can name an illness or a complaint).
    Generic(Kind),
    /// The title as written.
    Full(Kind),
}

crate::text_enum! {
    /// The roads out of the portal, in the order a message tries them by default.
    pub enum Channel {
        Wecom = ("wecom", "企业微信"),
        Wechat = ("wechat", "微信公众号"),
        Sms = ("sms", "短信"),
        Email = ("email", "电子邮件"),
    }
}

crate::text_enum! {
    /// Where one delivery stands.
    pub enum State {
        Queued = ("queued", "排队中"),
        Held = ("held", "免打扰时段暂缓"),
        Sending = ("sending", "发送中"),
        Retry = ("retry", "等待重试"),
        Sent = ("sent", "已发送"),
        Merged = ("merged", "已合并发送"),
        Failed = ("failed", "发送失败"),
        Skipped = ("skipped", "未发送"),
    }
}

/// Version of the consent text a member agrees to on /me/channels.
pub const CONSENT_VERSION: &str = "2026-12";
