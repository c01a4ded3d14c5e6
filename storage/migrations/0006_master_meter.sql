-- meterwatch 0006: the registry marks each area's master (summary) meter, the one at the
-- transformer that the energy balance is taken against; at most one per area.
ALTER TABLE meter ADD COLUMN IF NOT EXISTS is_master boolean NOT NULL DEFAULT false;
CREATE UNIQUE INDEX IF NOT EXISTS meter_one_master_per_area
    ON meter (utility_id, area_id) WHERE is_master;
