//! Survey rows and queries. "Has answered" (survey_participants) is kept apart from the answer
//! sheets (survey_responses), which carry no member link when the survey is anonymous.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::db::schema::{
    survey_answers, survey_audiences, survey_participants, survey_questions, survey_responses,
    surveys,
};
use crate::db::DbConnection;
use crate::error::AppResult;

crate::text_enum! {
    /// When members may see a survey's results.
    pub enum Visibility {
        AfterAnswer = ("after_answer", "提交后可看结果"),
        AfterClose = ("after_close", "截止后公布结果"),
        Cadres = ("cadres", "结果仅工会干部可见"),
    }
}

#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = surveys)]
pub struct Survey {
    pub id: i32,
    pub unit_id: i32,
    pub author_id: i32,
    pub title: String,
    pub description: String,
    pub anonymous: bool,
    pub results_visibility: Visibility,
    pub opens_at: NaiveDateTime,
    pub closes_at: NaiveDateTime,
    pub source: String,
    pub created_at: NaiveDateTime,
}

impl Survey {
    pub fn is_open(&self, now: &NaiveDateTime) -> bool {
        self.opens_at <= *now && *now < self.closes_at
    }
    pub fn closed(&self, now: &NaiveDateTime) -> bool {
        *now >= self.closes_at
    }
    pub fn period(&self) -> String {
        format!(
            "{} 至 {}",
            crate::time::beijing(&self.opens_at, "%m-%d %H:%M"),
            crate::time::beijing(&self.closes_at, "%m-%d %H:%M")
        )
    }
    pub fn visibility_label(&self) -> &'static str {
        self.results_visibility.label()
    }
}

#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = survey_questions)]
pub struct Question {
    pub id: i32,
    pub survey_id: i32,
    pub position: i32,
    pub kind: String,
    pub prompt: String,
    pub options: String,
    pub max_choices: i32,
    pub required: bool,
}

impl Question {
    pub fn option_list(&self) -> Vec<String> {
        self.options.lines().map(str::to_string).collect()
    }
    pub fn kind_label(&self) -> &'static str {
        match self.kind.as_str() {
            "single" => "单选",
            "multi" => "多选",
            "text" => "文本",
            _ => "评分",
        }
    }
    pub fn is_choice(&self) -> bool {
        self.kind == "single" || self.kind == "multi"
    }
}

#[derive(Insertable)]
#[diesel(table_name = surveys)]
pub struct NewSurvey<'a> {
    pub unit_id: i32,
    pub author_id: i32,
    pub title: &'a str,
    pub description: &'a str,
    pub anonymous: bool,
    pub results_visibility: Visibility,
    pub opens_at: NaiveDateTime,
    pub closes_at: NaiveDateTime,
    pub source: &'a str,
    pub created_at: NaiveDateTime,
}

pub fn insert(conn: &mut DbConnection, s: &NewSurvey<'_>) -> AppResult<i32> {
    Ok(diesel::insert_into(surveys::table)
        .values(s)
        .returning(surveys::id)
        .get_result(conn)?)
}

