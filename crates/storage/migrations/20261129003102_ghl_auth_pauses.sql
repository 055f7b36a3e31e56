-- Issue 3, auth: a location whose GHL token was refused (a 401 that survived). While a row
-- exists the location's jobs are not claimed (they wait, their attempts untouched); one
-- worker probes GHL at recheck_at (a single cheap read) and deletes the row when the token
-- works again. Rows hold no secrets and no personal data.
CREATE TABLE ghl_auth_pauses (
    location_id text        PRIMARY KEY,
    -- Why, for operators and the health check.
    reason      text        NOT NULL,
    since       timestamptz NOT NULL DEFAULT now(),
    -- When a worker next asks GHL whether the token works again.
    recheck_at  timestamptz NOT NULL,
    -- Probes that were refused again since the pause began.
    rechecks    integer     NOT NULL DEFAULT 0 CHECK (rechecks >= 0)
);
