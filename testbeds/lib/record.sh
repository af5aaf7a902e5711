# shellcheck shell=bash
# Reading natprobe's result record (one JSON line) from the shell, without jq.

# record_verdict FILE KEY: the first value of KEY that is a string, true, false,
# null or a whole number. The first, because the verdicts come before the evidence and the
# reasons, which reuse their keys.
record_verdict() {
	grep -o "\"$2\":\\(\"[^\"]*\"\\|true\\|false\\|null\\|[0-9][0-9]*\\)" "$1" | head -n 1 |
		sed 's/^[^:]*://; s/"//g'
}

# record_tcp_verdict FILE KEY: the same within the record's tcp section (which
# comes after udp's and reuses its keys).
record_tcp_verdict() {
	sed -n 's/.*"tcp":{/{/p' "$1" | grep -o "\"$2\":\(\"[^\"]*\"\|true\|false\|null\)" |
		head -n 1 | sed 's/^[^:]*://; s/"//g'
}
