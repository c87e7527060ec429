//! 风采展示: review before anyone else sees a post, likes, comments with reports and moderation,
//! photos re-encoded without EXIF, decompression bombs refused, search, safe rendering.

use crate::helpers::*;
use crate::news::{assert_inert, XSS};

/// A real JPEG of the given size (a gradient), from the image crate.
fn jpeg(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 90])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    out.into_inner()
}

/// The same JPEG with an APP1 EXIF segment right after SOI holding a GPS position
/// (N 39°54'27.12") and a camera description.
fn jpeg_with_gps_exif() -> Vec<u8> {
    let plain = jpeg(64, 48);
    // TIFF, big-endian. IFD0 at 8: ImageDescription + GPSInfo pointer; GPS IFD at 50.
    let mut t: Vec<u8> = b"MM\x00\x2a\x00\x00\x00\x08".to_vec();
    let desc = b"GPS-SECRET-CAMERA\x00"; // 18 bytes, stored after the GPS data
    t.extend_from_slice(&2u16.to_be_bytes());
    // 0x010E ImageDescription, ASCII, count 18, offset 116
    t.extend_from_slice(&[0x01, 0x0E, 0x00, 0x02]);
    t.extend_from_slice(&(desc.len() as u32).to_be_bytes());
    t.extend_from_slice(&116u32.to_be_bytes());
    // 0x8825 GPSInfo, LONG, count 1, value = offset of the GPS IFD (38)
    t.extend_from_slice(&[0x88, 0x25, 0x00, 0x04, 0, 0, 0, 1]);
    t.extend_from_slice(&38u32.to_be_bytes());
    t.extend_from_slice(&0u32.to_be_bytes()); // next IFD
    assert_eq!(t.len(), 38);
    t.extend_from_slice(&2u16.to_be_bytes());
    // GPSLatitudeRef "N"
    t.extend_from_slice(&[0x00, 0x01, 0x00, 0x02, 0, 0, 0, 2, b'N', 0, 0, 0]);
    // GPSLatitude: 3 RATIONALs at offset 68
    t.extend_from_slice(&[0x00, 0x02, 0x00, 0x05, 0, 0, 0, 3]);
    t.extend_from_slice(&68u32.to_be_bytes());
    t.extend_from_slice(&0u32.to_be_bytes());
    assert_eq!(t.len(), 68);
    for (n, d) in [(39u32, 1u32), (54, 1), (2712, 100)] {
        t.extend_from_slice(&n.to_be_bytes());
        t.extend_from_slice(&d.to_be_bytes());
    }
    while t.len() < 116 {
        t.push(0);
    }
    t.extend_from_slice(desc);
    let mut app1 = b"Exif\x00\x00".to_vec();
    app1.extend_from_slice(&t);
    let mut out = vec![0xFF, 0xD8, 0xFF, 0xE1];
    out.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&app1);
    out.extend_from_slice(&plain[2..]);
    out
}

/// EXIF bytes as the image crate's decoder sees them.
fn exif_of(bytes: &[u8]) -> Option<Vec<u8>> {
    use image::ImageDecoder;
    let mut d = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .unwrap()
        .into_decoder()
        .unwrap();
    d.exif_metadata().unwrap()
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for b in data {
        crc ^= u32::from(*b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A PNG header claiming 20000×20000 RGBA (1.6 GB decoded) followed by a little compressed data.
fn png_bomb() -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let chunk = |out: &mut Vec<u8>, kind: &[u8], data: &[u8]| {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut c = kind.to_vec();
        c.extend_from_slice(data);
        out.extend_from_slice(&c);
        out.extend_from_slice(&crc32(&c).to_be_bytes());
    };
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&20000u32.to_be_bytes());
    ihdr.extend_from_slice(&20000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 6, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    // zlib stream of a few stored zero bytes: the rest of the rows are "missing".
    chunk(
        &mut out,
        b"IDAT",
        &[0x78, 0x01, 0x01, 0x04, 0x00, 0xFB, 0xFF, 0, 0, 0, 0],
    );
    chunk(&mut out, b"IEND", &[]);
    out
}

fn post_id(r: &Resp) -> i32 {
    r.location()
        .trim_start_matches("/showcase/")
        .parse()
        .unwrap_or_else(|_| panic!("not a post: {} {}", r.location(), r.body))
}

fn vm_hwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        })
        .unwrap_or(0)
}

