//! The standard catalogue a union's benefits start from (生日、结婚、生育、住院、丧葬、退休慰问，
//! 困难帮扶，金秋助学，健身卡补贴): what the demo offers and what tests build on. Cadres add,
//! pause and limit items in the admin area.

use chrono::NaiveDateTime;

use super::model::{insert_item, AmountMode, Frequency, NewBenefitItem};
use crate::db::DbConnection;
use crate::error::AppResult;

/// One catalogue item as configured (an extra chair step above `extra_step_above_fen`).
pub struct Standard {
    pub name: &'static str,
    /// "greeting" (慰问), "aid" (帮扶) or "perk" (普惠).
    pub category: &'static str,
    pub description: &'static str,
    pub amount_mode: AmountMode,
    pub amount_fen: i64,
    pub frequency: Frequency,
    /// What the member fills in, one label per line.
    pub required_fields: &'static str,
    /// What the member uploads, one per line.
    pub required_attachments: &'static str,
    /// Role codes of the approval chain, comma-separated.
    pub steps: &'static str,
    pub extra_step_above_fen: Option<i64>,
    /// Health or bank details: shown only to the approvers and finance.
    pub sensitive: bool,
}

pub const STANDARD: &[Standard] = &[
    Standard {
        name: "生日慰问",
        category: "greeting",
        description: "会员生日当月发放生日慰问。",
        amount_mode: AmountMode::Fixed,
        amount_fen: 30000,
        frequency: Frequency::Yearly,
        required_fields: "",
        required_attachments: "",
        steps: "cadre",
        extra_step_above_fen: None,
        sensitive: false,
    },
    Standard {
        name: "结婚慰问",
        category: "greeting",
        description: "会员本人依法登记结婚。",
        amount_mode: AmountMode::Max,
        amount_fen: 100000,
        frequency: Frequency::Yearly,
        required_fields: "结婚登记日期\n配偶姓名",
        required_attachments: "结婚证",
        steps: "cadre,chair",
        extra_step_above_fen: None,
        sensitive: false,
    },
    Standard {
        name: "生育慰问",
        category: "greeting",
        description: "会员本人或配偶生育子女。",
        amount_mode: AmountMode::Max,
        amount_fen: 100000,
        frequency: Frequency::Yearly,
        required_fields: "出生日期",
        required_attachments: "出生医学证明",
        steps: "cadre,chair",
        extra_step_above_fen: None,
        sensitive: false,
    },
    Standard {
        name: "住院慰问",
        category: "greeting",
        description: "会员因病住院，同一疾病每年慰问一次；超过 1000 元需上级工会主席审批。",
        amount_mode: AmountMode::Max,
        amount_fen: 200000,
        frequency: Frequency::PerEvent,
        required_fields: "住院医院\n住院天数",
        required_attachments: "住院发票或出院小结",
        steps: "cadre,chair",
        extra_step_above_fen: Some(100000),
        sensitive: true,
    },
    Standard {
        name: "丧葬慰问",
        category: "greeting",
        description: "会员或其直系亲属去世。",
        amount_mode: AmountMode::Max,
        amount_fen: 200000,
        frequency: Frequency::PerEvent,
        required_fields: "逝者姓名及关系",
        required_attachments: "",
        steps: "cadre,chair",
        extra_step_above_fen: None,
        sensitive: false,
    },
    Standard {
        name: "退休慰问",
        category: "greeting",
        description: "会员光荣退休。",
        amount_mode: AmountMode::Max,
        amount_fen: 200000,
        frequency: Frequency::Yearly,
        required_fields: "退休日期",
        required_attachments: "",
        steps: "cadre,chair",
        extra_step_above_fen: None,
        sensitive: false,
    },
    Standard {
        name: "困难帮扶",
        category: "aid",
        description: "家庭生活困难的会员，经核实给予帮扶；超过 3000 元需上级工会主席审批。",
        amount_mode: AmountMode::Max,
        amount_fen: 500000,
        frequency: Frequency::Yearly,
        required_fields: "家庭困难情况\n收款银行卡号",
        required_attachments: "困难情况证明",
        steps: "cadre,chair",
        extra_step_above_fen: Some(300000),
        sensitive: true,
    },
    Standard {
        name: "金秋助学",
        category: "aid",
        description: "会员子女当年考入全日制普通高校。",
        amount_mode: AmountMode::Max,
        amount_fen: 300000,
        frequency: Frequency::Yearly,
        required_fields: "子女姓名\n录取学校",
        required_attachments: "录取通知书",
        steps: "cadre,chair",
        extra_step_above_fen: None,
        sensitive: false,
    },
    Standard {
        name: "健身卡补贴",
        category: "perk",
        description: "会员办理健身卡的年度补贴。",
        amount_mode: AmountMode::Max,
        amount_fen: 50000,
        frequency: Frequency::Yearly,
        required_fields: "健身场馆",
        required_attachments: "",
        steps: "cadre,chair",
        extra_step_above_fen: None,
        sensitive: false,
    },
];

/// Add the standard items for the whole union; returns their ids in catalogue order.
pub fn insert_standard(conn: &mut DbConnection, now: NaiveDateTime) -> AppResult<Vec<i32>> {
    let mut ids = Vec::new();
    for s in STANDARD {
        ids.push(insert_item(
            conn,
            &NewBenefitItem {
                name: s.name,
                category: s.category,
                description: s.description,
                amount_mode: s.amount_mode,
                amount_fen: s.amount_fen,
                frequency: s.frequency,
                required_fields: s.required_fields,
                required_attachments: s.required_attachments,
                unit_id: None,
                steps: s.steps,
                extra_step_above_fen: s.extra_step_above_fen,
                extra_step_role: s.extra_step_above_fen.map(|_| "chair"),
                sensitive: s.sensitive,
                active: true,
                created_at: now,
            },
        )?);
    }
    Ok(ids)
}
