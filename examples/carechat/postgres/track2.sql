-- Track 2 (AI chat) as it was in PostgreSQL before the move to carechat_unified: the tables
-- imports/carechat.json reads.
CREATE SCHEMA IF NOT EXISTS track2;

CREATE TABLE track2.users (
    user_id            uuid PRIMARY KEY,
    name               text NOT NULL,
    phone              text NOT NULL,
    email              text,
    password_hash      text,
    preferred_provider text,
    context_retention  boolean,
    is_active          boolean NOT NULL DEFAULT true,
    is_verified        boolean NOT NULL DEFAULT false,
    last_login         timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE track2.conversations (
    conversation_id   uuid PRIMARY KEY,
    user_id           uuid NOT NULL REFERENCES track2.users (user_id),
    title             text,
    summary           text,
    status            text NOT NULL DEFAULT 'active',
    message_count     integer NOT NULL DEFAULT 0,
    total_tokens      bigint NOT NULL DEFAULT 0,
    avg_response_time numeric(10, 2),
    last_message_at   timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE track2.messages (
    message_id      uuid PRIMARY KEY,
    conversation_id uuid NOT NULL REFERENCES track2.conversations (conversation_id),
    user_id         uuid NOT NULL REFERENCES track2.users (user_id),
    role            text NOT NULL,
    content         text NOT NULL,
    provider        text,
    model           text,
    token_count     integer,
    response_time   numeric(10, 2),
    temperature     numeric(3, 2),
    context         jsonb,
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE track2.message_edits (
    id          bigserial PRIMARY KEY,
    message_id  uuid NOT NULL REFERENCES track2.messages (message_id),
    edited_at   timestamptz NOT NULL,
    old_content text NOT NULL,
    reason      text
);
CREATE INDEX ON track2.message_edits (message_id, edited_at);
