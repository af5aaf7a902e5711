#!/bin/bash
# natlab's records in ClickHouse (natreport export --clickhouse, its schema,
# sql/clickhouse/shares.sql) against natreport's own survey:
#
#   two real clickhouse-server processes on loopback, two shards of the
#   cluster natlab_survey (HTTP 18123 and 18124, native 19100 and 19101);
#   the schema (natreport export --clickhouse-schema) on each; the golden
#   records loaded through the Distributed table on the first; both shards
#   hold some and together all; and the shares ClickHouse computes over the
#   shards equal those natreport prints for the same records, line by line.
#   A record loaded twice more must change a share: the comparison can fail.
set -u
BIN=$(cd "${1:-bin}" && pwd)
SUITE=clickhouse
# shellcheck source=tests/lib.sh
. tests/lib.sh
if ! command -v clickhouse-server >/dev/null; then
    [ "${CI:-}" = true ] && { echo "$SUITE: clickhouse-server missing (scripts/deps installs it)" >&2; exit 1; }
    echo "$SUITE: skipped (no clickhouse-server: scripts/deps)"
    exit 0
fi
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
    rm -rf "$tmp"
}
trap cleanup EXIT

RECORDS=(tests/golden/records/survey.jsonl tests/golden/records/depth.jsonl)

# shard N HTTP_PORT TCP_PORT: a server of its own, in $tmp/chN.
shard() {
    local d=$tmp/ch$1
    mkdir -p "$d"
    cat >"$d/users.xml" <<USERS
<yandex>
  <profiles><default><max_memory_usage>2000000000</max_memory_usage></default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip></networks>
    <profile>default</profile><quota>default</quota></default></users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors>
    <result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time>
  </interval></default></quotas>
</yandex>
USERS
    cat >"$d/config.xml" <<CONFIG
<yandex>
  <logger><level>warning</level><log>$d/server.log</log><errorlog>$d/error.log</errorlog></logger>
  <http_port>$2</http_port>
  <tcp_port>$3</tcp_port>
  <listen_host>127.0.0.1</listen_host>
  <path>$d/data/</path>
  <tmp_path>$d/tmp/</tmp_path>
  <user_files_path>$d/user_files/</user_files_path>
  <format_schema_path>$d/format_schemas/</format_schema_path>
  <users_config>$d/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>268435456</mark_cache_size>
  <remote_servers>
    <natlab_survey>
      <shard><replica><host>127.0.0.1</host><port>19100</port></replica></shard>
      <shard><replica><host>127.0.0.1</host><port>19101</port></replica></shard>
    </natlab_survey>
  </remote_servers>
</yandex>
CONFIG
    clickhouse-server --config-file="$d/config.xml" >"$d/stdout" 2>&1 &
    pids+=($!)
}
q() { curl -sf "http://127.0.0.1:$1/" --data-binary @-; } # PORT, the query on stdin

shard 1 18123 19100
shard 2 18124 19101
up=0
for _ in $(seq 150); do
    curl -sf http://127.0.0.1:18123/ping >/dev/null && curl -sf http://127.0.0.1:18124/ping >/dev/null && { up=1; break; }
    sleep 0.1
done
if [ "$up" = 1 ]; then ok; else
    cat "$tmp"/ch*/stdout "$tmp"/ch*/error.log >"$tmp/out" 2>/dev/null; bad "two clickhouse-server on loopback"; summary; exit; fi

# The schema on each shard, one statement a request.
"$BIN/natreport" export --clickhouse-schema >"$tmp/schema.sql"
created=0
for port in 18123 18124; do
    awk '/^CREATE/ { n++ } n { print > ("'"$tmp"'/stmt" n ".sql") }' "$tmp/schema.sql"
    for s in "$tmp"/stmt*.sql; do q "$port" <"$s" >>"$tmp/out" 2>&1 && created=$((created + 1)); done
done
if [ "$created" -eq 4 ]; then ok; else bad "the schema on both shards ($created of 4 statements)"; fi

