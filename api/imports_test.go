package api_test

import (
	"bytes"
	"context"
	"fmt"
	"mime/multipart"
	"strings"
	"testing"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/imports"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

type importJob struct {
	ID            string `json:"id"`
	Status        string `json:"status"`
	DryRun        bool   `json:"dry_run"`
	TotalRows     int    `json:"total_rows"`
	ProcessedRows int    `json:"processed_rows"`
	Counts        struct {
		Created   int `json:"created"`
		Changed   int `json:"changed"`
		Unchanged int `json:"unchanged"`
		Refused   int `json:"refused"`
	} `json:"counts"`
	Error string `json:"error"`
}

func (j importJob) summary() string {
	return fmt.Sprintf("%s created=%d changed=%d unchanged=%d refused=%d of %d/%d", j.Status, j.Counts.Created, j.Counts.Changed,
		j.Counts.Unchanged, j.Counts.Refused, j.ProcessedRows, j.TotalRows)
}

type importRow struct {
	Row      int    `json:"row"`
	Email    string `json:"email"`
	Outcome  string `json:"outcome"`
	Column   string `json:"column"`
	Reason   string `json:"reason"`
	PersonID string `json:"person_id"`
}

// runImports runs the import worker until no job is left.
func (e *env) runImports() {
	e.t.Helper()
	r := &imports.Runner{Store: e.Store, Pause: -1, BatchRows: 2}
	for {
		did, err := r.RunOnce(context.Background())
		if err != nil {
			e.t.Fatal(err)
		}
		if !did {
			return
		}
	}
}

// importCSV uploads body as text/csv (query: "" or "?dry_run=true"), runs
// the worker and returns the finished job.
func (e *env) importCSV(body, query string) importJob {
	e.t.Helper()
	var j importJob
	e.want(e.DoRaw("POST", e.prop+"/imports"+query, e.PMToken, "text/csv", []byte(body)), 202).Decode(e.t, &j)
	if j.Status != store.ImportQueued {
		e.t.Fatalf("new job is %s, want queued", j.Status)
	}
	e.runImports()
	e.ok("GET", e.prop+"/imports/"+j.ID, nil, 200).Decode(e.t, &j)
	return j
}

func (e *env) importRows(id, query string) []importRow {
	e.t.Helper()
	var out []importRow
	cursor := ""
	for {
		var l list[importRow]
		sep := "?"
		if query != "" {
			sep = "&"
		}
		e.ok("GET", e.prop+"/imports/"+id+"/rows"+query+sep+"limit=2&cursor="+cursor, nil, 200).Decode(e.t, &l)
		out = append(out, l.Items...)
		if l.NextCursor == "" {
			return out
		}
		cursor = l.NextCursor
	}
}

// outcomes writes row results as "row outcome column" lines.
func outcomes(rows []importRow) string {
	var b strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&b, "%d %s %s\n", r.Row, r.Outcome, r.Column)
	}
	return b.String()
}

// importExpiryYear is the year of Ann's expiration, years ahead.
var importExpiryYear = storetest.YearsAhead(4)

var importFile = fmt.Sprintf(`First Name,Last Name,Email,Keys,May Share,Unit,Expiration
Ann,Archer,ann@example.com,Building;Home 101,yes,101,12/31/%d
Ben,Baker,BEN@example.com,Building,,,
Cat,Cole,cat@example.com,Nope,,,
Dan,Dale,not-an-email,,,,
Eve,East,eve@example.com,,,Z99,
`, importExpiryYear)

const importOutcomes = `2 created 
3 changed 
4 refused Keys
5 refused Email
6 refused Unit
`

// seedImport creates unit 101 and Ben (who holds Home 101).
func (e *env) seedImport() person {
	e.t.Helper()
	e.ok("POST", e.prop+"/units", map[string]any{"name": "101"}, 201)
	return e.invite(map[string]any{"first_name": "Ben", "last_name": "Baker", "email": "ben@example.com", "access": "app",
		"keys": []map[string]any{{"key_id": e.F.Home.ID}}})
}

