// Package dunning acts on what customers and partners owe: each day (the
// daily job, the sandbox clock, or POST /v1/dunning-runs) a run reminds,
// suspends and terminates services whose invoices stay unpaid, and alerts
// (and, when the plan says so, suspends) customers above their credit limit
// and partners above theirs.
//
// Entities: Run (a row of dunning_runs: a day's pass and its counts),
// Action (a row of dunning_actions: one thing done once, under a unique
// key) and RunAction (a row of dunning_run_actions: what a run did to an
// action).
//
// Keys: reminder:<invoice>:<offset>, suspend:<service>:<invoice>,
// terminate:<service>:<invoice>, credit_alert:<customer>:<crossing>,
// credit_suspend:<service>:<crossing>, credit_unsuspend:<service>:<crossing>,
// partner_credit_alert:<partner>:<crossing>; a crossing is the count of
// earlier alerts of that customer (or partner) plus one.
//
// States: a run queued -> running -> completed | failed | interrupted; an
// action pending (claimed or not) -> done, or failed (tried again by the
// next run) -> done.
//
// Invariants:
//   - An action is inserted by its key and acted on only by the run that
//     claimed it (a lease of Lease; a claim of a run that died expires), so
//     however often runs repeat, crash or run side by side, each action is
//     done once.
//   - A reminder or an alert is one transaction: its mail, its event, the
//     customer's (partner's) flag and the action marked done commit
//     together.
//   - A suspension or termination goes vendor first
//     (subscription.SuspendVendorFirst / TerminateVendorFirst, which
//     re-check in their transaction that it is still due): a vendor
//     failure leaves the platform as it was, marks the action failed on
//     the run and the next run tries it again. The action is marked done
//     in the transaction that applies the change (subscription.Then), so
//     one never commits without the other.
//   - What every action of a run reads again (plans' settings and
//     templates, issuers' names) is cached for that run only (memo).
//   - A customer whose dunning_paused_until is on or after the run's day is
//     left alone (only a credit suspension may still be lifted).
//   - Per service the oldest unpaid invoice counts: when catching up (a
//     run after downtime), only its latest reminder offset is mailed.
package dunning

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"gorm.io/gorm"

	"github.com/acronis-platform/platform/internal/billing"
	"github.com/acronis-platform/platform/internal/clock"
	"github.com/acronis-platform/platform/internal/customer"
	"github.com/acronis-platform/platform/internal/partner"
	"github.com/acronis-platform/platform/internal/subscription"
)

// Run statuses.
const (
	RunQueued      = "queued"
	RunRunning     = "running"
	RunCompleted   = "completed"
	RunFailed      = "failed"
	RunInterrupted = "interrupted"
)

// Action kinds.
const (
	KindReminder           = "reminder"
	KindSuspend            = "suspend"
	KindTerminate          = "terminate"
	KindCreditAlert        = "credit_alert"
	KindCreditSuspend      = "credit_suspend"
	KindCreditUnsuspend    = "credit_unsuspend"
	KindPartnerCreditAlert = "partner_credit_alert"
)

// Action statuses, and what a run did to one (RunAction.Result).
const (
	ActionPending = "pending"
	ActionDone    = "done"
	ActionFailed  = "failed"
	ResultSkipped = "skipped"
)

// OutcomeSent is the outcome of a reminder or alert mailed.
const OutcomeSent = "sent"

