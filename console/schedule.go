package console

import (
	"strings"

	"github.com/dooros/dooros/domain"
)

var dayOrder = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// parseSchedule reads the key form's compact weekly schedule, such as
// "mon-fri 06:00-22:00; sat,sun 08:00-20:00" (empty: at any time). It only
// decodes; domain.Schedule.Validate judges the windows.
func parseSchedule(field, s string) (domain.Schedule, error) {
	var out domain.Schedule
	for part := range strings.SplitSeq(s, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		days, hours, ok := strings.Cut(part, " ")
		start, end, ok2 := strings.Cut(strings.TrimSpace(hours), "-")
		if !ok || !ok2 {
			return nil, domain.FieldError(field, "%q is not like \"mon-fri 06:00-22:00\"", part)
		}
		w := domain.ScheduleWindow{Start: strings.TrimSpace(start), End: strings.TrimSpace(end)}
		for d := range strings.SplitSeq(strings.ToLower(days), ",") {
			from, to, isRange := strings.Cut(strings.TrimSpace(d), "-")
			if !isRange {
				w.Days = append(w.Days, from)
				continue
			}
			i, j := dayIndex(from), dayIndex(to)
			if i < 0 || j < 0 {
				return nil, domain.FieldError(field, "%q is not a range of weekdays like mon-fri", d)
			}
			for k := i; ; k = (k + 1) % 7 {
				w.Days = append(w.Days, dayOrder[k])
				if k == j {
					break
				}
			}
		}
		out = append(out, w)
	}
	return out, nil
}

func dayIndex(d string) int {
	for i, x := range dayOrder {
		if x == d {
			return i
		}
	}
	return -1
}

// formatSchedule writes a schedule back in the form's syntax.
func formatSchedule(s domain.Schedule) string {
	parts := make([]string, len(s))
	for i, w := range s {
		parts[i] = strings.Join(w.Days, ",") + " " + w.Start + "-" + w.End
	}
	return strings.Join(parts, "; ")
}