#[actix_web::test]
async fn a_post_is_invisible_to_others_until_a_cadre_of_its_unit_approves_it() {
    let mut app = spawn_base().await;
    let photo = jpeg(320, 240);
    app.login_ok("demo-member").await;
    let r = app
        .post_multipart_named(
            "/showcase/new",
            &[
                ("category", "活动剪影"),
                ("title", "机关分会登山队登顶"),
                ("story", "周末登山活动，十二名队员全部登顶泰山。"),
            ],
            &[("photos", "a.jpg", &photo), ("photos", "b.jpg", &photo)],
        )
        .await;
    r.assert_status(303);
    let id = post_id(&r);
    let page = app.get(&format!("/showcase/{id}")).await;
    page.assert_status(200).assert_contains("待审核");
    let img: i32 = regex_lite::Regex::new(&format!(r"/showcase/{id}/photos/(\d+)/thumb"))
        .unwrap()
        .captures(&page.body)
        .expect("thumbnail on the page")[1]
        .parse()
        .unwrap();
    app.get(&format!("/showcase/{id}/photos/{img}"))
        .await
        .assert_status(200);
    app.get("/showcase/mine")
        .await
        .assert_contains("机关分会登山队登顶");
    app.logout().await;

    // Another member: not in the gallery, the page, the photos or search.
    app.login_ok("demo-member-b").await;
    app.get(&format!("/showcase/{id}")).await.assert_status(404);
    app.get(&format!("/showcase/{id}/photos/{img}/thumb"))
        .await
        .assert_status(404);
    app.get("/showcase").await.assert_ok_without("登山队登顶");
    app.get("/search?q=登山")
        .await
        .assert_ok_without("登山队登顶");
    app.post(&format!("/showcase/{id}/like"), &[])
        .await
        .assert_status(404);
    app.logout().await;

    // A cadre of another branch cannot see or decide it.
    app.login_ok("demo-cadre-b").await;
    app.get("/admin/showcase")
        .await
        .assert_ok_without("登山队登顶");
    app.post(
        &format!("/admin/showcase/{id}/decide"),
        &[("action", "approve"), ("version", "0")],
    )
    .await
    .assert_status(404);
    app.logout().await;

    // The member's own cadre approves it.
    app.login_ok("demo-cadre").await;
    app.get("/admin/showcase")
        .await
        .assert_contains("机关分会登山队登顶");
    app.post(
        &format!("/admin/showcase/{id}/decide"),
        &[("action", "approve"), ("version", "0")],
    )
    .await
    .assert_status(303);
    assert_eq!(app.audit_count("showcase.approve"), 1);
    app.logout().await;

    app.login_ok("demo-member-b").await;
    app.get(&format!("/showcase/{id}"))
        .await
        .assert_status(200)
        .assert_contains("十二名队员全部登顶泰山");
    app.get("/showcase")
        .await
        .assert_contains("机关分会登山队登顶");
    app.get("/search?q=登山")
        .await
        .assert_contains("机关分会登山队登顶");
    let t = app.get(&format!("/showcase/{id}/photos/{img}/thumb")).await;
    t.assert_status(200);
    assert_eq!(t.header("content-type"), "image/jpeg");
    assert!(t.header("cache-control").contains("max-age=31536000"));
    assert!(t.header("cache-control").contains("immutable"));
}

