package httpapi

import (
	"context"

	"github.com/google/uuid"

	"github.com/acronis-platform/platform/api/oapi"
	"github.com/acronis-platform/platform/internal/catalog"
	"github.com/acronis-platform/platform/internal/page"
)

// rate shows a tax rate with at least two decimals.
func rate(t catalog.Tax) string {
	if t.Rate.Exponent() >= -2 {
		return t.Rate.StringFixed(2)
	}
	return t.Rate.String()
}

func ventureOut(v catalog.Venture) oapi.Venture {
	return oapi.Venture{Id: v.ID, Name: v.Name, InvoicePrefix: v.InvoicePrefix, Version: v.Version, CreatedAt: v.CreatedAt, UpdatedAt: v.UpdatedAt}
}

func taxOut(t catalog.Tax) oapi.Tax {
	return oapi.Tax{Id: t.ID, Name: t.Name, Rate: rate(t), Version: t.Version, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt}
}

func productTypeOut(t catalog.ProductType) oapi.ProductType {
	return oapi.ProductType{Id: t.ID, Name: t.Name, Version: t.Version, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt}
}

func productOut(p catalog.Product) oapi.Product {
	return oapi.Product{Id: p.ID, ProductTypeId: p.ProductTypeID, Name: p.Name, Version: p.Version, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt}
}

func groupOut(g catalog.ProductGroup) oapi.ProductGroup {
	taxes := append([]uuid.UUID{}, g.TaxIDs...)
	return oapi.ProductGroup{Id: g.ID, ProductId: g.ProductID, Name: g.Name, Module: oapi.Module(g.Module), TaxIds: &taxes,
		Version: g.Version, CreatedAt: g.CreatedAt, UpdatedAt: g.UpdatedAt}
}

func mapAll[T, O any](in []T, f func(T) O) []O {
	out := make([]O, len(in))
	for i, v := range in {
		out[i] = f(v)
	}
	return out
}

// --- ventures ---

func (s *Server) ListVentures(ctx context.Context, req oapi.ListVenturesRequestObject) (oapi.ListVenturesResponseObject, error) {
	r, err := page.Parse(req.Params.Limit, req.Params.Cursor)
	if err != nil {
		return nil, err
	}
	rows, next, err := s.catalog.ListVentures(ctx, r)
	if err != nil {
		return nil, err
	}
	return oapi.ListVentures200JSONResponse{Data: mapAll(rows, ventureOut), NextCursor: nonEmpty(next), HasMore: next != ""}, nil
}

func (s *Server) CreateVenture(ctx context.Context, req oapi.CreateVentureRequestObject) (oapi.CreateVentureResponseObject, error) {
	v, err := s.catalog.CreateVenture(ctx, req.Body.Name, req.Body.InvoicePrefix)
	if err != nil {
		return nil, err
	}
	return oapi.CreateVenture201JSONResponse{Body: ventureOut(v), Headers: oapi.CreateVenture201ResponseHeaders{ETag: etag(v.Version)}}, nil
}

func (s *Server) GetVenture(ctx context.Context, req oapi.GetVentureRequestObject) (oapi.GetVentureResponseObject, error) {
	v, err := s.catalog.GetVenture(ctx, req.Id)
	if err != nil {
		return nil, err
	}
	return oapi.GetVenture200JSONResponse{Body: ventureOut(v), Headers: oapi.GetVenture200ResponseHeaders{ETag: etag(v.Version)}}, nil
}

func (s *Server) UpdateVenture(ctx context.Context, req oapi.UpdateVentureRequestObject) (oapi.UpdateVentureResponseObject, error) {
	ifv, err := parseIfMatch(req.Params.IfMatch)
	if err != nil {
		return nil, err
	}
	v, err := s.catalog.UpdateVenture(ctx, req.Id, req.Body.Name, req.Body.InvoicePrefix, ifv)
	if err != nil {
		return nil, err
	}
	return oapi.UpdateVenture200JSONResponse{Body: ventureOut(v), Headers: oapi.UpdateVenture200ResponseHeaders{ETag: etag(v.Version)}}, nil
}

