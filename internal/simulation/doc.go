// Package simulation is an invariant simulation of the whole platform: a
// test (TestSimulation) that builds a small service provider through the
// API and runs it day by day on the sandbox clock, checking after each day
// that nothing is billed twice or never and that the platform and the
// vendor agree.
//
// It drives a full in-process App (real PostgreSQL, River jobs, SANDBOX on,
// the test clock starting on a fixed date, mail to a private Mailpit) and
// the in-process vendor simulator over HTTP, through the generated client,
// with a storefront's webhook receiver on 127.0.0.1 that verifies every
// request with the Standard Webhooks library: the SP's endpoint subscribed
// before anything happens, each partner's once the partner is active. The shop: two
// ventures, three taxes, two product groups, plans of every billing model
// (prepaid monthly and annual with setup fee, overage price, hard quota and
// quantity; post-paid fixed; post-paid pay-as-you-go with metered charges;
// a free trial; the smallest Acronis plan with no quotas at all), partners
// provisioned at the simulator with discount and markup, and customers
// direct and per partner. Each day a seeded generator picks actions from a
// weighted table: orders (second services included, by the SP and by
// partners), full and partial payments, quantity, plan and term changes,
// suspensions, unsuspensions, terminations, free trials (running or
// expired) moved to paid plans, overage invoices on request,
// storage usage at the simulator above and below quota, venture prefix
// edits, credentials resets (the new password mailed), dunning pauses and
// credit-limit moves (three plans dun, one suspending on the credit limit;
// every third customer and the second partner start with a limit), usage
// reports of a random service (summary or daily, over a random period of
// the days passed, read by its customer, its partner or an admin, in JSON,
// CSV and now and then XLSX), vendor rate cards (each product group's
// card imported on the first of each month, and now and then again, from
// the platform's template filled by the harness: one group's in EUR at a
// drawn rate billing workstations by quota, the other's in USD; a quarter
// of them leave a SKU out; now and then a wrong workbook), spells of vendor
// faults (errors, dropped connections, effects applied then answered with a
// failure) cleared after a few days, and spells of a day or two in which
// the webhook receiver fails 5% of requests (HTTP 500, decided by the seed,
// the endpoint, the webhook-id and the try). A 4xx is
// a refusal and only counted; a 5xx is an invariant break unless it is a
// 502/503 while faults are on.
//
// Invariants, checked after each day through the API (and read-only SQL
// where the API shows nothing):
//   - billed_once: a service's period lines (recurring; proration and
//     usage outside adjustments) never overlap per party unless a credit
//     line gives the overlap back; one setup fee per service and party;
//   - overage_once: overage windows of a service never overlap per party;
//   - due_covered: no active prepaid service is past its due date without
//     an unpaid invoice covering that date;
//   - trials_end: no trial is active a day after trial_ends_at;
//   - trial_upgrade: a trial moved to a paid plan is active on it, no
//     longer a trial, and a prepaid plan's first period is invoiced from
//     that day;
//   - credit_kept: every credit is what is left of it plus what invoices
//     not void took of it; an invoice's credit lines are what it took; no
//     open credit is passed over by a bill to its party from its issuer
//     issued on a later day (credit outlives its service);
//   - credit_shown: GET /v1/customers/{id} shows the open credit per issuer;
//   - credit_reported: the credits of a service's changes are the ones the
//     changes answered with (a change answered 202 shows none: skipped);
//   - invoice_arithmetic: lines sum to the subtotal, each tax is the
//     rounded rate of the lines it applies to, total = subtotal + tax,
//     paid = the payments, balance = total - paid, status follows balance,
//     simple lines are quantity x unit price;
//   - numbering: numbers unique and gap-free per issuer and year, one
//     prefix per issuer;
//   - partner_pairs and prices: every line a partner bills its customer
//     has its twin on the SP's bill to the partner and back, recurring
//     lines at the plan price (direct), end price and cost (partner);
//   - vendor_agrees (when no faults are on): active <-> tenant enabled,
//     suspended/expired <-> disabled, terminated/cancelled <-> no tenant,
//     trial or production mode as the service is, quotas equal, one
//     tenant per service;
//   - ops_converge (when no faults are on): no service operation pending
//     or running after a moment for retries, none failed;
//   - orders_complete: no order approved or provisioning for more than a
//     day, none paid but pending, none failed while the vendor was healthy
//     (orders failed during faults are retried once faults stop);
//   - runs_finish: no billing run or usage sync queued or running after
//     the day, no run interrupted or failed or with failures, and a run
//     counts the invoices it made;
//   - metadata_kept and metadata_filter: a service carries the metadata
//     its order was placed with (half the orders bring a storefront's own
//     ids), and a service list filtered by one of them finds it alone;
//   - events_kept: every change has its event, once (invoice issued,
//     paid, voided; payment; order created, completed, failed as often as
//     its history says; service terminated, quantity and plan changed as
//     often as it has operations of those kinds, its last suspension event
//     matching its status; partner active), each payload showing the
//     status its type says;
//   - events_ordered: a resource's events, in written order, never go
//     back in version or time;
//   - mail_kept: every invoice issued with a total above zero has one
//     mail of its kind (invoice_issued, overage_invoice, postpaid_invoice)
//     with its PDF, every payment one payment_received, both to the
//     invoice's recipient in its issuer's name (the partner for its
//     customers, else the venture); every completed order one
//     service_ready from the service's partner or the plan's venture;
//     every service.suspended and service.terminated event one notice,
//     every reset_password operation one credentials_reset (at least the
//     resets answered 2xx); no more mails of a kind than causes; a mail
//     about a customer goes to it from its partner or a venture;
//   - mail_sent: after the day's jobs no mail is queued, failed or held;
//   - mail_delivered: Mailpit holds every sent mail once by Message-ID
//     (its count is the outbox's; its newest messages are exactly the
//     mails sent since the last check), a reset mail with a text;
//   - webhooks_delivered: every event of the log after an endpoint
//     subscribed reached it if it is the SP's or the event is its
//     partner's: signed, answered 2xx once, tried again (same webhook-id,
//     same body) only after the receiver failed it on purpose, its
//     delivery counting as many tries and succeeded (and, on days the
//     receiver failed some, none pending or failed in the deliveries API
//     as the endpoint's owner reads it); no endpoint got more than the log
//     holds for it, nor an id the log lacks; endpoints stay enabled with
//     no failure on record;
//   - webhooks_scoped: a partner's endpoint never gets another partner's
//     or the SP's own event;
//   - webhooks_payload: a delivery's body is {type, timestamp, data}
//     with the event's type and payload;
//   - dunning_runs: after the day no dunning run is unfinished, failed or
//     interrupted, and an action failed only if vendor faults were on when
//     the clock moved;
//   - dunning_acted: no service of a dunning plan, its customer not
//     paused, is live past termination_days on its oldest unpaid invoice,
//     or active past suspension_days with no suspension done for it (a
//     suspension lifted by hand stays lifted);
//   - dunning_lifted: no service suspended for non-payment owes nothing,
//     none suspended for the credit limit with its customer within it
//     (unless overdue);
//   - credit_flag: a customer (not paused) or partner is flagged over its
//     credit limit exactly when it owes more than the limit;
//   - mail_kept counts a payment_reminder per reminder done and a
//     credit_limit_alert per alert done;
//   - report_formats: a usage report's CSV (and XLSX, its cells as
//     displayed) carries the figures of its JSON, row by row;
//   - report_billed: a summary's amount and invoice numbers per row are
//     those of the customer's issued invoices' lines of the service whose
//     period meets the report's (the plan row: recurring, proration and
//     setup; an item's: its usage lines and, for the storage item, overage
//     lines), read through the invoices API; the plan row's quantity range
//     is the quantities the service ended the period's days with;
//   - reconciled (every 7th day and the last, when no faults are on): a
//     reconciliation over the last week (POST /v1/reconciliation/reports,
//     its job run with the day's) completes, has a row for every live
//     tenant of a plan with quotas, and flags nothing but ok, except, on
//     half of those days, the storage row of one tenant whose usage the
//     harness moved at the simulator after the day's sync (flagged
//     usage_mismatch, as it must be); every usage row's flag is the one
//     computed on its own from the days stored and the simulator's figures
//     of those days (usage moved after a day's sync may be a mismatch);
//   - rate_cards_kept: an import answers 201 with the file's rows; the
//     month has exactly one current card, the latest, the earlier versions
//     each replaced by the next; the card's file comes back byte for byte;
//     a wrong workbook is 422 rate_card_invalid naming its error and
//     changes nothing;
//   - margin_revenue, margin_cost, margin_totals, margin_formats (on the
//     first of a month for the month before, every 10th day and the last
//     for the month so far; margin_test.go): the margin report by product
//     group, plan and partner against the harness's own figures (each SP
//     invoice line's share of days in the month; each item's peak usage
//     stored over the days its service lived, or the plan's quota times
//     the most units, priced from the month's current card at its
//     exchange rate; no_rate / no_card exactly where usage has no price),
//     equal totals across groupings, and the CSV and XLSX carrying the
//     JSON's figures;
//   - no_5xx as above.
//
// Replay: a seed replays exactly the same run. After every change the
// harness makes it waits until the platform is quiescent (no River job
// available, running or waiting; a retry or snooze is made due at once,
// as if its wait had passed; mails and webhook deliveries, which change
// nothing the next action reads and make no ids, are waited for only
// before the checks), jobs run one at a time, the process's UUIDs
// come from a generator seeded per run (so lists ordered by id, billing
// runs and invoice numbers repeat), targets are picked from lists sorted by
// stable keys, and vendor faults are decided per call by the seed, the call
// and its count (sim.Fault.PerCall), not by wall-clock timing or the order
// concurrent jobs reach the simulator in (the receiver's faults likewise,
// by the webhook-id and the try; credentials resets and receiver faults
// draw from a generator of their own, so the other actions pick what a
// run without them picks). A job enqueued after another is fetched within
// 5 ms (JOB_FETCH_COOLDOWN; SIM_FETCH_COOLDOWN overrides it), not River's
// default 100 ms: a change is followed by a chain of jobs (its mails, its
// webhook deliveries). TestSimulationReplay runs one seed twice and
// requires equal digests of the action log (picks, answers of changes,
// spells with their failed vendor calls, breaks) and of the final state
// (invoices by number with totals, services with status and quantity,
// orders, operations, credits). A failure prints the seed, the day, each
// broken invariant with details and a command line such as
//
//	SIM_SEED=1 SIM_DAYS=23 go test ./internal/simulation -run 'TestSimulation$' -v
//
// that breaks again on that day.
//
// Settings: SIM_SEED (default 1), SIM_SEEDS (comma-separated, one run
// each), SIM_DAYS (default 90), SIM_CUSTOMERS (default 12), SIM_KEEP_GOING=1
// (record breaks and run every day, then fail with a summary; make bench
// uses it to measure simulated days per minute); SIM_FETCH_COOLDOWN
// (default 5ms, see above); SIM_REPLAY_SEED (default
// 6) and SIM_REPLAY_DAYS (default 12) for TestSimulationReplay.
package simulation