#[actix_web::test]
async fn rejecting_needs_a_reason_and_a_second_decision_loses() {
    let mut app = spawn_base().await;
    let photo = jpeg(100, 100);
    app.login_ok("demo-member").await;
    let id = post_id(
        &app.post_multipart_named(
            "/showcase/new",
            &[
                ("category", "才艺展示"),
                ("title", "剪纸作品"),
                ("story", "春节剪纸。"),
            ],
            &[("photos", "c.jpg", &photo)],
        )
        .await,
    );
    app.logout().await;
    app.login_ok("demo-cadre").await;
    let path = format!("/admin/showcase/{id}/decide");
    let r = app
        .post(&path, &[("action", "reject"), ("version", "0")])
        .await;
    r.assert_status(303);
    app.get(r.location())
        .await
        .assert_contains("请填写不通过的原因");
    app.post(
        &path,
        &[
            ("action", "reject"),
            ("version", "0"),
            ("reason", "请补充作品说明"),
        ],
    )
    .await
    .assert_status(303);
    // The same form sent again (stale version) does not decide twice.
    let r = app
        .post(&path, &[("action", "approve"), ("version", "0")])
        .await;
    app.get(r.location()).await.assert_contains("已被他人处理");
    app.logout().await;
    app.login_ok("demo-member").await;
    app.get(&format!("/showcase/{id}"))
        .await
        .assert_contains("未通过审核：请补充作品说明");
    app.get("/notifications")
        .await
        .assert_contains("未通过审核");
    // Missing fields and too many photos come back as a filled-in form with messages.
    let ten: Vec<(&str, &str, &[u8])> = (0..10).map(|_| ("photos", "p.jpg", &photo[..])).collect();
    let r = app
        .post_multipart_named(
            "/showcase/new",
            &[
                ("category", "才艺展示"),
                ("title", "十张照片"),
                ("story", ""),
            ],
            &ten,
        )
        .await;
    r.assert_status(422)
        .assert_contains("十张照片")
        .assert_contains("请写下照片背后的故事")
        .assert_contains("最多上传 9 个文件");
}

#[actix_web::test]
async fn likes_toggle_and_comments_are_reported_once_and_hidden_by_cadres() {
    let mut app = spawn_base().await;
    // An approved post of branch A: the chair manages it, the cadre of branch B does not.
    let id = app.with(|c, now| showcase_post(c, now, "demo-member", "周末骑行两百公里", true));
    let count = |conn: &mut zhijia::db::PooledConn, col: &str| -> i64 {
        use diesel::prelude::*;
        #[derive(QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::Integer)]
            n: i32,
        }
        let r: N = diesel::sql_query(format!(
            "SELECT {col} AS n FROM showcase_posts WHERE id = {id}"
        ))
        .get_result(conn)
        .unwrap();
        i64::from(r.n)
    };
    let before = count(&mut app.conn(), "like_count");
    app.login_ok("demo-member-b").await;
    app.post(&format!("/showcase/{id}/like"), &[])
        .await
        .assert_status(303);
    assert_eq!(count(&mut app.conn(), "like_count"), before + 1);
    app.get(&format!("/showcase/{id}"))
        .await
        .assert_contains("已赞");
    app.post(&format!("/showcase/{id}/like"), &[])
        .await
        .assert_status(303);
    assert_eq!(count(&mut app.conn(), "like_count"), before);

    let comments_before = count(&mut app.conn(), "comment_count");
    app.post(
        &format!("/showcase/{id}/comments"),
        &[("body", "这条评论含有不当内容XYZ")],
    )
    .await
    .assert_status(303);
    assert_eq!(count(&mut app.conn(), "comment_count"), comments_before + 1);
    let page = app.get(&format!("/showcase/{id}")).await;
    page.assert_contains("这条评论含有不当内容XYZ");
    let cid: i32 = regex_lite::Regex::new(r"/comments/(\d+)/report")
        .unwrap()
        .captures_iter(&page.body)
        .last()
        .unwrap()[1]
        .parse()
        .unwrap();
    // An empty comment is refused with a message.
    let r = app
        .post(&format!("/showcase/{id}/comments"), &[("body", "  ")])
        .await;
    app.get(r.location())
        .await
        .assert_contains("评论请写 1 到 500 个字");
    app.logout().await;

    // Two reports from one member count once.
    app.login_ok("demo-member").await;
    for _ in 0..2 {
        app.post(
            &format!("/comments/{cid}/report"),
            &[("reason", "人身攻击")],
        )
        .await
        .assert_status(303);
    }
    assert_eq!(
        app.count(&format!("comment_reports WHERE comment_id = {cid}")),
        1
    );
    app.logout().await;

    // A cadre who does not manage the post's unit cannot hide it; one who does can.
    app.login_ok("demo-cadre-b").await;
    assert!(!app
        .get("/admin/comments")
        .await
        .body
        .contains("不当内容XYZ"));
    app.post(&format!("/admin/comments/{cid}/hide"), &[])
        .await
        .assert_status(404);
    app.logout().await;
    app.login_ok("demo-chair").await;
    app.get("/admin/comments")
        .await
        .assert_contains("这条评论含有不当内容XYZ");
    app.post(&format!("/admin/comments/{cid}/hide"), &[])
        .await
        .assert_status(303);
    assert_eq!(app.audit_count("comment.hide"), 1);
    app.logout().await;
    app.login_ok("demo-member-b").await;
    assert!(!app
        .get(&format!("/showcase/{id}"))
        .await
        .body
        .contains("这条评论含有不当内容XYZ"));
    assert_eq!(count(&mut app.conn(), "comment_count"), comments_before);
    // Members cannot moderate.
    app.post(&format!("/admin/comments/{cid}/restore"), &[])
        .await
        .assert_status(403);
}