// Run is one dunning run and what it did.
type Run struct {
	ID           uuid.UUID `gorm:"primaryKey"`
	AsOf         time.Time `gorm:"type:date"`
	Status       string
	Checked      int
	Reminders    int
	Suspended    int
	Terminated   int
	Unsuspended  int
	CreditAlerts int
	Skipped      int
	Failed       int
	Failures     []byte `gorm:"type:jsonb"`
	RequestedBy  string
	StartedAt    *time.Time
	HeartbeatAt  *time.Time
	FinishedAt   *time.Time
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// TableName keeps GORM on the migration's table.
func (Run) TableName() string { return "dunning_runs" }

// Failure is one thing a run could not do.
type Failure struct {
	What   string `json:"what"`
	Reason string `json:"reason"`
}

// Action is one thing dunning does once.
type Action struct {
	ID           uuid.UUID `gorm:"primaryKey"`
	Key          string
	Kind         string
	ServiceID    *uuid.UUID
	CustomerID   *uuid.UUID
	PartnerID    *uuid.UUID
	InvoiceID    *uuid.UUID
	Status       string
	Outcome      *string
	Attempts     int
	LastError    *string
	ClaimedBy    *uuid.UUID
	ClaimedUntil *time.Time
	DoneAt       *time.Time
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// TableName keeps GORM on the migration's table.
func (Action) TableName() string { return "dunning_actions" }

// RunAction is what a run did to an action, with the action.
type RunAction struct {
	ID         uuid.UUID `gorm:"primaryKey"`
	RunID      uuid.UUID
	ActionID   uuid.UUID
	Result     string
	Outcome    *string
	Error      *string
	CreatedAt  time.Time
	Key        string     `gorm:"->"`
	Kind       string     `gorm:"->"`
	ServiceID  *uuid.UUID `gorm:"->"`
	CustomerID *uuid.UUID `gorm:"->"`
	PartnerID  *uuid.UUID `gorm:"->"`
	InvoiceID  *uuid.UUID `gorm:"->"`
}

// TableName keeps GORM on the migration's table.
func (RunAction) TableName() string { return "dunning_run_actions" }

// Reminder is a payment reminder being mailed: the invoice (with its
// lines), the service it was found through, the offset from the due date.
type Reminder struct {
	Invoice    billing.Invoice
	ServiceID  uuid.UUID
	Offset     int
	Day        time.Time
	TemplateID *uuid.UUID // the plan's reminder template, else the default
}

// CreditAlert is a crossing of a credit limit: the balance above the limit.
type CreditAlert struct {
	Balance, Limit decimal.Decimal
	Currency       string
	// Issuer of the mail: the partner of a partner's customer, else the
	// venture of its oldest unpaid invoice.
	VentureID       uuid.UUID
	IssuerPartnerID *uuid.UUID
	TemplateID      *uuid.UUID // the plan's credit-limit template, else the default
}

// Hooks are told of what dunning does, in the transaction that does it;
// an error rolls it back. Events and mails follow from them.
type (
	ReminderHook      func(ctx context.Context, tx *gorm.DB, r Reminder) error
	CustomerAlertHook func(ctx context.Context, tx *gorm.DB, c customer.Customer, a CreditAlert) error
	PartnerAlertHook  func(ctx context.Context, tx *gorm.DB, p partner.Partner, a CreditAlert) error
)

// Config shapes runs.
type Config struct {
	// Workers is how many actions a run carries out at once (vendor calls).
	Workers int
	// Lease is how long a claim holds: a run that died lets go of its
	// actions after it.
	Lease time.Duration
	// Batch is how many services (customers, partners) a scan reads at once.
	Batch int
	// Currency is the platform's (partners' balances).
	Currency string
}

// Service runs dunning.
type Service struct {
	db       *gorm.DB
	clk      clock.Clock
	services *subscription.Service
	today    func() time.Time
	cfg      Config

	onReminder      []ReminderHook
	onCustomerAlert []CustomerAlertHook
	onPartnerAlert  []PartnerAlertHook
	// beforeAct, when set, is called before each action is carried out
	// (tests stop a run halfway).
	beforeAct func(a Action)
}

// NewService wires the service; today is the SP's current day.
func NewService(db *gorm.DB, clk clock.Clock, services *subscription.Service, today func() time.Time, cfg Config) *Service {
	if cfg.Workers < 1 {
		cfg.Workers = 8
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 10 * time.Minute
	}
	if cfg.Batch < 1 {
		cfg.Batch = 1000
	}
	if cfg.Currency == "" {
		cfg.Currency = "USD"
	}
	return &Service{db: db, clk: clk, services: services, today: today, cfg: cfg}
}

// OnReminder adds a hook told of each payment reminder.
func (s *Service) OnReminder(f ReminderHook) { s.onReminder = append(s.onReminder, f) }

// OnCustomerCreditAlert adds a hook told of each customer crossing its
// credit limit.
func (s *Service) OnCustomerCreditAlert(f CustomerAlertHook) {
	s.onCustomerAlert = append(s.onCustomerAlert, f)
}

// OnPartnerCreditAlert adds a hook told of each partner crossing its
// credit limit.
func (s *Service) OnPartnerCreditAlert(f PartnerAlertHook) {
	s.onPartnerAlert = append(s.onPartnerAlert, f)
}

// BeforeAct sets a function called before each action is carried out
// (tests: a run stopped halfway).
func (s *Service) BeforeAct(f func(a Action)) { s.beforeAct = f }

func (s *Service) now() time.Time { return s.clk.Now().Truncate(time.Microsecond) }

// Today is the SP's current day.
func (s *Service) Today() time.Time { return s.today() }
