//! The diesel schema, one portable description for both backends (kept by hand in step
//! with `migrations/postgres` and `migrations/sqlite`).

#![allow(
    missing_docs,
    reason = "generated-style table definitions; documented in migrations"
)]

diesel::table! {
    resources (pk) {
        pk -> BigInt,
        resource_type -> Text,
        id -> Text,
        version_id -> BigInt,
        last_updated -> BigInt,
        deleted -> Bool,
    }
}

diesel::table! {
    resource_versions (resource_pk, version_id) {
        resource_pk -> BigInt,
        version_id -> BigInt,
        last_updated -> BigInt,
        deleted -> Bool,
        body -> Nullable<Text>,
    }
}

diesel::table! {
    search_tokens (resource_pk, param, code) {
        resource_pk -> BigInt,
        param -> Text,
        system -> Nullable<Text>,
        code -> Text,
    }
}

diesel::table! {
    search_strings (resource_pk, param, value) {
        resource_pk -> BigInt,
        param -> Text,
        value -> Text,
    }
}

diesel::table! {
    search_dates (resource_pk, param, low) {
        resource_pk -> BigInt,
        param -> Text,
        low -> BigInt,
        high -> BigInt,
    }
}

diesel::table! {
    search_references (resource_pk, param, target_type, target_id) {
        resource_pk -> BigInt,
        param -> Text,
        target_type -> Text,
        target_id -> Text,
    }
}

diesel::table! {
    unique_keys (resource_type, key) {
        resource_type -> Text,
        key -> Text,
        resource_pk -> BigInt,
    }
}

diesel::table! {
    record_entries (resource_pk) {
        resource_pk -> BigInt,
        patient_id -> Text,
        custodian_id -> Text,
        status -> Text,
        date -> Nullable<BigInt>,
        types -> Text,
        sensitive -> Bool,
    }
}

diesel::table! {
    consent_grants (resource_pk, position) {
        resource_pk -> BigInt,
        position -> Integer,
        patient_id -> Text,
        grantee -> Text,
        purposes -> Text,
        starts -> Nullable<BigInt>,
        ends -> Nullable<BigInt>,
        sensitive -> Bool,
    }
}

diesel::table! {
    audit_events (seq) {
        seq -> BigInt,
        id -> Text,
        recorded -> BigInt,
        patient_id -> Nullable<Text>,
        ipress -> Nullable<Text>,
        role -> Nullable<Text>,
        action -> Text,
        outcome -> Text,
        body -> Text,
        digest -> Binary,
        xid -> BigInt,
        agent_name -> Nullable<Text>,
    }
}

diesel::table! {
    audit_sealer (id) {
        id -> Integer,
        sealed_below -> BigInt,
    }
}

diesel::table! {
    audit_chain (position) {
        position -> BigInt,
        event_seq -> BigInt,
        digest -> Binary,
        hash -> Binary,
    }
}

diesel::table! {
    auth_clients (client_id) {
        client_id -> Text,
        renipress -> Text,
        jwks -> Text,
        active -> Bool,
        updated_at -> BigInt,
        scope -> Nullable<Text>,
    }
}

diesel::table! {
    auth_assertions (client_id, jti) {
        client_id -> Text,
        jti -> Text,
        expires_at -> BigInt,
    }
}

diesel::table! {
    sign_in_sessions (id) {
        id -> Text,
        client_id -> Text,
        subject -> Text,
        person -> Text,
        scope -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        ended_at -> Nullable<BigInt>,
        ended_why -> Nullable<Text>,
    }
}

diesel::table! {
    sign_in_handles (digest) {
        digest -> Text,
        kind -> Text,
        session_id -> Nullable<Text>,
        payload -> Text,
        expires_at -> BigInt,
        used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    search_index_version (id) {
        id -> Integer,
        version -> BigInt,
    }
}

diesel::table! {
    accreditation_runs (id) {
        id -> Text,
        suite -> Text,
        title -> Text,
        target -> Text,
        auditor -> Text,
        auditor_subject -> Text,
        status -> Text,
        verdict -> Nullable<Text>,
        variables -> Text,
        total -> Integer,
        tests -> Text,
        started_at -> BigInt,
        heartbeat_at -> BigInt,
        finished_at -> Nullable<BigInt>,
        error -> Nullable<Text>,
    }
}

diesel::table! {
    accreditation_reports (run_id) {
        run_id -> Text,
        test_report -> Text,
        junit -> Text,
        html -> Text,
    }
}

diesel::joinable!(record_entries -> resources (resource_pk));
diesel::joinable!(consent_grants -> resources (resource_pk));
diesel::joinable!(resource_versions -> resources (resource_pk));
diesel::joinable!(unique_keys -> resources (resource_pk));
diesel::joinable!(search_tokens -> resources (resource_pk));
diesel::joinable!(search_strings -> resources (resource_pk));
diesel::joinable!(search_dates -> resources (resource_pk));
diesel::joinable!(search_references -> resources (resource_pk));

diesel::allow_tables_to_appear_in_same_query!(
    resources,
    resource_versions,
    search_tokens,
    search_strings,
    search_dates,
    search_references,
    unique_keys,
    record_entries,
    consent_grants,
);

diesel::allow_tables_to_appear_in_same_query!(audit_events, audit_chain);

diesel::allow_columns_to_appear_in_same_group_by_clause!(
    record_entries::custodian_id,
    record_entries::types,
    resource_versions::body,
);
