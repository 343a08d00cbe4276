package httpapi

import (
	"crypto/subtle"
	"strings"

	"github.com/labstack/echo/v4"
)

// metricsBearer lets through callers that send token as their bearer. The
// metrics tell request volumes and routes: not for the public.
func metricsBearer(token string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			scheme, got, ok := strings.Cut(c.Request().Header.Get(echo.HeaderAuthorization), " ")
			if !ok || !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(token)) != 1 {
				return errNoCredentials
			}
			return next(c)
		}
	}
}
