package httpapi

import (
	"net/http"

	"github.com/labstack/echo/v4"
	swaggerfiles "github.com/swaggo/files/v2"

	"github.com/acronis-platform/platform/api"
)

// docsPage renders /openapi.yaml with Swagger UI's files, which are compiled
// into the binary (no CDN at run time).
const docsPage = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Acronis Automation Platform API</title>
<link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/swagger-ui-standalone-preset.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>
`

const docsInit = `window.onload = function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.yaml",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: "StandaloneLayout"
  });
};
`

func registerDocs(e *echo.Echo) {
	e.GET("/openapi.yaml", func(c echo.Context) error {
		return c.Blob(http.StatusOK, "application/yaml", api.OpenAPIYAML)
	})
	page := func(c echo.Context) error { return c.HTML(http.StatusOK, docsPage) }
	e.GET("/docs", page)
	e.GET("/docs/", page)
	e.GET("/docs/init.js", func(c echo.Context) error {
		return c.Blob(http.StatusOK, "application/javascript", []byte(docsInit))
	})
	assets := http.StripPrefix("/docs/", http.FileServer(http.FS(swaggerfiles.FS)))
	e.GET("/docs/*", echo.WrapHandler(assets))
}
