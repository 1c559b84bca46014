//go:build !linux

package lock

import "time"

// threadCPU is not measured off Linux: the CPU metric then reads 0.
func threadCPU() time.Duration { return 0 }
