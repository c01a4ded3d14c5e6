-- meterwatch 0007: whether a generator (PV) sits behind the meter, from the registry's
-- has_generation; NULL = not known (an import that does not know keeps a stored value).
-- Export on a meter without generation is reverse energy (miswiring), and the energy balance
-- counts such a meter's energy in either direction as consumption.
ALTER TABLE meter ADD COLUMN IF NOT EXISTS has_generation boolean;
