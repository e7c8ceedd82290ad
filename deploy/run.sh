#!/bin/sh
# Runs a built entry of the platform (dist/main.js, dist/demo.js) in node, as `npm start`, `npm run
# demo`, the image and the tests' and benchmarks' platform processes do. `exec` keeps the PID.
# Arguments go to node, after deploy/quiet-debug.mjs is preloaded (see there). Every setting below
# yields to the operator's own.
#
# The process's threads (the broker's, the embedded store's, V8's compiler and GC helpers) each
# malloc and free tens of MB, and the allocator decides how much of it stays resident.
#
# jemalloc (Debian's libjemalloc2), where it is installed: at most 2 arenas, freed pages returned
# after 1 s by its background thread. With 1,000 connected devices (three alternating runs against
# glibc tuned as below, scratch run of bench:platform's QoS 1 case): idle RSS 273–278 → 207–210 MB,
# connected 298–305 → 236–248 MB, peak under the load 352–402 → 331–382 MB, CPU per message within
# the spread. Returning pages at once (dirty_decay_ms:0) cost ~50 % more CPU per message.
# JEMALLOC_PATH names the library (empty or `none`: glibc's). An LD_PRELOAD of one's own is left
# as it is: it may carry an allocator of its own.
if [ -z "${JEMALLOC_PATH+set}" ]; then
  for lib in /usr/lib/x86_64-linux-gnu/libjemalloc.so.2 /usr/lib/aarch64-linux-gnu/libjemalloc.so.2 /usr/lib64/libjemalloc.so.2 /usr/lib/libjemalloc.so.2 /usr/local/lib/libjemalloc.so.2; do
    if [ -r "$lib" ]; then JEMALLOC_PATH=$lib; break; fi
  done
elif [ -n "$JEMALLOC_PATH" ] && [ "$JEMALLOC_PATH" != none ] && [ ! -r "$JEMALLOC_PATH" ]; then
  echo "deploy/run.sh: JEMALLOC_PATH=$JEMALLOC_PATH cannot be read; running on glibc's allocator" >&2
  JEMALLOC_PATH=none
fi
if [ -n "${JEMALLOC_PATH:-}" ] && [ "$JEMALLOC_PATH" != none ] && [ -z "${LD_PRELOAD:-}" ]; then
  LD_PRELOAD=$JEMALLOC_PATH
  : "${MALLOC_CONF=narenas:2,background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0}"
  export LD_PRELOAD MALLOC_CONF
fi
#
# glibc's allocator, where jemalloc is not used: by default every thread gets an arena of its own and
# freed memory stays in it. At most 2 arenas, and blocks of 128 KiB and more mapped and unmapped
# rather than kept: idle RSS 389–390 → 309–337 MB and peak 591–595 → 457–495 MB, CPU per message
# within the spread (three alternating pairs, as above). jemalloc ignores these.
: "${MALLOC_ARENA_MAX:=2}"
: "${MALLOC_MMAP_THRESHOLD_:=131072}"
: "${MALLOC_TRIM_THRESHOLD_:=131072}"
export MALLOC_ARENA_MAX MALLOC_MMAP_THRESHOLD_ MALLOC_TRIM_THRESHOLD_
#
# The embedded store's PostgreSQL is WASM; V8 compiles it (and tiers hot functions up) on up to
# all of node's V8 worker threads (4, --v8-pool-size) at once, each with compiler memory of its
# own, which the allocator keeps. One task: with 1,000 devices idle RSS 300–309 → 258–299 MB, peak
# 365–492 → 356–396 MB (three alternating pairs, glibc); PGlite opens as fast (255–283 vs
# 296–416 ms) and runs its inserts at the same speed once warm. WASM_COMPILE_TASKS changes it.
exec "${NODE:-node}" --wasm-num-compilation-tasks="${WASM_COMPILE_TASKS:-1}" --import "$(cd "$(dirname "$0")" && pwd)/quiet-debug.mjs" "$@"
