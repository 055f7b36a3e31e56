-- Issue 3, auth: GHL OAuth (Marketplace app) tokens per location. The database is the
-- source of truth after the bootstrap refresh token (GHL_OAUTH_REFRESH_TOKEN) is seeded:
-- GHL rotates the refresh token on every use, so the new one is written in the same
-- transaction that read (and locked, FOR UPDATE) the old one. Secrets: never logged.
CREATE TABLE oauth_tokens (
    location_id   text        PRIMARY KEY,
    -- Empty until the first refresh.
    access_token  text        NOT NULL DEFAULT '',
    refresh_token text        NOT NULL,
    expires_at    timestamptz NOT NULL DEFAULT '-infinity',
    updated_at    timestamptz NOT NULL DEFAULT now()
);
