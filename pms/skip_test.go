package pms_test

import (
	"strings"
	"testing"
	"time"

	"github.com/dooros/dooros/pms"
)

func TestSkipStatuses(t *testing.T) {
	csv := "Resident ID,First Name,Last Name,Email,Resident Status\n" +
		"1,Ann,Mtm,ann@example.com,Month to Month\n" +
		"2,Ben,Cur,ben@example.com,Current\n" +
		"3,Cy,Fut,cy@example.com,Pre-leased\n"
	roster, _, err := pms.RealPage{}.Parse(strings.NewReader(csv), time.UTC)
	if err != nil || len(roster.Residents) != 3 {
		t.Fatalf("parse: %d residents, %v", len(roster.Residents), err)
	}
	// The vendor's word ("Month to Month", though it reads as current)
	// and a status it maps to ("future", for "Pre-leased") both skip.
	kept, warns := pms.SkipStatuses(roster, []string{"month-to-month", "FUTURE"})
	if len(kept.Residents) != 1 || kept.Residents[0].Email != "ben@example.com" || len(warns) != 2 {
		t.Fatalf("kept %+v, warnings %+v", kept.Residents, warns)
	}
	if !strings.Contains(warns[0].Reason, "skipped by this property") || warns[0].ExternalID != "1" {
		t.Errorf("warning %+v", warns[0])
	}
	if same, _ := pms.SkipStatuses(roster, nil); len(same.Residents) != 3 {
		t.Errorf("no skip list dropped residents")
	}
	for _, w := range []string{"Past", "moved out", "Former Resident", "Evicted"} {
		if !pms.MeansPast(w) {
			t.Errorf("MeansPast(%q) = false", w)
		}
	}
	for _, w := range []string{"Current", "Notice", "Model", "Month to Month"} {
		if pms.MeansPast(w) {
			t.Errorf("MeansPast(%q) = true", w)
		}
	}
}
