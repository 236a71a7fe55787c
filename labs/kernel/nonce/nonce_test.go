package nonce

import (
	"bytes"
	"syscall"
	"testing"
)

// The kernel's answer is used as it comes, however many reads it takes.
func TestReadUsesTheKernel(t *testing.T) {
	calls := 0
	got := read(5, func(b []byte) (int, error) {
		calls++
		b[0] = byte(calls)
		if calls == 2 {
			return 0, syscall.EINTR // a signal: ask again
		}
		return 1, nil
	})
	if want := []byte{1, 3, 4, 5, 6}; !bytes.Equal(got, want) {
		t.Errorf("read = %v; want %v", got, want)
	}
}

// While the pool is not ready (EAGAIN), on a kernel without getrandom
// (ENOSYS) or on any other failure, the fallback answers at once, and two
// answers differ.
func TestFallbackWhenThePoolIsNotReady(t *testing.T) {
	for _, err := range []error{syscall.EAGAIN, syscall.ENOSYS, syscall.EFAULT} {
		calls := 0
		notReady := func([]byte) (int, error) { calls++; return -1, err }
		seen := map[string]bool{}
		for range 1000 {
			b := read(3, notReady)
			if len(b) != 3 {
				t.Fatalf("%v: %d bytes; want 3", err, len(b))
			}
			if seen[string(b)] {
				t.Fatalf("%v: fallback repeated %x within %d calls", err, b, len(seen))
			}
			seen[string(b)] = true
		}
		if calls != 1000 {
			t.Errorf("%v: the kernel was asked %d times for 1000 reads; a failure must not be retried", err, calls)
		}
	}
}

// The fallback fills more than one hash's worth.
func TestFallbackLength(t *testing.T) {
	for _, n := range []int{0, 1, 32, 33, 100} {
		if got := len(fallback(n)); got != n {
			t.Errorf("fallback(%d) has %d bytes", n, got)
		}
	}
}

// On this machine the kernel's pool is ready: Hex is the right length and
// does not repeat.
func TestHex(t *testing.T) {
	a, b := Hex(3), Hex(3)
	if len(a) != 6 || len(b) != 6 {
		t.Fatalf("Hex(3) = %q, %q; want 6 hex digits", a, b)
	}
	if a == b {
		t.Errorf("two nonces are both %s", a)
	}
}
