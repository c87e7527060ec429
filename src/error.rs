//! The one error type. Pages show a fixed zh-CN message; internal detail goes only to the log.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

pub type AppResult<T> = Result<T, AppError>;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    /// Not logged in: redirect to the login page, then back to `next`.
    #[error("login required")]
    Unauthorized { next: String },
    #[error("forbidden")]
    Forbidden,
    #[error("csrf check failed")]
    Csrf,
    /// Forbidden, with the reason the person can act on (a membership status, …).
    #[error("refused: {0}")]
    Refused(String),
    #[error("conflict: {0}")]
    Conflict(String),
    /// Input that cannot be taken, told in one message (a step's precondition, a bad upload).
    #[error("validation: {0}")]
    Validation(String),
    /// A form's input, told field by field: the handler shows the form again with each message
    /// next to its field (422); `fields` hands them over.
    #[error("invalid form: {0:?}")]
    Fields(crate::forms::FieldErrors),
    #[error("too many requests: {0}")]
    TooManyRequests(String),
    #[error("payload too large: {0}")]
    PayloadTooLarge(String),
    /// An upload without a Content-Length (browsers always send one for a form).
    #[error("length required")]
    LengthRequired,
    #[error("database: {0}")]
    Database(#[from] diesel::result::Error),
    #[error("pool: {0}")]
    Pool(#[from] r2d2::Error),
    #[error("blocking: {0}")]
    Blocking(#[from] actix_web::error::BlockingError),
    #[error("render: {0}")]
    Render(#[from] askama::Error),
    /// Send the browser elsewhere (e.g. to the forced password change).
    #[error("redirect to {0}")]
    Redirect(String),
    #[error("internal: {0}")]
    Internal(String),
    /// A panic caught while handling a request (`web::middleware::catch_panic`).
    #[error("panic: {0}")]
    Panic(String),
}

impl AppError {
    /// One field's message as a form error.
    pub fn field(field: &'static str, message: impl Into<String>) -> AppError {
        let mut e = crate::forms::FieldErrors::default();
        e.add(field, message);
        AppError::Fields(e)
    }

    /// The form's field errors, or this error itself when it is of another kind (so a handler
    /// writes `let errors = e.fields()?;` and re-renders its form with them).
    pub fn fields(self) -> Result<crate::forms::FieldErrors, AppError> {
        match self {
            AppError::Fields(e) => Ok(e),
            other => Err(other),
        }
    }

    fn message(&self) -> (&'static str, String) {
        match self {
            AppError::NotFound => (
                "页面不存在",
                "您访问的页面不存在，或您没有查看它的权限。".into(),
            ),
            AppError::Unauthorized { .. } => ("请先登录", "请登录后继续。".into()),
            AppError::Forbidden => ("无权访问", "您没有执行此操作的权限。".into()),
            AppError::Refused(m) => ("暂不能使用", m.clone()),
            AppError::Csrf => (
                "请求已过期",
                "页面已过期或来源不明，操作没有执行。请返回上一页，刷新后重试。".into(),
            ),
            AppError::Conflict(m) => ("已被他人处理", m.clone()),
            AppError::Validation(m) => ("输入有误", m.clone()),
            AppError::Fields(e) => (
                "输入有误",
                e.0.iter()
                    .map(|(_, m)| m.as_str())
                    .collect::<Vec<_>>()
                    .join("；"),
            ),
            AppError::TooManyRequests(m) => ("操作过于频繁", m.clone()),
            AppError::PayloadTooLarge(m) => ("内容过大", m.clone()),
            AppError::LengthRequired => (
                "无法接收",
                "上传请求缺少长度信息，请用浏览器的表单重新提交。".into(),
            ),
            _ => (
                "系统繁忙",
                "服务器暂时无法完成请求，请稍后再试。如果问题持续，请联系信息中心。".into(),
            ),
        }
    }
}

#[derive(Template)]
#[template(path = "errors/error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    message: &'a str,
    code: u16,
    css: String,
    /// For a 5xx: the reference number also written in the log line with the cause.
    reference: Option<String>,
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Unauthorized { .. } | AppError::Redirect(_) => StatusCode::SEE_OTHER,
            AppError::Forbidden | AppError::Csrf | AppError::Refused(_) => StatusCode::FORBIDDEN,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::Validation(_) | AppError::Fields(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            AppError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::LengthRequired => StatusCode::LENGTH_REQUIRED,
            AppError::Database(diesel::result::Error::NotFound) => StatusCode::NOT_FOUND,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let AppError::Unauthorized { next } = self {
            let loc = format!("/login?next={}", crate::text::url_encode(next));
            return HttpResponse::SeeOther()
                .insert_header((header::LOCATION, loc))
                .finish();
        }
        if let AppError::Redirect(to) = self {
            return HttpResponse::SeeOther()
                .insert_header((header::LOCATION, to.as_str()))
                .finish();
        }
        let status = self.status_code();
        let reference = status.is_server_error().then(|| {
            let r = crate::auth::random_token(5);
            log::error!("error ref={r}: {self}");
            r
        });
        let (title, message) = if status == StatusCode::NOT_FOUND {
            AppError::NotFound.message()
        } else {
            self.message()
        };
        let page = ErrorPage {
            title,
            message: &message,
            code: status.as_u16(),
            css: crate::web::assets::url("app.css"),
            reference,
        };
        let body = page
            .render()
            .unwrap_or_else(|_| format!("<!doctype html><title>{title}</title><p>{message}</p>"));
        HttpResponse::build(status)
            .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(body)
    }
}
