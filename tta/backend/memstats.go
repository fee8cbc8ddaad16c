package backend

import (
	"fmt"

	"github.com/gomlx/gomlx/backends"
)

// MemoryStats is a device allocator's memory use in bytes, as PJRT reports it (PJRT_Device_MemoryStats).
type MemoryStats struct {
	// InUse is the memory allocated now.
	InUse int64
	// Peak is the most memory allocated at once since the client started; -1 when the plugin does not say.
	Peak int64
	// Limit is the most the allocator may hand out; -1 when the plugin does not say.
	Limit int64
}

// DeviceMemory returns the memory statistics of b's first device, and false when b does not report them (the
// pure-Go backend, or a PJRT plugin without PJRT_Device_MemoryStats).
func DeviceMemory(b backends.Backend) (MemoryStats, bool) { return deviceMemory(b) }

// DeviceMemoryString is DeviceMemory for tables: "peak 1234.5 MiB, in use 567.8 MiB" (peak or limit
// "unknown" when the plugin does not report them), or "n/a" when b reports no statistics.
func DeviceMemoryString(b backends.Backend) string {
	s, ok := DeviceMemory(b)
	if !ok {
		return "n/a"
	}
	mib := func(n int64) string {
		if n < 0 {
			return "unknown"
		}
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("peak %s, in use %s", mib(s.Peak), mib(s.InUse))
}