#[allow(clippy::too_many_arguments)]
pub fn insert_question(
    conn: &mut DbConnection,
    survey_id: i32,
    position: i32,
    kind: &str,
    prompt: &str,
    options: &str,
    max_choices: i32,
    required: bool,
) -> AppResult<()> {
    diesel::insert_into(survey_questions::table)
        .values((
            survey_questions::survey_id.eq(survey_id),
            survey_questions::position.eq(position),
            survey_questions::kind.eq(kind),
            survey_questions::prompt.eq(prompt),
            survey_questions::options.eq(options),
            survey_questions::max_choices.eq(max_choices),
            survey_questions::required.eq(required),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn set_audience(conn: &mut DbConnection, id: i32, units: &[i32]) -> AppResult<()> {
    for u in units {
        diesel::insert_into(survey_audiences::table)
            .values((
                survey_audiences::survey_id.eq(id),
                survey_audiences::unit_id.eq(u),
            ))
            .execute(conn)?;
    }
    Ok(())
}

pub fn audience(conn: &mut DbConnection, id: i32) -> AppResult<Vec<i32>> {
    Ok(survey_audiences::table
        .filter(survey_audiences::survey_id.eq(id))
        .select(survey_audiences::unit_id)
        .load(conn)?)
}

pub fn find(conn: &mut DbConnection, id: i32) -> AppResult<Option<Survey>> {
    Ok(surveys::table
        .find(id)
        .select(Survey::as_select())
        .first(conn)
        .optional()?)
}

pub fn questions(conn: &mut DbConnection, id: i32) -> AppResult<Vec<Question>> {
    Ok(survey_questions::table
        .filter(survey_questions::survey_id.eq(id))
        .order(survey_questions::position.asc())
        .select(Question::as_select())
        .load(conn)?)
}

/// Surveys already open for a reader (audience on their unit path), newest first.
pub fn visible(
    conn: &mut DbConnection,
    ancestors: &[i32],
    now: NaiveDateTime,
    limit: i64,
) -> AppResult<Vec<Survey>> {
    Ok(surveys::table
        .filter(surveys::opens_at.le(now))
        .filter(
            surveys::id.eq_any(
                survey_audiences::table
                    .filter(survey_audiences::unit_id.eq_any(ancestors.to_vec()))
                    .select(survey_audiences::survey_id),
            ),
        )
        .order((surveys::closes_at.desc(), surveys::id.desc()))
        .limit(limit)
        .select(Survey::as_select())
        .load(conn)?)
}

/// Open surveys for the reader that they have not answered (home page).
pub fn unanswered(
    conn: &mut DbConnection,
    member_id: i32,
    slots: [i32; crate::org::scope::PATH_SLOTS],
    now: NaiveDateTime,
    limit: i64,
) -> AppResult<Vec<Survey>> {
    Ok(crate::on_backend!(conn, c => surveys::table
        .filter(surveys::opens_at.le(now))
        .filter(surveys::closes_at.gt(now))
        .filter(
            surveys::id.eq_any(
                survey_audiences::table
                    .filter(crate::on_path!(survey_audiences::unit_id, slots))
                    .select(survey_audiences::survey_id),
            ),
        )
        .filter(diesel::dsl::not(
            surveys::id.eq_any(
                survey_participants::table
                    .filter(survey_participants::member_id.eq(member_id))
                    .select(survey_participants::survey_id),
            ),
        ))
        .order(surveys::closes_at.asc())
        .limit(limit)
        .select(Survey::as_select())
        .load(c))?)
}

pub fn for_units(
    conn: &mut DbConnection,
    unit_ids: Option<&[i32]>,
    limit: i64,
) -> AppResult<Vec<Survey>> {
    let mut q = surveys::table.into_boxed();
    if let Some(ids) = unit_ids {
        q = q.filter(surveys::unit_id.eq_any(ids.to_vec()));
    }
    Ok(q.order(surveys::id.desc())
        .limit(limit)
        .select(Survey::as_select())
        .load(conn)?)
}

pub fn answered_ids(conn: &mut DbConnection, member_id: i32) -> AppResult<Vec<i32>> {
    Ok(survey_participants::table
        .filter(survey_participants::member_id.eq(member_id))
        .select(survey_participants::survey_id)
        .load(conn)?)
}

pub fn has_answered(conn: &mut DbConnection, survey_id: i32, member_id: i32) -> AppResult<bool> {
    let n: i64 = survey_participants::table
        .filter(survey_participants::survey_id.eq(survey_id))
        .filter(survey_participants::member_id.eq(member_id))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// Mark a member as having answered; a second mark violates the primary key.
pub fn add_participant(conn: &mut DbConnection, survey_id: i32, member_id: i32) -> AppResult<()> {
    diesel::insert_into(survey_participants::table)
        .values((
            survey_participants::survey_id.eq(survey_id),
            survey_participants::member_id.eq(member_id),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn insert_response(
    conn: &mut DbConnection,
    survey_id: i32,
    member_id: Option<i32>,
    unit_id: Option<i32>,
    on: NaiveDate,
) -> AppResult<i32> {
    Ok(diesel::insert_into(survey_responses::table)
        .values((
            survey_responses::survey_id.eq(survey_id),
            survey_responses::member_id.eq(member_id),
            survey_responses::unit_id.eq(unit_id),
            survey_responses::submitted_on.eq(on),
        ))
        .returning(survey_responses::id)
        .get_result(conn)?)
}

pub fn insert_answer(
    conn: &mut DbConnection,
    response_id: i32,
    question_id: i32,
    choice: Option<i32>,
    text: Option<&str>,
    rating: Option<i32>,
) -> AppResult<()> {
    diesel::insert_into(survey_answers::table)
        .values((
            survey_answers::response_id.eq(response_id),
            survey_answers::question_id.eq(question_id),
            survey_answers::choice.eq(choice),
            survey_answers::text.eq(text),
            survey_answers::rating.eq(rating),
        ))
        .execute(conn)?;
    Ok(())
}

/// Every answer of a survey: (response id, response unit, question id, choice, text, rating).
pub type AnswerRow = (
    i32,
    Option<i32>,
    i32,
    Option<i32>,
    Option<String>,
    Option<i32>,
);

pub fn answers(conn: &mut DbConnection, survey_id: i32) -> AppResult<Vec<AnswerRow>> {
    Ok(survey_answers::table
        .inner_join(survey_responses::table)
        .filter(survey_responses::survey_id.eq(survey_id))
        .order((
            survey_responses::id.asc(),
            survey_answers::question_id.asc(),
        ))
        .select((
            survey_responses::id,
            survey_responses::unit_id,
            survey_answers::question_id,
            survey_answers::choice,
            survey_answers::text,
            survey_answers::rating,
        ))
        .load(conn)?)
}

/// (response id, member id, unit id) of an answer sheet.
pub type Sheet = (i32, Option<i32>, Option<i32>);

/// Every answer sheet of a survey.
pub fn responses(conn: &mut DbConnection, survey_id: i32) -> AppResult<Vec<Sheet>> {
    Ok(survey_responses::table
        .filter(survey_responses::survey_id.eq(survey_id))
        .order(survey_responses::id.asc())
        .select((
            survey_responses::id,
            survey_responses::member_id,
            survey_responses::unit_id,
        ))
        .load(conn)?)
}

/// Members who answered a named survey (none for anonymous ones: no member is stored).
pub fn respondents(conn: &mut DbConnection, survey_id: i32) -> AppResult<Vec<i32>> {
    Ok(survey_responses::table
        .filter(survey_responses::survey_id.eq(survey_id))
        .filter(survey_responses::member_id.is_not_null())
        .select(survey_responses::member_id.assume_not_null())
        .load(conn)?)
}

/// Name and unit name of each member id (named surveys' answer sheets).
pub fn member_names(
    conn: &mut DbConnection,
    ids: &[i32],
) -> AppResult<std::collections::HashMap<i32, (String, String)>> {
    use crate::db::schema::{members, org_units};
    Ok(members::table
        .inner_join(org_units::table)
        .filter(members::id.eq_any(ids.to_vec()))
        .select((members::id, members::name, org_units::name))
        .load::<(i32, String, String)>(conn)?
        .into_iter()
        .map(|(id, n, u)| (id, (n, u)))
        .collect())
}