#[actix_web::test]
async fn an_uploaded_jpeg_loses_its_gps_exif_and_a_png_bomb_is_refused_before_decoding() {
    let mut app = spawn_base().await;
    let with_gps = jpeg_with_gps_exif();
    // The test image really carries the EXIF (else this test could not fail).
    let exif = exif_of(&with_gps).expect("test JPEG has EXIF");
    assert!(exif.windows(17).any(|w| w == b"GPS-SECRET-CAMERA"));
    app.login_ok("demo-member").await;
    let r = app
        .post_multipart_named(
            "/showcase/new",
            &[
                ("category", "活动剪影"),
                ("title", "带定位的照片"),
                ("story", "手机拍的。"),
            ],
            &[("photos", "IMG_0001.jpg", &with_gps)],
        )
        .await;
    r.assert_status(303);
    let id = post_id(&r);
    let page = app.get(&format!("/showcase/{id}")).await;
    let img: String = regex_lite::Regex::new(&format!(r"/showcase/{id}/photos/(\d+)/thumb"))
        .unwrap()
        .captures(&page.body)
        .unwrap()[1]
        .to_string();
    for suffix in ["", "/thumb"] {
        let served = app
            .get(&format!("/showcase/{id}/photos/{img}{suffix}"))
            .await;
        served.assert_status(200);
        let bytes = &served.bytes;
        assert!(bytes.starts_with(&[0xFF, 0xD8]), "a JPEG comes back");
        assert_eq!(exif_of(bytes), None, "no EXIF in the stored image{suffix}");
        assert!(!bytes.windows(4).any(|w| w == b"Exif"));
        assert!(!bytes.windows(17).any(|w| w == b"GPS-SECRET-CAMERA"));
        assert!(
            !bytes.windows(2).any(|w| w == [0xFF, 0xE1]),
            "no APP1 segment"
        );
    }

    // 20000×20000: refused from the header with a message, nothing stored, memory bounded.
    let posts_before = app.count("showcase_posts");
    let images_before = app.count("images");
    let r = app
        .post_multipart_named(
            "/showcase/new",
            &[
                ("category", "活动剪影"),
                ("title", "超大图片"),
                ("story", "测试。"),
            ],
            &[("photos", "huge.png", &png_bomb())],
        )
        .await;
    r.assert_status(422)
        .assert_contains("20000×20000")
        .assert_contains("过大")
        .assert_contains("超大图片");
    assert_eq!(app.count("showcase_posts"), posts_before);
    assert_eq!(app.count("images"), images_before);
    // Decoding it would need 1.6 GB; the whole test process stays far below that.
    let peak = vm_hwm_kib();
    assert!(peak < 1024 * 1024, "peak RSS {peak} KiB");
    // Not an image at all: a message, not a 500.
    app.post_multipart_named(
        "/showcase/new",
        &[
            ("category", "活动剪影"),
            ("title", "假图片"),
            ("story", "测试。"),
        ],
        &[("photos", "x.jpg", b"%PDF-1.4 not an image")],
    )
    .await
    .assert_status(422)
    .assert_contains("不是 JPEG 或 PNG 图片");
}