"$BIN/natreport" export --clickhouse http://127.0.0.1:18123 "${RECORDS[@]}" >"$tmp/out" 2>&1
rc=$?
total=$(cat "${RECORDS[@]}" | grep -c '^{')
n1=$(echo 'SELECT count() FROM natlab_records_local' | q 18123)
n2=$(echo 'SELECT count() FROM natlab_records_local' | q 18124)
if [ "$rc" -eq 0 ] && [ "${n1:-0}" -gt 0 ] && [ "${n2:-0}" -gt 0 ] && [ $((n1 + n2)) -eq "$total" ]; then ok; else
    bad "natreport export through the Distributed table: exit $rc, shards $n1 + $n2 rows, want $total, both some"; fi

# natreport's survey lines, as (key, value, count) rows.
survey_rows() {
    "$BIN/natreport" --devices 0 "$@" 2>/dev/null | awk '
        /^  (NAT|mapping|filtering|hairpinning|NAT depth|CGN|port mapping answered|port mapping works) / {
            key = substr($0, 3, 22); sub(/ +$/, "", key)
            if (key !~ /^(NAT|mapping|filtering|hairpinning|NAT depth|CGN|port mapping answered|port mapping works)$/) next
            rest = substr($0, 26); sub(/; no mapping asked for.*/, "", rest)
            n = split(rest, items, ", ")
            for (i = 1; i <= n; i++) {
                m = split(items[i], w, " ")
                if (items[i] ~ / of [0-9]+ /) { value = w[1]; count = w[2] }
                else { value = w[1]; for (j = 2; j < m - 1; j++) value = value " " w[j]; count = w[m - 1] }
                print key "\t" value "\t" count
            }
        }' | sort
}
survey_rows "${RECORDS[@]}" >"$tmp/natreport.tsv"
q 18123 <sql/clickhouse/shares.sql | sort >"$tmp/clickhouse.tsv"
if [ -s "$tmp/natreport.tsv" ] && diff "$tmp/natreport.tsv" "$tmp/clickhouse.tsv" >"$tmp/out"; then ok; else
    bad "ClickHouse's shares over two shards equal natreport's ($(wc -l <"$tmp/natreport.tsv") rows)"; fi
# The comparison can fail: two more copies of one record change the shares.
head -n 1 "${RECORDS[0]}" >"$tmp/one.jsonl"
"$BIN/natreport" export --clickhouse http://127.0.0.1:18124 "$tmp/one.jsonl" "$tmp/one.jsonl" >/dev/null 2>&1
q 18123 <sql/clickhouse/shares.sql | sort >"$tmp/clickhouse2.tsv"
if ! diff -q "$tmp/natreport.tsv" "$tmp/clickhouse2.tsv" >/dev/null; then ok; else
    bad "two more records did not change ClickHouse's shares: the comparison cannot fail"; fi

# natcollect --clickhouse: the records it stores reach ClickHouse too, as
# natreport export sends them (three uploads; its stop sends what is left).
TOKEN=t0k3n-for-natlab-tests-0003
echo "fleet $TOKEN" >"$tmp/tokens"
"$BIN/natcollect" --tokens "$tmp/tokens" --out "$tmp/collected" --listen 127.0.0.1:18490 \
    --clickhouse http://127.0.0.1:18123 >"$tmp/collector.log" 2>&1 &
collector=$!
pids+=("$collector")
for _ in $(seq 100); do grep -q '^natcollect ready' "$tmp/collector.log" && break; sleep 0.02; done
line=$(head -n 1 "${RECORDS[0]}")
for i in 1 2 3; do
    id=eeeeeeee-ffff-4000-8000-00000000000$i
    curl -s -o /dev/null -H "Authorization: Bearer $TOKEN" \
        --data-binary "${line/\{\"schema\":\"natlab.result\/1\",/{\"schema\":\"natlab.result/1\",\"run_id\":\"$id\",}" \
        http://127.0.0.1:18490/v1/records
done
kill "$collector" && wait "$collector"
got=$(echo "SELECT count() FROM natlab_records WHERE run_id LIKE 'eeeeeeee-ffff-4000-8000-%'" | q 18123)
if [ "$got" = 3 ] && grep -q 'to ClickHouse 3 (dropped 0' "$tmp/collector.log"; then ok; else
    cp "$tmp/collector.log" "$tmp/out"; bad "natcollect --clickhouse: 3 stored, $got in ClickHouse"; fi
summary
