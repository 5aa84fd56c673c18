-- The seat rule reads a license's machines by point reads and bounded queries, so that taking
-- or refusing a seat costs the same whatever the license already has.

-- How many machines each license has, kept by the statements that add and remove machines
-- (statement triggers: a DELETE of a license's every machine updates its count once). A table
-- of its own, so that an activation writes a small row rather than a new version of the
-- license's.
CREATE TABLE seat_counts (
    license_id text COLLATE "C" PRIMARY KEY,
    n          bigint NOT NULL
);
INSERT INTO seat_counts (license_id, n)
SELECT license_id, count(*) FROM machines GROUP BY license_id;

CREATE FUNCTION licet_machines_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO seat_counts (license_id, n)
  SELECT license_id, count(*) FROM added GROUP BY license_id ORDER BY license_id
  ON CONFLICT (license_id) DO UPDATE SET n = seat_counts.n + EXCLUDED.n;
  RETURN NULL;
END $$;

CREATE FUNCTION licet_machines_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE seat_counts c SET n = greatest(c.n - r.n, 0)
    FROM (SELECT license_id, count(*) AS n FROM removed GROUP BY license_id) r
   WHERE c.license_id = r.license_id;
  DELETE FROM seat_counts c USING (SELECT DISTINCT license_id FROM removed) r
   WHERE c.license_id = r.license_id AND c.n = 0;
  RETURN NULL;
END $$;

-- An INSERT … ON CONFLICT DO UPDATE puts only the rows it inserted in `added`.
CREATE TRIGGER machines_added AFTER INSERT ON machines
  REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION licet_machines_added();
CREATE TRIGGER machines_removed AFTER DELETE ON machines
  REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION licet_machines_removed();

-- Where seats end: leases by their end, machines without a lease by their last heartbeat
-- (which ends the seat only under a floating policy).
CREATE INDEX machines_lease_end ON machines (license_id, ((data->>'lease_until')::bigint))
  WHERE data->>'lease_until' IS NOT NULL;
CREATE INDEX machines_heartbeat ON machines (license_id, ((data->>'last_heartbeat')::bigint))
  WHERE data->>'lease_until' IS NULL;

-- Machines by their indexed hardware parts (licet_core::seats::indexed_parts: the first half,
-- rounded up, of the distinct recorded parts), for a claim recognised by its parts.
CREATE TABLE machine_parts (
    license_id  text COLLATE "C" NOT NULL,
    part        text COLLATE "C" NOT NULL,
    fingerprint text COLLATE "C" NOT NULL,
    PRIMARY KEY (license_id, part, fingerprint),
    FOREIGN KEY (license_id, fingerprint) REFERENCES machines (license_id, fingerprint)
        ON DELETE CASCADE
);
CREATE INDEX machine_parts_machine ON machine_parts (license_id, fingerprint);

CREATE FUNCTION licet_indexed_parts(parts jsonb) RETURNS SETOF text LANGUAGE sql IMMUTABLE AS $$
  WITH d AS (
    SELECT p, min(o) AS o
      FROM jsonb_array_elements_text(coalesce(parts, '[]'::jsonb)) WITH ORDINALITY AS t(p, o)
     GROUP BY p
  )
  SELECT p FROM d ORDER BY o LIMIT (SELECT (count(*) + 1) / 2 FROM d)
$$;

CREATE FUNCTION licet_machine_parts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND OLD.data->'parts' IS NOT DISTINCT FROM NEW.data->'parts' THEN
    RETURN NULL;
  END IF;
  IF TG_OP = 'UPDATE' THEN
    DELETE FROM machine_parts WHERE license_id = NEW.license_id AND fingerprint = NEW.fingerprint;
  END IF;
  INSERT INTO machine_parts (license_id, part, fingerprint)
  SELECT NEW.license_id, p, NEW.fingerprint FROM licet_indexed_parts(NEW.data->'parts') AS p
  ON CONFLICT DO NOTHING;
  RETURN NULL;
END $$;

CREATE TRIGGER machine_parts AFTER INSERT OR UPDATE ON machines
  FOR EACH ROW EXECUTE FUNCTION licet_machine_parts();

INSERT INTO machine_parts (license_id, part, fingerprint)
SELECT m.license_id, p, m.fingerprint FROM machines m, licet_indexed_parts(m.data->'parts') AS p;