#[actix_web::test]
async fn xss_payloads_in_showcase_stories_comments_and_file_names_render_inert() {
    let mut app = spawn_base().await;
    let photo = jpeg(40, 30);
    let mut ids = Vec::new();
    app.login_ok("demo-member").await;
    for (i, p) in XSS.iter().enumerate() {
        let title: String = p.chars().take(40).collect();
        let fields = [
            ("category", "才艺展示"),
            ("title", title.as_str()),
            ("story", *p),
        ];
        let files: [(&str, &str, &[u8]); 1] = [("photos", p, &photo)];
        let mut r = app
            .post_multipart_named("/showcase/new", &fields, &files)
            .await;
        if r.status.as_u16() == 429 {
            // Ten posts a day per member: the next payloads go in the next day.
            r.assert_contains("已达上限");
            app.state.config.clock.advance(86_400);
            app.cookies.clear();
            app.login_ok("demo-member").await;
            r = app
                .post_multipart_named("/showcase/new", &fields, &files)
                .await;
        }
        assert_eq!(r.status.as_u16(), 303, "payload {i}: {}", r.body);
        ids.push(post_id(&r));
    }
    app.logout().await;
    app.login_ok("demo-cadre").await;
    let chair_needed = {
        let q = app.get("/admin/showcase").await;
        assert_inert(&q.body, "review queue");
        ids.iter()
            .any(|id| !q.body.contains(&format!("/admin/showcase/{id}/decide")))
    };
    assert!(!chair_needed, "demo-cadre reviews demo-member's posts");
    for id in &ids {
        app.post(
            &format!("/admin/showcase/{id}/decide"),
            &[("action", "approve"), ("version", "0")],
        )
        .await
        .assert_status(303);
    }
    app.logout().await;
    app.login_ok("demo-member-b").await;
    for (i, p) in XSS.iter().enumerate() {
        let path = format!("/showcase/{}/comments", ids[i]);
        let mut r = app.post(&path, &[("body", p)]).await;
        if r.status.as_u16() == 429 {
            // Thirty comments an hour per member: the rest an hour later.
            app.state.config.clock.advance(3_600);
            app.cookies.clear();
            app.login_ok("demo-member-b").await;
            r = app.post(&path, &[("body", p)]).await;
        }
        r.assert_status(303);
    }
    for id in &ids {
        let page = app.get(&format!("/showcase/{id}")).await;
        page.assert_status(200);
        assert_inert(&page.body, &format!("showcase post {id}"));
    }
    for path in [
        "/showcase",
        "/showcase?page=2",
        "/showcase?page=3",
        "/",
        "/search?q=alert",
        "/search?q=script",
    ] {
        let page = app.get(path).await;
        page.assert_status(200);
        assert_inert(&page.body, path);
    }
    app.logout().await;
    // File names: news attachments are listed by name on the article and the editor.
    app.login_ok("demo-admin").await;
    let news_id: i32 = {
        app.with(|c, now| article(c, now, "中建华能集团工会", "职工书屋开放", "正文", true))
    };
    let pdf: &[u8] = b"%PDF-1.4\n%%EOF\n";
    for chunk in XSS.chunks(5) {
        let files: Vec<(&str, &str, &[u8])> = chunk.iter().map(|p| ("files", *p, pdf)).collect();
        app.post_multipart_named(&format!("/admin/news/{news_id}/files"), &[], &files)
            .await
            .assert_status(303);
    }
    let edit = app.get(&format!("/admin/news/{news_id}")).await;
    edit.assert_status(200).assert_contains("封面与附件");
    assert_inert(&edit.body, "news editor with attachment names");
    let page = app.get(&format!("/news/{news_id}")).await;
    page.assert_status(200);
    assert_inert(&page.body, "article with attachment names");
    assert!(page.body.matches("/files/").count() >= XSS.len());
}

