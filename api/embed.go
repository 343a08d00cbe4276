// Package api embeds the contract so the server can publish it as written.
package api

import _ "embed"

// OpenAPIYAML is api/openapi.yaml, served at /openapi.yaml.
//
//go:embed openapi.yaml
var OpenAPIYAML []byte
