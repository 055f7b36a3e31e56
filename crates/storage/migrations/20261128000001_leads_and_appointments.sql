-- Leads and appointments. Every row carries the GHL location (sub-account) it
-- belongs to; the single-location setup is simply one value of location_id.
-- Statuses are checked here and mapped to Rust enums in one place
-- (storage/src/mapping.rs); a test proves the two lists agree.

CREATE TABLE leads (
    id                 uuid        PRIMARY KEY,
    location_id        text        NOT NULL,
    -- NULL until the lead is linked to a GHL contact.
    ghl_contact_id     text,
    name               text,
    -- Stored normalised (domain `Email`: trimmed, lower-cased; `Phone`: + and digits),
    -- so lookups compare with `=`.
    email              text,
    phone              text,
    address            text,
    -- Where the lead came from: 'booking', 'ghl', ...
    source             text        NOT NULL,
    lifecycle          text        NOT NULL DEFAULT 'lead'
                                   CHECK (lifecycle IN ('lead', 'customer')),
    customer_since     timestamptz,
    services_completed integer     NOT NULL DEFAULT 0 CHECK (services_completed >= 0),
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL,
    CONSTRAINT leads_location_contact_key UNIQUE (location_id, ghl_contact_id),
    -- Target of the composite foreign key that keeps an appointment in its lead's location.
    CONSTRAINT leads_id_location_key UNIQUE (id, location_id)
);

CREATE INDEX leads_location_email_idx ON leads (location_id, email) WHERE email IS NOT NULL;
CREATE INDEX leads_location_phone_idx ON leads (location_id, phone) WHERE phone IS NOT NULL;

CREATE TABLE appointments (
    id                  uuid        PRIMARY KEY,
    location_id         text        NOT NULL,
    lead_id             uuid        NOT NULL,
    customer_name       text        NOT NULL,
    customer_email      text,
    customer_phone      text,
    customer_address    text,
    service_type        text        NOT NULL,
    starts_at           timestamptz NOT NULL,
    ends_at             timestamptz NOT NULL,
    notes               text,
    status              text        NOT NULL
                                    CHECK (status IN ('scheduled', 'confirmed', 'completed', 'cancelled', 'no_show')),
    cancellation_reason text,
    -- Optimistic concurrency: every change names the version it was based on.
    version             bigint      NOT NULL CHECK (version > 0),
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    CONSTRAINT appointments_slot_ends_after_start CHECK (ends_at > starts_at),
    CONSTRAINT appointments_customer_reachable
        CHECK (customer_email IS NOT NULL OR customer_phone IS NOT NULL),
    CONSTRAINT appointments_lead_fkey
        FOREIGN KEY (lead_id, location_id) REFERENCES leads (id, location_id),
    -- Target of the composite foreign key that keeps a sync job in its appointment's location.
    CONSTRAINT appointments_id_location_key UNIQUE (id, location_id)
);

-- Capacity checks and availability: the appointments that still hold their slot.
CREATE INDEX appointments_active_slots_idx ON appointments (location_id, starts_at)
    WHERE status IN ('scheduled', 'confirmed');
CREATE INDEX appointments_lead_idx ON appointments (lead_id);
