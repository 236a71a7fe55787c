package cgroup

import "testing"

func TestChargedOf(t *testing.T) {
	for _, c := range []struct {
		name string
		stat string
		v    int
		kmem int64
		want Charged
	}{
		{"v1: kernel memory from its own counter", "cache 4096\nrss 105119744\nswap 0\n", 1, 888832, Charged{105119744, 4096, 888832}},
		{"v1 before 4.6, no kmem limit", "cache 0\nrss 103809024\n", 1, 0, Charged{103809024, 0, 0}},
		{"v2 5.18+: kernel summed by the kernel", "anon 104857600\nfile 8192\nkernel 901120\nkernel_stack 65536\nsock 4096\n", 2, 0, Charged{104857600, 8192, 905216}},
		{"v2 before 5.18: the parts", "anon 100\nfile 10\nkernel_stack 1\npagetables 2\npercpu 4\nslab 8\nvmalloc 16\nsock 32\n", 2, 0, Charged{100, 10, 63}},
	} {
		kv, err := ParseKeyValues(c.stat)
		if err != nil {
			t.Fatal(err)
		}
		got := ChargedOf(Stat{KeyValues: kv, Version: c.v}, c.kmem)
		if got != c.want {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
		if got.Total() != c.want.Anon+c.want.File+c.want.Kernel {
			t.Errorf("%s: total %d", c.name, got.Total())
		}
	}
}
