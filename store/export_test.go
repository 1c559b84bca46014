package store

// SetSearchPlanLimit lets tests run People searches through either plan;
// it returns a function restoring the default.
func SetSearchPlanLimit(n int) (restore func()) {
	old := searchPlanLimit
	searchPlanLimit = n
	return func() { searchPlanLimit = old }
}

// AnalyzeDue exposes analyzeDue to the tests.
var AnalyzeDue = analyzeDue
