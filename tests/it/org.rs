//! The org tree: create, rename, move with subtree, no cycles, disable; chairs limited to their subtree.

use crate::helpers::*;
use zhijia::org::model;

fn unit(app_conn: &mut zhijia::db::PooledConn, name: &str) -> zhijia::org::OrgUnit {
    let mut v = model::find_by_name(app_conn, name).unwrap();
    assert!(!v.is_empty(), "no unit {name}");
    v.remove(0)
}

#[actix_web::test]
async fn an_admin_builds_and_restructures_the_tree() {
    let mut app = spawn_base().await;
    app.login_ok("demo-admin").await;
    let sub2 = unit(&mut app.conn(), "第二工程公司工会");
    app.post(
        "/admin/org",
        &[
            ("parent_id", &sub2.id.to_string()),
            ("name", "隧道分会"),
            ("kind", "branch"),
        ],
    )
    .await
    .assert_status(303);
    let tunnel = unit(&mut app.conn(), "隧道分会");
    assert_eq!(tunnel.path, format!("{}{}/", sub2.path, tunnel.id));
    app.post(
        "/admin/org",
        &[
            ("parent_id", &tunnel.id.to_string()),
            ("name", "掘进班组"),
            ("kind", "team"),
        ],
    )
    .await
    .assert_status(303);
    // Move the branch (with its team) under the first subsidiary.
    let sub1 = unit(&mut app.conn(), "第一工程公司工会");
    app.post(
        &format!("/admin/org/{}/move", tunnel.id),
        &[("parent_id", &sub1.id.to_string())],
    )
    .await
    .assert_status(303);
    let team = unit(&mut app.conn(), "掘进班组");
    assert_eq!(
        team.path,
        format!("{}{}/{}/", sub1.path, tunnel.id, team.id)
    );
    // Moving a unit under its own descendant is refused with a message, and nothing changes.
    app.post(
        &format!("/admin/org/{}/move", tunnel.id),
        &[("parent_id", &team.id.to_string())],
    )
    .await
    .assert_status(303);
    app.get(&format!("/admin/org/{}", tunnel.id))
        .await
        .assert_contains("不能把组织移动到它自己");
    assert_eq!(unit(&mut app.conn(), "掘进班组").path, team.path);
    app.post(
        &format!("/admin/org/{}/rename", tunnel.id),
        &[("name", "盾构隧道分会")],
    )
    .await
    .assert_status(303);
    app.post(&format!("/admin/org/{}/disable", tunnel.id), &[])
        .await
        .assert_status(303);
    assert!(unit(&mut app.conn(), "盾构隧道分会").disabled);
    for a in ["org.create", "org.move", "org.rename", "org.disable"] {
        assert!(app.audit_count(a) >= 1, "{a} not audited");
    }
    let tree = app.get("/admin/org").await;
    tree.assert_status(200)
        .assert_contains("盾构隧道分会")
        .assert_contains("已停用");
    // And enabled again.
    app.post(&format!("/admin/org/{}/enable", tunnel.id), &[])
        .await
        .assert_status(303);
    assert!(!unit(&mut app.conn(), "盾构隧道分会").disabled);
    assert_eq!(app.audit_count("org.enable"), 1);
}

#[actix_web::test]
async fn a_chair_edits_only_below_their_own_unit() {
    let mut app = spawn_base().await;
    app.login_ok("demo-chair").await;
    let own = unit(&mut app.conn(), "第一工程公司工会");
    let sibling = unit(&mut app.conn(), "第二工程公司工会");
    let branch_b = unit(&mut app.conn(), "项目一部分会");
    app.get(&format!("/admin/org/{}", own.id))
        .await
        .assert_status(404);
    app.get(&format!("/admin/org/{}", sibling.id))
        .await
        .assert_status(404);
    app.get(&format!("/admin/org/{}", branch_b.id))
        .await
        .assert_status(200);
    app.post(
        &format!("/admin/org/{}/rename", sibling.id),
        &[("name", "夺权")],
    )
    .await
    .assert_status(404);
    app.post(
        &format!("/admin/org/{}/move", branch_b.id),
        &[("parent_id", &sibling.id.to_string())],
    )
    .await
    .assert_status(404);
    assert_eq!(unit(&mut app.conn(), "项目一部分会").path, branch_b.path);
    let tree = app.get("/admin/org").await;
    tree.assert_status(200).assert_contains("项目一部分会");
    assert!(!tree.body.contains("第二工程公司工会"));
}

#[actix_web::test]
async fn a_cadre_sees_only_their_subtree_in_the_tree() {
    let mut app = spawn_base().await;
    app.login_ok("demo-cadre-b").await;
    let tree = app.get("/admin/org").await;
    tree.assert_status(200)
        .assert_contains("项目一部分会")
        .assert_contains("钢筋班组");
    assert!(!tree.body.contains("机关分会"), "{}", tree.body);
    assert!(
        !tree.body.contains("新建下级组织"),
        "cadres cannot restructure"
    );
}
