package user

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/acronis-platform/platform/internal/auth"
	"github.com/acronis-platform/platform/internal/clock"
	"github.com/acronis-platform/platform/internal/errs"
	"github.com/acronis-platform/platform/internal/page"
	"github.com/acronis-platform/platform/internal/ratelimit"
)

// Limiter counts login failures (internal/ratelimit).
type Limiter interface {
	Hit(ctx context.Context, bucket string, limit int, window time.Duration) (ratelimit.Result, error)
	Peek(ctx context.Context, bucket string, limit int, window time.Duration) (ratelimit.Result, error)
	Undo(ctx context.Context, bucket string, r ratelimit.Result) error
}

// LoginLimits bound failed token requests per minute. Only the addresses
// that fail are refused: knowing an email lets nobody lock its owner out.
type LoginLimits struct {
	// PerEmailIP refuses (429) an address after this many failures on one email.
	PerEmailIP int
	// PerIP refuses (429) an address after this many failures on any email.
	PerIP int
	// SlowAfter failures on one email from every address make each further
	// attempt on it wait SlowDelay; it is never refused for them.
	SlowAfter int
	SlowDelay time.Duration
}

// Service is the users' unit of work.
type Service struct {
	db      *gorm.DB
	clk     clock.Clock
	tokens  *auth.Tokens
	limiter Limiter
	limits  LoginLimits
}

// NewService wires the service.
func NewService(db *gorm.DB, clk clock.Clock, tokens *auth.Tokens, limiter Limiter, limits LoginLimits) *Service {
	return &Service{db: db, clk: clk, tokens: tokens, limiter: limiter, limits: limits}
}

// Token is an issued access token.
type Token struct {
	Value     string
	ExpiresAt time.Time
}

// Login checks email and password and issues a token. An attempt counts as
// a failure of its address and of its (email, address) pair until it
// succeeds; over either limit the address is refused before any check.
// Failures on the email from everywhere only slow its attempts down.
func (s *Service) Login(ctx context.Context, email, password, clientIP string) (Token, error) {
	email = normEmail(email)
	clientIP = ratelimit.ClientKey(clientIP)
	sum := sha256.Sum256([]byte(email))
	emailKey := hex.EncodeToString(sum[:12])
	pairBucket, ipBucket, emailBucket := "login:pair:"+emailKey+":"+clientIP, "login:ip:"+clientIP, "login:email:"+emailKey
	pair, err := s.limiter.Hit(ctx, pairBucket, s.limits.PerEmailIP, time.Minute)
	if err != nil {
		return Token{}, err
	}
	if err := pair.Err(); err != nil {
		return Token{}, err
	}
	addr, err := s.limiter.Hit(ctx, ipBucket, s.limits.PerIP, time.Minute)
	if err != nil {
		return Token{}, err
	}
	if err := addr.Err(); err != nil {
		_ = s.limiter.Undo(ctx, pairBucket, pair)
		return Token{}, err
	}
	if err := s.slowDown(ctx, emailBucket); err != nil {
		return Token{}, err
	}
	u, ok, err := s.checkPassword(ctx, email, password)
	if err != nil {
		return Token{}, err
	}
	if !ok {
		if _, err := s.limiter.Hit(ctx, emailBucket, s.limits.SlowAfter, time.Minute); err != nil {
			return Token{}, err
		}
		return Token{}, errs.Unauthenticated("invalid_credentials", "Email or password is wrong.")
	}
	// A success is no failure: the address and the pair get it back.
	if err := s.limiter.Undo(ctx, pairBucket, pair); err != nil {
		return Token{}, err
	}
	if err := s.limiter.Undo(ctx, ipBucket, addr); err != nil {
		return Token{}, err
	}
	v, exp, err := s.tokens.Issue(u.ID, u.Role, u.TokenVersion)
	if err != nil {
		return Token{}, errs.Internal(err)
	}
	return Token{Value: v, ExpiresAt: exp}, nil
}

// slowDown waits SlowDelay when the email has failed too often this minute.
func (s *Service) slowDown(ctx context.Context, emailBucket string) error {
	r, err := s.limiter.Peek(ctx, emailBucket, s.limits.SlowAfter, time.Minute)
	if err != nil || r.Hits < s.limits.SlowAfter || s.limits.SlowDelay <= 0 {
		return err
	}
	t := time.NewTimer(s.limits.SlowDelay)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return errs.Internal(ctx.Err())
	case <-t.C:
		return nil
	}
}

// checkPassword reports whether password is the user's, taking as long
// when there is no such user.
func (s *Service) checkPassword(ctx context.Context, email, password string) (User, bool, error) {
	var u User
	err := s.db.WithContext(ctx).Where("lower(email) = ?", email).Take(&u).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		auth.BurnPasswordCheck(password)
		return User{}, false, nil
	}
	if err != nil {
		return User{}, false, errs.Internal(err)
	}
	ok, err := auth.CheckPassword(u.PasswordHash, password)
	if err != nil {
		return User{}, false, errs.Internal(err)
	}
	return u, ok, nil
}

