-- licet's PostgreSQL schema, version 1: the records of licet-core's model as JSONB, with the
-- columns the store looks them up by, orders them by and keeps unique. Identifiers sort as
-- bytes (COLLATE "C"), as they do in the sled backend, so that cursors page the same way.

CREATE TABLE counters (
    name  text COLLATE "C" PRIMARY KEY,
    value bigint NOT NULL
);

CREATE TABLE products (
    id       text COLLATE "C" PRIMARY KEY,
    code     text COLLATE "C" NOT NULL CONSTRAINT product_code UNIQUE,
    number   bigint NOT NULL CONSTRAINT product_number UNIQUE,
    -- Trimmed, ASCII-lower-cased name, only for products that a family addresses by name.
    name_key text COLLATE "C" CONSTRAINT product_name UNIQUE,
    owner_id text COLLATE "C",
    data     jsonb NOT NULL
);
CREATE INDEX products_owner ON products (owner_id) WHERE owner_id IS NOT NULL;

CREATE TABLE policies (
    id         text COLLATE "C" PRIMARY KEY,
    product_id text COLLATE "C" NOT NULL,
    data       jsonb NOT NULL
);
CREATE INDEX policies_product ON policies (product_id);

CREATE TABLE licenses (
    id         text COLLATE "C" PRIMARY KEY,
    key        text COLLATE "C" NOT NULL CONSTRAINT license_key UNIQUE,
    product_id text COLLATE "C" NOT NULL,
    policy_id  text COLLATE "C" NOT NULL,
    data       jsonb NOT NULL
);
CREATE INDEX licenses_product ON licenses (product_id, id);
CREATE INDEX licenses_policy ON licenses (policy_id, id);

-- Candidates for the expiry sweep: written with every license that expires, forgotten by the
-- sweep once it has looked (an entry may be stale: the license was renewed).
CREATE TABLE license_expiry (
    at         bigint NOT NULL,
    license_id text COLLATE "C" NOT NULL,
    PRIMARY KEY (at, license_id)
);

CREATE TABLE machines (
    id          text COLLATE "C" NOT NULL,
    license_id  text COLLATE "C" NOT NULL,
    fingerprint text COLLATE "C" NOT NULL,
    data        jsonb NOT NULL,
    PRIMARY KEY (license_id, fingerprint)
);
CREATE INDEX machines_id ON machines (id);

-- Licenses that have had floating machines, for the culler.
CREATE TABLE floating_licenses (
    license_id text COLLATE "C" PRIMARY KEY
);

CREATE TABLE prices (
    id         bigint PRIMARY KEY,
    product_id text COLLATE "C" NOT NULL,
    data       jsonb NOT NULL
);

CREATE TABLE customers (
    id    bigint PRIMARY KEY,
    email text COLLATE "C" NOT NULL CONSTRAINT customer_email UNIQUE,
    data  jsonb NOT NULL
);

CREATE TABLE orders (
    id          bigint PRIMARY KEY,
    customer_id bigint NOT NULL,
    price_id    bigint NOT NULL,
    license_id  text COLLATE "C" NOT NULL,
    data        jsonb NOT NULL
);
CREATE INDEX orders_customer ON orders (customer_id);
CREATE INDEX orders_price ON orders (price_id);

-- WemX transaction ids, each accepted once.
CREATE TABLE transactions (
    id         text COLLATE "C" PRIMARY KEY,
    license_id text COLLATE "C" NOT NULL
);

CREATE TABLE downloads (
    id         bigint PRIMARY KEY,
    product_id text COLLATE "C" NOT NULL,
    name       text COLLATE "C" NOT NULL,
    data       jsonb NOT NULL,
    CONSTRAINT download_name UNIQUE (product_id, name)
);

CREATE TABLE download_grants (
    id         bytea PRIMARY KEY,
    expires_at bigint NOT NULL,
    data       jsonb NOT NULL
);
CREATE INDEX download_grants_expiry ON download_grants (expires_at);

