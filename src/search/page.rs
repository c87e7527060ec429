//! `/search`: one box over news, activities and showcase posts, each filtered by what the
//! reader may see, ranked by the index, with the query words marked in a snippet.

use actix_web::{web, HttpResponse};
use askama::Template;
use chrono::NaiveDateTime;
use serde::Deserialize;

use crate::activities::model::Activity;
use crate::auth::{CurrentUser, User};
use crate::db::dialect::{search as search_ids, Reader, SearchIndex};
use crate::db::{self, DbConnection};
use crate::error::AppResult;
use crate::news::model::Article;
use crate::showcase::model::Post;
use crate::state::AppState;
use crate::web::markdown::{self, SafeHtml};
use crate::web::{render, Ctx};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/search", web::get().to(search));
}

#[derive(Template)]
#[template(path = "search/index.html")]
pub struct SearchPage {
    ctx: Ctx,
    q: String,
    rows: Vec<(Article, SafeHtml)>,
    posts: Vec<(Post, SafeHtml)>,
    activities: Vec<Activity>,
}

#[derive(Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    q: String,
}

/// What one query finds, in ranking order.
pub struct Found {
    pub news: Vec<Article>,
    pub posts: Vec<Post>,
    pub activities: Vec<Activity>,
}

/// The query as searched: no control characters, at most 50 characters.
pub fn clean_query(raw: &str) -> String {
    raw.chars()
        .filter(|c| !c.is_control())
        .take(50)
        .collect::<String>()
        .trim()
        .to_string()
}

/// Ids from the index, then rows the reader may see, kept in the index's order.
fn ranked<T: Clone>(ids: &[i32], rows: &[T], id: impl Fn(&T) -> i32, keep: usize) -> Vec<T> {
    let mut out: Vec<T> = ids
        .iter()
        .filter_map(|i| rows.iter().find(|r| id(r) == *i).cloned())
        .collect();
    out.truncate(keep);
    out
}

/// Search everything `user` may read at `now`. The index ranks only what the reader may open
/// (audience, published, approved) before it cuts: matches elsewhere never crowd theirs out.
pub fn find(
    conn: &mut DbConnection,
    user: &User,
    text: &str,
    now: NaiveDateTime,
) -> AppResult<Found> {
    let tokens = super::tokens(text);
    let anc = crate::org::scope::ancestors(user);
    let reader = Reader {
        slots: crate::org::scope::path_slots(user),
        now,
    };
    // Activities in the reader's audience, upcoming first, then past ones.
    let act_ids = search_ids(conn, SearchIndex::Activities, &reader, &tokens, 100)?;
    let mut activities = Vec::new();
    if !act_ids.is_empty() {
        use crate::activities::model::visible;
        activities = visible(conn, &anc, now, true, Some(&act_ids), 20)?;
        activities.extend(visible(conn, &anc, now, false, Some(&act_ids), 20)?);
        activities.truncate(20);
    }
    // Showcase: approved posts only (everyone sees those), best first.
    let post_ids = search_ids(conn, SearchIndex::Showcase, &reader, &tokens, 100)?;
    let mut posts = Vec::new();
    if !post_ids.is_empty() {
        let (rows, _) = crate::showcase::model::approved(conn, None, Some(&post_ids), 100, 0)?;
        posts = ranked(&post_ids, &rows, |p| p.id, 20);
    }
    let ids = search_ids(conn, SearchIndex::News, &reader, &tokens, 200)?;
    let mut news = Vec::new();
    if !ids.is_empty() {
        let (rows, _) = crate::news::model::visible(conn, &anc, now, None, Some(&ids), 200, 0)?;
        news = ranked(&ids, &rows, |a| a.id, 30);
    }
    Ok(Found {
        news,
        posts,
        activities,
    })
}

/// A snippet around the first hit with the query words marked; everything else escaped.
fn snippet(text: &str, q: &str) -> SafeHtml {
    markdown::render_trusted_fragment(super::snippet_html(text, q))
}

async fn search(
    state: web::Data<AppState>,
    ctx: Ctx,
    CurrentUser(user): CurrentUser,
    q: web::Query<SearchQuery>,
) -> AppResult<HttpResponse> {
    let text = clean_query(&q.q);
    let now = state.config.clock.now();
    let t2 = text.clone();
    let found = db::run(&state.pool, move |conn| find(conn, &user, &t2, now)).await?;
    let posts = found
        .posts
        .into_iter()
        .map(|p| {
            let s = snippet(&p.story, &text);
            (p, s)
        })
        .collect();
    let rows = found
        .news
        .into_iter()
        .map(|a| {
            let body = crate::news::service::plain_text(&format!("{}\n{}", a.summary, a.body_md));
            let s = snippet(&body, &text);
            (a, s)
        })
        .collect();
    render(&SearchPage {
        ctx,
        q: text,
        rows,
        posts,
        activities: found.activities,
    })
}
