-- Download files, so that every instance serves them (a file on one instance's disk would be
-- missing on the others). An upload is written as chunks under an id of its own and becomes a
-- file in one insert; chunks no file names are a broken upload, pruned by age.
CREATE TABLE upload_chunks (
    upload     text COLLATE "C" NOT NULL,
    n          integer NOT NULL CHECK (n >= 0),
    bytes      bytea NOT NULL,
    created_at bigint NOT NULL,
    PRIMARY KEY (upload, n)
);
CREATE INDEX upload_chunks_age ON upload_chunks (created_at);

CREATE TABLE files (
    product_id text COLLATE "C" NOT NULL,
    file       text COLLATE "C" NOT NULL,
    upload     text COLLATE "C" NOT NULL UNIQUE,
    CONSTRAINT download_file PRIMARY KEY (product_id, file)
);
