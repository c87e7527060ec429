//! Member pages: the news list, an article, and search.

use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::model::{self, Article, Category};
use super::service;
use crate::app::AppState;
use crate::auth::CurrentUser;
use crate::db;
use crate::error::AppResult;
use crate::web::markdown::{self, SafeHtml};
use crate::web::{render, Ctx, Pager};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/news", web::get().to(list))
        .route("/news/{id}", web::get().to(show))
        .route("/search", web::get().to(search));
}

#[derive(Template)]
#[template(path = "news/list.html")]
pub struct NewsListPage {
    ctx: Ctx,
    rows: Vec<Article>,
    categories: Vec<Category>,
    category: Option<i32>,
    pager: Pager,
    query_base: String,
}

impl NewsListPage {
    fn is_cat(&self, id: &i32) -> bool {
        self.category == Some(*id)
    }
    fn cat_name(&self, id: &i32) -> &str {
        self.categories
            .iter()
            .find(|c| c.id == *id)
            .map_or("", |c| c.name.as_str())
    }
}

#[derive(Deserialize)]
pub struct ListQuery {
    category: Option<i32>,
    page: Option<i64>,
}

async fn list(
    state: web::Data<AppState>,
    ctx: Ctx,
    CurrentUser(user): CurrentUser,
    q: web::Query<ListQuery>,
) -> AppResult<HttpResponse> {
    let now = state.config.clock.now();
    let (category, page) = (q.category, q.page);
    let (rows, total, categories) = db::run(&state.pool, move |conn| {
        let anc = service::ancestors(&user);
        let offset = (page.unwrap_or(1).max(1) - 1) * 20;
        let (rows, total) = model::visible(conn, &anc, now, category, None, 20, offset)?;
        Ok((rows, total, model::categories(conn)?))
    })
    .await?;
    let pager = Pager::new(page, 20, total);
    let query_base = category
        .map(|c| format!("category={c}"))
        .unwrap_or_default();
    render(&NewsListPage {
        ctx,
        rows,
        categories,
        category,
        pager,
        query_base,
    })
}

#[derive(Template)]
#[template(path = "news/show.html")]
pub struct ArticlePage {
    ctx: Ctx,
    a: Article,
    category: String,
    body: SafeHtml,
}

async fn show(
    state: web::Data<AppState>,
    ctx: Ctx,
    CurrentUser(user): CurrentUser,
    path: web::Path<i32>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let now = state.config.clock.now();
    let (mut a, categories) = db::run(&state.pool, move |conn| {
        Ok((
            service::open(conn, &user, id, now)?,
            model::categories(conn)?,
        ))
    })
    .await?;
    state.views.hit(a.id);
    a.view_count += state.views.pending(a.id);
    let category = categories
        .iter()
        .find(|c| c.id == a.category_id)
        .map(|c| c.name.clone())
        .unwrap_or_default();
    let body = markdown::render(&a.body_md);
    render(&ArticlePage {
        ctx,
        a,
        category,
        body,
    })
}

#[derive(Template)]
#[template(path = "news/search.html")]
pub struct SearchPage {
    ctx: Ctx,
    q: String,
    rows: Vec<(Article, SafeHtml)>,
}

#[derive(Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    q: String,
}

/// A snippet around the first hit with the query words marked; everything else escaped.
fn snippet(text: &str, q: &str) -> SafeHtml {
    let words: Vec<&str> = q.split_whitespace().collect();
    let chars: Vec<char> = text.chars().collect();
    let lower = text.to_lowercase();
    let first = words
        .iter()
        .filter_map(|w| lower.find(&w.to_lowercase()))
        .min()
        .unwrap_or(0);
    let start_char = text[..first.min(text.len())]
        .chars()
        .count()
        .saturating_sub(20);
    let piece: String = chars.iter().skip(start_char).take(90).collect();
    let mut html = askama::filters::escape(&piece, askama::filters::Html)
        .map(|s| s.to_string())
        .unwrap_or_default();
    for w in words {
        let esc = askama::filters::escape(w, askama::filters::Html)
            .map(|s| s.to_string())
            .unwrap_or_default();
        if !esc.is_empty() {
            html = html.replace(&esc, &format!("<mark>{esc}</mark>"));
        }
    }
    markdown::render_trusted_fragment(html)
}

async fn search(
    state: web::Data<AppState>,
    ctx: Ctx,
    CurrentUser(user): CurrentUser,
    q: web::Query<SearchQuery>,
) -> AppResult<HttpResponse> {
    let text: String =
        q.q.chars()
            .filter(|c| !c.is_control())
            .take(50)
            .collect::<String>()
            .trim()
            .to_string();
    let now = state.config.clock.now();
    let t2 = text.clone();
    let found = db::run(&state.pool, move |conn| {
        let tokens = crate::search::tokens(&t2);
        let ids = crate::db::dialect::search_news(conn, &tokens, 200)?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let (rows, _) = model::visible(
            conn,
            &service::ancestors(&user),
            now,
            None,
            Some(&ids),
            200,
            0,
        )?;
        // Keep the search ranking, not the listing order.
        let mut ranked: Vec<Article> = ids
            .iter()
            .filter_map(|id| rows.iter().find(|a| a.id == *id).cloned())
            .collect();
        ranked.truncate(30);
        Ok(ranked)
    })
    .await?;
    let rows = found
        .into_iter()
        .map(|a| {
            let s = snippet(
                &service::plain_text(&format!("{}\n{}", a.summary, a.body_md)),
                &text,
            );
            (a, s)
        })
        .collect();
    render(&SearchPage { ctx, q: text, rows })
}
