/**
 * The V8 flags roster runs with, wherever this repository starts it: the release binary
 * (`deno compile --v8-flags`, `scripts/compile.ts`), the benchmarks' bundle command
 * (`scripts/_measure.ts`), and, written out literally, the `roster` and `demo` tasks in
 * `deno.json` and the README's bundle alias (`tests/cli/v8_flags_test.ts` checks they agree).
 *
 * `--max-semi-space-size=8` caps each of the two semi-spaces of V8's young generation (where
 * new objects are allocated and most die) at 8 MiB. Deno's V8 is built without pointer
 * compression, so every pointer takes 8 bytes and the young generation V8 sizes for itself
 * grows to about 64 MiB on a large read, garbage that is all resident at the peak. Capped, a
 * large directory's short-lived records (a read's pages, per-entry values) are collected
 * sooner and more cheaply: on the 100,000-user LDIF benchmark the peak RSS falls from about
 * 240–290 MiB to about 200 MiB with no more CPU time (4 MiB: the same peak; 16 MiB: about
 * 225 MiB). It bounds only the young generation: the old generation, which holds what roster
 * keeps, still grows as far as the directory needs, unlike a heap cap
 * (`--max-old-space-size`), which would crash a run on a large directory.
 *
 * `--heap-growing-percent=50` lets the old generation grow by 1.5× between full collections
 * instead of the 2–4× V8 picks for itself. On a 1,000,000-user slapd directory the peak falls
 * from about 1,080 MB to about 840 MB for about 15% more CPU time (100,000 users: about 185 →
 * 170 MB); a sync run from cron has the time, a small server may not have the memory. Neither
 * flag can be set from inside the program: V8 reads them when the heap is set up.
 * @module
 */

/** The flags, comma-separated as `--v8-flags=` takes them. */
export const V8_FLAGS = "--max-semi-space-size=8,--heap-growing-percent=50";
