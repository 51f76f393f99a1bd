#!/bin/sh
# Run once by the postgres image when it creates the primary's cluster: lets the standby of
# the `replicas` profile stream from it (password-authenticated, on the compose network).
echo "host replication all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
