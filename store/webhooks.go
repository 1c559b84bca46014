package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/dooros/dooros/domain"
)

// Webhook delivery states.
const (
	WebhookPending   = "pending"
	WebhookDelivered = "delivered"
	WebhookFailed    = "failed"
	WebhookSkipped   = "skipped"
)

// WebhookSecretAAD binds a sealed webhook secret to its endpoint.
func WebhookSecretAAD(endpointID string) string { return "webhook-secret:" + endpointID }

const webhookCols = `id, org_id, property_id, url, description, kinds, status, disabled_reason, created_by, created_at, secret_rolled_at, previous_expires_at`

func scanWebhook(sc rowScanner) (domain.Webhook, error) {
	var w domain.Webhook
	var kinds string
	var created, rolled int64
	var prevExp sql.NullInt64
	if err := sc.Scan(&w.ID, &w.OrgID, &w.PropertyID, &w.URL, &w.Description, &kinds, &w.Status, &w.DisabledReason, &w.CreatedBy, &created, &rolled, &prevExp); err != nil {
		return w, err
	}
	if err := json.Unmarshal([]byte(kinds), &w.Kinds); err != nil {
		return w, err
	}
	w.CreatedAt, w.SecretRolledAt, w.PreviousSecretExpiresAt = fromMicros(created), fromMicros(rolled), timePtr(prevExp)
	return w, nil
}

// webhook loads an endpoint the actor may manage; one of another
// organisation, or of a property the actor cannot see, is not found.
func (t *Tx) webhook(ctx context.Context, a domain.Actor, id string) (domain.Webhook, error) {
	w, err := scanWebhook(t.queryRow(ctx, `SELECT `+webhookCols+` FROM webhook_endpoints WHERE id = ? AND org_id = ?`, id, a.OrgID))
	if errors.Is(err, sql.ErrNoRows) {
		return w, domain.Errorf(domain.ENotFound, "webhook %s not found", id)
	}
	if err != nil {
		return w, err
	}
	if w.PropertyID != "" {
		if _, err := t.property(ctx, a, w.PropertyID); err != nil {
			return w, domain.Errorf(domain.ENotFound, "webhook %s not found", id)
		}
	}
	return w, a.CanManageWebhooks(w.PropertyID)
}