#[actix_web::test]
async fn news_cover_attachments_and_comments() {
    let mut app = spawn_base().await;
    app.login_ok("demo-admin").await;
    let news_id: i32 = {
        app.with(|c, now| {
            article(
                c,
                now,
                "第一工程公司工会",
                "评论已关闭的通知",
                "正文",
                false,
            )
        })
    };
    let cover = jpeg_with_gps_exif();
    app.post_multipart_named(
        &format!("/admin/news/{news_id}/files"),
        &[],
        &[
            ("cover", "封面.jpg", &cover),
            ("files", "通知.pdf", b"%PDF-1.4\n%%EOF\n"),
        ],
    )
    .await
    .assert_status(303);
    // Turn comments on through the editor (the form re-posts every field).
    let edit = app.get(&format!("/admin/news/{news_id}")).await;
    edit.assert_contains("当前封面");
    let a = zhijia::news::model::find(&mut app.conn(), news_id)
        .unwrap()
        .unwrap();
    // Branch A only, so a member of branch B is outside the audience.
    let branch_a = zhijia::org::model::find_by_name(&mut app.conn(), "机关分会").unwrap()[0].id;
    let aud = [branch_a.to_string()];
    let cat = a.category_id.to_string();
    let mut f: Vec<(&str, &str)> = vec![
        ("title", &a.title),
        ("category_id", &cat),
        ("body", &a.body_md),
        ("comments", "1"),
        ("action", "save"),
    ];
    for u in &aud {
        f.push(("audience", u));
    }
    app.post(&format!("/admin/news/{news_id}"), &f)
        .await
        .assert_status(303);
    // A reader in the audience: cover (no EXIF), attachment, comment form.
    let reader = "demo-member";
    assert_eq!(
        zhijia::news::model::audience(&mut app.conn(), news_id).unwrap(),
        vec![branch_a]
    );
    app.logout().await;
    app.login_ok(reader).await;
    let page = app.get(&format!("/news/{news_id}")).await;
    page.assert_status(200)
        .assert_contains("通知.pdf")
        .assert_contains("发表评论");
    let cover_url = regex_lite::Regex::new(&format!(r"/news/{news_id}/images/\d+"))
        .unwrap()
        .find(&page.body)
        .expect("cover on the article")
        .as_str()
        .to_string();
    let img = app.get(&cover_url).await;
    img.assert_status(200);
    assert_eq!(exif_of(&img.bytes), None);
    let file_url = regex_lite::Regex::new(&format!(r"/news/{news_id}/files/\d+"))
        .unwrap()
        .find(&page.body)
        .unwrap()
        .as_str()
        .to_string();
    let f = app.get(&file_url).await;
    f.assert_status(200);
    assert!(f.header("content-disposition").starts_with("attachment"));
    app.post(
        &format!("/news/{news_id}/comments"),
        &[("body", "支持工会的工作！")],
    )
    .await
    .assert_status(303);
    app.get(&format!("/news/{news_id}"))
        .await
        .assert_contains("支持工会的工作！");
    app.logout().await;
    // Outside the audience (branch B): article, cover, file and comment all 404.
    app.login_ok("demo-member-b").await;
    app.get("/news")
        .await
        .assert_status(200)
        .assert_contains("<title>资讯");
    app.get(&format!("/news/{news_id}"))
        .await
        .assert_status(404);
    app.get(&cover_url).await.assert_status(404);
    app.get(&file_url).await.assert_status(404);
    app.post(&format!("/news/{news_id}/comments"), &[("body", "看不到")])
        .await
        .assert_status(404);
}

#[actix_web::test]
async fn admins_add_and_rename_news_categories_and_cadres_cannot() {
    let mut app = spawn_base().await;
    app.login_ok("demo-cadre").await;
    app.get("/admin/news/categories").await.assert_status(403);
    app.post(
        "/admin/news/categories",
        &[("name", "劳动保护"), ("sort_order", "5")],
    )
    .await
    .assert_status(403);
    app.logout().await;
    app.login_ok("demo-admin").await;
    app.post(
        "/admin/news/categories",
        &[("name", "劳动保护"), ("sort_order", "5")],
    )
    .await
    .assert_status(303);
    let r = app
        .post(
            "/admin/news/categories",
            &[("name", "劳动保护"), ("sort_order", "6")],
        )
        .await;
    app.get(r.location())
        .await
        .assert_contains("已有名为“劳动保护”的栏目");
    let cats = zhijia::news::model::categories(&mut app.conn()).unwrap();
    assert_eq!(cats.len(), 5);
    let id = cats.iter().find(|c| c.name == "劳动保护").unwrap().id;
    app.post(
        &format!("/admin/news/categories/{id}"),
        &[("name", "劳动安全"), ("sort_order", "0")],
    )
    .await
    .assert_status(303);
    let cats = zhijia::news::model::categories(&mut app.conn()).unwrap();
    assert_eq!(cats[0].name, "劳动安全", "sort order 0 comes first");
    assert_eq!(app.audit_count("news.category"), 2);
    app.get("/news").await.assert_contains("劳动安全");
}

