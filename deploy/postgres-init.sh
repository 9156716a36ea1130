#!/bin/sh
# Runs once, when the PostgreSQL volume is first created: a role and
# database for dsar, and a role for Temporal (which creates its own
# databases in the temporal-schema step).
set -eu
psql -v ON_ERROR_STOP=1 --username postgres <<SQL
CREATE ROLE dsar LOGIN PASSWORD '${DSAR_DB_PASSWORD}';
CREATE DATABASE dsar OWNER dsar;
CREATE ROLE temporal LOGIN CREATEDB PASSWORD '${TEMPORAL_DB_PASSWORD}';
SQL
