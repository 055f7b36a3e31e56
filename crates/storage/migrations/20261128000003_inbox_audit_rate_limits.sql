-- Tables for later issues: the webhook inbox, the audit log, and the shared
-- per-location GHL rate-limit state.

CREATE TABLE webhook_events (
    id           uuid        PRIMARY KEY,
    -- GHL's locationId of the event (NULL only if an event does not name one).
    location_id  text,
    -- GHL's webhookId; for workflow webhooks (which have none) a content hash.
    webhook_id   text        NOT NULL,
    event_type   text        NOT NULL,
    payload      jsonb       NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    processed_at timestamptz,
    CONSTRAINT webhook_events_webhook_id_key UNIQUE (webhook_id)
);

CREATE INDEX webhook_events_unprocessed_idx ON webhook_events (received_at) WHERE processed_at IS NULL;

-- Who did what to which entity, when. `details` never holds personal data.
CREATE TABLE audit_log (
    id          bigserial   PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    location_id text,
    actor       text        NOT NULL,
    action      text        NOT NULL,
    entity      text        NOT NULL,
    entity_id   text        NOT NULL,
    details     jsonb       NOT NULL DEFAULT '{}'
);

CREATE INDEX audit_log_entity_idx ON audit_log (entity, entity_id, at);

-- GHL's budget per location, shared by every worker process: GCRA state (the
-- theoretical arrival time of the next request) for the burst limit
-- (100 requests / 10 s), and a day counter for the daily limit.
CREATE TABLE rate_limit_buckets (
    location_id text        PRIMARY KEY,
    tat         timestamptz NOT NULL DEFAULT now(),
    day         date        NOT NULL DEFAULT current_date,
    day_count   integer     NOT NULL DEFAULT 0 CHECK (day_count >= 0),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
