//! Nothing a request sends can take the portal down: out-of-range dates are field errors, text
//! whose case mapping changes length is searched safely, and a panic costs one request a 500.

use actix_web::{test, web};

use crate::helpers::*;

fn unit(conn: &mut zhijia::db::PooledConn, name: &str) -> i32 {
    zhijia::org::model::find_by_name(conn, name).unwrap()[0].id
}

/// Dates chrono can parse but Beijing-time arithmetic or people cannot use.
const BAD_DATES: [&str; 4] = [
    "-262143-01-01T00:00",
    "+262142-12-31T23:59",
    "1999-12-31T23:59",
    "2101-01-01T00:00",
];

#[actix_web::test]
async fn dates_out_of_range_are_field_errors_on_activities_news_and_surveys() {
    let mut app = spawn_demo().await;
    let a = unit(&mut app.conn(), "机关分会").to_string();
    let cat = zhijia::news::model::categories(&mut app.conn()).unwrap()[0]
        .id
        .to_string();
    let ok =
        zhijia::time::format_input(&(app.state.config.clock.now() + chrono::Duration::days(3)));
    app.login_ok("demo-cadre").await;
    let before = (
        app.count("activities"),
        app.count("news_articles"),
        app.count("surveys"),
    );
    for bad in BAD_DATES {
        for field in [
            "starts_at",
            "ends_at",
            "signup_opens_at",
            "signup_closes_at",
        ] {
            let mut f = vec![
                ("title", "越界日期"),
                ("kind", "文体活动"),
                ("place", "礼堂"),
                ("starts_at", ok.as_str()),
                ("ends_at", ok.as_str()),
                ("capacity", "10"),
                ("audience", a.as_str()),
            ];
            f.retain(|(k, _)| *k != field);
            f.push((field, bad));
            let r = app.post("/admin/activities/new", &f).await;
            r.assert_status(422).assert_contains("越界日期");
            assert!(r.body.contains("日期超出范围"), "{field} = {bad}");
        }
        app.post(
            "/admin/news/new",
            &[
                ("title", "越界日期"),
                ("category_id", &cat),
                ("body", "正文"),
                ("audience", &a),
                ("publish_at", bad),
                ("action", "save"),
            ],
        )
        .await
        .assert_status(422)
        .assert_contains("日期超出范围");
        for field in ["opens_at", "closes_at"] {
            let mut f = vec![
                ("title", "越界日期"),
                ("source", "[单选] 好吗\n好\n不好"),
                ("closes_at", ok.as_str()),
                ("results_visibility", "after_answer"),
                ("audience", a.as_str()),
            ];
            f.retain(|(k, _)| *k != field);
            f.push((field, bad));
            app.post("/admin/surveys/new", &f)
                .await
                .assert_status(422)
                .assert_contains("日期超出范围");
        }
    }
    assert_eq!(
        before,
        (
            app.count("activities"),
            app.count("news_articles"),
            app.count("surveys"),
        ),
        "nothing saved"
    );
    // The server still answers, and a sane date is accepted.
    app.get("/admin/activities").await.assert_status(200);
}

#[actix_web::test]
async fn search_over_text_whose_lower_case_changes_length_finds_and_marks_the_word() {
    let mut app = spawn_demo().await;
    let a = unit(&mut app.conn(), "机关分会");
    let cat = zhijia::news::model::categories(&mut app.conn()).unwrap()[0]
        .id
        .to_string();
    app.login_ok("demo-cadre").await;
    let body = "İİİİ KKKK ÅÅÅ ΩΩΩ İstanbul 分会 <b>x</b> 鄱阳 龙虎 end";
    app.post(
        "/admin/news/new",
        &[
            ("title", "工会土耳其交流İ"),
            ("category_id", &cat),
            ("body", body),
            ("audience", &a.to_string()),
            ("action", "save"),
        ],
    )
    .await
    .assert_status(303);
    app.logout().await;
    app.login_ok("demo-member").await;
    // Whole tokens: the Kelvin signs lower-case to ASCII "kkkk".
    for q in [
        "鄱阳",
        "龙虎",
        "i̇stanbul",
        "İstanbul",
        "kkkk",
        "ååå",
        "ωωω",
        "end",
        "鄱阳 end",
    ] {
        let path = format!("/search?q={}", zhijia::web::url_encode(q));
        let r = app.get(&path).await;
        r.assert_status(200);
        assert!(r.body.contains("土耳其交流"), "{q}: not found");
        assert!(r.body.contains("<mark>"), "{q}: no mark");
    }
    let r = app.get("/search?q=%E9%84%B1%E9%98%B3").await;
    r.assert_status(200).assert_contains("<mark>鄱阳</mark>");
    // The reported crash: a common word, over results that hold such characters.
    app.get("/search?q=%E5%B7%A5%E4%BC%9A")
        .await
        .assert_status(200)
        .assert_contains("<mark>工会</mark>");
    // The escaped body text is never turned into markup.
    assert!(!r.body.contains("<b>x</b>"));
}

