-- The dashboard's daily counts (licet_core::store::Counters): activations, validations and
-- refusals by code, per day and product. Every instance adds what it counted; rows are
-- added to, never overwritten.
CREATE TABLE daily_counts (
    day        bigint NOT NULL,
    name       text COLLATE "C" NOT NULL,
    product_id text COLLATE "C" NOT NULL,
    n          bigint NOT NULL,
    PRIMARY KEY (day, name, product_id)
);
