package zwave

import "github.com/dooros/dooros/store"

// SetHook makes s call f at named points of each sync ("target",
// "written"; see Syncer.hook), before s runs.
func SetHook(s *Syncer, f func(point string, l store.ZWaveLock)) { s.hook = f }
