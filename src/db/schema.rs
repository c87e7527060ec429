//! Portable diesel schema shared by both backends (Integer ids, Text enums, naive-UTC Timestamps).

diesel::table! {
    org_units (id) {
        id -> Integer,
        parent_id -> Nullable<Integer>,
        name -> Text,
        kind -> Text,
        path -> Text,
        sort_order -> Integer,
        disabled -> Bool,
        created_at -> Timestamp,
    }
}

diesel::table! {
    members (id) {
        id -> Integer,
        employee_no -> Text,
        phone -> Nullable<Text>,
        name -> Text,
        unit_id -> Integer,
        password_hash -> Nullable<Text>,
        must_change_password -> Bool,
        is_admin -> Bool,
        disabled -> Bool,
        grid_cadre_id -> Nullable<Integer>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        large_text -> Bool,
        status -> Text,
        anonymised_at -> Nullable<Timestamp>,
        last_dues_month -> Nullable<Text>,
    }
}

diesel::table! {
    roles (id) {
        id -> Integer,
        member_id -> Integer,
        unit_id -> Integer,
        role -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    sessions (id) {
        id -> Text,
        member_id -> Integer,
        created_at -> Timestamp,
        last_seen_at -> Timestamp,
        idle_secs -> Integer,
        expires_at -> Timestamp,
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
    }
}

diesel::table! {
    login_throttle (identifier) {
        identifier -> Text,
        failures -> Integer,
        last_failed_at -> Timestamp,
    }
}

diesel::table! {
    settings (key) {
        key -> Text,
        value -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    import_batches (token) {
        token -> Text,
        member_id -> Integer,
        file_name -> Text,
        rows_csv -> Text,
        done -> Bool,
        created_at -> Timestamp,
        download -> Nullable<Binary>,
        progress -> Integer,
        total -> Integer,
        summary -> Nullable<Text>,
    }
}

diesel::table! {
    benefit_approvals (request_id, step) {
        request_id -> Integer,
        step -> Integer,
        member_id -> Integer,
    }
}

diesel::table! {
    audit_subjects (audit_id, member_id) {
        audit_id -> Integer,
        member_id -> Integer,
    }
}

diesel::table! {
    calendar_days (day) {
        day -> Date,
        working -> Bool,
        note -> Text,
    }
}

diesel::table! {
    audit_deferred (id) {
        id -> Integer,
        release_at -> Timestamp,
        at -> Timestamp,
        actor_name -> Text,
        unit_id -> Nullable<Integer>,
        action -> Text,
        object_type -> Text,
        object_id -> Nullable<Text>,
        detail -> Text,
    }
}

diesel::table! {
    audit_log (id) {
        id -> Integer,
        at -> Timestamp,
        actor_id -> Nullable<Integer>,
        actor_name -> Text,
        unit_id -> Nullable<Integer>,
        action -> Text,
        object_type -> Text,
        object_id -> Nullable<Text>,
        detail -> Text,
        ip -> Nullable<Text>,
    }
}

diesel::table! {
    grievances (id) {
        id -> Integer,
        member_id -> Nullable<Integer>,
        anonymous -> Bool,
        receipt_hash -> Nullable<Text>,
        submit_token -> Text,
        unit_id -> Integer,
        handler_id -> Nullable<Integer>,
        category -> Text,
        title -> Text,
        description -> Text,
        desired_outcome -> Text,
        state -> Text,
        version -> Integer,
        due_at -> Nullable<Timestamp>,
        overdue -> Bool,
        escalations -> Integer,
        resolution -> Nullable<Text>,
        reject_reason -> Nullable<Text>,
        rating -> Nullable<Integer>,
        rating_comment -> Nullable<Text>,
        reopened -> Bool,
        answered_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        public_ref -> Text,
    }
}

diesel::table! {
    grievance_events (id) {
        id -> Integer,
        grievance_id -> Integer,
        kind -> Text,
        from_state -> Nullable<Text>,
        to_state -> Nullable<Text>,
        author_id -> Nullable<Integer>,
        author_label -> Text,
        body -> Text,
        internal -> Bool,
        created_at -> Timestamp,
    }
}

diesel::table! {
    attachments (id) {
        id -> Integer,
        owner_type -> Text,
        owner_id -> Integer,
        filename -> Text,
        content_type -> Text,
        size -> Integer,
        data -> Binary,
        created_at -> Timestamp,
    }
}

diesel::table! {
    notifications (id) {
        id -> Integer,
        member_id -> Integer,
        title -> Text,
        link -> Text,
        read -> Bool,
        created_at -> Timestamp,
        public_ref -> Text,
    }
}

diesel::table! {
    write_quotas (key) {
        key -> Text,
        window_start -> Timestamp,
        count -> Integer,
    }
}

diesel::table! {
    forecast_models (id) {
        id -> Integer,
        trained_at -> Timestamp,
        activities -> Integer,
        took_ms -> Integer,
        model -> Text,
    }
}

diesel::table! {
    job_leases (name) {
        name -> Text,
        holder -> Text,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    job_runs (name, tick) {
        name -> Text,
        tick -> Timestamp,
        holder -> Text,
    }
}

diesel::table! {
    benefit_items (id) {
        id -> Integer,
        name -> Text,
        category -> Text,
        description -> Text,
        amount_mode -> Text,
        amount_fen -> BigInt,
        frequency -> Text,
        required_fields -> Text,
        required_attachments -> Text,
        unit_id -> Nullable<Integer>,
        steps -> Text,
        extra_step_above_fen -> Nullable<BigInt>,
        extra_step_role -> Nullable<Text>,
        sensitive -> Bool,
        active -> Bool,
        active_from -> Nullable<Timestamp>,
        active_until -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    benefit_requests (id) {
        id -> Integer,
        item_id -> Integer,
        member_id -> Integer,
        unit_id -> Integer,
        year -> Integer,
        amount_fen -> BigInt,
        event_key -> Text,
        details -> Text,
        steps -> Text,
        step -> Integer,
        state -> Text,
        version -> Integer,
        due_at -> Nullable<Timestamp>,
        budget_id -> Nullable<Integer>,
        reject_reason -> Nullable<Text>,
        paid_ref -> Nullable<Text>,
        paid_at -> Nullable<Timestamp>,
        approved_at -> Nullable<Timestamp>,
        submit_token -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    benefit_events (id) {
        id -> Integer,
        request_id -> Integer,
        kind -> Text,
        to_state -> Nullable<Text>,
        author_id -> Nullable<Integer>,
        author_label -> Text,
        body -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    budgets (id) {
        id -> Integer,
        unit_id -> Integer,
        year -> Integer,
        category -> Text,
        planned_fen -> BigInt,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    news_categories (id) {
        id -> Integer,
        name -> Text,
        sort_order -> Integer,
    }
}

diesel::table! {
    news_articles (id) {
        id -> Integer,
        category_id -> Integer,
        unit_id -> Integer,
        author_id -> Integer,
        title -> Text,
        summary -> Text,
        body_md -> Text,
        pinned -> Bool,
        mandatory -> Bool,
        draft -> Bool,
        publish_at -> Timestamp,
        view_count -> Integer,
        title_tokens -> Text,
        body_tokens -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        cover_image_id -> Nullable<Integer>,
        comments_enabled -> Bool,
    }
}

diesel::table! {
    news_audiences (article_id, unit_id) {
        article_id -> Integer,
        unit_id -> Integer,
    }
}

diesel::table! {
    news_reads (article_id, member_id) {
        article_id -> Integer,
        member_id -> Integer,
        read_at -> Timestamp,
    }
}

diesel::table! {
    images (id) {
        id -> Integer,
        owner_type -> Text,
        owner_id -> Integer,
        position -> Integer,
        width -> Integer,
        height -> Integer,
        data -> Binary,
        thumb -> Binary,
        created_at -> Timestamp,
    }
}

diesel::table! {
    showcase_posts (id) {
        id -> Integer,
        member_id -> Integer,
        unit_id -> Integer,
        category -> Text,
        title -> Text,
        story -> Text,
        status -> Text,
        reject_reason -> Text,
        featured -> Bool,
        like_count -> Integer,
        comment_count -> Integer,
        cover_image_id -> Nullable<Integer>,
        title_tokens -> Text,
        body_tokens -> Text,
        version -> Integer,
        decided_by -> Nullable<Integer>,
        decided_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    showcase_likes (post_id, member_id) {
        post_id -> Integer,
        member_id -> Integer,
        created_at -> Timestamp,
    }
}

diesel::table! {
    comments (id) {
        id -> Integer,
        owner_type -> Text,
        owner_id -> Integer,
        member_id -> Integer,
        body -> Text,
        hidden -> Bool,
        report_count -> Integer,
        created_at -> Timestamp,
    }
}

diesel::table! {
    comment_reports (comment_id, member_id) {
        comment_id -> Integer,
        member_id -> Integer,
        reason -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    activities (id) {
        id -> Integer,
        unit_id -> Integer,
        author_id -> Integer,
        title -> Text,
        kind -> Text,
        description -> Text,
        place -> Text,
        starts_at -> Timestamp,
        ends_at -> Timestamp,
        capacity -> Integer,
        signup_opens_at -> Timestamp,
        signup_closes_at -> Timestamp,
        extra_fields -> Text,
        confirmed_count -> Integer,
        waitlist_seq -> Integer,
        checkin_secret -> Text,
        published -> Bool,
        cover_image_id -> Nullable<Integer>,
        title_tokens -> Text,
        body_tokens -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    activity_audiences (activity_id, unit_id) {
        activity_id -> Integer,
        unit_id -> Integer,
    }
}

diesel::table! {
    activity_signups (id) {
        id -> Integer,
        activity_id -> Integer,
        member_id -> Integer,
        status -> Text,
        position -> Integer,
        answers -> Text,
        checked_in_at -> Nullable<Timestamp>,
        checkin_method -> Nullable<Text>,
        rating -> Nullable<Integer>,
        rating_comment -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    surveys (id) {
        id -> Integer,
        unit_id -> Integer,
        author_id -> Integer,
        title -> Text,
        description -> Text,
        anonymous -> Bool,
        results_visibility -> Text,
        opens_at -> Timestamp,
        closes_at -> Timestamp,
        source -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    survey_audiences (survey_id, unit_id) {
        survey_id -> Integer,
        unit_id -> Integer,
    }
}

diesel::table! {
    survey_questions (id) {
        id -> Integer,
        survey_id -> Integer,
        position -> Integer,
        kind -> Text,
        prompt -> Text,
        options -> Text,
        max_choices -> Integer,
        required -> Bool,
    }
}

diesel::table! {
    survey_participants (survey_id, member_id) {
        survey_id -> Integer,
        member_id -> Integer,
    }
}

diesel::table! {
    survey_responses (id) {
        id -> Integer,
        survey_id -> Integer,
        member_id -> Nullable<Integer>,
        unit_id -> Nullable<Integer>,
        submitted_on -> Date,
    }
}

diesel::table! {
    survey_answers (response_id, question_id) {
        response_id -> Integer,
        question_id -> Integer,
        choice -> Nullable<Integer>,
        text -> Nullable<Text>,
        rating -> Nullable<Integer>,
    }
}

diesel::table! {
    engagement_events (id) {
        id -> Integer,
        member_key -> Text,
        unit_id -> Integer,
        object_type -> Text,
        object_id -> Nullable<Integer>,
        action -> Text,
        hour -> Timestamp,
        device -> Text,
    }
}

diesel::table! {
    engagement_daily (day, unit_id, object_type, action, device) {
        day -> Date,
        unit_id -> Integer,
        object_type -> Text,
        action -> Text,
        device -> Text,
        events -> Integer,
    }
}

diesel::table! {
    membership_events (id) {
        id -> Integer,
        member_id -> Integer,
        status -> Text,
        unit_id -> Integer,
        actor_id -> Nullable<Integer>,
        note -> Text,
        at -> Timestamp,
    }
}

diesel::table! {
    membership_applications (id) {
        id -> Integer,
        name -> Text,
        employee_no -> Text,
        phone -> Text,
        unit_id -> Integer,
        statement -> Text,
        state -> Text,
        version -> Integer,
        due_at -> Nullable<Timestamp>,
        code_hash -> Text,
        address_hash -> Text,
        reason -> Nullable<Text>,
        member_id -> Nullable<Integer>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    membership_application_events (id) {
        id -> Integer,
        application_id -> Integer,
        kind -> Text,
        from_state -> Nullable<Text>,
        to_state -> Nullable<Text>,
        author_id -> Nullable<Integer>,
        author_label -> Text,
        body -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    member_transfers (id) {
        id -> Integer,
        member_id -> Integer,
        from_unit_id -> Integer,
        to_unit_id -> Integer,
        reason -> Text,
        state -> Text,
        version -> Integer,
        due_at -> Nullable<Timestamp>,
        started_by -> Nullable<Integer>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    member_transfer_events (id) {
        id -> Integer,
        transfer_id -> Integer,
        kind -> Text,
        from_state -> Nullable<Text>,
        to_state -> Nullable<Text>,
        author_id -> Nullable<Integer>,
        author_label -> Text,
        body -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    member_dues (member_id, month) {
        member_id -> Integer,
        month -> Text,
        amount_fen -> BigInt,
        imported_at -> Timestamp,
    }
}

diesel::table! {
    member_photos (member_id) {
        member_id -> Integer,
        mime -> Text,
        data -> Binary,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    congress_sessions (id) {
        id -> Integer,
        name -> Text,
        opens_at -> Timestamp,
        closes_at -> Timestamp,
        min_cosigners -> Integer,
        created_at -> Timestamp,
    }
}

diesel::table! {
    congress_committee (member_id) {
        member_id -> Integer,
    }
}

diesel::table! {
    congress_delegates (session_id, member_id) {
        session_id -> Integer,
        member_id -> Integer,
        delegation -> Text,
    }
}

diesel::table! {
    departments (id) {
        id -> Integer,
        name -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    department_handlers (department_id, member_id) {
        department_id -> Integer,
        member_id -> Integer,
    }
}

diesel::table! {
    proposals (id) {
        id -> Integer,
        session_id -> Integer,
        author_id -> Integer,
        title -> Text,
        reason -> Text,
        measures -> Text,
        category -> Text,
        state -> Text,
        version -> Integer,
        due_at -> Nullable<Timestamp>,
        overdue -> Bool,
        merged_into -> Nullable<Integer>,
        decision_note -> Nullable<Text>,
        lead_department_id -> Nullable<Integer>,
        answer -> Nullable<Text>,
        grade -> Nullable<Text>,
        answers -> Integer,
        rating -> Nullable<Text>,
        submitted_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    proposal_cosigners (proposal_id, member_id) {
        proposal_id -> Integer,
        member_id -> Integer,
        at -> Timestamp,
    }
}

diesel::table! {
    proposal_departments (proposal_id, department_id) {
        proposal_id -> Integer,
        department_id -> Integer,
        lead -> Bool,
    }
}

diesel::table! {
    proposal_events (id) {
        id -> Integer,
        proposal_id -> Integer,
        kind -> Text,
        from_state -> Nullable<Text>,
        to_state -> Nullable<Text>,
        author_id -> Nullable<Integer>,
        author_label -> Text,
        body -> Text,
        internal -> Bool,
        created_at -> Timestamp,
    }
}

diesel::table! {
    mailbox_letters (id) {
        id -> Integer,
        member_id -> Nullable<Integer>,
        anonymous -> Bool,
        receipt_hash -> Nullable<Text>,
        unit_id -> Integer,
        subject -> Text,
        body -> Text,
        state -> Text,
        version -> Integer,
        due_at -> Nullable<Timestamp>,
        answer -> Nullable<Text>,
        forwarded_to -> Nullable<Integer>,
        consent_publish -> Bool,
        published -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        public_ref -> Text,
    }
}

diesel::table! {
    mailbox_events (id) {
        id -> Integer,
        letter_id -> Integer,
        kind -> Text,
        to_state -> Nullable<Text>,
        author_id -> Nullable<Integer>,
        author_label -> Text,
        body -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    outbox_messages (id) {
        id -> Integer,
        member_id -> Integer,
        kind -> Text,
        title -> Text,
        link -> Text,
        urgent -> Bool,
        created_at -> Timestamp,
        planned_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    outbox_deliveries (id) {
        id -> Integer,
        message_id -> Integer,
        member_id -> Integer,
        channel -> Text,
        state -> Text,
        attempts -> Integer,
        next_at -> Timestamp,
        idem_key -> Text,
        claim_token -> Nullable<Text>,
        claim_until -> Nullable<Timestamp>,
        sent_at -> Nullable<Timestamp>,
        provider_ref -> Nullable<Text>,
        last_error -> Nullable<Text>,
        merged_into -> Nullable<Integer>,
        first_try_at -> Nullable<Timestamp>,
        in_doubt -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        to_address -> Nullable<Text>,
    }
}

diesel::table! {
    channel_bindings (id) {
        id -> Integer,
        member_id -> Integer,
        channel -> Text,
        address -> Text,
        unreachable_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    channel_prefs (member_id, kind) {
        member_id -> Integer,
        kind -> Text,
        channels -> Text,
    }
}

diesel::table! {
    channel_profiles (member_id) {
        member_id -> Integer,
        quiet_start -> Integer,
        quiet_end -> Integer,
        consent -> Bool,
        updated_at -> Timestamp,
        email_pending -> Nullable<Text>,
        email_code_digest -> Nullable<Text>,
        email_pending_until -> Nullable<Timestamp>,
    }
}

diesel::table! {
    channel_consents (id) {
        id -> Integer,
        member_id -> Integer,
        given -> Bool,
        version -> Text,
        at -> Timestamp,
    }
}

diesel::table! {
    oauth_codes (code_hash) {
        code_hash -> Text,
        used_at -> Timestamp,
    }
}

diesel::table! {
    outbox_announced (article_id) {
        article_id -> Integer,
        at -> Timestamp,
    }
}

diesel::joinable!(members -> org_units (unit_id));
diesel::joinable!(showcase_posts -> members (member_id));
diesel::joinable!(comments -> members (member_id));
diesel::joinable!(activity_signups -> activities (activity_id));
diesel::joinable!(activity_signups -> members (member_id));
diesel::joinable!(survey_answers -> survey_responses (response_id));
diesel::joinable!(roles -> org_units (unit_id));
diesel::joinable!(membership_events -> org_units (unit_id));
diesel::joinable!(congress_delegates -> congress_sessions (session_id));
diesel::joinable!(proposals -> congress_sessions (session_id));
diesel::joinable!(mailbox_events -> mailbox_letters (letter_id));
diesel::joinable!(department_handlers -> departments (department_id));
diesel::joinable!(proposal_departments -> departments (department_id));
diesel::joinable!(membership_applications -> org_units (unit_id));
diesel::joinable!(roles -> members (member_id));
diesel::joinable!(sessions -> members (member_id));
diesel::joinable!(grievance_events -> grievances (grievance_id));
diesel::joinable!(grievances -> org_units (unit_id));
diesel::joinable!(notifications -> members (member_id));
diesel::joinable!(benefit_requests -> benefit_items (item_id));
diesel::joinable!(benefit_events -> benefit_requests (request_id));
diesel::joinable!(benefit_approvals -> benefit_requests (request_id));
diesel::joinable!(news_articles -> news_categories (category_id));
diesel::joinable!(news_audiences -> news_articles (article_id));
diesel::joinable!(outbox_deliveries -> outbox_messages (message_id));
diesel::joinable!(news_reads -> news_articles (article_id));

diesel::allow_tables_to_appear_in_same_query!(
    org_units,
    members,
    roles,
    sessions,
    login_throttle,
    settings,
    audit_log,
    grievances,
    grievance_events,
    attachments,
    notifications,
    job_leases,
    job_runs,
    benefit_items,
    benefit_requests,
    benefit_approvals,
    benefit_events,
    budgets,
    news_categories,
    news_articles,
    news_audiences,
    news_reads,
    images,
    showcase_posts,
    showcase_likes,
    comments,
    comment_reports,
    activities,
    activity_audiences,
    activity_signups,
    surveys,
    survey_audiences,
    survey_questions,
    survey_participants,
    survey_responses,
    survey_answers,
    engagement_events,
    engagement_daily,
    membership_events,
    membership_applications,
    membership_application_events,
    member_transfers,
    member_transfer_events,
    member_dues,
    member_photos,
    congress_sessions,
    congress_committee,
    congress_delegates,
    departments,
    department_handlers,
    proposals,
    proposal_cosigners,
    proposal_departments,
    proposal_events,
    mailbox_letters,
    mailbox_events,
    write_quotas,
    forecast_models,
    outbox_messages,
    outbox_deliveries,
    channel_bindings,
    channel_prefs,
    channel_profiles,
    channel_consents,
    oauth_codes,
    outbox_announced,
);
