package lockproto

// EventKeypadAlert is logged by a lock whose keypad is being guessed at
// (lockouts in a row, or a slow stream of wrong codes over a day), so the
// manager sees it in Activity. Beside the other kinds of eventlog.go; kept
// here so the event-log file stays with its owner.
const EventKeypadAlert = "keypad.alert"
