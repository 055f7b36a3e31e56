-- The transactional outbox: one sync job per appointment change, written in the
-- same transaction as the change; one attempt row per try; idempotency keys of
-- create requests.

CREATE TABLE sync_jobs (
    id              uuid        PRIMARY KEY,
    -- Creation order; jobs of one appointment run strictly in this order.
    seq             bigserial   NOT NULL,
    appointment_id  uuid        NOT NULL,
    location_id     text        NOT NULL,
    action          text        NOT NULL
                                CHECK (action IN ('create', 'update', 'confirm', 'cancel', 'complete', 'no_show')),
    -- The domain's IntentPayload (serde, camelCase): the facts at the time of the change.
    payload         jsonb       NOT NULL,
    status          text        NOT NULL
                                CHECK (status IN ('pending', 'running', 'succeeded', 'skipped', 'dead')),
    -- JobPriority::rank: lower runs first (live 0, bulk 10).
    priority        smallint    NOT NULL,
    -- Attempts started, the running one included.
    attempts        integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    -- When a pending job becomes due; NULL once finished.
    next_attempt_at timestamptz,
    -- The lease of a running job: who holds it, until when, and the fencing token
    -- every write about the running job must present.
    locked_by       text,
    locked_until    timestamptz,
    lease_token     uuid,
    -- EffectStep names already done in GHL (the journal that makes retries safe).
    completed_steps text[]      NOT NULL DEFAULT '{}',
    -- The last failure (or the reason of a skip); never personal data.
    last_error      text,
    error_class     text        CHECK (error_class IN ('auth', 'not_found', 'validation', 'rate_limited', 'transient', 'permanent')),
    http_status     integer,
    -- W3C trace context of the request that caused the job.
    traceparent     text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    CONSTRAINT sync_jobs_appointment_fkey
        FOREIGN KEY (appointment_id, location_id) REFERENCES appointments (id, location_id),
    CONSTRAINT sync_jobs_pending_is_scheduled
        CHECK (status <> 'pending' OR next_attempt_at IS NOT NULL),
    CONSTRAINT sync_jobs_running_holds_a_lease
        CHECK ((status = 'running') = (lease_token IS NOT NULL AND locked_until IS NOT NULL)),
    CONSTRAINT sync_jobs_finished_when_final
        CHECK ((status IN ('succeeded', 'skipped', 'dead')) = (finished_at IS NOT NULL))
);

-- Claiming: the unfinished jobs, in the order workers take them.
CREATE INDEX sync_jobs_claim_idx ON sync_jobs (priority, seq) WHERE status IN ('pending', 'running');
-- Per-appointment ordering checks and the appointment's job history.
CREATE INDEX sync_jobs_appointment_idx ON sync_jobs (appointment_id, seq);
-- The hard guarantee behind "never two jobs of one appointment at once": whatever
-- the claim query's snapshot saw, the database refuses a second running job.
CREATE UNIQUE INDEX sync_jobs_one_running_per_appointment ON sync_jobs (appointment_id)
    WHERE status = 'running';
-- The dead-letter queue.
CREATE INDEX sync_jobs_dead_idx ON sync_jobs (finished_at) WHERE status = 'dead';

CREATE TABLE sync_attempts (
    id          bigserial   PRIMARY KEY,
    job_id      uuid        NOT NULL REFERENCES sync_jobs (id),
    attempt     integer     NOT NULL CHECK (attempt > 0),
    started_at  timestamptz NOT NULL,
    finished_at timestamptz NOT NULL,
    -- The job status the attempt led to, or 'retry'.
    outcome     text        NOT NULL CHECK (outcome IN ('succeeded', 'skipped', 'dead', 'retry')),
    error_class text        CHECK (error_class IN ('auth', 'not_found', 'validation', 'rate_limited', 'transient', 'permanent')),
    http_status integer,
    ghl_calls   integer     NOT NULL DEFAULT 0 CHECK (ghl_calls >= 0),
    error       text
);

CREATE INDEX sync_attempts_job_idx ON sync_attempts (job_id, attempt);
-- Monitoring figures are computed over recent attempts.
CREATE INDEX sync_attempts_finished_idx ON sync_attempts (finished_at);

CREATE TABLE idempotency_keys (
    key            text        PRIMARY KEY,
    -- Hash of the request body: the same key with another body is refused.
    fingerprint    text        NOT NULL,
    -- The key row is written before the appointment and its job (it decides who
    -- won a race), so these references are checked at commit.
    appointment_id uuid        NOT NULL REFERENCES appointments (id) DEFERRABLE INITIALLY DEFERRED,
    sync_job_id    uuid        NOT NULL REFERENCES sync_jobs (id) DEFERRABLE INITIALLY DEFERRED,
    created_at     timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL
);

CREATE INDEX idempotency_keys_expiry_idx ON idempotency_keys (expires_at);
