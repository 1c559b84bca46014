package api

import (
	"net/http"
	"strings"
	"time"
)

// Routes registers the whole API v1 surface on mux.
func (s *Server) Routes(mux *http.ServeMux) {
	mux.Handle("GET /api/v1/openapi.json", http.HandlerFunc(serveOpenAPI))
	mux.Handle("POST /api/v1/auth/login", s.public(s.login))
	mux.Handle("POST /api/v1/auth/logout", s.authed(s.logout))
	mux.Handle("POST /api/v1/auth/accept-invitation", s.public(s.acceptInvitation))
	mux.Handle("GET /api/v1/me", s.authed(s.me))

	mux.Handle("GET /api/v1/properties", s.authed(s.listProperties))
	mux.Handle("POST /api/v1/properties", s.authed(s.createProperty))
	mux.Handle("GET /api/v1/properties/{p}", s.authed(s.getProperty))
	mux.Handle("PATCH /api/v1/properties/{p}", s.authed(s.updateProperty))

	mux.Handle("GET /api/v1/properties/{p}/doors", s.authed(s.listDoors))
	mux.Handle("POST /api/v1/properties/{p}/doors", s.authed(s.createDoor))
	mux.Handle("GET /api/v1/properties/{p}/doors/{d}", s.authed(s.getDoor))

	mux.Handle("GET /api/v1/properties/{p}/units", s.authed(s.listUnits))
	mux.Handle("POST /api/v1/properties/{p}/units", s.authed(s.createUnit))

	mux.Handle("GET /api/v1/properties/{p}/keys", s.authed(s.listKeys))
	mux.Handle("POST /api/v1/properties/{p}/keys", s.authed(s.createKey))
	mux.Handle("GET /api/v1/properties/{p}/keys/{k}", s.authed(s.getKey))
	mux.Handle("PATCH /api/v1/properties/{p}/keys/{k}", s.authed(s.updateKey))
	mux.Handle("DELETE /api/v1/properties/{p}/keys/{k}", s.authed(s.deleteKey))

	mux.Handle("GET /api/v1/properties/{p}/people", s.authed(s.listPeople))
	mux.Handle("POST /api/v1/properties/{p}/people", s.authed(s.invite))
	mux.Handle("GET /api/v1/properties/{p}/people/{id}", s.authed(s.getPerson))
	mux.Handle("PATCH /api/v1/properties/{p}/people/{id}", s.authed(s.updatePerson))
	mux.Handle("DELETE /api/v1/properties/{p}/people/{id}", s.authed(s.deletePerson))
	mux.Handle("PUT /api/v1/properties/{p}/people/{id}/keys/{k}", s.authed(s.giveKey))
	mux.Handle("DELETE /api/v1/properties/{p}/people/{id}/keys/{k}", s.authed(s.takeKey))
	mux.Handle("POST /api/v1/properties/{p}/people/{id}/revoke", s.authed(s.revoke))

	mux.Handle("GET /api/v1/properties/{p}/activity", s.authed(s.listActivity))
	mux.Handle("GET /api/v1/properties/{p}/sync-tasks", s.authed(s.listSyncTasks))

	mux.Handle("GET /api/v1/webhooks", s.authed(s.listWebhooks))
	mux.Handle("POST /api/v1/webhooks", s.authed(s.createWebhook))
	mux.Handle("GET /api/v1/webhooks/{w}", s.authed(s.getWebhook))
	mux.Handle("PATCH /api/v1/webhooks/{w}", s.authed(s.updateWebhook))
	mux.Handle("DELETE /api/v1/webhooks/{w}", s.authed(s.deleteWebhook))
	mux.Handle("POST /api/v1/webhooks/{w}/roll-secret", s.authed(s.rollWebhookSecret))
	mux.Handle("GET /api/v1/webhooks/{w}/deliveries", s.authed(s.listWebhookDeliveries))
	mux.Handle("POST /api/v1/webhooks/{w}/deliveries/{d}/resend", s.authed(s.resendWebhookDelivery))

	mux.Handle("GET /api/v1/managers", s.authed(s.listManagers))
	mux.Handle("POST /api/v1/managers", s.authed(s.createManager))
	mux.Handle("GET /api/v1/managers/{m}", s.authed(s.getManager))
	mux.Handle("PUT /api/v1/managers/{m}/properties/{p}", s.authed(s.assignProperty))

	// Resident (DOOR App) API. Per client address: code requests and wrong
	// codes together, counted where manager logins are (the database under
	// `dooros serve`); the per-email limits live in the store.
	addr := s.Limiter.NewAddressLimiter("app-address", 30, 10*time.Minute)
	mux.Handle("POST /api/v1/app/login/start", s.public(func(w http.ResponseWriter, r *http.Request) error { return s.appLoginStart(w, r, addr) }))
	mux.Handle("POST /api/v1/app/login/verify", s.public(func(w http.ResponseWriter, r *http.Request) error { return s.appLoginVerify(w, r, addr) }))
	mux.Handle("POST /api/v1/app/logout", s.resident(s.appLogout))
	mux.Handle("GET /api/v1/me/keys", s.resident(s.myKeys))
	mux.Handle("GET /api/v1/me/doorcode", s.resident(s.myDoorcode))
	mux.Handle("POST /api/v1/me/credentials", s.resident(s.refreshCredentials))
	mux.Handle("GET /api/v1/me/devices", s.resident(s.myDevices))
	mux.Handle("DELETE /api/v1/me/devices/{dev}", s.resident(s.removeMyDevice))
	mux.Handle("GET /api/v1/me/guests", s.resident(s.myGuests))
	mux.Handle("POST /api/v1/me/guests", s.resident(s.inviteGuest))
	mux.Handle("DELETE /api/v1/me/guests/{id}", s.resident(s.revokeGuest))

	// Managers' views of residents' devices and emails.
	mux.Handle("GET /api/v1/properties/{p}/people/{id}/devices", s.authed(s.personDevices))
	mux.Handle("DELETE /api/v1/properties/{p}/people/{id}/devices/{dev}", s.authed(s.removePersonDevice))
	mux.Handle("GET /api/v1/properties/{p}/people/{id}/emails", s.authed(s.personEmails))

	// Door Sync: lock provisioning (Device Management), keycards (Card
	// Activation), revocation exposure, the phone's mailbox and sync reports.
	mux.Handle("POST /api/v1/properties/{p}/doors/{d}/lock", s.authed(s.provisionLock))
	mux.Handle("POST /api/v1/properties/{p}/doors/{d}/lock/rotate", s.authed(s.rotateLock))
	mux.Handle("POST /api/v1/properties/{p}/time-correction", s.authed(s.correctTime))
	mux.Handle("GET /api/v1/properties/{p}/signing-key", s.authed(s.propertyKey))
	mux.Handle("POST /api/v1/properties/{p}/signing-key/rotate", s.authed(s.rotatePropertyKey))
	mux.Handle("GET /api/v1/properties/{p}/people/{id}/keycard", s.authed(s.getKeycard))
	mux.Handle("POST /api/v1/properties/{p}/people/{id}/keycard", s.authed(s.activateKeycard))
	mux.Handle("DELETE /api/v1/properties/{p}/people/{id}/keycard", s.authed(s.deactivateKeycard))
	mux.Handle("GET /api/v1/properties/{p}/exposure", s.authed(s.listExposure))
	mux.Handle("GET /api/v1/properties/{p}/exposure/summary", s.authed(s.exposureSummary))
	mux.Handle("GET /api/v1/me/mailbox", s.resident(s.myMailbox))
	mux.Handle("POST /api/v1/me/courier", s.resident(s.issueCourier))
	mux.Handle("POST /api/v1/properties/{p}/staff/courier", s.authed(s.staffCourier))
	mux.Handle("GET /api/v1/properties/{p}/doors/{d}/mailbox", s.authed(s.staffDoorMailbox))
	mux.Handle("POST /api/v1/properties/{p}/doors/{d}/sync-reports", s.authed(s.staffSyncReport))
	mux.Handle("POST /api/v1/me/sync-reports", s.resident(s.syncReport))
	mux.Handle("GET /api/v1/me/activity", s.resident(s.myActivity))
	mux.Handle("POST /api/v1/me/doors/{d}/unlock", s.resident(s.myRemoteUnlock))
	mux.Handle("POST /api/v1/me/doorcode/reset", s.resident(s.resetMyDoorcode))

	// CSV imports.
	mux.Handle("GET /api/v1/import-template.csv", s.public(serveImportTemplate))
	mux.Handle("POST /api/v1/properties/{p}/imports", s.authed(s.createImport))
	mux.Handle("GET /api/v1/properties/{p}/imports", s.authed(s.listImports))
	mux.Handle("GET /api/v1/properties/{p}/imports/{id}", s.authed(s.getImport))
	mux.Handle("GET /api/v1/properties/{p}/imports/{id}/rows", s.authed(s.listImportRows))

	// PMS User Sync.
	mux.Handle("GET /api/v1/properties/{p}/pms", s.authed(s.getPMSSettings))
	mux.Handle("PUT /api/v1/properties/{p}/pms", s.authed(s.putPMSSettings))
	mux.Handle("POST /api/v1/properties/{p}/pms/{provider}/roster", s.authed(s.postRoster))
	mux.Handle("POST /api/v1/properties/{p}/pms/sync", s.authed(s.pmsSyncNow))
	mux.Handle("GET /api/v1/properties/{p}/pms/runs", s.authed(s.listPMSRuns))
	mux.Handle("GET /api/v1/properties/{p}/pms/runs/{id}", s.authed(s.getPMSRun))
	mux.Handle("GET /api/v1/properties/{p}/pms/reviews", s.authed(s.listPMSReviews))
	mux.Handle("POST /api/v1/properties/{p}/pms/reviews/{id}/approve", s.authed(s.decidePMSReview(true)))
	mux.Handle("POST /api/v1/properties/{p}/pms/reviews/{id}/reject", s.authed(s.decidePMSReview(false)))

	// CSV reports (package report); they need Key Management (docs/permissions.md).
	mux.Handle("GET /api/v1/properties/{p}/reports/admin-actions.csv", s.authed(s.reportCSV("admin-actions")))
	mux.Handle("GET /api/v1/properties/{p}/reports/assigned-access.csv", s.authed(s.reportCSV("assigned-access")))
	mux.Handle("GET /api/v1/properties/{p}/reports/keys.csv", s.authed(s.reportCSV("keys")))
	mux.Handle("GET /api/v1/properties/{p}/reports/devices.csv", s.authed(s.reportCSV("devices")))
	mux.Handle("GET /api/v1/properties/{p}/reports/keycards.csv", s.authed(s.reportCSV("keycards")))
	mux.Handle("GET /api/v1/properties/{p}/reports/people-keys.csv", s.authed(s.reportCSV("people-keys")))

	// Z-Wave locks through Z-Wave JS (api/zwave.go).
	s.zwaveRoutes(mux)

	// Anything else under /api/v1 answers in the API's error shape.
	mux.Handle("/api/v1/", s.public(func(w http.ResponseWriter, r *http.Request) error {
		if allow := allowedMethods(mux, r); len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			return errMethod
		}
		return errNoRoute
	}))
}

// allowedMethods lists the methods for which mux has a route at r's path.
// The catch-all above also matches a known path with the wrong method;
// that deserves 405 with Allow, not "no such endpoint".
func allowedMethods(mux *http.ServeMux, r *http.Request) []string {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := mux.Handler(probe); pattern != "" && pattern != "/api/v1/" {
			allow = append(allow, m)
			if m == http.MethodGet {
				allow = append(allow, http.MethodHead) // a GET route serves HEAD too
			}
		}
	}
	return allow
}