#[actix_web::test]
async fn a_panic_in_a_handler_or_a_database_closure_is_a_500_with_a_reference_and_the_worker_goes_on(
) {
    let base = spawn().await;
    let state = base.state.clone();
    let svc = test::init_service(
        zhijia::app(state.clone())
            .route(
                "/test/panic",
                web::get().to(|| async {
                    let v: Vec<u8> = Vec::new();
                    // An out-of-bounds index, as a bug would have it.
                    let i = v.len() + std::hint::black_box(3);
                    #[allow(clippy::indexing_slicing)]
                    let b = v[i];
                    format!("{b}")
                }),
            )
            .route(
                "/test/panic-db",
                web::get().to(|st: web::Data<zhijia::AppState>| async move {
                    zhijia::db::run(&st.pool, |_conn| -> zhijia::error::AppResult<String> {
                        panic!("on purpose inside db::run")
                    })
                    .await
                }),
            ),
    )
    .await;
    for path in ["/test/panic", "/test/panic-db", "/test/panic"] {
        let res = test::call_service(&svc, test::TestRequest::get().uri(path).to_request()).await;
        assert_eq!(res.status().as_u16(), 500, "{path}");
        let body = String::from_utf8(test::read_body(res).await.to_vec()).unwrap();
        assert!(body.contains("系统繁忙"), "{body}");
        let re =
            regex_lite::Regex::new(r#"参考编号：<code class="ref">([0-9A-Z]{8})</code>"#).unwrap();
        assert!(re.is_match(&body), "no reference number: {body}");
        let res =
            test::call_service(&svc, test::TestRequest::get().uri("/login").to_request()).await;
        assert_eq!(res.status().as_u16(), 200, "the next request after {path}");
    }
}

/// A multipart body with 20,000 distinct fields, or of 200 MB, is refused while it streams
/// (413), before anything is kept or the token is checked; a normal post still works after.
#[actix_web::test]
async fn multipart_bodies_with_too_many_parts_or_bytes_are_refused_early() {
    use actix_web::test::{call_service, TestRequest};
    let mut app = spawn_demo().await;
    app.login_ok("demo-member").await;
    let boundary = "----zhijia-hostile-boundary";
    let cookie: String = app
        .cookies
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ");
    let send = |body: Vec<u8>| {
        let req = TestRequest::post()
            .uri("/showcase/new")
            .insert_header(("cookie", cookie.clone()))
            .insert_header((
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            ))
            .set_payload(body);
        call_service(&app.svc, req.to_request())
    };
    // 20,000 distinct small fields.
    let mut body = Vec::new();
    for i in 0..20_000 {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"f{i}\"\r\n\r\nx\r\n")
                .as_bytes(),
        );
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    let res = send(body).await;
    assert_eq!(res.status().as_u16(), 413);
    // 200 MB in files.
    let mut body = Vec::with_capacity(201 << 20);
    for i in 0..20 {
        body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"photos\"; filename=\"p{i}.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n").as_bytes());
        body.extend(std::iter::repeat_n(0xAB_u8, 10 << 20));
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    let res = send(body).await;
    assert_eq!(res.status().as_u16(), 413);
    let page = String::from_utf8(actix_web::test::read_body(res).await.to_vec()).unwrap();
    assert!(page.contains("上传的内容合计不能超过"), "{page}");
    // The server still answers.
    app.get("/showcase/new").await.assert_status(200);
}
