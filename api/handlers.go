package api

import (
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/store"
)

var errNoRoute = domain.Errorf(domain.ENotFound, "no such endpoint; see /api/v1/openapi.json")

var errMethod = domain.Errorf(domain.EMethodNotAllowed, "this endpoint does not take that method; see the Allow header")

// --- auth ---

func (s *Server) login(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Email    string `json:"email"`
		Password string `json:"password"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	email, _ := domain.NormalizeEmail("email", in.Email)
	acct, addr := email, s.clientIP(r)
	if s.Limiter.Blocked(acct, addr) {
		return domain.Errorf(domain.ERateLimited, "too many failed logins; wait a minute and try again")
	}
	token, exp, err := s.Store.Login(r.Context(), in.Email, in.Password, store.TokenKindAPI)
	if err != nil {
		if domain.ErrorCode(err) == domain.EUnauthenticated {
			s.Limiter.Fail(acct, addr)
		}
		return err
	}
	s.Limiter.Reset(acct)
	writeJSON(w, http.StatusOK, map[string]any{"token": token, "expires_at": exp})
	return nil
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request, a domain.Actor) error {
	token := r.Header.Get("Authorization")[len("Bearer "):]
	if err := s.Store.Logout(r.Context(), token); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) acceptInvitation(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Token    string `json:"token"`
		Password string `json:"password"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	if err := s.Store.AcceptInvitation(r.Context(), in.Token, in.Password); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) me(w http.ResponseWriter, r *http.Request, a domain.Actor) error {
	props := make([]domain.Assignment, 0, len(a.Assignments))
	for _, as := range a.Assignments {
		props = append(props, as)
	}
	sort.Slice(props, func(i, j int) bool { return props[i].PropertyID < props[j].PropertyID })
	writeJSON(w, http.StatusOK, map[string]any{"id": a.ManagerID, "name": a.Name, "role": a.Role, "properties": props})
	return nil
}

// --- properties ---

func (s *Server) listProperties(w http.ResponseWriter, r *http.Request, a domain.Actor) error {
	ps, err := s.Store.ListProperties(r.Context(), a)
	if err != nil {
		return err
	}
	return writeList(w, ps, "")
}

func (s *Server) createProperty(w http.ResponseWriter, r *http.Request, a domain.Actor) error {
	var in domain.PropertyInput
	if err := decode(r, &in); err != nil {
		return err
	}
	p, err := s.Store.CreateProperty(r.Context(), a, in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, p)
	return nil
}

