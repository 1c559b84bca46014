package store

// SetImportRowByRow makes import batches apply every row one by one, as
// the batch path does when it falls back; it returns a function restoring
// the default.
func SetImportRowByRow(on bool) (restore func()) {
	old := importRowByRow.Swap(on)
	return func() { importRowByRow.Store(old) }
}

// ImportLookups is how many emails import batches have looked up so far.
func ImportLookups() int64 { return importLookups.Load() }
