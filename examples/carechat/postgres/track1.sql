-- Track 1 (patient feedback & reminders) as it was in PostgreSQL before the move to
-- carechat_unified: the tables imports/carechat.json reads.
CREATE SCHEMA IF NOT EXISTS track1;

CREATE TABLE track1.patients (
    patient_id         uuid PRIMARY KEY,
    full_name          text NOT NULL,
    phone_number       text NOT NULL,
    email              text,
    preferred_language text,
    medical_info       jsonb,
    is_active          boolean NOT NULL DEFAULT true,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    -- Soft-deleted patients are not migrated.
    deleted_at         timestamptz
);

CREATE TABLE track1.patient_logins (
    id           bigserial PRIMARY KEY,
    patient_id   uuid NOT NULL REFERENCES track1.patients (patient_id),
    logged_in_at timestamptz NOT NULL,
    ip_address   text,
    user_agent   text
);
CREATE INDEX ON track1.patient_logins (patient_id, logged_in_at);

CREATE TABLE track1.feedback_sessions (
    session_id           uuid PRIMARY KEY,
    patient_id           uuid NOT NULL REFERENCES track1.patients (patient_id),
    session_type         text NOT NULL,
    department           text,
    visit_date           date,
    overall_rating       smallint,
    recommendation_score smallint,
    completion_rate      numeric(5, 2),
    status               text NOT NULL,
    language             text,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE track1.feedback_responses (
    id            bigserial PRIMARY KEY,
    session_id    uuid NOT NULL REFERENCES track1.feedback_sessions (session_id),
    position      integer NOT NULL,
    question_id   text NOT NULL,
    question      text,
    response_type text NOT NULL,
    response      text,
    rating        smallint
);
CREATE INDEX ON track1.feedback_responses (session_id, position);
