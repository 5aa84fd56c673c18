-- The server's signing keys, sealed by the server under the key-encryption key every instance
-- is given (--master-key-file); the database never holds them in the clear.
CREATE TABLE sealed_keys (
    name   text COLLATE "C" PRIMARY KEY,
    sealed bytea NOT NULL
);