func (s *Server) getProperty(w http.ResponseWriter, r *http.Request, a domain.Actor) error {
	p, err := s.Store.Property(r.Context(), a, r.PathValue("p"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}

func (s *Server) updateProperty(w http.ResponseWriter, r *http.Request, a domain.Actor) error {
	var in domain.PropertyInput
	if err := decode(r, &in); err != nil {
		return err
	}
	p, err := s.Store.UpdateProperty(r.Context(), a, r.PathValue("p"), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}

// --- doors, units, keys ---

func (s *Server) listDoors(w http.ResponseWriter, r *http.Request, a domain.Actor) error {
	ds, err := s.Store.ListDoors(r.Context(), a, r.PathValue("p"))
	if err != nil {
		return err
	}
	return writeList(w, ds, "")
}

func (s *Server) createDoor(w http.ResponseWriter, r *http.Request, a domain.Actor) error {
	var in domain.DoorInput
	if err := decode(r, &in); err != nil {
		return err
	}
	d, err := s.Store.CreateDoor(r.Context(), a, r.PathValue("p"), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, d)
	return nil
}

func (s *Server) getDoor(w http.ResponseWriter, r *http.Request, a domain.Actor) error {
	d, err := s.Store.Door(r.Context(), a, r.PathValue("p"), r.PathValue("d"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

func (s *Server) listUnits(w http.ResponseWriter, r *http.Request, a domain.Actor) error {
	us, err := s.Store.ListUnits(r.Context(), a, r.PathValue("p"))
	if err != nil {
		return err
	}
	return writeList(w, us, "")
}

func (s *Server) createUnit(w http.ResponseWriter, r *http.Request, a domain.Actor) error {
	var in domain.UnitInput
	if err := decode(r, &in); err != nil {
		return err
	}
	u, err := s.Store.CreateUnit(r.Context(), a, r.PathValue("p"), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, u)
	return nil
}

func (s *Server) listKeys(w http.ResponseWriter, r *http.Request, a domain.Actor) error {
	ks, err := s.Store.ListKeys(r.Context(), a, r.PathValue("p"))
	if err != nil {
		return err
	}
	return writeList(w, ks, "")
}

func (s *Server) createKey(w http.ResponseWriter, r *http.Request, a domain.Actor) error {
	var in domain.KeyInput
	if err := decode(r, &in); err != nil {
		return err
	}
	k, err := s.Store.CreateKey(r.Context(), a, r.PathValue("p"), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, k)
	return nil
}

func (s *Server) getKey(w http.ResponseWriter, r *http.Request, a domain.Actor) error {
	k, err := s.Store.Key(r.Context(), a, r.PathValue("p"), r.PathValue("k"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, k)
	return nil
}

// updateKey takes the fields to change; absent fields keep their value.
func (s *Server) updateKey(w http.ResponseWriter, r *http.Request, a domain.Actor) error {
	var in struct {
		Name  *string           `json:"name"`
		Doors *[]domain.KeyDoor `json:"doors"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	cur, err := s.Store.Key(r.Context(), a, r.PathValue("p"), r.PathValue("k"))
	if err != nil {
		return err
	}
	next := domain.KeyInput{Name: cur.Name, Doors: cur.Doors}
	if in.Name != nil {
		next.Name = *in.Name
	}
	if in.Doors != nil {
		next.Doors = *in.Doors
	}
	k, err := s.Store.UpdateKey(r.Context(), a, r.PathValue("p"), r.PathValue("k"), next)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, k)
	return nil
}

func (s *Server) deleteKey(w http.ResponseWriter, r *http.Request, a domain.Actor) error {
	if err := s.Store.DeleteKey(r.Context(), a, r.PathValue("p"), r.PathValue("k")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// --- people ---

func boolParam(r *http.Request, name string) (bool, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, domain.FieldError(name, "must be true or false")
	}
	return b, nil
}

func intParam(r *http.Request, name string) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, domain.FieldError(name, "must be a positive number")
	}
	return n, nil
}

func timeParam(r *http.Request, name string) (*time.Time, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return nil, domain.FieldError(name, "must be an RFC 3339 time")
	}
	return &t, nil
}

func (s *Server) listPeople(w http.ResponseWriter, r *http.Request, a domain.Actor) error {
	inc, err := boolParam(r, "include_expired")
	if err != nil {
		return err
	}
	desc, err := boolParam(r, "desc")
	if err != nil {
		return err
	}
	limit, err := intParam(r, "limit")
	if err != nil {
		return err
	}
	q := r.URL.Query()
	people, next, err := s.Store.ListPeople(r.Context(), a, r.PathValue("p"), domain.PeopleFilter{Query: q.Get("q"), Sort: q.Get("sort"), Desc: desc, IncludeExpired: inc, Cursor: q.Get("cursor"), Limit: limit})
	if err != nil {
		return err
	}
	return writeList(w, people, next)
}

func (s *Server) invite(w http.ResponseWriter, r *http.Request, a domain.Actor) error {
	var in domain.InviteInput
	if err := decode(r, &in); err != nil {
		return err
	}
	p, err := s.Store.Invite(r.Context(), a, r.PathValue("p"), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, p)
	return nil
}

func (s *Server) getPerson(w http.ResponseWriter, r *http.Request, a domain.Actor) error {
	p, err := s.Store.Person(r.Context(), a, r.PathValue("p"), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}

// updatePerson distinguishes an absent expires_at (keep) from null (remove).
func (s *Server) updatePerson(w http.ResponseWriter, r *http.Request, a domain.Actor) error {
	var in struct {
		FirstName *string         `json:"first_name"`
		LastName  *string         `json:"last_name"`
		Email     *string         `json:"email"`
		Phone     *string         `json:"phone"`
		Resident  *bool           `json:"resident"`
		UnitID    *string         `json:"unit_id"`
		StartsAt  *time.Time      `json:"starts_at"`
		ExpiresAt json.RawMessage `json:"expires_at"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	patch := domain.PersonPatch{FirstName: in.FirstName, LastName: in.LastName, Email: in.Email, Phone: in.Phone,
		Resident: in.Resident, UnitID: in.UnitID, StartsAt: in.StartsAt}
	if len(in.ExpiresAt) > 0 {
		patch.ExpiresAtSet = true
		if string(in.ExpiresAt) != "null" {
			var t time.Time
			if err := json.Unmarshal(in.ExpiresAt, &t); err != nil {
				return domain.FieldError("expires_at", "must be an RFC 3339 time or null")
			}
			patch.ExpiresAt = &t
		}
	}
	p, err := s.Store.UpdatePerson(r.Context(), a, r.PathValue("p"), r.PathValue("id"), patch)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}

func (s *Server) deletePerson(w http.ResponseWriter, r *http.Request, a domain.Actor) error {
	if err := s.Store.DeletePerson(r.Context(), a, r.PathValue("p"), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) giveKey(w http.ResponseWriter, r *http.Request, a domain.Actor) error {
	var in domain.GrantChange
	if r.ContentLength != 0 {
		if err := decode(r, &in); err != nil {
			return err
		}
	}
	p, err := s.Store.GiveKey(r.Context(), a, r.PathValue("p"), r.PathValue("id"), r.PathValue("k"), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}

func (s *Server) takeKey(w http.ResponseWriter, r *http.Request, a domain.Actor) error {
	p, err := s.Store.TakeKey(r.Context(), a, r.PathValue("p"), r.PathValue("id"), r.PathValue("k"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}

func (s *Server) revoke(w http.ResponseWriter, r *http.Request, a domain.Actor) error {
	p, err := s.Store.Revoke(r.Context(), a, r.PathValue("p"), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}

// --- activity, sync ---

func (s *Server) listActivity(w http.ResponseWriter, r *http.Request, a domain.Actor) error {
	q := r.URL.Query()
	limit, err := intParam(r, "limit")
	if err != nil {
		return err
	}
	since, err := timeParam(r, "since")
	if err != nil {
		return err
	}
	until, err := timeParam(r, "until")
	if err != nil {
		return err
	}
	evs, next, err := s.Store.ListActivity(r.Context(), a, r.PathValue("p"), store.ActivityFilter{
		PersonID: q.Get("person_id"), DoorID: q.Get("door_id"), Kind: q.Get("kind"), Since: since, Until: until, Cursor: q.Get("cursor"), Limit: limit})
	if err != nil {
		return err
	}
	return writeList(w, evs, next)
}

func (s *Server) listSyncTasks(w http.ResponseWriter, r *http.Request, a domain.Actor) error {
	ts, err := s.Store.ListSyncTasks(r.Context(), a, r.PathValue("p"))
	if err != nil {
		return err
	}
	return writeList(w, ts, "")
}

// --- managers ---

func (s *Server) listManagers(w http.ResponseWriter, r *http.Request, a domain.Actor) error {
	ms, err := s.Store.ListManagers(r.Context(), a)
	if err != nil {
		return err
	}
	return writeList(w, ms, "")
}

func (s *Server) createManager(w http.ResponseWriter, r *http.Request, a domain.Actor) error {
	var in domain.ManagerInput
	if err := decode(r, &in); err != nil {
		return err
	}
	m, err := s.Store.CreateManager(r.Context(), a, in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, m)
	return nil
}

func (s *Server) getManager(w http.ResponseWriter, r *http.Request, a domain.Actor) error {
	m, err := s.Store.GetManager(r.Context(), a, r.PathValue("m"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, m)
	return nil
}

func (s *Server) assignProperty(w http.ResponseWriter, r *http.Request, a domain.Actor) error {
	var in domain.Assignment
	if err := decode(r, &in); err != nil {
		return err
	}
	if in.PropertyID != "" && in.PropertyID != r.PathValue("p") {
		return domain.FieldError("property_id", "does not match the property in the path")
	}
	in.PropertyID = r.PathValue("p")
	m, err := s.Store.SetAssignment(r.Context(), a, r.PathValue("m"), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, m)
	return nil
}
