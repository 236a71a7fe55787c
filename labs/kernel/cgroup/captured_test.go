package cgroup

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/memlab/memlab/labs/matrix/capture"
)

// capturedGroups are the groups labs/matrix/capture left, one folder per
// kernel and cgroup mode (testdata/README.md), each read through a Group as
// the labs read a live one.
func capturedGroups(t *testing.T) map[string]*Group {
	t.Helper()
	dirs, err := filepath.Glob("testdata/v[12]-*/capture.txt")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no captured groups in testdata (%v)", err)
	}
	groups := map[string]*Group{}
	for _, file := range dirs {
		dir := filepath.Dir(file)
		v := 1
		if strings.HasPrefix(filepath.Base(dir), "v2-") {
			v = 2
		}
		groups[filepath.Base(dir)] = &Group{Layout: Layout{Version: v}, Files: FilesFor(v), Name: capture.Group, Path: dir}
	}
	return groups
}

// captureFacts reads capture.txt: "KEY VALUE" lines the guest wrote about
// what it did, independent of the files the kernel wrote.
func captureFacts(t *testing.T, dir string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "capture.txt"))
	if err != nil {
		t.Fatal(err)
	}
	facts := map[string]string{}
	for line := range strings.Lines(string(b)) {
		if k, v, ok := strings.Cut(strings.TrimSuffix(line, "\n"), " "); ok && !strings.HasPrefix(k, "#") {
			facts[k] = v
		}
	}
	return facts
}

// kernelBefore says whether a release such as "4.4.178-memlab" is older
// than major.minor.
func kernelBefore(t *testing.T, release string, major, minor int) bool {
	t.Helper()
	f := strings.FieldsFunc(release, func(r rune) bool { return r == '.' || r == '-' || r == '+' })
	if len(f) < 2 {
		t.Fatalf("release %q", release)
	}
	a, err1 := strconv.Atoi(f[0])
	b, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil {
		t.Fatalf("release %q", release)
	}
	return a < major || a == major && b < minor
}

// Every captured group reads through the labs' own readers, and says what
// the capture did to it: a 100m limit, hit, and stress's worker OOM-killed.
func TestCapturedGroups(t *testing.T) {
	modes := map[string]int{}
	for name, g := range capturedGroups(t) {
		t.Run(name, func(t *testing.T) {
			facts := captureFacts(t, g.Path)
			modes["v"+strconv.Itoa(g.Layout.Version)]++
			if limit, err := g.Limit(); err != nil || limit != capture.Limit || facts["limit"] != strconv.Itoa(capture.Limit) {
				t.Errorf("%s = %d, %v; capture.txt says %s; want %d", g.Files.Limit, limit, err, facts["limit"], capture.Limit)
			}
			if usage, err := g.Usage(); err != nil || usage <= 0 || usage > capture.Limit {
				t.Errorf("%s = %d, %v: want within the limit", g.Files.Usage, usage, err)
			}
			// v2 has memory.peak only from 5.19 on.
			if g.Layout.Version == 1 || !kernelBefore(t, facts["release"], 5, 19) {
				if peak, err := g.Peak(); err != nil || peak != capture.Limit {
					t.Errorf("%s = %d, %v; an OOM kill at the limit peaks at it", g.Files.Peak, peak, err)
				}
			} else if g.HasFile(g.Files.Peak) {
				t.Errorf("%s before 5.19", g.Files.Peak)
			}
			if hits, err := g.Failcnt(); err != nil || hits <= 0 {
				t.Errorf("limit hits = %d, %v; the hog went past the limit", hits, err)
			}
			st, err := g.Stat()
			if err != nil {
				t.Fatal(err)
			}
			for _, read := range []func() (int64, string){st.Anon, st.File} {
				if _, key := read(); !hasKey(st.KeyValues, key) {
					t.Errorf("%s has no %q", g.Files.Stat, key)
				}
			}
			if g.Layout.Version == 1 && st.KeyValues["hierarchical_memory_limit"] != capture.Limit {
				t.Errorf("hierarchical_memory_limit = %d", st.KeyValues["hierarchical_memory_limit"])
			}
			ev, err := g.Events()
			if err != nil {
				t.Fatal(err)
			}
			kills, counted := ev.OOMKills()
			// v1 counts OOM kills only from 4.13 on.
			if wantCounted := g.Layout.Version == 2 || !kernelBefore(t, facts["release"], 4, 13); counted != wantCounted {
				t.Errorf("%s counts oom_kill: %v, want %v", g.Files.Events, counted, wantCounted)
			}
			if counted && strconv.FormatInt(kills, 10) != facts["killed"] {
				t.Errorf("oom_kill = %d; stress saw %s workers killed", kills, facts["killed"])
			}
			procs, err := g.Procs()
			if err != nil || len(procs) != 1 {
				t.Errorf("%s = %v, %v: want the one shell left in the group", g.Files.Procs, procs, err)
			}
			if threads, err := g.Threads(); err != nil || len(threads) != 1 || len(procs) == 1 && threads[0] != procs[0] {
				t.Errorf("%s = %v, %v; want the shell's one thread", g.Files.Threads, threads, err)
			}
		})
	}
	if modes["v1"] == 0 || modes["v2"] == 0 {
		t.Errorf("the captures cover %v; want both cgroup modes", modes)
	}
}

func hasKey(kv KeyValues, k string) bool { _, ok := kv[k]; return ok }

// The captured mount tables give the layout each guest mounted.
func TestDetectCapturedMounts(t *testing.T) {
	for name, g := range capturedGroups(t) {
		mounts, err := os.ReadFile(filepath.Join(g.Path, "mountinfo"))
		if err != nil {
			t.Fatal(err)
		}
		controllers, _ := os.ReadFile(filepath.Join(g.Path, "unified.cgroup.controllers"))
		l, err := DetectFromMountinfo(string(mounts), string(controllers))
		want := Layout{Mode: Legacy, Version: 1, MemoryRoot: "/sys/fs/cgroup/memory"}
		if g.Layout.Version == 2 {
			want = Layout{Mode: Unified, Version: 2, MemoryRoot: "/sys/fs/cgroup", UnifiedRoot: "/sys/fs/cgroup"}
		}
		if err != nil || l != want {
			t.Errorf("%s: %+v, %v; want %+v", name, l, err, want)
		}
	}
}

// Every keyed file a kernel wrote parses, and every single-value file.
func TestCapturedFilesParse(t *testing.T) {
	keyed := map[string]bool{"memory.stat": true, "memory.oom_control": true, "memory.events": true,
		"memory.events.local": true, "memory.swap.events": true}
	files, err := filepath.Glob("testdata/*/memory.*")
	if err != nil || len(files) == 0 {
		t.Fatalf("no captured interface files (%v)", err)
	}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if keyed[filepath.Base(file)] {
			if kv, err := ParseKeyValues(string(b)); err != nil || len(kv) == 0 {
				t.Errorf("%s: %d keys, %v", file, len(kv), err)
			}
		} else if _, err := ParseValue(string(b)); err != nil {
			t.Errorf("%s: %v", file, err)
		}
	}
}