func TestImportCSV(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		ben := e.seedImport()

		t.Run("TemplateDownloads", func(t *testing.T) {
			res := e.want(e.Do("GET", "/api/v1/import-template.csv", "", nil), 200)
			if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
				t.Errorf("content type %q", ct)
			}
			if !bytes.HasPrefix(res.Body, []byte("\uFEFFFirst Name,Last Name,Email,")) {
				t.Errorf("template starts %q", res.Body[:40])
			}
		})

		job := e.importCSV(importFile, "")
		t.Run("GoodRowsInBadRowsRefused", func(t *testing.T) {
			if got, want := job.summary(), "done created=1 changed=1 unchanged=0 refused=3 of 5/5"; got != want {
				t.Errorf("job: %s, want %s", got, want)
			}
			rows := e.importRows(job.ID, "")
			if got := outcomes(rows); got != importOutcomes {
				t.Errorf("outcomes:\n%swant:\n%s", got, importOutcomes)
			}
			for _, r := range rows {
				if r.Outcome == "refused" && r.Reason == "" {
					t.Errorf("row %d refused without a reason", r.Row)
				}
			}
			if !strings.Contains(rows[2].Reason, `"Nope"`) {
				t.Errorf("unknown key reason %q does not name the key", rows[2].Reason)
			}
			refused := e.importRows(job.ID, "?outcome=refused")
			if len(refused) != 3 {
				t.Errorf("%d refused rows listed, want 3", len(refused))
			}
		})
		t.Run("NewEmailInvited", func(t *testing.T) {
			ps := e.people("?q=ann@example.com")
			if len(ps) != 1 {
				t.Fatalf("%d people named ann", len(ps))
			}
			ann := e.person(ps[0].ID)
			if got := strings.Join(sortedIDs(ann.keyIDs()...), ","); got != strings.Join(sortedIDs(e.F.Building.ID, e.F.Home.ID), ",") {
				t.Errorf("Ann's keys %s", got)
			}
			for _, k := range ann.Keys {
				if !k.MayShare {
					t.Errorf("key %s: may_share false, the file says yes", k.KeyID)
				}
			}
			ny, _ := time.LoadLocation("America/New_York")
			if want := time.Date(importExpiryYear, 12, 31, 23, 59, 59, 0, ny); ann.ExpiresAt == nil || !ann.ExpiresAt.Equal(want) {
				t.Errorf("Ann expires %v, want %v (end of 12/31/%d in the property's zone)", ann.ExpiresAt, want, importExpiryYear)
			}
			if n := e.countWhere("outbox", "subject_id = ?", ann.ID); n != 1 {
				t.Errorf("%d outbox rows about Ann, want her welcome email", n)
			}
		})
		t.Run("ExistingEmailGetsKeysAdded", func(t *testing.T) {
			b := e.person(ben.ID)
			if got := strings.Join(sortedIDs(b.keyIDs()...), ","); got != strings.Join(sortedIDs(e.F.Building.ID, e.F.Home.ID), ",") {
				t.Errorf("Ben's keys %s: Building added, Home 101 kept", got)
			}
			if !hasKind(e.activity("?person_id="+ben.ID), domain.EventKeyGiven, ben.ID) {
				t.Error("no key_given event for Ben")
			}
		})
		t.Run("SecondUploadChangesNothing", func(t *testing.T) {
			before := e.counts()
			again := e.importCSV(importFile, "")
			if got, want := again.summary(), "done created=0 changed=0 unchanged=2 refused=3 of 5/5"; got != want {
				t.Errorf("second run: %s, want %s", got, want)
			}
			if after := e.counts(); after != before {
				t.Errorf("second upload wrote:\nbefore %s\nafter  %s", before, after)
			}
		})
		t.Run("ListNewestFirst", func(t *testing.T) {
			var l list[importJob]
			e.ok("GET", e.prop+"/imports?limit=1", nil, 200).Decode(t, &l)
			if len(l.Items) != 1 || l.Items[0].ID == job.ID || l.NextCursor == "" {
				t.Fatalf("first page %+v", l)
			}
			e.ok("GET", e.prop+"/imports?limit=1&cursor="+l.NextCursor, nil, 200).Decode(t, &l)
			if len(l.Items) != 1 || l.Items[0].ID != job.ID {
				t.Errorf("second page %+v, want the first job", l.Items)
			}
		})
		t.Run("UnknownJobNotFound", func(t *testing.T) {
			e.ok("GET", e.prop+"/imports/imp_nope", nil, 404)
			e.ok("GET", e.prop+"/imports/imp_nope/rows", nil, 404)
			e.ok("GET", e.prop+"/imports/"+job.ID+"/rows?outcome=maybe", nil, 400)
		})
	})
}

func errMessage(t *testing.T, body []byte) string {
	t.Helper()
	var e apiError
	if err := jsonUnmarshal(body, &e); err != nil {
		t.Fatalf("error body %s: %v", body, err)
	}
	return e.Error.Message
}

