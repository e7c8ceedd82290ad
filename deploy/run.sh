#!/bin/sh
# Runs a built entry of the platform (dist/main.js, dist/demo.js) in node, as `npm start`, `npm run
# demo`, the image and the tests' and benchmarks' platform processes do. `exec` keeps the PID.
# Arguments go to node, after deploy/quiet-debug.mjs is preloaded (see there).
#
# glibc's allocator, tuned for a process whose threads (the broker's, the embedded store's, V8's
# compiler and GC helpers) each malloc and free tens of MB: by default every thread gets an arena of
# its own and freed memory stays in it. At most 2 arenas, and blocks of 128 KiB and more mapped and
# unmapped rather than kept: with 1,000 devices idle RSS 389–390 → 309–337 MB and peak under
# bench:platform's QoS 1 load 591–595 → 457–495 MB, CPU per message within the spread (three
# alternating pairs, scratch run of bench:platform's QoS 1 case). Set any of them to override.
: "${MALLOC_ARENA_MAX:=2}"
: "${MALLOC_MMAP_THRESHOLD_:=131072}"
: "${MALLOC_TRIM_THRESHOLD_:=131072}"
export MALLOC_ARENA_MAX MALLOC_MMAP_THRESHOLD_ MALLOC_TRIM_THRESHOLD_
exec "${NODE:-node}" --import "$(cd "$(dirname "$0")" && pwd)/quiet-debug.mjs" "$@"
