package claim

// Every tolerance the specs use lives here, with the reason for its size.

// SafeHeadroom is how far below the limit a run's peak must stay for
// "keeps running" to mean reliably. Kernels that charge a group's kernel
// memory (page tables, kernel stacks, slab) vary that bookkeeping from run
// to run: on 6.18 (v1) twenty runs of stress 99m under 100m peaked between
// 0 and 304 KiB below the limit, and about one run in ten was OOM-killed.
// A margin inside that spread is luck, not room.
const SafeHeadroom = 256 << 10