func sortedIDs(ids ...string) []string {
	out := append([]string(nil), ids...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func TestImportDryRun(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		e.seedImport()
		before := e.counts()
		dry := e.importCSV(importFile, "?dry_run=true")
		t.Run("WritesNothing", func(t *testing.T) {
			if after := e.counts(); after != before {
				t.Errorf("dry run wrote:\nbefore %s\nafter  %s", before, after)
			}
			if !dry.DryRun {
				t.Error("job does not say dry_run")
			}
		})
		t.Run("ReportsWhatTheRealRunDoes", func(t *testing.T) {
			real := e.importCSV(importFile, "")
			dr, rr := e.importRows(dry.ID, ""), e.importRows(real.ID, "")
			if outcomes(dr) != outcomes(rr) || outcomes(rr) != importOutcomes {
				t.Errorf("dry run:\n%sreal run:\n%s", outcomes(dr), outcomes(rr))
			}
			for i := range dr {
				if dr[i].Reason != rr[i].Reason {
					t.Errorf("row %d: dry run says %q, real run %q", dr[i].Row, dr[i].Reason, rr[i].Reason)
				}
			}
			if dr[0].PersonID != "" {
				t.Errorf("dry run names person %s that does not exist", dr[0].PersonID)
			}
		})
	})
}

func TestImportBadFiles(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		big := "First Name,Last Name,Email\n" + strings.Repeat("Ann,Archer,ann@example.com\n", imports.MaxFileSize/27+1)
		for _, tc := range []struct {
			name, contentType, body, want string
		}{
			{"ErrEmpty", "text/csv", "", "empty"},
			{"ErrNoHeader", "text/csv", "Ann,Archer,ann@example.com\n", "unknown column"},
			{"ErrMissingRequiredColumn", "text/csv", "First Name,Last Name\nAnn,Archer\n", `missing required column "Email"`},
			{"ErrUnknownColumn", "text/csv", fmt.Sprintf("First Name,Last Name,Email,Expiraton\nAnn,Archer,ann@example.com,%d-01-01\n", storetest.YearsAhead(4)), `"Expiraton"`},
			{"ErrNotUTF8", "text/csv", "First Name,Last Name,Email\nRen\xe9,Archer,ann@example.com\n", "UTF-8"},
			{"ErrUTF16", "text/csv", "\xff\xfeF\x00i\x00", "UTF-16"},
			{"ErrHeaderOnly", "text/csv", "First Name,Last Name,Email\n", "no rows"},
			{"ErrTooLarge", "text/csv", big, "larger than 20 MB"},
			{"ErrJSONBody", "application/json", `{"rows":[]}`, "multipart/form-data"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				res := e.want(e.DoRaw("POST", e.prop+"/imports", e.PMToken, tc.contentType, []byte(tc.body)), 400)
				if msg := errMessage(t, res.Body); !strings.Contains(msg, tc.want) {
					t.Errorf("message %q does not say %q", msg, tc.want)
				}
				if n := e.countWhere("import_jobs", "property_id = ?", e.F.Property.ID); n != 0 {
					t.Errorf("%d jobs stored for a refused file", n)
				}
			})
		}
		t.Run("ErrDryRunNotBool", func(t *testing.T) {
			e.want(e.DoRaw("POST", e.prop+"/imports?dry_run=perhaps", e.PMToken, "text/csv", []byte(importFile)), 400)
		})
		t.Run("ErrMultipartWithoutFile", func(t *testing.T) {
			var b bytes.Buffer
			mw := multipart.NewWriter(&b)
			mw.WriteField("other", "x")
			mw.Close()
			e.want(e.DoRaw("POST", e.prop+"/imports", e.PMToken, mw.FormDataContentType(), b.Bytes()), 400)
		})
	})
}

