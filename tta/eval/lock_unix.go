//go:build unix

package eval

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// lockFile takes an exclusive advisory lock (flock) on path+".lock", which holds the locking process's id. The
// lock is released by the returned function, or by the kernel when the process ends (also when killed).
func lockFile(path string) (unlock func(), err error) {
	lp := path + ".lock"
	for range 3 {
		f, err := os.OpenFile(lp, os.O_CREATE|os.O_RDWR, 0o644)
		if err != nil {
			return nil, fmt.Errorf("eval: locking %s: %w", path, err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			holder, _ := os.ReadFile(lp)
			f.Close()
			if errors.Is(err, syscall.EWOULDBLOCK) {
				pid := strings.TrimSpace(string(holder))
				if pid == "" {
					pid = "unknown"
				}
				return nil, fmt.Errorf("eval: %s is being written by another process (pid %s holds %s): wait for it "+
					"to finish or use another --out", path, pid, lp)
			}
			return nil, fmt.Errorf("eval: locking %s: %w", lp, err)
		}
		// The holder before us may have removed the file after we opened it: lock the file at the path, not an
		// unlinked one.
		st1, err1 := f.Stat()
		st2, err2 := os.Stat(lp)
		if err1 != nil || err2 != nil || !os.SameFile(st1, st2) {
			f.Close()
			continue
		}
		_ = f.Truncate(0)
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
		return func() {
			_ = os.Remove(lp)
			f.Close()
		}, nil
	}
	return nil, fmt.Errorf("eval: locking %s: the lock file keeps changing", lp)
}
