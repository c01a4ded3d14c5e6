-- Run by deploy/local/services.sh as the `postgres` superuser over the Unix socket,
-- each time `up` finds that `meterwatch` cannot log in yet. Running it again changes nothing.
-- LOGIN SUPERUSER with a known password is for local development only; the application
-- roles with less privilege are created by the project's migrations.
SELECT 'CREATE ROLE meterwatch LOGIN SUPERUSER PASSWORD ''meterwatch'''
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'meterwatch')
\gexec
SELECT 'CREATE DATABASE meterwatch OWNER meterwatch'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'meterwatch')
\gexec
