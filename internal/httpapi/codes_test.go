package httpapi_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/api"
)

// codeEnums names the spec's `code` enum of each error kind's answer.
var codeEnums = map[string]string{
	"KindInvalid":            "BadRequestCode",
	"KindUnauthenticated":    "UnauthorizedCode",
	"KindForbidden":          "ForbiddenCode",
	"KindNotFound":           "NotFoundCode",
	"KindConflict":           "ConflictCode",
	"KindPreconditionFailed": "PreconditionFailedCode",
	"KindUnprocessable":      "UnprocessableEntityCode",
	"KindRateLimited":        "TooManyRequestsCode",
	"KindUnavailable":        "ServiceUnavailableCode",
	"KindTooLarge":           "PayloadTooLargeCode",
	"KindBadGateway":         "BadGatewayCode",
	"KindGone":               "GoneCode",
	"KindNotAcceptable":      "NotAcceptableCode",
	"KindInternal":           "InternalErrorCode",
	// KindMethodNotAllowed: only for methods the spec has no operation for.
}

// helperKinds are the errs helpers that take the code first.
var helperKinds = map[string]string{
	"Forbidden":       "KindForbidden",
	"Unauthenticated": "KindUnauthenticated",
	"Conflict":        "KindConflict",
	"Unprocessable":   "KindUnprocessable",
}

type usedCode struct{ kind, code, at string }

// TestProblemCodesAreDocumented reads every error code written as a
// literal in internal/* (errs.E, errs.Forbidden/Conflict/..., errs.Error
// literals, the catalog's mustExist and storeErr) and requires it in the
// spec's enum for its status, so a new code cannot go undocumented.
func TestProblemCodesAreDocumented(t *testing.T) {
	t.Parallel()
	doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPIYAML)
	require.NoError(t, err)
	used := scanCodes(t, "..") // internal/
	require.Greater(t, len(used), 50, "the scan finds the codes")
	var missing []string
	for _, u := range used {
		name, ok := codeEnums[u.kind]
		if !ok {
			continue
		}
		s := doc.Components.Schemas[name]
		require.NotNil(t, s, "no schema %s", name)
		if !slices.Contains(s.Value.Enum, any(u.code)) {
			missing = append(missing, u.at+": code "+strconv.Quote(u.code)+" ("+u.kind+") is not in components/schemas/"+name)
		}
	}
	require.Empty(t, missing, "codes used in internal/ and missing from api/openapi.yaml")
}

func scanCodes(t *testing.T, root string) []usedCode {
	var out []usedCode
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return err
		}
		f, err := parser.ParseFile(fset, p, nil, 0)
		if err != nil {
			return err
		}
		lit := func(e ast.Expr) (string, bool) {
			b, ok := e.(*ast.BasicLit)
			if !ok || b.Kind != token.STRING {
				return "", false
			}
			s, err := strconv.Unquote(b.Value)
			return s, err == nil
		}
		kindOf := func(e ast.Expr) string {
			if s, ok := e.(*ast.SelectorExpr); ok {
				return s.Sel.Name
			}
			return ""
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if n == nil {
				return false
			}
			at := fset.Position(n.Pos()).String()
			switch x := n.(type) {
			case *ast.CallExpr:
				var name string
				var pkg string
				switch fn := x.Fun.(type) {
				case *ast.SelectorExpr:
					if id, ok := fn.X.(*ast.Ident); ok {
						pkg = id.Name
					}
					name = fn.Sel.Name
				case *ast.Ident:
					name = fn.Name
				}
				switch {
				case pkg == "errs" && name == "E" && len(x.Args) >= 2:
					if c, ok := lit(x.Args[1]); ok {
						out = append(out, usedCode{kindOf(x.Args[0]), c, at})
					}
				case pkg == "errs" && helperKinds[name] != "" && len(x.Args) >= 1:
					if c, ok := lit(x.Args[0]); ok {
						out = append(out, usedCode{helperKinds[name], c, at})
					}
				case pkg == "" && name == "mustExist" && len(x.Args) >= 5:
					if c, ok := lit(x.Args[4]); ok {
						out = append(out, usedCode{"KindUnprocessable", c, at})
					}
				case pkg == "" && (name == "storeErr" || name == "storeErrOrNil" || name == "update" || name == "remove") && len(x.Args) >= 2:
					for _, a := range x.Args {
						if what, ok := lit(a); ok {
							out = append(out, usedCode{"KindConflict", strings.ReplaceAll(what, " ", "_") + "_taken", at})
						}
					}
				}
			case *ast.CompositeLit:
				switch ty := x.Type.(type) {
				case *ast.SelectorExpr: // errs.Error{...}
					if ty.Sel.Name != "Error" {
						return true
					}
				case *ast.Ident: // Error{...} inside package errs
					if ty.Name != "Error" || f.Name.Name != "errs" {
						return true
					}
				default:
					return true
				}
				var kind, code string
				for _, e := range x.Elts {
					kv, ok := e.(*ast.KeyValueExpr)
					if !ok {
						continue
					}
					switch k, _ := kv.Key.(*ast.Ident); {
					case k != nil && k.Name == "Kind":
						kind = kindOf(kv.Value)
					case k != nil && k.Name == "Code":
						code, _ = lit(kv.Value)
					}
				}
				if kind != "" && code != "" {
					out = append(out, usedCode{kind, code, at})
				}
			}
			return true
		})
		return nil
	})
	require.NoError(t, err)
	return out
}