var errStaleToken = errs.Unauthenticated("unauthenticated", "Missing or invalid credentials.")

// PrincipalOf loads the caller behind a verified platform token. A deleted
// user's tokens stop working at once, and so do tokens issued before the
// user's password, role or scope changed (another token version).
func (s *Service) PrincipalOf(ctx context.Context, id uuid.UUID, tokenVersion int64) (auth.Principal, error) {
	var u User
	err := s.db.WithContext(ctx).Take(&u, "id = ?", id).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return auth.Principal{}, errStaleToken
	}
	if err != nil {
		return auth.Principal{}, errs.Internal(err)
	}
	if u.TokenVersion != tokenVersion {
		return auth.Principal{}, errStaleToken
	}
	return u.Principal(), nil
}

// visible scopes a query to the users the caller may see: everything for an
// admin, its own staff for a partner, nothing otherwise.
func visible(q *gorm.DB, p auth.Principal) *gorm.DB {
	switch {
	case p.IsAdmin():
		return q
	case p.Role == auth.RolePartner && p.PartnerID != nil:
		return q.Where("users.role = ? AND users.partner_id = ?", auth.RolePartner, *p.PartnerID)
	default:
		return q.Where("false")
	}
}

// Create adds a user. Partners create only their own staff.
func (s *Service) Create(ctx context.Context, p auth.Principal, in CreateInput) (User, error) {
	return s.CreateTx(ctx, s.db, p, in)
}

// CreateTx is Create inside the caller's transaction.
func (s *Service) CreateTx(ctx context.Context, tx *gorm.DB, p auth.Principal, in CreateInput) (User, error) {
	in.Email = strings.TrimSpace(in.Email)
	if err := authorizeCreate(p, &in); err != nil {
		return User{}, err
	}
	if err := checkScope(in); err != nil {
		return User{}, err
	}
	hash, err := auth.HashPassword(in.Password)
	if err != nil {
		return User{}, errs.Internal(err)
	}
	now := s.clk.Now().Truncate(time.Microsecond)
	u := User{
		ID: uuid.New(), Email: in.Email, Name: strings.TrimSpace(in.Name), PasswordHash: hash,
		Role: in.Role, PartnerID: in.PartnerID, CustomerID: in.CustomerID,
		Version: 1, CreatedAt: now, UpdatedAt: now,
	}
	if err := scopeExists(tx.WithContext(ctx), in); err != nil {
		return User{}, err
	}
	if err := tx.WithContext(ctx).Create(&u).Error; err != nil {
		return User{}, storeErr(err)
	}
	return u, nil
}

func authorizeCreate(p auth.Principal, in *CreateInput) error {
	if p.IsAdmin() {
		return nil
	}
	if p.Role != auth.RolePartner || p.PartnerID == nil {
		return errs.Forbidden("forbidden", "Your role may not create users.")
	}
	if in.Role != auth.RolePartner {
		return errs.Forbidden("role_not_allowed", "Partners may create only partner users.")
	}
	if in.PartnerID == nil {
		in.PartnerID = p.PartnerID
	}
	if *in.PartnerID != *p.PartnerID {
		return errs.Forbidden("partner_not_allowed", "Partners may create users only for themselves.")
	}
	return nil
}

// checkScope enforces: partner users carry a partner, customer users a
// customer, admins neither.
func checkScope(in CreateInput) error {
	switch in.Role {
	case auth.RoleAdmin:
		if in.PartnerID != nil {
			return errs.Invalid("partner_id", "not_allowed", "admins belong to no partner")
		}
		if in.CustomerID != nil {
			return errs.Invalid("customer_id", "not_allowed", "admins belong to no customer")
		}
	case auth.RolePartner:
		if in.PartnerID == nil {
			return errs.Invalid("partner_id", "required", "partner users need partner_id")
		}
		if in.CustomerID != nil {
			return errs.Invalid("customer_id", "not_allowed", "partner users belong to no customer")
		}
	case auth.RoleCustomer:
		if in.CustomerID == nil {
			return errs.Invalid("customer_id", "required", "customer users need customer_id")
		}
	default:
		return errs.Invalid("role", "invalid_enum", "unknown role")
	}
	return nil
}

// Get returns a user the caller may see.
func (s *Service) Get(ctx context.Context, p auth.Principal, id uuid.UUID) (User, error) {
	return take(visible(s.db.WithContext(ctx), p), id)
}

// take reads one user through a scoped query; invisible is not found.
func take(q *gorm.DB, id uuid.UUID) (User, error) {
	var u User
	err := q.Take(&u, "users.id = ?", id).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return User{}, errs.NotFound("user")
	}
	if err != nil {
		return User{}, errs.Internal(err)
	}
	return u, nil
}

