#!/usr/bin/env bash
# Mutation scores for the modules where a silent bug costs most (issue 23). A measurement, not
# part of CI: each module runs cargo-mutants with only the tests that cover it, so one module
# takes minutes on 2 cores (a mutant is one incremental build of the crate plus those tests).
#
#   cargo install cargo-mutants --locked
#   benches/mutants.sh [module ...]     # default: all below; results in /tmp/mutants/<name>/
#
# Run it in a disposable checkout (it mutates the files in place):
#   git worktree add /tmp/mut-tree HEAD && cd /tmp/mut-tree && benches/mutants.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/tmp/mut-target}"
out_root="${MUTANTS_OUT:-/tmp/mutants}"
# name | cargo-mutants selection | test filters for the `it` suite (and the lib's unit tests)
modules=(
  "csrf|-f src/auth/csrf.rs|csrf auth:: hostile::multipart admin_members::nul"
  "workflow|-f src/workflow/mod.rs -f src/workflow/lease.rs -f src/workflow/calendar.rs|grievances:: benefits:: workflow platform::a_job"
  "scope|-f src/org/scope.rs|scope:: org:: admin_members:: news::an_article news::audiences surveys::results"
  "throttle|-f src/auth/service.rs -F reserve -F take -F delay -F purge_throttle -F account_key|auth::"
  "budget|-f src/benefits/service.rs -f src/benefits/model.rs -F reserve_budget -F budget_use -F budget_for|benefits::an_approval benefits::no_budget benefits::return_resubmit benefits::an_amount_over"
  "calendar|-f src/workflow/calendar.rs|calendar grievances::working grievances::time_limits grievances::admins_enter grievances::the_deadline"
  "proposals|-f src/proposals/actions.rs|proposals:: mailbox::with_consent"
  "mailbox|-f src/mailbox/actions.rs|mailbox:: privacy::reading"
)
want=("$@")
for m in "${modules[@]}"; do
  IFS='|' read -r name select filters <<<"$m"
  if [ ${#want[@]} -gt 0 ] && [[ ! " ${want[*]} " =~ " ${name} " ]]; then continue; fi
  echo "==> $name: $select  (tests: $filters)"
  # shellcheck disable=SC2086
  mkdir -p "$out_root/$name"
  # cargo-mutants does not know AppResult<T> is a Result: its "replace the body" mutants of such
  # functions are AppResult::new(…), which never compiles; skipping them halves the run.
  cargo mutants --in-place --baseline skip --timeout 120 --build-timeout 900 \
    --exclude-re "AppResult::" $select -o "$out_root/$name" -- --test it --lib -- $filters || true
  out="$out_root/$name/mutants.out"
  n() { if [ -f "$out/$1.txt" ]; then wc -l <"$out/$1.txt"; else echo 0; fi; }
  printf '%s: caught %s, missed %s, timeout %s, unviable %s\n' "$name" \
    "$(n caught)" "$(n missed)" "$(n timeout)" "$(n unviable)"
done
