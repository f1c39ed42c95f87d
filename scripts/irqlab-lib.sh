# SPDX-License-Identifier: GPL-2.0-or-later
#
# irqlab-lib.sh: what the scripts/irqlab-* commands share.  Sourced, not
# run; the sourcing script sets $top (this repository) and may set $PROG
# (the name its messages start with).

PROG=${PROG:-$(basename "$0")}

say()  { printf '%s: %s\n' "$PROG" "$*"; }
warn() { printf '%s: WARNING: %s\n' "$PROG" "$*" >&2; }

# run LOG CMD...: run CMD with its output in $LOGS/LOG.log.  On failure
# show the last lines of the log and return CMD's status.
run() {
    local log=$LOGS/$1.log status=0
    shift
    mkdir -p "$LOGS"
    printf '+ %s\n' "$*" >>"$log"
    "$@" >>"$log" 2>&1 || status=$?
    if [ "$status" -ne 0 ]; then
        tail -n 15 "$log" | sed 's/^/  | /' >&2
        printf '%s: full log: %s\n' "$PROG" "$log" >&2
    fi
    return "$status"
}

# as_root CMD...: CMD as root, through sudo when not root (apt-get).
as_root() {
    local sudo=
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null ||
            die "this step runs apt-get as root, and sudo is missing" \
                "run 'make check' as root once, or install sudo"
        sudo=sudo
    fi
    $sudo "$@"
}

# Stamps in $STAMPS: a step is done when its stamp holds the hash of what
# it was made from.
hash_of() { cat "$@" | sha256sum | cut -d' ' -f1; }
stamp_ok() { [ -f "$STAMPS/$1" ] && [ "$(cat "$STAMPS/$1")" = "$2" ]; }
stamp_set() { mkdir -p "$STAMPS"; printf '%s\n' "$2" >"$STAMPS/$1"; }

# die MESSAGE [HINT]: one line saying what is wrong, one saying what to
# do, then stop.
die() {
    printf '%s: error: %s\n' "$PROG" "$1" >&2
    [ $# -lt 2 ] || printf '%s: hint: %s\n' "$PROG" "$2" >&2
    exit 1
}

# The patch files patches/series names, in order.
series() {
    sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$top/patches/series"
}

# irqlab's own files, as paths in this repository: our meson.build, and
# every file under the folders that mirror QEMU's tree.
OVERLAY_DIRS=(hw include qapi tests/qtest)
overlay_files() {
    local d dirs=()
    echo meson.build
    for d in "${OVERLAY_DIRS[@]}"; do
        [ ! -d "$top/$d" ] || dirs+=("$d")
    done
    [ ${#dirs[@]} -eq 0 ] ||
        (cd "$top" && find "${dirs[@]}" -type f ! -name '*~' ! -name '.*' | sort)
}

# Where an irqlab file goes in QEMU's tree: the same relative path, except
# our top-level meson.build, which QEMU reads as irqlab/meson.build.
qemu_path() { [ "$1" = meson.build ] && echo irqlab/meson.build || echo "$1"; }