func TestImportPermissions(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		pid := e.F.Property.ID
		file := "First Name,Last Name,Email,Keys\nAnn,Archer,ann@example.com,Building\nBen,Baker,ben@example.com,Home 101\n"
		t.Run("ErrNoToken", func(t *testing.T) {
			e.want(e.DoRaw("POST", e.prop+"/imports", "", "text/csv", []byte(file)), 401)
			e.want(e.Do("GET", e.prop+"/imports", "", nil), 401)
		})
		t.Run("ErrNoKeyManagement", func(t *testing.T) {
			tok := e.managerToken("none@example.com", &domain.Assignment{PropertyID: pid, KeyManagement: domain.KeyManagementNone})
			e.want(e.DoRaw("POST", e.prop+"/imports", tok, "text/csv", []byte(file)), 403)
			e.want(e.Do("GET", e.prop+"/imports", tok, nil), 403)
		})
		t.Run("ErrNotAssigned", func(t *testing.T) {
			tok := e.managerToken("other@example.com", nil)
			e.want(e.DoRaw("POST", e.prop+"/imports", tok, "text/csv", []byte(file)), 404)
		})
		t.Run("SpecificKeysOnly", func(t *testing.T) {
			tok := e.managerToken("specific@example.com", &domain.Assignment{PropertyID: pid, KeyManagement: domain.KeyManagementSpecific, Keys: []string{e.F.Building.ID}})
			var j importJob
			e.want(e.DoRaw("POST", e.prop+"/imports", tok, "text/csv", []byte(file)), 202).Decode(t, &j)
			e.runImports()
			e.want(e.Do("GET", e.prop+"/imports/"+j.ID, tok, nil), 200).Decode(t, &j)
			if got, want := j.summary(), "done created=1 changed=0 unchanged=0 refused=1 of 2/2"; got != want {
				t.Errorf("job: %s, want %s", got, want)
			}
			rows := e.importRows(j.ID, "")
			if got, want := outcomes(rows), "2 created \n3 refused Keys\n"; got != want {
				t.Errorf("outcomes:\n%swant:\n%s", got, want)
			}
			if !strings.Contains(rows[1].Reason, "Home 101") {
				t.Errorf("reason %q does not name the key", rows[1].Reason)
			}
			if n := e.countWhere("people", "email = ?", "ben@example.com"); n != 0 {
				t.Error("Ben was invited with a key the manager may not give")
			}
		})
	})
}

// TestImportExcelFile uploads what Excel writes ("CSV UTF-8"): a BOM, CRLF
// line ends, quoted cells with commas and line breaks, US dates, as a
// multipart form like the console's upload.
func TestImportExcelFile(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		startYear, endYear := storetest.YearsAhead(4), storetest.YearsAhead(5)
		file := "\uFEFFFirst Name,Last Name,Email,Phone,Keys,Start,Expiration\r\n" +
			fmt.Sprintf("\"Mary\r\nAnn\",\"O'Neil, Jr.\",mary@example.com,'+1 555 0100,\"Building; Home 101\",3/1/%d 9:30 AM,02/28/%d\r\n", startYear, endYear) +
			"Zoë,Ünal,zoe@example.com,,Building,,\r\n"
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		fw, _ := mw.CreateFormFile("file", "residents.csv")
		fw.Write([]byte(file))
		mw.Close()
		var j importJob
		e.want(e.DoRaw("POST", e.prop+"/imports", e.PMToken, mw.FormDataContentType(), b.Bytes()), 202).Decode(t, &j)
		e.runImports()
		e.ok("GET", e.prop+"/imports/"+j.ID, nil, 200).Decode(t, &j)
		if got, want := j.summary(), "done created=2 changed=0 unchanged=0 refused=0 of 2/2"; got != want {
			t.Fatalf("job: %s, want %s; rows %+v", got, want, e.importRows(j.ID, ""))
		}
		ps := e.people("?q=mary")
		if len(ps) != 1 {
			t.Fatalf("%d people found for mary", len(ps))
		}
		m := e.person(ps[0].ID)
		if m.FirstName != "Mary Ann" || m.LastName != "O'Neil, Jr." || m.Phone != "+1 555 0100" {
			t.Errorf("person %q %q %q", m.FirstName, m.LastName, m.Phone)
		}
		ny, _ := time.LoadLocation("America/New_York")
		if want := time.Date(startYear, 3, 1, 9, 30, 0, 0, ny); !m.StartsAt.Equal(want) {
			t.Errorf("starts %v, want %v", m.StartsAt, want)
		}
		if want := time.Date(endYear, 2, 28, 23, 59, 59, 0, ny); m.ExpiresAt == nil || !m.ExpiresAt.Equal(want) {
			t.Errorf("expires %v, want %v", m.ExpiresAt, want)
		}
		if len(m.Keys) != 2 {
			t.Errorf("Mary has %d keys, want 2", len(m.Keys))
		}
		if z := e.people("?q=zoe@example.com"); len(z) != 1 || z[0].FirstName != "Zoë" || z[0].LastName != "Ünal" {
			t.Errorf("Zoë: %+v", z)
		}
	})
}
