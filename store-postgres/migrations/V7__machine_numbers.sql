-- Machine numbers come from a sequence, drawn inside the seat operation that makes the machine:
-- unlike a row of `counters`, drawing from a sequence holds no lock until the transaction ends,
-- so activations of different licenses never wait on each other for a number. It continues
-- from the counter it replaces; numbers may have gaps, never repeats.
CREATE SEQUENCE machine_numbers AS bigint MINVALUE 1;
SELECT setval(
    'machine_numbers',
    COALESCE((SELECT value FROM counters WHERE name = 'machine_number'), 1),
    (SELECT value FROM counters WHERE name = 'machine_number') IS NOT NULL
);

-- An instance of the release before, still running during a rolling upgrade, numbers machines
-- through the `machine_number` row of `counters` (an upsert that, the row being there, updates
-- it): its statement gets the sequence's next number too, so the two releases never give one
-- number twice.
INSERT INTO counters (name, value) VALUES ('machine_number', 0) ON CONFLICT (name) DO NOTHING;
CREATE FUNCTION licet_machine_number_from_sequence() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.name = 'machine_number' THEN
        NEW.value := nextval('machine_numbers');
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER counters_machine_number
    BEFORE UPDATE ON counters
    FOR EACH ROW EXECUTE FUNCTION licet_machine_number_from_sequence();
