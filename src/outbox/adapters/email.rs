//! E-mail over SMTP (lettre): plain text and HTML, `Message-ID` from the delivery's key. SMTP
//! has no duplicate check, so an e-mail whose sender died mid-send is never sent again
//! (`model::dedupe_window` is zero for e-mail): at most once, shown as failed when in doubt.

use lettre::message::{Mailbox, MultiPart};
use lettre::{Message, SmtpTransport, Transport};

use super::Ctx;
use crate::outbox::http::Outcome;
use crate::outbox::model::Due;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub fn send(ctx: &Ctx<'_>, x: &Due) -> Outcome {
    let Some(cfg) = &ctx.channels.smtp else {
        return Outcome::Failed("邮件服务器未配置".into());
    };
    let Some(to) = x.address.as_deref().and_then(|a| a.parse::<Mailbox>().ok()) else {
        return Outcome::Unreachable("邮箱地址无效".into());
    };
    let Ok(from) = cfg.from.parse::<Mailbox>() else {
        return Outcome::Failed("发件地址 ZHIJIA_MAIL_FROM 无效".into());
    };
    let (text, url) = (Ctx::text(x), ctx.url(x));
    let plain = format!("{text}\n\n{url}\n\n——职工之家（请勿直接回复本邮件）");
    let html = format!(
        "<p>{}</p><p><a href=\"{}\">打开职工之家查看</a></p><p style=\"color:#666\">职工之家（请勿直接回复本邮件）</p>",
        escape(&text),
        escape(&url)
    );
    let msg = Message::builder()
        .from(from)
        .to(to)
        .subject(format!("职工之家：{}", x.kind.label()))
        .message_id(Some(format!("<{}@zhijia>", x.idem_key)))
        .multipart(MultiPart::alternative_plain_html(plain, html));
    let msg = match msg {
        Ok(m) => m,
        Err(e) => return Outcome::Failed(format!("无法组成邮件：{e}")),
    };
    let transport = match SmtpTransport::from_url(&cfg.url.0) {
        Ok(b) => b.timeout(Some(std::time::Duration::from_secs(10))).build(),
        Err(_) => return Outcome::Failed("ZHIJIA_SMTP_URL 无效".into()),
    };
    // A server that cannot be reached has received nothing: worth another try. Once the
    // conversation is under way, a failure may come after the message was accepted.
    if !transport.test_connection().unwrap_or(false) {
        return Outcome::Retry("无法连接邮件服务器".into());
    }
    match transport.send(&msg) {
        Ok(r) => Outcome::Sent(r.message().next().map(|m| crate::text::clip(m, 80))),
        Err(e) if e.is_permanent() => Outcome::Failed(format!(
            "邮件服务器拒收：{}",
            e.status().map(|c| c.to_string()).unwrap_or_default()
        )),
        Err(e) if e.is_transient() => Outcome::Retry(format!(
            "邮件服务器暂不接收：{}",
            e.status().map(|c| c.to_string()).unwrap_or_default()
        )),
        Err(_) => Outcome::Doubt("与邮件服务器的连接中断".into()),
    }
}