// List returns a page of the users the caller may see.
func (s *Service) List(ctx context.Context, p auth.Principal, f ListFilter, r page.Request) ([]User, string, error) {
	q := visible(s.db.WithContext(ctx).Model(&User{}), p)
	if f.Role != nil {
		q = q.Where("users.role = ?", *f.Role)
	}
	if f.PartnerID != nil {
		q = q.Where("users.partner_id = ?", *f.PartnerID)
	}
	var rows []User
	if err := r.Apply(q, "users").Find(&rows).Error; err != nil {
		return nil, "", errs.Internal(err)
	}
	rows, next := page.Trim(r, rows, func(u User) page.Key { return page.Key{CreatedAt: u.CreatedAt, ID: u.ID} })
	return rows, next, nil
}

// Update changes a user's email, name or password. ifVersion, when given,
// must be the current version.
func (s *Service) Update(ctx context.Context, p auth.Principal, id uuid.UUID, in UpdateInput, ifVersion *int64) (User, error) {
	var hash string
	if in.Password != nil { // hashed before the row is locked: it takes a while
		h, err := auth.HashPassword(*in.Password)
		if err != nil {
			return User{}, errs.Internal(err)
		}
		hash = h
	}
	var out User
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		u, err := take(visible(tx, p).Clauses(forUpdate), id)
		if err != nil {
			return err
		}
		if ifVersion != nil && *ifVersion != u.Version {
			return errs.VersionMismatch()
		}
		if in.Email != nil {
			u.Email = strings.TrimSpace(*in.Email)
		}
		if in.Name != nil {
			u.Name = strings.TrimSpace(*in.Name)
		}
		if hash != "" {
			u.PasswordHash = hash
		}
		u.Version++
		u.UpdatedAt = s.clk.Now().Truncate(time.Microsecond)
		if err := tx.Save(&u).Error; err != nil {
			return storeErr(err)
		}
		out = u
		return nil
	})
	return out, err
}

// Delete removes a user. Nobody deletes themselves.
func (s *Service) Delete(ctx context.Context, p auth.Principal, id uuid.UUID, ifVersion *int64) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		u, err := take(visible(tx, p).Clauses(forUpdate), id)
		if err != nil {
			return err
		}
		if p.UserID != nil && *p.UserID == u.ID {
			return errs.Conflict("cannot_delete_self", "You cannot delete your own user.")
		}
		if ifVersion != nil && *ifVersion != u.Version {
			return errs.VersionMismatch()
		}
		if err := tx.Delete(&User{}, "id = ?", u.ID).Error; err != nil {
			return errs.Internal(err)
		}
		return nil
	})
}

// SeedAdmin creates the admin with this email, or resets its password.
func (s *Service) SeedAdmin(ctx context.Context, email, name, password string) (User, bool, error) {
	var u User
	err := s.db.WithContext(ctx).Where("lower(email) = ?", normEmail(email)).Take(&u).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		u, err = s.Create(ctx, auth.Principal{Role: auth.RoleAdmin}, CreateInput{Email: email, Name: name, Password: password, Role: auth.RoleAdmin})
		return u, err == nil, err
	}
	if err != nil {
		return User{}, false, errs.Internal(err)
	}
	if u.Role != auth.RoleAdmin {
		return User{}, false, errs.Conflict("email_taken", "That email belongs to a non-admin user.")
	}
	if same, _ := auth.CheckPassword(u.PasswordHash, password); same {
		return u, false, nil // a new hash would end the admin's tokens for nothing
	}
	u, err = s.Update(ctx, auth.Principal{Role: auth.RoleAdmin}, u.ID, UpdateInput{Password: &password}, nil)
	return u, false, err
}

func normEmail(e string) string { return strings.ToLower(strings.TrimSpace(e)) }

// scopeExists refuses a user for a partner or customer that is not there.
func scopeExists(q *gorm.DB, in CreateInput) error {
	check := func(table string, id *uuid.UUID, field string) error {
		if id == nil {
			return nil
		}
		var n int64
		if err := q.Table(table).Where("id = ?", *id).Count(&n).Error; err != nil {
			return errs.Internal(err)
		}
		if n == 0 {
			return errs.Unprocessable(field[:len(field)-3]+"_not_found", "No "+field[:len(field)-3]+" has this id.").WithField(field)
		}
		return nil
	}
	if err := check("partners", in.PartnerID, "partner_id"); err != nil {
		return err
	}
	return check("customers", in.CustomerID, "customer_id")
}

func storeErr(err error) error {
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return errs.Conflict("email_taken", "A user with this email already exists.")
	}
	if errors.Is(err, gorm.ErrForeignKeyViolated) {
		return errs.Unprocessable("scope_not_found", "The partner or customer of this user does not exist.")
	}
	return errs.Internal(err)
}
