-- A license's timeline (the dashboard, `GET /v1/audit?license=`): its own entries by subject
-- (audit_subject), and its machines' entries by the license id their detail names.
CREATE INDEX audit_license ON audit ((data->'detail'->>'license_id'), seq);