// CreateWebhook adds an endpoint and returns it with its signing secret,
// which is shown this once (it is kept sealed).
func (s *Store) CreateWebhook(ctx context.Context, a domain.Actor, sealer Sealer, pol domain.WebhookPolicy, in domain.WebhookInput) (w domain.Webhook, secret string, err error) {
	if in.PropertyID != "" {
		if err := s.read(ctx, func(t *Tx) error { _, err := t.property(ctx, a, in.PropertyID); return err }); err != nil {
			return w, "", err
		}
	}
	if err := a.CanManageWebhooks(in.PropertyID); err != nil {
		return w, "", err
	}
	if err := in.Validate(pol); err != nil {
		return w, "", err
	}
	id := domain.NewID("whk")
	secret = domain.NewWebhookSecret()
	sealed, err := sealer.Seal([]byte(secret), WebhookSecretAAD(id))
	if err != nil {
		return w, "", err
	}
	kinds, _ := json.Marshal(in.Kinds)
	status := domain.WebhookEnabled
	if in.Enabled != nil && !*in.Enabled {
		status = domain.WebhookPaused
	}
	err = s.inTx(ctx, "create_webhook", func(t *Tx) error {
		if in.PropertyID != "" {
			if _, err := t.property(ctx, a, in.PropertyID); err != nil {
				return err
			}
		}
		now := micros(s.Now())
		if _, err := t.exec(ctx, `INSERT INTO webhook_endpoints (id, org_id, property_id, url, description, kinds, status, secret, created_by, created_at, updated_at, secret_rolled_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, id, a.OrgID, in.PropertyID, in.URL, in.Description, string(kinds), status, sealed, a.ManagerID, now, now, now); err != nil {
			return err
		}
		w, err = t.webhook(ctx, a, id)
		return err
	})
	return w, secret, err
}

// ListWebhooks lists the endpoints the actor may manage: for a Portfolio
// Manager every one of the organisation, for a Property Manager those of
// the properties where they have full Key Management. propertyID, when
// set, keeps that property's.
func (s *Store) ListWebhooks(ctx context.Context, a domain.Actor, propertyID string) ([]domain.Webhook, error) {
	var out []domain.Webhook
	err := s.read(ctx, func(t *Tx) error {
		if propertyID != "" {
			if _, err := t.property(ctx, a, propertyID); err != nil {
				return err
			}
		}
		q := `SELECT ` + webhookCols + ` FROM webhook_endpoints WHERE org_id = ?`
		args := []any{a.OrgID}
		if propertyID != "" {
			q += ` AND property_id = ?`
			args = append(args, propertyID)
		}
		rows, err := t.query(ctx, q+` ORDER BY created_at, id`, args...)
		all, err := collect(rows, err, scanWebhook)
		if err != nil {
			return err
		}
		out = []domain.Webhook{}
		for _, w := range all {
			if a.CanManageWebhooks(w.PropertyID) == nil {
				out = append(out, w)
			}
		}
		return nil
	})
	return out, err
}

// Webhook returns one endpoint the actor may manage.
func (s *Store) Webhook(ctx context.Context, a domain.Actor, id string) (w domain.Webhook, err error) {
	err = s.read(ctx, func(t *Tx) error {
		w, err = t.webhook(ctx, a, id)
		return err
	})
	return w, err
}

// UpdateWebhook changes an endpoint. Enabling a disabled endpoint clears
// the reason it was disabled; its pending deliveries resume.
func (s *Store) UpdateWebhook(ctx context.Context, a domain.Actor, pol domain.WebhookPolicy, id string, p domain.WebhookPatch) (w domain.Webhook, err error) {
	if err := p.Validate(pol); err != nil {
		return w, err
	}
	err = s.inTx(ctx, "update_webhook", func(t *Tx) error {
		if w, err = t.webhook(ctx, a, id); err != nil {
			return err
		}
		if p.URL != nil {
			w.URL = *p.URL
		}
		if p.Description != nil {
			w.Description = *p.Description
		}
		if p.Kinds != nil {
			w.Kinds = *p.Kinds
		}
		if p.Enabled != nil {
			if *p.Enabled {
				w.Status, w.DisabledReason = domain.WebhookEnabled, ""
			} else {
				w.Status = domain.WebhookPaused
			}
		}
		kinds, _ := json.Marshal(w.Kinds)
		if _, err := t.exec(ctx, `UPDATE webhook_endpoints SET url = ?, description = ?, kinds = ?, status = ?, disabled_reason = ?, updated_at = ? WHERE id = ?`,
			w.URL, w.Description, string(kinds), w.Status, w.DisabledReason, micros(s.Now()), id); err != nil {
			return err
		}
		w, err = t.webhook(ctx, a, id)
		return err
	})
	return w, err
}

// DeleteWebhook removes an endpoint and its delivery log.
func (s *Store) DeleteWebhook(ctx context.Context, a domain.Actor, id string) error {
	return s.inTx(ctx, "delete_webhook", func(t *Tx) error {
		if _, err := t.webhook(ctx, a, id); err != nil {
			return err
		}
		if _, err := t.exec(ctx, `DELETE FROM webhook_deliveries WHERE endpoint_id = ?`, id); err != nil {
			return err
		}
		_, err := t.exec(ctx, `DELETE FROM webhook_endpoints WHERE id = ?`, id)
		return err
	})
}

// RollWebhookSecret gives an endpoint a new secret, returned this once;
// the current one keeps signing (a second signature on every request)
// for grace, so receivers can switch without losing events. Rolling again
// within a grace period drops the oldest secret.
func (s *Store) RollWebhookSecret(ctx context.Context, a domain.Actor, sealer Sealer, id string, grace time.Duration) (w domain.Webhook, secret string, err error) {
	if grace < 0 || grace > domain.MaxWebhookGrace {
		return w, "", domain.FieldError("grace_hours", "grace must be between 0 and %d hours", int(domain.MaxWebhookGrace/time.Hour))
	}
	secret = domain.NewWebhookSecret()
	sealed, err := sealer.Seal([]byte(secret), WebhookSecretAAD(id))
	if err != nil {
		return w, "", err
	}
	err = s.inTx(ctx, "roll_webhook_secret", func(t *Tx) error {
		if _, err := t.webhook(ctx, a, id); err != nil {
			return err
		}
		now := s.Now()
		var exp any
		prev := `secret`
		if grace > 0 {
			exp = micros(now.Add(grace))
		} else {
			prev = `''`
		}
		if _, err := t.exec(ctx, `UPDATE webhook_endpoints SET previous_secret = `+prev+`, previous_expires_at = ?, secret = ?, secret_rolled_at = ?, updated_at = ? WHERE id = ?`,
			exp, sealed, micros(now), micros(now), id); err != nil {
			return err
		}
		w, err = t.webhook(ctx, a, id)
		return err
	})
	return w, secret, err
}

// WebhookDelivery is one entry of an endpoint's delivery log.
type WebhookDelivery struct {
	ID            string     `json:"id"`
	WebhookID     string     `json:"webhook_id"`
	EventID       string     `json:"event_id"`
	Kind          string     `json:"kind"`
	PropertyID    string     `json:"property_id"`
	PersonID      string     `json:"person_id"`
	DoorID        string     `json:"door_id"`
	State         string     `json:"state"`
	CreatedAt     time.Time  `json:"created_at"`
	NextAttemptAt *time.Time `json:"next_attempt_at"`
	Attempts      int        `json:"attempts"`
	LastAttemptAt *time.Time `json:"last_attempt_at"`
	// LastStatus is the receiver's HTTP status (0: no answer).
	LastStatus     int        `json:"last_status"`
	LastError      string     `json:"last_error"`
	LastResponse   string     `json:"last_response"`
	LastDurationMS int        `json:"last_duration_ms"`
	DeliveredAt    *time.Time `json:"delivered_at"`
	ResendOf       string     `json:"resend_of"`
	// Request is the body sent (the same on every attempt).
	Request string `json:"request"`
}

const deliveryCols = `d.id, d.endpoint_id, d.event_id, d.kind, d.property_id, d.person_id, d.door_id, d.state, d.created_at, d.available_at, d.attempts, d.last_attempt_at, d.last_status, d.last_error, d.last_response, d.last_duration_ms, d.delivered_at, d.resend_of,
	d.ev_at, d.ev_actor, d.ev_person, d.ev_detail`

// deliveryFrom is the delivery log with its events (a derived table, so
// the log's cursor reads plain column names).
const deliveryFrom = ` FROM (SELECT wd.*, COALESCE(e.at, 0) AS ev_at, COALESCE(e.actor_name, '') AS ev_actor, COALESCE(e.person_name, '') AS ev_person, COALESCE(e.detail, '') AS ev_detail
	FROM webhook_deliveries wd LEFT JOIN events e ON e.id = wd.event_id) d`

func scanDelivery(sc rowScanner) (WebhookDelivery, error) {
	var d WebhookDelivery
	var created, avail, at int64
	var last, delivered sql.NullInt64
	var actor, personName, detail string
	if err := sc.Scan(&d.ID, &d.WebhookID, &d.EventID, &d.Kind, &d.PropertyID, &d.PersonID, &d.DoorID, &d.State, &created, &avail, &d.Attempts, &last, &d.LastStatus, &d.LastError, &d.LastResponse, &d.LastDurationMS, &delivered, &d.ResendOf,
		&at, &actor, &personName, &detail); err != nil {
		return d, err
	}
	d.CreatedAt, d.LastAttemptAt, d.DeliveredAt = fromMicros(created), timePtr(last), timePtr(delivered)
	if d.State == WebhookPending {
		n := fromMicros(avail)
		d.NextAttemptAt = &n
	}
	if at != 0 {
		d.Request = string(domain.WebhookBody(domain.Event{ID: d.EventID, PropertyID: d.PropertyID, At: fromMicros(at), Kind: d.Kind, Actor: actor, PersonID: d.PersonID, PersonName: personName, DoorID: d.DoorID, Detail: detail}))
	}
	return d, nil
}

// WebhookDeliveries lists an endpoint's delivery log, newest first.
func (s *Store) WebhookDeliveries(ctx context.Context, a domain.Actor, webhookID, cursor string, limit int) ([]WebhookDelivery, string, error) {
	var out []WebhookDelivery
	var next string
	err := s.read(ctx, func(t *Tx) error {
		if _, err := t.webhook(ctx, a, webhookID); err != nil {
			return err
		}
		var err error
		out, next, err = newestFirst(ctx, t, `SELECT `+deliveryCols+deliveryFrom+` WHERE d.endpoint_id = ?`, []any{webhookID}, "created_at", cursor, pageLimit(limit, maxLogPage),
			scanDelivery, func(d WebhookDelivery) time.Time { return d.CreatedAt }, func(d WebhookDelivery) string { return d.ID })
		return err
	})
	return out, next, err
}

// ResendWebhookDelivery queues an event of an endpoint's log again, as a
// new delivery with the same event id (receivers deduplicate on it).
func (s *Store) ResendWebhookDelivery(ctx context.Context, a domain.Actor, webhookID, deliveryID string) (d WebhookDelivery, err error) {
	err = s.inTx(ctx, "resend_webhook", func(t *Tx) error {
		if _, err := t.webhook(ctx, a, webhookID); err != nil {
			return err
		}
		orig, err := scanDelivery(t.queryRow(ctx, `SELECT `+deliveryCols+deliveryFrom+` WHERE d.id = ? AND d.endpoint_id = ?`, deliveryID, webhookID))
		if errors.Is(err, sql.ErrNoRows) {
			return domain.Errorf(domain.ENotFound, "delivery %s not found", deliveryID)
		}
		if err != nil {
			return err
		}
		if orig.State == WebhookPending {
			return domain.Errorf(domain.EConflict, "delivery %s is still being delivered; resend it once it has been delivered or has failed", deliveryID)
		}
		now := micros(s.Now())
		id := domain.NewSeqID("whd")
		if _, err := t.exec(ctx, `INSERT INTO webhook_deliveries (id, endpoint_id, event_id, property_id, kind, person_id, door_id, seq_at, seq_n, state, created_at, available_at, resend_of)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?)`, id, webhookID, orig.EventID, orig.PropertyID, orig.Kind, orig.PersonID, orig.DoorID, now, WebhookPending, now, now, orig.ID); err != nil {
			return err
		}
		d, err = scanDelivery(t.queryRow(ctx, `SELECT `+deliveryCols+deliveryFrom+` WHERE d.id = ?`, id))
		return err
	})
	return d, err
}

// queueWebhooks is the one place webhook events are queued: called while
// a transaction's Activity entries are written (flushAppends), it adds a
// delivery for every enabled endpoint that wants each entry, so events
// commit — or not — with the change that caused them. It costs one query
// for a transaction that writes Activity.
func (t *Tx) queueWebhooks(ctx context.Context) error {
	type ev struct{ id, property, kind, person, door string }
	var evs []ev
	props := map[string]bool{}
	for _, a := range t.appends {
		if a.head != insertEvent {
			continue
		}
		e := ev{id: a.row[0].(string), property: a.row[1].(string), kind: a.row[4].(string), person: a.row[7].(string), door: a.row[9].(string)}
		if e.property == "" {
			continue
		}
		evs = append(evs, e)
		props[e.property] = true
	}
	if len(evs) == 0 {
		return nil
	}
	ids := make([]string, 0, len(props))
	for p := range props {
		ids = append(ids, p)
	}
	sort.Strings(ids)
	type sub struct {
		endpoint string
		kinds    []string
	}
	subs := map[string][]sub{} // property → endpoints
	for lo := 0; lo < len(ids); lo += 500 {
		chunk := ids[lo:min(lo+500, len(ids))]
		rows, err := t.query(ctx, `SELECT w.id, p.id, w.kinds FROM webhook_endpoints w JOIN properties p ON (w.property_id = p.id OR (w.property_id = '' AND w.org_id = p.org_id))
			WHERE w.status = ? AND p.id IN (`+placeholders(len(chunk))+`) ORDER BY w.id`, append([]any{domain.WebhookEnabled}, anySlice(chunk)...)...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var w, p, kinds string
			if err := rows.Scan(&w, &p, &kinds); err != nil {
				rows.Close()
				return err
			}
			var ks []string
			if err := json.Unmarshal([]byte(kinds), &ks); err != nil {
				rows.Close()
				return err
			}
			subs[p] = append(subs[p], sub{w, ks})
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	if len(subs) == 0 {
		return nil
	}
	// seq orders deliveries per person and door: after every delivery
	// already queued about the same people and doors (committed by
	// transactions that held their rows before this one), and after every
	// one this process queued, whatever the clocks say.
	seq := micros(t.s.Now())
	var people, doors []any
	for _, e := range evs {
		if e.person != "" {
			people = append(people, e.person)
		}
		if e.door != "" {
			doors = append(doors, e.door)
		}
	}
	if len(people)+len(doors) > 0 {
		// One indexed MAX per person and door (a MAX over an IN list or an
		// OR would read every row of a busy door).
		var parts []string
		var args []any
		for _, p := range dedupe(people) {
			parts, args = append(parts, `SELECT (SELECT MAX(seq_at) FROM webhook_deliveries WHERE person_id = ?) AS m`), append(args, p)
		}
		for _, d := range dedupe(doors) {
			parts, args = append(parts, `SELECT (SELECT MAX(seq_at) FROM webhook_deliveries WHERE door_id = ?) AS m`), append(args, d)
		}
		for lo := 0; lo < len(parts); lo += 500 {
			hi := min(lo+500, len(parts))
			var last sql.NullInt64
			if err := t.queryRow(ctx, `SELECT MAX(m) FROM (`+strings.Join(parts[lo:hi], ` UNION ALL `)+`) x`, args[lo:hi]...).Scan(&last); err != nil {
				return err
			}
			if last.Valid {
				seq = max(seq, last.Int64+1)
			}
		}
	}
	for {
		prev := webhookSeq.Load()
		next := max(seq, prev+1)
		if webhookSeq.CompareAndSwap(prev, next) {
			seq = next
			break
		}
	}
	now := micros(t.s.Now())
	n := 0
	for _, e := range evs {
		for _, s := range subs[e.property] {
			if !domain.WebhookWants(s.kinds, e.kind) {
				continue
			}
			n++
			t.appends = append(t.appends, appendRow{insertWebhookDelivery, ``, []any{domain.NewSeqID("whd"), s.endpoint, e.id, e.property, e.kind, e.person, e.door, seq, n, WebhookPending, now, now}})
		}
	}
	return nil
}

func dedupe(v []any) []any {
	seen := map[any]bool{}
	out := v[:0:0]
	for _, x := range v {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// webhookSeq is the last seq_at this process gave.
var webhookSeq atomic.Int64

const insertWebhookDelivery = `INSERT INTO webhook_deliveries (id, endpoint_id, event_id, property_id, kind, person_id, door_id, seq_at, seq_n, state, created_at, available_at) VALUES `

// WebhookJob is a claimed delivery: the event and where and how to send it.
type WebhookJob struct {
	DeliveryID string
	EndpointID string
	URL        string
	// Secret and PreviousSecret are sealed (WebhookSecretAAD);
	// PreviousSecret is "" unless a rolled secret is still in its grace.
	Secret         string
	PreviousSecret string
	Event          domain.Event
	// Attempts counts this one.
	Attempts  int
	CreatedAt time.Time
}

// WebhookLease is how long a claimed delivery stays invisible to other
// workers; a worker that dies mid-delivery releases it by timing out.
const WebhookLease = 2 * time.Minute

// ClaimWebhookDeliveries claims up to n due deliveries of enabled
// endpoints. A delivery is not due while an earlier delivery to the same
// endpoint about the same person or the same door is pending (order per
// person and per door). On PostgreSQL rows are claimed with FOR UPDATE
// SKIP LOCKED, so several instances deliver each event once. A delivery
// whose endpoint's creator no longer sees the event's property is skipped.
func (s *Store) ClaimWebhookDeliveries(ctx context.Context, n int) ([]WebhookJob, error) {
	var out []WebhookJob
	err := s.inTx(ctx, "claim_webhooks", func(t *Tx) error {
		out = nil
		now := s.Now()
		ids, err := t.dueWebhookDeliveries(ctx, now, n)
		if err != nil || len(ids) == 0 {
			return err
		}
		if s.dialect == Postgres {
			// Another instance may hold (or have just taken) some of them.
			rows, err := t.query(ctx, `SELECT id FROM webhook_deliveries WHERE id IN (`+placeholders(len(ids))+`) AND state = ? AND available_at <= ? FOR UPDATE SKIP LOCKED`,
				append(anySlice(ids), WebhookPending, micros(now))...)
			if ids, err = collect(rows, err, scanString); err != nil || len(ids) == 0 {
				return err
			}
		}
		rows, err := t.query(ctx, `SELECT d.id, d.endpoint_id, w.url, w.secret, w.previous_secret, w.previous_expires_at, w.created_by, d.attempts, d.created_at,
			COALESCE(e.id, ''), d.property_id, COALESCE(e.at, 0), d.kind, COALESCE(e.actor_name, ''), d.person_id, COALESCE(e.person_name, ''), d.door_id, COALESCE(e.detail, '')
			FROM webhook_deliveries d JOIN webhook_endpoints w ON w.id = d.endpoint_id LEFT JOIN events e ON e.id = d.event_id
			WHERE d.id IN (`+placeholders(len(ids))+`) ORDER BY d.seq_at, d.seq_n`, anySlice(ids)...)
		type claimed struct {
			job     WebhookJob
			creator string
			prevExp sql.NullInt64
			found   bool
		}
		cs, err := collect(rows, err, func(sc rowScanner) (claimed, error) {
			var c claimed
			var created, at int64
			var evID string
			err := sc.Scan(&c.job.DeliveryID, &c.job.EndpointID, &c.job.URL, &c.job.Secret, &c.job.PreviousSecret, &c.prevExp, &c.creator, &c.job.Attempts, &created,
				&evID, &c.job.Event.PropertyID, &at, &c.job.Event.Kind, &c.job.Event.Actor, &c.job.Event.PersonID, &c.job.Event.PersonName, &c.job.Event.DoorID, &c.job.Event.Detail)
			c.job.CreatedAt, c.job.Event.ID, c.job.Event.At, c.found = fromMicros(created), evID, fromMicros(at), evID != ""
			return c, err
		})
		if err != nil {
			return err
		}
		actors := map[string]*domain.Actor{}
		for _, c := range cs {
			if !c.prevExp.Valid || c.prevExp.Int64 <= micros(now) {
				c.job.PreviousSecret = ""
			}
			reason := ""
			if !c.found {
				reason = "the Activity entry no longer exists"
			} else {
				a, ok := actors[c.creator]
				if !ok {
					if act, err := t.actor(ctx, c.creator); err == nil {
						a = &act
					}
					actors[c.creator] = a
				}
				if a == nil {
					reason = "the manager who added this webhook no longer exists"
				} else if a.CanManageWebhooks(c.job.Event.PropertyID) != nil {
					reason = "the manager who added this webhook no longer manages webhooks of property " + c.job.Event.PropertyID
				}
			}
			if reason != "" {
				if _, err := t.exec(ctx, `UPDATE webhook_deliveries SET state = ?, last_error = ? WHERE id = ?`, WebhookSkipped, "not sent: "+reason, c.job.DeliveryID); err != nil {
					return err
				}
				continue
			}
			c.job.Attempts++
			if _, err := t.exec(ctx, `UPDATE webhook_deliveries SET available_at = ?, attempts = ? WHERE id = ?`, micros(now.Add(WebhookLease)), c.job.Attempts, c.job.DeliveryID); err != nil {
				return err
			}
			out = append(out, c.job)
		}
		return nil
	})
	return out, err
}

// webhookWindow is how many pending deliveries of one endpoint a claim
// looks at, oldest first.
const webhookWindow = 1000

// dueWebhookDeliveries picks up to n deliveries to attempt now: of the
// enabled endpoints with due deliveries, each endpoint's pending
// deliveries are walked in order (seq), and one is taken when it is due
// and no earlier pending one of that endpoint is about the same person or
// door — an earlier one being retried later, or in flight under another
// worker's lease, holds back the rest of its person's and door's events.
func (t *Tx) dueWebhookDeliveries(ctx context.Context, now time.Time, n int) ([]string, error) {
	rows, err := t.query(ctx, `SELECT d.endpoint_id FROM webhook_deliveries d JOIN webhook_endpoints w ON w.id = d.endpoint_id
		WHERE d.state = ? AND d.available_at <= ? AND w.status = ? GROUP BY d.endpoint_id ORDER BY MIN(d.available_at) LIMIT 50`,
		WebhookPending, micros(now), domain.WebhookEnabled)
	endpoints, err := collect(rows, err, scanString)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, ep := range endpoints {
		if len(ids) >= n {
			break
		}
		type cand struct {
			id, person, door string
			avail            int64
		}
		rows, err := t.query(ctx, `SELECT id, person_id, door_id, available_at FROM webhook_deliveries WHERE endpoint_id = ? AND state = ? ORDER BY seq_at, seq_n LIMIT ?`,
			ep, WebhookPending, webhookWindow)
		cands, err := collect(rows, err, func(sc rowScanner) (cand, error) {
			var c cand
			return c, sc.Scan(&c.id, &c.person, &c.door, &c.avail)
		})
		if err != nil {
			return nil, err
		}
		held := map[string]bool{}
		for _, c := range cands {
			free := (c.person == "" || !held["p:"+c.person]) && (c.door == "" || !held["d:"+c.door])
			if c.person != "" {
				held["p:"+c.person] = true
			}
			if c.door != "" {
				held["d:"+c.door] = true
			}
			if free && c.avail <= micros(now) {
				ids = append(ids, c.id)
				if len(ids) >= n {
					break
				}
			}
		}
	}
	return ids, nil
}

// WebhookAttempt is the outcome of one delivery attempt.
type WebhookAttempt struct {
	At       time.Time
	Status   int // HTTP status, 0 without an answer
	Error    string
	Response string // the start of the response body
	Duration time.Duration
	// Outcome: Delivered, or else retried at RetryAt, or (Fail) failed
	// for good, disabling the endpoint with Error as the reason.
	Delivered bool
	RetryAt   time.Time
	Fail      bool
}

// RecordWebhookAttempt writes an attempt's outcome on its delivery: done,
// due again at RetryAt, or failed — which also disables the endpoint, with
// the reason the console shows.
func (s *Store) RecordWebhookAttempt(ctx context.Context, deliveryID string, at WebhookAttempt) error {
	return s.RecordWebhookAttempts(ctx, map[string]WebhookAttempt{deliveryID: at})
}

// RecordWebhookAttempts records the outcomes of a worker's batch in one
// transaction (one commit instead of one per delivery).
func (s *Store) RecordWebhookAttempts(ctx context.Context, attempts map[string]WebhookAttempt) error {
	return s.inTx(ctx, "record_webhook_attempts", func(t *Tx) error {
		for id, at := range attempts {
			if err := t.recordWebhookAttempt(ctx, id, at); err != nil {
				return err
			}
		}
		return nil
	})
}

func (t *Tx) recordWebhookAttempt(ctx context.Context, deliveryID string, at WebhookAttempt) error {
	state, avail := WebhookPending, micros(at.RetryAt)
	var delivered any
	switch {
	case at.Delivered:
		state, avail, delivered = WebhookDelivered, micros(at.At), micros(at.At)
	case at.Fail:
		state, avail = WebhookFailed, micros(at.At)
	}
	res, err := t.exec(ctx, `UPDATE webhook_deliveries SET state = ?, available_at = ?, last_attempt_at = ?, last_status = ?, last_error = ?, last_response = ?, last_duration_ms = ?, delivered_at = ?
		WHERE id = ? AND state = ?`, state, avail, micros(at.At), at.Status, truncate(at.Error, 500), truncate(at.Response, 1000), int(at.Duration/time.Millisecond), delivered, deliveryID, WebhookPending)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 || !at.Fail {
		return nil
	}
	_, err = t.exec(ctx, `UPDATE webhook_endpoints SET status = ?, disabled_reason = ?, updated_at = ? WHERE id = (SELECT endpoint_id FROM webhook_deliveries WHERE id = ?) AND status = ?`,
		domain.WebhookDisabled, truncate(at.Error, 500), micros(at.At), deliveryID, domain.WebhookEnabled)
	return err
}

// ReleaseWebhookDeliveries hands claimed deliveries back, due now (a
// stopping worker), without counting the attempt.
func (s *Store) ReleaseWebhookDeliveries(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	return s.inTx(ctx, "release_webhooks", func(t *Tx) error {
		_, err := t.exec(ctx, `UPDATE webhook_deliveries SET available_at = ?, attempts = attempts - 1 WHERE state = ? AND attempts > 0 AND id IN (`+placeholders(len(ids))+`)`,
			append([]any{micros(s.Now()), WebhookPending}, anySlice(ids)...)...)
		return err
	})
}

// PruneWebhookDeliveries deletes finished deliveries (delivered, failed,
// skipped) created before cutoff, at most limit of them; it returns how
// many it deleted. Pending ones stay whatever their age.
func (s *Store) PruneWebhookDeliveries(ctx context.Context, cutoff time.Time, limit int) (int, error) {
	var n int64
	err := s.inTx(ctx, "prune_webhooks", func(t *Tx) error {
		res, err := t.exec(ctx, `DELETE FROM webhook_deliveries WHERE id IN (SELECT id FROM webhook_deliveries WHERE state <> ? AND created_at < ? LIMIT ?)`,
			WebhookPending, micros(cutoff), limit)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}
