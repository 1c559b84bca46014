package api

import "net/http"

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

	mux.Handle("GET /api/v1/managers", s.authed(s.listManagers))
	mux.Handle("POST /api/v1/managers", s.authed(s.createManager))
	mux.Handle("GET /api/v1/managers/{m}", s.authed(s.getManager))
	mux.Handle("PUT /api/v1/managers/{m}/properties/{p}", s.authed(s.assignProperty))

	s.residentRoutes(mux)
	s.doorSyncRoutes(mux)
	s.bulkRoutes(mux)

	// CSV reports (package report); they need full Key Management.
	mux.Handle("GET /api/v1/properties/{p}/reports/admin-actions.csv", s.authed(s.reportCSV("admin-actions")))
	mux.Handle("GET /api/v1/properties/{p}/reports/assigned-access.csv", s.authed(s.reportCSV("assigned-access")))
	mux.Handle("GET /api/v1/properties/{p}/reports/keys.csv", s.authed(s.reportCSV("keys")))
	mux.Handle("GET /api/v1/properties/{p}/reports/devices.csv", s.authed(s.reportCSV("devices")))
	mux.Handle("GET /api/v1/properties/{p}/reports/keycards.csv", s.authed(s.reportCSV("keycards")))
	mux.Handle("GET /api/v1/properties/{p}/reports/people-keys.csv", s.authed(s.reportCSV("people-keys")))

	// Anything else under /api/v1 answers in the API's error shape.
	mux.Handle("/api/v1/", s.public(func(w http.ResponseWriter, r *http.Request) error { return errNoRoute }))
}