/// Nobody approves their own post: the cadre's own story waits for another cadre, and the
/// refusal says so.
#[actix_web::test]
async fn a_cadre_cannot_approve_their_own_post() {
    let mut app = spawn_base().await;
    let photo = jpeg(320, 240);
    app.login_ok("demo-cadre").await;
    let r = app
        .post_multipart_named(
            "/showcase/new",
            &[
                ("category", "活动剪影"),
                ("title", "干部自己的投稿"),
                ("story", "自己审核自己的投稿不应通过。"),
            ],
            &[("photos", "a.jpg", &photo)],
        )
        .await;
    r.assert_status(303);
    let id = post_id(&r);
    let before = app.audit_count("showcase.approve");
    let r = app
        .post(
            &format!("/admin/showcase/{id}/decide"),
            &[("action", "approve"), ("version", "0")],
        )
        .await;
    r.assert_status(303);
    app.get(r.location())
        .await
        .assert_contains("不能审核自己的投稿");
    assert_eq!(app.audit_count("showcase.approve"), before);
    app.get(&format!("/showcase/{id}"))
        .await
        .assert_contains("待审核");
    // The chair above may approve it.
    app.logout().await;
    app.login_ok("demo-chair").await;
    app.post(
        &format!("/admin/showcase/{id}/decide"),
        &[("action", "approve"), ("version", "0")],
    )
    .await
    .assert_status(303);
    assert_eq!(app.audit_count("showcase.approve"), before + 1);
}

#[actix_web::test]
async fn a_cadre_features_an_approved_post_on_the_home_page_and_takes_it_off_again() {
    use diesel::prelude::*;
    use zhijia::db::schema::showcase_posts as sp;
    let mut app = spawn_base().await;
    // An approved post of branch A that is not featured yet.
    let title = "抢修一线的二十四小时";
    let id = app.with(|c, now| {
        let id = showcase_post(
            c,
            now - chrono::Duration::days(2),
            "demo-member",
            title,
            true,
        );
        // Newer posts fill the home page's gallery while nothing is featured.
        for n in ["一", "二", "三", "四", "五"] {
            showcase_post(c, now, "demo-member-b", &format!("新近的照片{n}"), true);
        }
        id
    });
    let version: i32 = sp::table
        .find(id)
        .select(sp::version)
        .first(&mut app.conn())
        .unwrap();
    let featured = |app_conn: &mut zhijia::db::PooledConn| -> bool {
        sp::table
            .find(id)
            .select(sp::featured)
            .first(app_conn)
            .unwrap()
    };
    app.login_ok("demo-cadre").await;
    app.get("/")
        .await
        .assert_ok_without(title)
        .assert_contains("新近的照片五");
    let path = format!("/admin/showcase/{id}/feature");
    let r = app
        .post(&path, &[("on", "1"), ("version", &version.to_string())])
        .await;
    r.assert_status(303);
    app.get(r.location())
        .await
        .assert_contains("已设为首页精选");
    assert!(featured(&mut app.conn()));
    app.get("/").await.assert_status(200).assert_contains(title);
    // The page the cadre saw before is stale now: a second click changes nothing.
    app.post(&path, &[("on", "0"), ("version", &version.to_string())])
        .await
        .assert_status(303);
    assert!(featured(&mut app.conn()));
    let now: i32 = sp::table
        .find(id)
        .select(sp::version)
        .first(&mut app.conn())
        .unwrap();
    app.post(&path, &[("on", "0"), ("version", &now.to_string())])
        .await
        .assert_status(303);
    assert!(!featured(&mut app.conn()));
}

/// The demo's generated photos differ from each other in colour and composition (one of each
/// is written to target/screenshots for a look).
#[test]
fn the_demo_photos_differ_from_each_other() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let mut seen = Vec::new();
    for v in 0..12 {
        let png = zhijia::demo::demo_picture(v);
        let img = image::load_from_memory(&png).unwrap().to_rgb8();
        // A coarse 8×6 thumbnail: two pictures that differ only in noise would match here.
        let small = image::imageops::thumbnail(&img, 8, 6);
        assert!(!seen.contains(&small), "picture {v} repeats an earlier one");
        seen.push(small);
        std::fs::write(dir.join(format!("demo-photo-{v}.png")), &png).unwrap();
    }
}
