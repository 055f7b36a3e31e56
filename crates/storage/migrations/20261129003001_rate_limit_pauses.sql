-- Issue 3: the GHL request budget per location, shared by every worker process.
--
-- A location can be paused for every worker (after a 429, when GHL's X-RateLimit headers
-- show the budget nearly spent, or after a 401 that survives): no request is granted
-- before paused_until.
ALTER TABLE rate_limit_buckets
    ADD COLUMN paused_until timestamptz,
    -- Why: free of personal data, for operators.
    ADD COLUMN pause_reason text;

-- Takes one request from a location's budget, atomically (under the row's lock):
-- GCRA pacing (one request per p_interval_us; tat is the theoretical arrival time of the
-- next request), the daily count (per UTC day), and the pause. Returns granted, or the
-- microseconds to wait before asking again. p_now NULL means the database's clock, which
-- every worker shares.
CREATE FUNCTION rate_limit_acquire(
    p_location text,
    p_now timestamptz,
    p_interval_us bigint,
    p_daily bigint
) RETURNS TABLE (granted boolean, wait_us bigint)
LANGUAGE plpgsql AS $$
DECLARE
    v_now   timestamptz := coalesce(p_now, clock_timestamp());
    v_today date := (coalesce(p_now, clock_timestamp()) AT TIME ZONE 'UTC')::date;
    b       rate_limit_buckets%ROWTYPE;
    v_used  bigint;
BEGIN
    INSERT INTO rate_limit_buckets (location_id, tat, day, day_count, updated_at)
    VALUES (p_location, v_now, v_today, 0, v_now)
    ON CONFLICT (location_id) DO NOTHING;

    SELECT * INTO b FROM rate_limit_buckets WHERE location_id = p_location FOR UPDATE;

    IF b.paused_until IS NOT NULL AND b.paused_until > v_now THEN
        RETURN QUERY SELECT false, ceil(extract(epoch FROM b.paused_until - v_now) * 1e6)::bigint;
        RETURN;
    END IF;

    v_used := CASE WHEN b.day = v_today THEN b.day_count ELSE 0 END;
    IF v_used >= p_daily THEN
        RETURN QUERY SELECT false,
            ceil(extract(epoch FROM ((v_today + 1)::timestamp AT TIME ZONE 'UTC') - v_now) * 1e6)::bigint;
        RETURN;
    END IF;

    IF b.tat > v_now THEN
        RETURN QUERY SELECT false, ceil(extract(epoch FROM b.tat - v_now) * 1e6)::bigint;
        RETURN;
    END IF;

    UPDATE rate_limit_buckets
       SET tat = v_now + make_interval(secs => p_interval_us / 1e6),
           day = v_today,
           day_count = v_used + 1,
           updated_at = v_now
     WHERE location_id = p_location;
    RETURN QUERY SELECT true, 0::bigint;
END
$$;