CREATE TABLE users (
    id    text COLLATE "C" PRIMARY KEY,
    email text COLLATE "C" NOT NULL CONSTRAINT user_email UNIQUE,
    data  jsonb NOT NULL
);

CREATE TABLE sessions (
    id         text COLLATE "C" PRIMARY KEY,
    license_id text COLLATE "C" NOT NULL,
    data       jsonb NOT NULL
);
CREATE INDEX sessions_license ON sessions (license_id);

-- SHA-256 of session tokens (current and, in grace, previous) to their session.
CREATE TABLE session_tokens (
    hash       text COLLATE "C" PRIMARY KEY,
    session_id text COLLATE "C" NOT NULL
);

CREATE TABLE api_keys (
    id   text COLLATE "C" PRIMARY KEY,
    data jsonb NOT NULL
);

CREATE TABLE api_key_usage (
    key_id text COLLATE "C" NOT NULL,
    day    bigint NOT NULL,
    count  bigint NOT NULL,
    PRIMARY KEY (key_id, day)
);

CREATE TABLE blacklist (
    id    text COLLATE "C" PRIMARY KEY,
    kind  text COLLATE "C" NOT NULL,
    value text COLLATE "C" NOT NULL,
    data  jsonb NOT NULL
);
CREATE INDEX blacklist_probe ON blacklist (kind, value);

CREATE SEQUENCE security_seq;
CREATE TABLE security_events (
    seq        bigint PRIMARY KEY,
    created_at bigint NOT NULL,
    data       jsonb NOT NULL
);

CREATE TABLE webhooks (
    id   text COLLATE "C" PRIMARY KEY,
    data jsonb NOT NULL
);

CREATE SEQUENCE outbox_seq;
-- Deliveries waiting to be sent.
CREATE TABLE outbox (
    id         bigint PRIMARY KEY,
    webhook_id text COLLATE "C" NOT NULL,
    data       jsonb NOT NULL
);
CREATE INDEX outbox_webhook ON outbox (webhook_id);

-- Settled deliveries: the newest of each webhook.
CREATE TABLE delivery_log (
    webhook_id text COLLATE "C" NOT NULL,
    id         bigint NOT NULL,
    data       jsonb NOT NULL,
    PRIMARY KEY (webhook_id, id)
);

CREATE TABLE notifications (
    user_id    text COLLATE "C" NOT NULL,
    id         text COLLATE "C" NOT NULL,
    created_at bigint NOT NULL,
    data       jsonb NOT NULL,
    PRIMARY KEY (user_id, id)
);

-- Replay guard of encrypted requests, and spent challenge nonces; both pruned by time.
CREATE TABLE seen_envelopes (
    ts_ms bigint NOT NULL,
    mac   text COLLATE "C" NOT NULL,
    PRIMARY KEY (ts_ms, mac)
);
CREATE TABLE spent_challenges (
    expires_at bigint NOT NULL,
    nonce      bytea NOT NULL,
    PRIMARY KEY (expires_at, nonce)
);

CREATE SEQUENCE audit_seq;
CREATE TABLE audit (
    seq        bigint PRIMARY KEY,
    at         bigint NOT NULL,
    actor      text COLLATE "C" NOT NULL,
    action     text COLLATE "C" NOT NULL,
    subject    text COLLATE "C" NOT NULL,
    product_id text COLLATE "C",
    data       jsonb NOT NULL
);
CREATE INDEX audit_subject ON audit (subject, seq);
CREATE INDEX audit_at ON audit (at);

-- The one published revocation state and its signed list.
CREATE TABLE revocations (
    id    smallint PRIMARY KEY CHECK (id = 1),
    state jsonb NOT NULL,
    list  bytea
);
INSERT INTO revocations (id, state) VALUES (1, '{"sequence":0,"token_ids":[],"license_ids":[]}');
