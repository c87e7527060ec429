//! Argon2id password hashing on a bounded pool, off the actix worker threads.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

use crate::config::HashCost;
use crate::error::{AppError, AppResult};

pub const MIN_PASSWORD_CHARS: usize = 10;

/// Hashes and verifies passwords. At most `permits` hashes run at once, so a burst of logins
/// queues here instead of exhausting memory (each hash takes `m_kib` KiB).
#[derive(Clone)]
pub struct Hasher {
    cost: HashCost,
    permits: Arc<Semaphore>,
    /// Made on the first sign-in attempt for an unknown account, not at start: a hash touches
    /// `m_kib` (19 MiB) that the allocator may keep, and an idle instance should stay small.
    dummy_hash: Arc<std::sync::OnceLock<String>>,
    /// Passwords hashed here so far (tests check that imports hash here, off the pool).
    made: Arc<AtomicU64>,
}

impl Hasher {
    pub fn new(cost: HashCost) -> AppResult<Self> {
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        // The parameters are checked now, so a bad cost still stops the start.
        argon(cost)?;
        Ok(Hasher {
            cost,
            permits: Arc::new(Semaphore::new(threads)),
            dummy_hash: Arc::default(),
            made: Arc::new(AtomicU64::new(0)),
        })
    }

    pub fn cost(&self) -> HashCost {
        self.cost
    }

    pub async fn hash(&self, password: String) -> AppResult<String> {
        let _permit = self.acquire().await?;
        let cost = self.cost;
        self.made.fetch_add(1, Ordering::Relaxed);
        actix_web::web::block(move || hash_blocking(cost, &password)).await?
    }

    /// How many passwords this hasher has hashed since it was made.
    pub fn hashes_made(&self) -> u64 {
        self.made.load(Ordering::Relaxed)
    }

    /// Verify against `hash`, or against a dummy hash when there is none, so that an unknown
    /// account costs the same time as a wrong password.
    pub async fn verify(&self, hash: Option<String>, password: String) -> AppResult<bool> {
        let _permit = self.acquire().await?;
        let (dummy, cost) = (self.dummy_hash.clone(), self.cost);
        let ok = actix_web::web::block(move || match hash {
            Some(h) => verify_blocking(&h, &password),
            None => {
                let target = dummy.get_or_init(|| {
                    hash_blocking(cost, "zhijia-dummy-password-for-timing").unwrap_or_default()
                });
                // The same work as a wrong password; the answer is no either way.
                let _ = verify_blocking(target, &password);
                false
            }
        })
        .await?;
        Ok(ok)
    }

    async fn acquire(&self) -> AppResult<tokio::sync::SemaphorePermit<'_>> {
        self.permits
            .acquire()
            .await
            .map_err(|e| AppError::Internal(format!("hash pool closed: {e}")))
    }
}

fn argon(cost: HashCost) -> AppResult<Argon2<'static>> {
    let params = Params::new(cost.m_kib, cost.t, cost.p, None)
        .map_err(|e| AppError::Internal(format!("argon2 params: {e}")))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hash synchronously (CLI import and demo seeding, which are not on a web worker).
pub fn hash_blocking(cost: HashCost, password: &str) -> AppResult<String> {
    argon(cost)?
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| AppError::Internal(format!("argon2: {e}")))
}

/// Stored in place of an argon2 hash for a generated initial password (an activation code).
pub const CODE_PREFIX: &str = "$zjcode$";

/// A generated initial password: 80 random bits (16 characters), so a fast digest is as safe
/// to store as a slow hash of a chosen password (2^80 guesses), and an import of 100,000 new
/// members needs no argon2 at all. The first login must replace it (`must_change_password`).
pub fn activation_code() -> String {
    crate::auth::random_token(10)
}

/// The stored form of an activation code.
pub fn code_digest(code: &str) -> String {
    format!(
        "{CODE_PREFIX}{}",
        crate::auth::digest(&[b"zhijia-activation", code.trim().as_bytes()])
    )
}

pub fn verify_blocking(hash: &str, password: &str) -> bool {
    if hash.starts_with(CODE_PREFIX) {
        let typed = code_digest(password);
        // Constant time over the whole length.
        return typed.len() == hash.len()
            && typed
                .bytes()
                .zip(hash.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
    }
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
}

/// Zh-CN reason a password chosen by a person is refused: at least `MIN_PASSWORD_CHARS`
/// characters and a zxcvbn strength score of at least 3 (guessing takes ~10^10 tries), with
/// zxcvbn's warning told in Chinese.
pub fn weak_password_reason(password: &str, employee_no: &str) -> Option<String> {
    if let Some(r) = basic_password_reason(password, employee_no) {
        return Some(r.to_string());
    }
    let entropy = zxcvbn::zxcvbn(password, &[employee_no, "zhijia", "职工之家", "工会"]);
    if u8::from(entropy.score()) >= 3 {
        return None;
    }
    use zxcvbn::feedback::Warning as W;
    let why = match entropy.feedback().and_then(|f| f.warning()) {
        Some(W::StraightRowsOfKeysAreEasyToGuess | W::ShortKeyboardPatternsAreEasyToGuess) => {
            "键盘上连续的按键很容易被猜到"
        }
        Some(
            W::RepeatsLikeAaaAreEasyToGuess | W::RepeatsLikeAbcAbcAreOnlySlightlyHarderToGuess,
        ) => "重复的字符或片段很容易被猜到",
        Some(W::ThisIsATop10Password | W::ThisIsATop100Password | W::ThisIsACommonPassword) => {
            "这是最常见的密码之一"
        }
        Some(W::ThisIsSimilarToACommonlyUsedPassword) => "与常见密码很相似",
        Some(W::SequencesLikeAbcAreEasyToGuess) => "abc、123 这样的序列很容易被猜到",
        Some(W::RecentYearsAreEasyToGuess | W::DatesAreOftenEasyToGuess) => {
            "年份和日期很容易被猜到"
        }
        Some(
            W::NamesAndSurnamesByThemselvesAreEasyToGuess
            | W::CommonNamesAndSurnamesAreEasyToGuess
            | W::AWordByItselfIsEasyToGuess,
        ) => "单个单词或姓名很容易被猜到",
        _ => "密码容易被猜到",
    };
    Some(format!(
        "密码强度不够：{why}。请使用更长的、不常见的组合，例如几个不相关的词加数字和符号"
    ))
}

/// The checks every password gets, also the initial passwords of a roster import (which must
/// be changed at first login, where the full check applies).
pub fn basic_password_reason(password: &str, employee_no: &str) -> Option<&'static str> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_CHARS {
        return Some("密码至少 10 位");
    }
    if n > 128 {
        return Some("密码不能超过 128 位");
    }
    if password == employee_no {
        return Some("密码不能与工号相同");
    }
    let distinct: std::collections::HashSet<char> = password.chars().collect();
    if distinct.len() < 4 {
        return Some("密码过于简单，请混合使用字母、数字或符号");
    }
    None
}
