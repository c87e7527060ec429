#!/usr/bin/env python3
""""Checked by breaking" (issue 23): each check removes one guarded behaviour from the code,
runs the test that claims to guard it, and expects it to FAIL; then restores the file. A test
that still passes with its behaviour gone is reported as DEAD. A measurement, not part of CI.

    git worktree add /tmp/break-tree HEAD && cd /tmp/break-tree && benches/break-checks.py [name …]
"""
import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
os.environ.setdefault("CARGO_TARGET_DIR", "/tmp/break-target")
os.environ.setdefault("ZHIJIA_BROWSER_TESTS", "0")

# (file, text to replace, replacement, which occurrence (0-based), test that must go red).
# A test name ending in "@pg" runs on PostgreSQL: on SQLite the write lock serialises the
# racers, so the UPDATE guards only decide races where transactions really overlap.
CHECKS = [
    ("src/news/handlers.rs", "service::may_see_files(conn, &user, id, now)?;", "", 0,
     "showcase::news_cover_attachments_and_comments"),
    ("src/news/handlers.rs", "service::may_see_files(conn, &user, id, now)?;", "", 1,
     "showcase::news_cover_attachments_and_comments"),
    ("src/grievances/model.rs", "now.signed_duration_since(a) > window)",
     "now.signed_duration_since(a) > window + window + window)", 0,
     "grievances::a_member_may_reopen_once_within_seven_days"),
    ("src/surveys/handlers.rs", "if matches!(done, Ok((Ok(()), false)))",
     "if matches!(done, Ok((Ok(()), _)))", 0,
     "engagement::events_are_recorded_for_the_listed_actions_and_never_for_anonymous_flows"),
    ("src/members/model.rs", "let text = crate::web::clean_search(&filter.q);",
     "let text = filter.q.trim().to_string();", 0,
     "admin_members::nul_bytes_and_wildcards_get_a_clear_answer_not_a_server_error"),
    # The page's version: a cadre who saw an older page loses even when the state is the same.
    ("src/grievances/service.rs", "if g.version != version {", "if false {", 0,
     "grievances::a_cadre_acting_on_a_page_another_cadre_already_changed_gets_a_conflict"),
    # The version guard of the UPDATE: "advance" keeps the state, so only the version stops a
    # second approver of the same step.
    ("src/workflow/mod.rs", "AND state = $5 AND version = $6", "AND state = $5 AND $6 = $6", 0,
     "benefits::eight_approvers_racing_over_200_requests_make_exactly_one_decision_per_step@pg"),
    # Both guards gone: racing cadres would make two transitions from one state.
    ("src/workflow/mod.rs", "AND state = $5 AND version = $6", "AND $5 = $5 AND $6 = $6", 0,
     "grievances::eight_cadres_racing_over_200_cases_make_exactly_one_transition_each@pg"),
]


def replace_nth(text, old, new, n):
    at = -1
    for _ in range(n + 1):
        at = text.find(old, at + 1)
        if at < 0:
            return None
    return text[:at] + new + text[at + len(old):]


PG_URL = os.environ.get("ZHIJIA_TEST_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")


def main():
    bad = 0
    only = sys.argv[1:]
    for file, old, new, nth, test in CHECKS:
        env = dict(os.environ)
        env.pop("ZHIJIA_TEST_PG_URL", None)
        if test.endswith("@pg"):
            test = test[: -len("@pg")]
            env["ZHIJIA_TEST_PG_URL"] = PG_URL
        if only and not any(o in test for o in only):
            continue
        path = ROOT / file
        original = path.read_text()
        broken = replace_nth(original, old, new, nth)
        if broken is None:
            print(f"SKIP   {test}: text not found in {file}")
            bad += 1
            continue
        path.write_text(broken)
        try:
            run = subprocess.run(
                ["cargo", "test", "-q", "--test", "it", "--", "--exact", test],
                cwd=ROOT, env=env, capture_output=True, text=True)
        finally:
            path.write_text(original)
        out = run.stdout + run.stderr
        if run.returncode == 0:
            print(f"DEAD   {test} still passes with the break in {file}")
            bad += 1
        elif "test result: FAILED" in out:
            print(f"RED    {test} fails without its behaviour ({file}, #{nth})")
        else:
            print(f"ERROR  {test}: did not build or run:\n{out[-2000:]}")
            bad += 1
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
