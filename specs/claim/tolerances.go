package claim

// Every tolerance the specs use lives here, with the reason for its size.

// SafeHeadroom is how far below the limit a run's peak must stay for
// "keeps running" to mean reliably. The article's arithmetic leaves 1 MiB
// between a 99m worker and a 100m limit for everything else in the group;
// memlab asks that at least half of it still be free at the peak. Kernels
// that charge a group's kernel memory (page tables, kernel stacks, slab)
// spend most of it: on 6.18 (v1), single runs of stress 99m under 100m
// peaked 0 to 304 KiB below the limit and about one in ten was OOM-killed.
// A margin that small is luck, not room.
const SafeHeadroom = 512 << 10
