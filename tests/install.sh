#!/bin/bash
# make install's layout (scripts/install), its man pages and systemd units:
#
#   - into a PREFIX of our own: every program there and runnable, natlab
#     through its link finding its profiles and helpers;
#   - with DESTDIR: the files under DESTDIR, the units naming PREFIX alone;
#   - each man page renders with `man -l`, no groff warning, and says the
#     program's own options;
#   - each unit passes `systemd-analyze verify` without a word (a unit with a
#     misspelt key must draw one: the check can fail) and its sandbox scores
#     2.5 or less on `systemd-analyze security` (DynamicUser, only
#     CAP_NET_RAW and CAP_NET_BIND_SERVICE, a read-only system).
# No root, no lab.
set -u
BIN=$(cd "${1:-bin}" && pwd)
SUITE=install
# shellcheck source=tests/lib.sh
. tests/lib.sh

P=$tmp/prefix
if scripts/install "$BIN" "" "$P" >"$tmp/out" 2>&1; then ok; else bad "scripts/install into $P"; fi
missing=
for p in natprobe natreport natcollect natreflector stundecode natlab; do
    [ -x "$P/bin/$p" ] && "$P/bin/$p" --help >/dev/null 2>&1 || missing="$missing $p"
done
for p in labecho natemu natprobe; do [ -x "$P/lib/natlab/bin/$p" ] || missing="$missing lib/$p"; done
if [ -z "$missing" ]; then ok; else bad "installed programs missing or not runnable:$missing"; fi
"$P/bin/natlab" list >"$tmp/out" 2>&1
if grep -q '^masq ' "$tmp/out" && grep -q '^upnp ' "$tmp/out"; then ok; else
    bad "the installed natlab (through PREFIX/bin/natlab) does not list its profiles"; fi

# DESTDIR: everything below it, the units pointing at PREFIX.
scripts/install "$BIN" "$tmp/dest" /usr >/dev/null 2>&1
if [ -x "$tmp/dest/usr/bin/natprobe" ] && [ -f "$tmp/dest/usr/share/man/man8/natcollect.8" ] &&
    grep -q '^ExecStart=/usr/bin/natcollect ' "$tmp/dest/usr/lib/systemd/system/natcollect.service" &&
    ! grep -rq "$tmp" "$tmp/dest/usr/lib/systemd/system"; then ok; else
    bad "DESTDIR install: files under DESTDIR, units naming /usr/bin"; fi

# Man pages: rendered, clean, saying the program's options.
for page in natprobe.1:--upload natreport.1:--by natcollect.8:--tokens natreflector.8:--session-secret natlab.8:punch-matrix; do
    name=${page%%:*}
    f=$P/share/man/man${name##*.}/$name
    warnings=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$f" 2>&1 >/dev/null)
    if [ -z "$warnings" ] && LC_ALL=C.UTF-8 MANWIDTH=80 man -l "$f" 2>/dev/null >"$tmp/page" &&
        grep -q '^NAME' "$tmp/page" && grep -q -- "${page#*:}" "$tmp/page" && grep -q '^SEE ALSO' "$tmp/page"; then
        ok
    else
        bad "man -l ${page%%:*}: renders with NAME, SEE ALSO and ${page#*:}, no warning ($warnings)"
    fi
done

# systemd units: verified silent, sandboxed.
for u in natreflector natcollect; do
    f=$P/lib/systemd/system/$u.service
    said=$(systemd-analyze verify --man=no "$f" 2>&1)
    if [ -z "$said" ] && systemd-analyze security --offline=yes --threshold=25 "$f" >"$tmp/out" 2>&1; then
        ok
    else
        echo "$said" >>"$tmp/out"
        bad "$u.service: systemd-analyze verify says nothing, security exposure at most 2.5"
    fi
done
sed 's/^DynamicUser=/DynamicUsr=/' "$P/lib/systemd/system/natcollect.service" >"$tmp/typo.service"
if [ -n "$(systemd-analyze verify --man=no "$tmp/typo.service" 2>&1)" ]; then ok; else
    bad "systemd-analyze verify said nothing of a misspelt key: the unit check cannot fail"; fi
summary
