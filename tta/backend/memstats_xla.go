//go:build ((linux && amd64) || darwin) && !noxla && cgo

package backend

/*
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

// The PJRT C API (xla/pjrt/c/pjrt_c_api.h) is a struct of function pointers whose order never changes: after
// struct_size, extension_start and the 24-byte PJRT_Api_Version come PJRT_Error_Destroy (function 0) and, as
// function 34, PJRT_Device_MemoryStats (PJRT API 0.83, the header of go-xla v0.1.4).
enum { gotta_fn0 = 40, gotta_error_destroy = gotta_fn0, gotta_device_memory_stats = gotta_fn0 + 8 * 34 };
typedef void* (*gotta_pjrt_fn)(void* args);

// PJRT_Device_MemoryStats_Args, read at the offsets of pjrt_c_api.h: struct_size, extension_start, device, then
// bytes_in_use, peak_bytes_in_use, peak_bytes_in_use_is_set, num_allocs, num_allocs_is_set, largest_alloc_size,
// largest_alloc_size_is_set, bytes_limit, bytes_limit_is_set (each int64 or padded bool: 8 bytes). A plugin checks
// that struct_size is at least its own size, so the buffer and the size given are generous.
typedef struct { int64_t in_use, peak, peak_set, limit, limit_set; int ok; } gotta_mem;

static gotta_mem gotta_memory_stats(void* api, void* device) {
	gotta_mem m = {0};
	if (*(size_t*)api < gotta_device_memory_stats + 8) return m;
	gotta_pjrt_fn stats = *(gotta_pjrt_fn*)((char*)api + gotta_device_memory_stats);
	gotta_pjrt_fn destroy = *(gotta_pjrt_fn*)((char*)api + gotta_error_destroy);
	if (stats == NULL) return m;
	char args[512];
	memset(args, 0, sizeof args);
	*(size_t*)args = sizeof args;
	*(void**)(args + 16) = device;
	void* err = stats(args);
	if (err != NULL) {
		char d[24];
		memset(d, 0, sizeof d);
		*(size_t*)d = sizeof d;
		*(void**)(d + 16) = err;
		if (destroy != NULL) destroy(d);
		return m;
	}
	m.in_use = *(int64_t*)(args + 24);
	m.peak = *(int64_t*)(args + 32);
	m.peak_set = *(char*)(args + 40);
	m.limit = *(int64_t*)(args + 80);
	m.limit_set = *(char*)(args + 88);
	m.ok = 1;
	return m;
}
*/
import "C"

import (
	"reflect"
	"unsafe"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/xla"
)

// deviceMemory asks a PJRT backend's first device for its allocator statistics (PJRT_Device_MemoryStats, which
// GoMLX v0.26 and go-xla v0.1.4 do not wrap). The plugin's API table and the device handle are read from the
// unexported fields of xla.Backend (client), pjrt.Client (plugin, addressableDevices), pjrt.Plugin (api) and
// pjrt.Device (cDevice); when any is missing (another version) the stats are reported as unavailable.
func deviceMemory(b backends.Backend) (MemoryStats, bool) {
	xb, ok := b.(*xla.Backend)
	if !ok || xb == nil {
		return MemoryStats{}, false
	}
	client := reflect.ValueOf(xb).Elem().FieldByName("client")
	if !client.IsValid() || client.Kind() != reflect.Pointer || client.IsNil() {
		return MemoryStats{}, false
	}
	plugin := client.Elem().FieldByName("plugin")
	devices := client.Elem().FieldByName("addressableDevices")
	if !plugin.IsValid() || plugin.IsNil() || !devices.IsValid() || devices.Len() == 0 {
		return MemoryStats{}, false
	}
	api := plugin.Elem().FieldByName("api")
	dev := devices.Index(0)
	if !api.IsValid() || api.Kind() != reflect.Pointer || api.IsNil() || dev.IsNil() {
		return MemoryStats{}, false
	}
	cdev := dev.Elem().FieldByName("cDevice")
	if !cdev.IsValid() || cdev.Kind() != reflect.Pointer || cdev.IsNil() {
		return MemoryStats{}, false
	}
	m := C.gotta_memory_stats(unsafe.Pointer(api.Pointer()), unsafe.Pointer(cdev.Pointer()))
	if m.ok == 0 {
		return MemoryStats{}, false
	}
	s := MemoryStats{InUse: int64(m.in_use), Peak: -1, Limit: -1}
	if m.peak_set != 0 {
		s.Peak = int64(m.peak)
	}
	if m.limit_set != 0 {
		s.Limit = int64(m.limit)
	}
	return s, true
}
