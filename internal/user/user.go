// Package user manages the platform's users: admins, partner staff and
// customer users, and their logins.
package user

import (
	"time"

	"github.com/google/uuid"

	"github.com/acronis-platform/platform/internal/auth"
)

// User is a person who logs in to the platform.
type User struct {
	ID           uuid.UUID `gorm:"primaryKey"`
	Email        string
	Name         string
	PasswordHash string
	Role         auth.Role
	PartnerID    *uuid.UUID
	CustomerID   *uuid.UUID
	Version      int64
	// TokenVersion moves on (by trigger) when the password, role or scope
	// changes; tokens of an older version are refused.
	TokenVersion int64 `gorm:"->"`
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Principal is the user as a caller.
func (u User) Principal() auth.Principal {
	id := u.ID
	return auth.Principal{
		Kind: auth.KindUser, Subject: u.ID.String(), UserID: &id,
		Email: u.Email, Name: u.Name, Role: u.Role,
		PartnerID: u.PartnerID, CustomerID: u.CustomerID,
	}
}

// CreateInput is a new user.
type CreateInput struct {
	Email      string
	Name       string
	Password   string
	Role       auth.Role
	PartnerID  *uuid.UUID
	CustomerID *uuid.UUID
}

// UpdateInput changes the fields that are set.
type UpdateInput struct {
	Email    *string
	Name     *string
	Password *string
}

// ListFilter narrows a list.
type ListFilter struct {
	Role      *auth.Role
	PartnerID *uuid.UUID
}
