package billing

// SetBeforeStore runs f before a run stores each chunk of invoices, between
// drafting them and the storing transaction.
func (s *Service) SetBeforeStore(f func()) { s.beforeStore = f }