func (s *Server) DeleteVenture(ctx context.Context, req oapi.DeleteVentureRequestObject) (oapi.DeleteVentureResponseObject, error) {
	ifv, err := parseIfMatch(req.Params.IfMatch)
	if err != nil {
		return nil, err
	}
	if err := s.catalog.DeleteVenture(ctx, req.Id, ifv); err != nil {
		return nil, err
	}
	return oapi.DeleteVenture204Response{}, nil
}

// --- taxes ---

func (s *Server) ListTaxes(ctx context.Context, req oapi.ListTaxesRequestObject) (oapi.ListTaxesResponseObject, error) {
	r, err := page.Parse(req.Params.Limit, req.Params.Cursor)
	if err != nil {
		return nil, err
	}
	rows, next, err := s.catalog.ListTaxes(ctx, r)
	if err != nil {
		return nil, err
	}
	return oapi.ListTaxes200JSONResponse{Data: mapAll(rows, taxOut), NextCursor: nonEmpty(next), HasMore: next != ""}, nil
}

func (s *Server) CreateTax(ctx context.Context, req oapi.CreateTaxRequestObject) (oapi.CreateTaxResponseObject, error) {
	t, err := s.catalog.CreateTax(ctx, req.Body.Name, req.Body.Rate)
	if err != nil {
		return nil, err
	}
	return oapi.CreateTax201JSONResponse{Body: taxOut(t), Headers: oapi.CreateTax201ResponseHeaders{ETag: etag(t.Version)}}, nil
}

func (s *Server) GetTax(ctx context.Context, req oapi.GetTaxRequestObject) (oapi.GetTaxResponseObject, error) {
	t, err := s.catalog.GetTax(ctx, req.Id)
	if err != nil {
		return nil, err
	}
	return oapi.GetTax200JSONResponse{Body: taxOut(t), Headers: oapi.GetTax200ResponseHeaders{ETag: etag(t.Version)}}, nil
}

func (s *Server) UpdateTax(ctx context.Context, req oapi.UpdateTaxRequestObject) (oapi.UpdateTaxResponseObject, error) {
	ifv, err := parseIfMatch(req.Params.IfMatch)
	if err != nil {
		return nil, err
	}
	t, err := s.catalog.UpdateTax(ctx, req.Id, req.Body.Name, req.Body.Rate, ifv)
	if err != nil {
		return nil, err
	}
	return oapi.UpdateTax200JSONResponse{Body: taxOut(t), Headers: oapi.UpdateTax200ResponseHeaders{ETag: etag(t.Version)}}, nil
}

func (s *Server) DeleteTax(ctx context.Context, req oapi.DeleteTaxRequestObject) (oapi.DeleteTaxResponseObject, error) {
	ifv, err := parseIfMatch(req.Params.IfMatch)
	if err != nil {
		return nil, err
	}
	if err := s.catalog.DeleteTax(ctx, req.Id, ifv); err != nil {
		return nil, err
	}
	return oapi.DeleteTax204Response{}, nil
}

// --- product types ---

func (s *Server) ListProductTypes(ctx context.Context, req oapi.ListProductTypesRequestObject) (oapi.ListProductTypesResponseObject, error) {
	r, err := page.Parse(req.Params.Limit, req.Params.Cursor)
	if err != nil {
		return nil, err
	}
	rows, next, err := s.catalog.ListProductTypes(ctx, r)
	if err != nil {
		return nil, err
	}
	return oapi.ListProductTypes200JSONResponse{Data: mapAll(rows, productTypeOut), NextCursor: nonEmpty(next), HasMore: next != ""}, nil
}

