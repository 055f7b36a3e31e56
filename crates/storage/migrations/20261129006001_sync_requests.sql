-- Answers to `POST /sync` requests, kept for a few minutes so that a repeated
-- request returns the stored answer instead of syncing again (the seed's
-- in-memory idempotency cache, made persistent and shared by api replicas).
CREATE TABLE sync_requests (
    -- Hash of the request's appointment id and action.
    key         text        PRIMARY KEY,
    http_status smallint    NOT NULL CHECK (http_status BETWEEN 100 AND 599),
    -- The response body as sent (no personal data: ids, tags, field values, error classes).
    body        text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);

CREATE INDEX sync_requests_expiry_idx ON sync_requests (expires_at);
