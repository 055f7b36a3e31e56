-- Issue 5: GHL → booking. What the webhook inbox and the inbound rules need.

-- The inbox: where an event came from, what processing made of it, the time used
-- for ordering, and (for workflow webhooks, which carry no webhookId) the content
-- hash that de-duplicates deliveries within a window.
ALTER TABLE webhook_events
    ADD COLUMN source       text NOT NULL DEFAULT 'webhook' CHECK (source IN ('webhook', 'workflow')),
    ADD COLUMN content_hash text,
    -- The event's own time (dateUpdated, else the envelope timestamp, else received_at).
    ADD COLUMN event_time   timestamptz,
    -- What processing did: applied, created_lead, linked_lead, unlinked, unchanged,
    -- stale, ignored, invalid (never personal data).
    ADD COLUMN outcome      text,
    ADD COLUMN outcome_detail text;

CREATE INDEX webhook_events_content_hash_idx ON webhook_events (content_hash, received_at)
    WHERE content_hash IS NOT NULL;

-- Leads as GHL last told us: the contact's tags, and the time of the newest GHL
-- fact applied (older events never overwrite newer data). After a ContactDelete
-- the contact id moves to ghl_unlinked_contact_id, so a late update of the
-- deleted contact is recognised as stale instead of re-creating the lead.
ALTER TABLE leads
    ADD COLUMN ghl_tags                text[],
    ADD COLUMN ghl_updated_at          timestamptz,
    ADD COLUMN ghl_unlinked_contact_id text;

CREATE INDEX leads_unlinked_contact_idx ON leads (location_id, ghl_unlinked_contact_id)
    WHERE ghl_unlinked_contact_id IS NOT NULL;

-- The GHL calendar event an appointment is linked to, and the time of the newest
-- GHL appointment fact applied.
ALTER TABLE appointments
    ADD COLUMN ghl_appointment_id text,
    ADD COLUMN ghl_updated_at     timestamptz,
    ADD CONSTRAINT appointments_location_ghl_appointment_key UNIQUE (location_id, ghl_appointment_id);
