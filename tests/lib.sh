# shellcheck shell=bash
# Shared by the lab test suites: counting, failure reports and the root rule.
# Set SUITE before sourcing; a failing check's details are read from $tmp/out.

pass=0 fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ok() { pass=$((pass + 1)); }

bad() {
    fail=$((fail + 1))
    echo "FAIL: $*" >&2
    if [ -s "$tmp/out" ]; then sed 's/^/    /' "$tmp/out" >&2; fi
}

# Labs need root. Skipping is for a developer's unprivileged run; CI must run them.
need_root() {
    [ "$(id -u)" -eq 0 ] && return 0
    if [ "${CI:-}" = true ]; then
        echo "$SUITE: CI must run as root" >&2
        exit 1
    fi
    echo "$SUITE: skipped (labs need root)"
    exit 0
}

# The closing line CI reads, and the suite's exit status.
summary() {
    echo "$SUITE: took $SECONDS s" # where CI's time goes, in its log
    echo "$SUITE: $pass passed, $fail failed"
    [ "$fail" -eq 0 ]
}

# Labs in parallel: `par CMD ARGS...` runs CMD (a function of the suite that
# calls ok and bad) in a subshell of its own, with a $tmp of its own, at most
# PAR_JOBS at once (each lab has namespaces of its own name); `par_wait`
# waits for them all, adds their counts and prints their output in the
# order they were started. CMD must not touch state of another job.
PAR_JOBS=${PAR_JOBS:-3}
par_pids=() par_dirs=() par_since=
par() {
    local dir
    [ -n "$par_since" ] || par_since=$SECONDS
    while [ "$(par_running)" -ge "$PAR_JOBS" ]; do wait -n "${par_pids[@]}" 2>/dev/null; done
    dir=$tmp/par${#par_dirs[@]}
    mkdir -p "$dir"
    par_job "$dir" "$@" &
    par_pids+=($!)
    par_dirs+=("$dir")
}
# One job, in the background: its own $tmp and counts, written at its end.
par_job() {
    local tmp=$1 pass=0 fail=0
    shift
    "$@" >"$tmp/log" 2>&1
    echo "$pass $fail" >"$tmp/counts"
}
par_running() {
    local n=0 p
    for p in "${par_pids[@]}"; do kill -0 "$p" 2>/dev/null && n=$((n + 1)); done
    echo "$n"
}
par_wait() {
    local dir p f
    wait "${par_pids[@]}" 2>/dev/null
    for dir in "${par_dirs[@]}"; do
        cat "$dir/log"
        if read -r p f <"$dir/counts"; then
            pass=$((pass + p)) fail=$((fail + f))
        else
            fail=$((fail + 1))
            echo "FAIL: a parallel job ($dir) ended without its counts" >&2
        fi
        rm -rf "$dir"
    done
    echo "$SUITE: ${#par_dirs[@]} jobs, $PAR_JOBS at once, in $((SECONDS - par_since)) s"
    par_pids=() par_dirs=() par_since=
}
