// Package httperr maps application errors (*domain.Error codes) to HTTP
// statuses, for the API's JSON errors and the console's error pages alike.
package httperr

import (
	"net/http"

	"github.com/dooros/dooros/domain"
)

var statusOf = map[domain.Code]int{
	domain.EInvalid:          http.StatusBadRequest,
	domain.EUnauthenticated:  http.StatusUnauthorized,
	domain.EForbidden:        http.StatusForbidden,
	domain.ENotFound:         http.StatusNotFound,
	domain.EConflict:         http.StatusConflict,
	domain.ERateLimited:      http.StatusTooManyRequests,
	domain.EMethodNotAllowed: http.StatusMethodNotAllowed,
	domain.ETimeout:          http.StatusGatewayTimeout,
}

// StatusOf maps an application error to its HTTP status; errors without a
// code are 500.
func StatusOf(err error) int {
	if st, ok := statusOf[domain.ErrorCode(err)]; ok {
		return st
	}
	return http.StatusInternalServerError
}