func (s *Server) CreateProductType(ctx context.Context, req oapi.CreateProductTypeRequestObject) (oapi.CreateProductTypeResponseObject, error) {
	t, err := s.catalog.CreateProductType(ctx, req.Body.Name)
	if err != nil {
		return nil, err
	}
	return oapi.CreateProductType201JSONResponse{Body: productTypeOut(t), Headers: oapi.CreateProductType201ResponseHeaders{ETag: etag(t.Version)}}, nil
}

func (s *Server) GetProductType(ctx context.Context, req oapi.GetProductTypeRequestObject) (oapi.GetProductTypeResponseObject, error) {
	t, err := s.catalog.GetProductType(ctx, req.Id)
	if err != nil {
		return nil, err
	}
	return oapi.GetProductType200JSONResponse{Body: productTypeOut(t), Headers: oapi.GetProductType200ResponseHeaders{ETag: etag(t.Version)}}, nil
}

func (s *Server) UpdateProductType(ctx context.Context, req oapi.UpdateProductTypeRequestObject) (oapi.UpdateProductTypeResponseObject, error) {
	ifv, err := parseIfMatch(req.Params.IfMatch)
	if err != nil {
		return nil, err
	}
	t, err := s.catalog.UpdateProductType(ctx, req.Id, req.Body.Name, ifv)
	if err != nil {
		return nil, err
	}
	return oapi.UpdateProductType200JSONResponse{Body: productTypeOut(t), Headers: oapi.UpdateProductType200ResponseHeaders{ETag: etag(t.Version)}}, nil
}

func (s *Server) DeleteProductType(ctx context.Context, req oapi.DeleteProductTypeRequestObject) (oapi.DeleteProductTypeResponseObject, error) {
	ifv, err := parseIfMatch(req.Params.IfMatch)
	if err != nil {
		return nil, err
	}
	if err := s.catalog.DeleteProductType(ctx, req.Id, ifv); err != nil {
		return nil, err
	}
	return oapi.DeleteProductType204Response{}, nil
}

// --- products ---

func (s *Server) ListProducts(ctx context.Context, req oapi.ListProductsRequestObject) (oapi.ListProductsResponseObject, error) {
	r, err := page.Parse(req.Params.Limit, req.Params.Cursor)
	if err != nil {
		return nil, err
	}
	rows, next, err := s.catalog.ListProducts(ctx, req.Params.ProductTypeId, r)
	if err != nil {
		return nil, err
	}
	return oapi.ListProducts200JSONResponse{Data: mapAll(rows, productOut), NextCursor: nonEmpty(next), HasMore: next != ""}, nil
}

func (s *Server) CreateProduct(ctx context.Context, req oapi.CreateProductRequestObject) (oapi.CreateProductResponseObject, error) {
	p, err := s.catalog.CreateProduct(ctx, req.Body.ProductTypeId, req.Body.Name)
	if err != nil {
		return nil, err
	}
	return oapi.CreateProduct201JSONResponse{Body: productOut(p), Headers: oapi.CreateProduct201ResponseHeaders{ETag: etag(p.Version)}}, nil
}

func (s *Server) GetProduct(ctx context.Context, req oapi.GetProductRequestObject) (oapi.GetProductResponseObject, error) {
	p, err := s.catalog.GetProduct(ctx, req.Id)
	if err != nil {
		return nil, err
	}
	return oapi.GetProduct200JSONResponse{Body: productOut(p), Headers: oapi.GetProduct200ResponseHeaders{ETag: etag(p.Version)}}, nil
}

func (s *Server) UpdateProduct(ctx context.Context, req oapi.UpdateProductRequestObject) (oapi.UpdateProductResponseObject, error) {
	ifv, err := parseIfMatch(req.Params.IfMatch)
	if err != nil {
		return nil, err
	}
	p, err := s.catalog.UpdateProduct(ctx, req.Id, req.Body.ProductTypeId, req.Body.Name, ifv)
	if err != nil {
		return nil, err
	}
	return oapi.UpdateProduct200JSONResponse{Body: productOut(p), Headers: oapi.UpdateProduct200ResponseHeaders{ETag: etag(p.Version)}}, nil
}

