#!/bin/sh
# Least-privilege roles for the compose stack's PostgreSQL (docker-compose service `postgres`).
#
#   TEMPORAL_DB_USER (temporal)       owns Temporal's databases (temporal, temporal_visibility)
#   APP_DB_USER      (servicetitan_app) owns the product's database (APP_DB_NAME, servicetitan)
#
# Neither may log in anywhere else (CONNECT is revoked from PUBLIC on all three databases), and
# neither is a superuser or may create roles or databases. The superuser (POSTGRES_USER) is for
# administration only; no service of the stack uses it. Passwords come from deploy/postgres.env
# and are (re)set on every run, so that file is the one source of truth.
#
# The postgres image runs this once, on the first start of an empty data volume, as the
# superuser over the local socket (/docker-entrypoint-initdb.d). It is safe to run again, and
# that is how a volume created before these roles existed is brought over (it also hands the
# existing tables of each database to its new owner):
#   docker compose exec postgres sh /docker-entrypoint-initdb.d/10-roles.sh
# Works executed or sourced (the image sources scripts that are not executable): no `exit`.

: "${POSTGRES_USER:=postgres}"
: "${TEMPORAL_DB_USER:=temporal}"
: "${TEMPORAL_DB_NAME:=temporal}"
: "${TEMPORAL_VISIBILITY_DB_NAME:=temporal_visibility}"
: "${APP_DB_USER:=servicetitan_app}"
: "${APP_DB_NAME:=servicetitan}"
: "${TEMPORAL_DB_PASSWORD:?TEMPORAL_DB_PASSWORD is not set (deploy/postgres.env)}"
: "${APP_DB_PASSWORD:?APP_DB_PASSWORD is not set (deploy/postgres.env)}"
export POSTGRES_USER TEMPORAL_DB_USER TEMPORAL_DB_NAME TEMPORAL_VISIBILITY_DB_NAME APP_DB_USER \
  APP_DB_NAME TEMPORAL_DB_PASSWORD APP_DB_PASSWORD

# psql reads every name and password from the environment (\getenv): none is on a command line,
# and %I / %L quote them, so no value can change the statements.
psql -v ON_ERROR_STOP=1 --no-psqlrc --quiet --username "$POSTGRES_USER" --dbname postgres <<'SQL'
\getenv temporal_user TEMPORAL_DB_USER
\getenv temporal_password TEMPORAL_DB_PASSWORD
\getenv temporal_db TEMPORAL_DB_NAME
\getenv visibility_db TEMPORAL_VISIBILITY_DB_NAME
\getenv app_user APP_DB_USER
\getenv app_password APP_DB_PASSWORD
\getenv app_db APP_DB_NAME

-- Login roles with no other power.
SELECT format('CREATE ROLE %I', name)
  FROM unnest(ARRAY[:'temporal_user', :'app_user']) AS name
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = name) \gexec
SELECT format(
         'ALTER ROLE %I WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION '
         'NOBYPASSRLS INHERIT CONNECTION LIMIT -1 PASSWORD %L',
         name, password)
  FROM (VALUES (:'temporal_user', :'temporal_password'), (:'app_user', :'app_password'))
       AS role (name, password) \gexec

-- One owner per database; nobody else may connect.
SELECT format('CREATE DATABASE %I OWNER %I', db, owner)
  FROM (VALUES (:'temporal_db', :'temporal_user'), (:'visibility_db', :'temporal_user'),
               (:'app_db', :'app_user')) AS wanted (db, owner)
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = db) \gexec
SELECT format('ALTER DATABASE %I OWNER TO %I', db, owner),
       format('REVOKE ALL ON DATABASE %I FROM PUBLIC', db)
  FROM (VALUES (:'temporal_db', :'temporal_user'), (:'visibility_db', :'temporal_user'),
               (:'app_db', :'app_user')) AS wanted (db, owner) \gexec
SQL

# Inside each database: its owner owns the public schema and every relation in it (tables made
# by the superuser before these roles existed included), and nobody else may create there.
for pair in "$TEMPORAL_DB_NAME:$TEMPORAL_DB_USER" \
  "$TEMPORAL_VISIBILITY_DB_NAME:$TEMPORAL_DB_USER" "$APP_DB_NAME:$APP_DB_USER"; do
  OWNER_ROLE="${pair#*:}" psql -v ON_ERROR_STOP=1 --no-psqlrc --quiet \
    --username "$POSTGRES_USER" --dbname "${pair%%:*}" <<'SQL'
\getenv owner OWNER_ROLE
SELECT format('ALTER SCHEMA public OWNER TO %I', :'owner'),
       'REVOKE ALL ON SCHEMA public FROM PUBLIC' \gexec
SELECT format('ALTER %s %I.%I OWNER TO %I',
              CASE c.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW'
                             WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'TABLE' END,
              n.nspname, c.relname, :'owner')
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'public'
   AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
   AND pg_get_userbyid(c.relowner) <> :'owner'
   -- sequences of a serial or identity column move with their table
   AND NOT (c.relkind = 'S' AND EXISTS (
         SELECT FROM pg_depend d
          WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype IN ('a', 'i')))
\gexec
SQL
done
echo "roles $TEMPORAL_DB_USER and $APP_DB_USER ready; databases $TEMPORAL_DB_NAME," \
  "$TEMPORAL_VISIBILITY_DB_NAME and $APP_DB_NAME owned by them"
