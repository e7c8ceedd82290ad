#!/bin/sh
# InfluxDB 2.x: let InfluxQL (Grafana's dashboards) find the bucket under INFLUX_DATABASE.
set -e
BUCKET_ID=$(influx bucket list --name "$DOCKER_INFLUXDB_INIT_BUCKET" --hide-headers | cut -f1)
influx v1 dbrp create --db "$INFLUX_DATABASE" --rp autogen --bucket-id "$BUCKET_ID" --default
