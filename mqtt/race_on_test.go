//go:build race

package mqtt_test

// raceEnabled reports whether the tests run under the race detector, whose
// instrumentation makes stack frames larger.
const raceEnabled = true