func (s *Server) DeleteProduct(ctx context.Context, req oapi.DeleteProductRequestObject) (oapi.DeleteProductResponseObject, error) {
	ifv, err := parseIfMatch(req.Params.IfMatch)
	if err != nil {
		return nil, err
	}
	if err := s.catalog.DeleteProduct(ctx, req.Id, ifv); err != nil {
		return nil, err
	}
	return oapi.DeleteProduct204Response{}, nil
}

// --- product groups ---

func groupIn(productID *uuid.UUID, name *string, module *oapi.Module, taxes *[]uuid.UUID) catalog.GroupInput {
	in := catalog.GroupInput{ProductID: productID, Name: name, TaxIDs: taxes}
	if module != nil {
		m := string(*module)
		in.Module = &m
	}
	return in
}

func (s *Server) ListProductGroups(ctx context.Context, req oapi.ListProductGroupsRequestObject) (oapi.ListProductGroupsResponseObject, error) {
	r, err := page.Parse(req.Params.Limit, req.Params.Cursor)
	if err != nil {
		return nil, err
	}
	rows, next, err := s.catalog.ListProductGroups(ctx, req.Params.ProductId, r)
	if err != nil {
		return nil, err
	}
	return oapi.ListProductGroups200JSONResponse{Data: mapAll(rows, groupOut), NextCursor: nonEmpty(next), HasMore: next != ""}, nil
}

func (s *Server) CreateProductGroup(ctx context.Context, req oapi.CreateProductGroupRequestObject) (oapi.CreateProductGroupResponseObject, error) {
	b := req.Body
	taxes := b.TaxIds
	if taxes == nil {
		taxes = &[]uuid.UUID{}
	}
	g, err := s.catalog.CreateProductGroup(ctx, groupIn(&b.ProductId, &b.Name, &b.Module, taxes))
	if err != nil {
		return nil, err
	}
	return oapi.CreateProductGroup201JSONResponse{Body: groupOut(g), Headers: oapi.CreateProductGroup201ResponseHeaders{ETag: etag(g.Version)}}, nil
}

func (s *Server) GetProductGroup(ctx context.Context, req oapi.GetProductGroupRequestObject) (oapi.GetProductGroupResponseObject, error) {
	g, err := s.catalog.GetProductGroup(ctx, req.Id)
	if err != nil {
		return nil, err
	}
	return oapi.GetProductGroup200JSONResponse{Body: groupOut(g), Headers: oapi.GetProductGroup200ResponseHeaders{ETag: etag(g.Version)}}, nil
}

func (s *Server) UpdateProductGroup(ctx context.Context, req oapi.UpdateProductGroupRequestObject) (oapi.UpdateProductGroupResponseObject, error) {
	ifv, err := parseIfMatch(req.Params.IfMatch)
	if err != nil {
		return nil, err
	}
	b := req.Body
	g, err := s.catalog.UpdateProductGroup(ctx, req.Id, groupIn(b.ProductId, b.Name, b.Module, b.TaxIds), ifv)
	if err != nil {
		return nil, err
	}
	return oapi.UpdateProductGroup200JSONResponse{Body: groupOut(g), Headers: oapi.UpdateProductGroup200ResponseHeaders{ETag: etag(g.Version)}}, nil
}

func (s *Server) DeleteProductGroup(ctx context.Context, req oapi.DeleteProductGroupRequestObject) (oapi.DeleteProductGroupResponseObject, error) {
	ifv, err := parseIfMatch(req.Params.IfMatch)
	if err != nil {
		return nil, err
	}
	if err := s.catalog.DeleteProductGroup(ctx, req.Id, ifv); err != nil {
		return nil, err
	}
	return oapi.DeleteProductGroup204Response{}, nil
}
