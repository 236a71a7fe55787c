// Package nonce makes short unique suffixes for the names memlab gives its
// cgroups and containers, without ever waiting on the kernel's entropy pool.
//
// crypto/rand calls getrandom(2) without flags, which blocks until the pool
// holds 128 bits. A guest with no devices on 4.4 waits forever for them, so
// naming a cgroup would hang the lab before it began. A name needs to be
// unique, not secret: when the pool is not ready, the time, the PID and a
// counter make it so.
package nonce

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Hex returns n bytes as 2n hex digits.
func Hex(n int) string { return hex.EncodeToString(Bytes(n)) }

// Bytes returns n bytes from the kernel's pool when it is ready and from
// the fallback otherwise. It never blocks and never fails.
func Bytes(n int) []byte { return read(n, getrandom) }

// getrandom asks the kernel without waiting: EAGAIN while the pool is not
// yet initialised, ENOSYS before 3.17.
func getrandom(b []byte) (int, error) { return unix.Getrandom(b, unix.GRND_NONBLOCK) }

func read(n int, source func([]byte) (int, error)) []byte {
	b := make([]byte, n)
	for got := 0; got < n; {
		m, err := source(b[got:])
		switch {
		case errors.Is(err, syscall.EINTR):
			continue
		case err != nil || m <= 0:
			return fallback(n)
		}
		got += m
	}
	return b
}

var (
	counter atomic.Uint64
	// salt makes one process's fallback differ from another's; the counter
	// makes every call within a process differ from the last.
	salt = sync.OnceValue(func() [sha256.Size]byte {
		var seed [16]byte
		binary.LittleEndian.PutUint64(seed[0:], uint64(time.Now().UnixNano()))
		binary.LittleEndian.PutUint64(seed[8:], uint64(os.Getpid()))
		return sha256.Sum256(seed[:])
	})
)

// fallback is unique rather than random: the counter XORed with a fixed
// salt, so no two calls in one process return the same bytes until the
// counter has gone round all 2^(8n) values. Names also carry the creating
// process's PID, which tells two processes apart.
func fallback(n int) []byte {
	out := make([]byte, n)
	s := salt()
	for i := range out {
		out[i] = s[i%len(s)]
	}
	var c [8]byte
	binary.LittleEndian.PutUint64(c[:], counter.Add(1))
	for i := 0; i < n && i < len(c); i++ {
		out[i] ^= c[i]
	}
	return out
}
