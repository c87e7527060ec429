//! One small adapter per channel: each turns one due delivery into one provider request and
//! the provider's answer into an `Outcome`.

pub mod email;
pub mod sms;
pub mod wechat;
pub mod wecom;

use std::collections::HashMap;

use super::http::{Outcome, Tokens};
use super::kind::{Channel, Kind};
use super::model::Due;
use crate::config::ChannelsConfig;

/// What every adapter may use.
pub struct Ctx<'a> {
    pub agent: &'a ureq::Agent,
    pub tokens: &'a Tokens,
    pub channels: &'a ChannelsConfig,
    pub public_url: &'a str,
    /// WeChat template id per kind (set by an administrator).
    pub templates: &'a HashMap<Kind, String>,
}

impl Ctx<'_> {
    /// The page the message opens: its notification (read on opening), or the list for a
    /// digest (marked with the delivery's key: two digests alike would be one duplicate to
    /// WeCom's check, and the second dropped).
    pub fn url(&self, x: &Due) -> String {
        if x.merged > 0 {
            format!("{}/notifications?d={}", self.public_url, x.idem_key)
        } else {
            format!("{}{}", self.public_url, x.link)
        }
    }

    /// The text: the message's own, or the digest's count.
    pub fn text(x: &Due) -> String {
        if x.merged > 0 {
            format!("您有 {} 条新消息，请点开查看。", x.merged.saturating_add(1))
        } else {
            x.title.clone()
        }
    }
}

pub fn send(ctx: &Ctx<'_>, x: &Due) -> Outcome {
    match x.channel {
        Channel::Wecom => wecom::send(ctx, x),
        Channel::Wechat => wechat::send(ctx, x),
        Channel::Sms => sms::send(ctx, x),
        Channel::Email => email::send(ctx, x),
    }
}

/// The channels this instance can send on.
pub fn configured(c: &ChannelsConfig) -> Vec<Channel> {
    let mut out = Vec::new();
    if c.wecom.is_some() {
        out.push(Channel::Wecom);
    }
    if c.wechat.is_some() {
        out.push(Channel::Wechat);
    }
    if c.sms.is_some() {
        out.push(Channel::Sms);
    }
    if c.smtp.is_some() {
        out.push(Channel::Email);
    }
    out
}
