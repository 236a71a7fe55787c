package cgroup

// Charged is what a group is charged for, by kind, as memory.stat (and v1's
// kmem counter) count it: the pages its tasks use. Usage counts these too,
// plus what each CPU has charged ahead into its stock, which the kernel
// hands back before it would OOM-kill, so a margin to the limit is judged
// from Charged, not from usage or its watermark.
type Charged struct {
	Anon   int64 // v1 rss, v2 anon
	File   int64 // v1 cache, v2 file
	Kernel int64 // v1 memory.kmem.usage_in_bytes; v2 memory.stat kernel (or its parts before 5.18) + sock
}

// Total is every page the group is charged for.
func (c Charged) Total() int64 { return c.Anon + c.File + c.Kernel }

// KmemUsageV1 is v1's kernel memory counter, charged to usage_in_bytes too.
const KmemUsageV1 = "memory.kmem.usage_in_bytes"

// KernelFiles says where Charged.Kernel is read in cgroup version v.
func KernelFiles(v int) string {
	if v == 2 {
		return "memory.stat kernel, sock"
	}
	return KmemUsageV1
}

// v2KernelParts are what v2's memory.stat "kernel" (5.18+) sums; older
// kernels list only the parts.
var v2KernelParts = []string{"kernel_stack", "pagetables", "percpu", "slab", "vmalloc"}

// ChargedOf reads Charged out of memory.stat, and on v1 the kmem counter
// (kmem; 0 where the kernel has no such file).
func ChargedOf(st Stat, kmem int64) Charged {
	c := Charged{}
	c.Anon, _ = st.Anon()
	c.File, _ = st.File()
	if st.Version != 2 {
		c.Kernel = kmem
		return c
	}
	if k, ok := st.KeyValues["kernel"]; ok {
		c.Kernel = k
	} else {
		for _, p := range v2KernelParts {
			c.Kernel += st.KeyValues[p]
		}
	}
	c.Kernel += st.KeyValues["sock"]
	return c
}

// Charged reads what the group is charged for now.
func (g *Group) Charged() (Charged, Stat, error) {
	st, err := g.Stat()
	if err != nil {
		return Charged{}, st, err
	}
	var kmem int64
	if g.Layout.Version == 1 && g.HasFile(KmemUsageV1) {
		if kmem, err = g.value(KmemUsageV1); err != nil {
			return Charged{}, st, err
		}
	}
	return ChargedOf(st, kmem), st, nil
}
