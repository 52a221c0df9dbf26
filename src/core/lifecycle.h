// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQ_LIFECYCLE_H
#define SYNQ_LIFECYCLE_H

#include <synq/backoff.h>
#include <synq/records.h>
#include <synq/syncerror.h>
#include <synq/synq_export.h>

#include <QtCore/QDateTime>
#include <QtCore/QString>

/*
    The transaction state machine (T1), pure: every event a transaction can meet, as a function
    that moves a TransactionRecord to its next state — its mutations' states, attempts, error,
    queuedBehind and updatedAt with it — or refuses (returns false, record untouched) when the
    event is not legal in the record's state.

        Queued ──release──> Pending ──startAttempt──> Persisting ──persisted──> Completed
          ^  │                │ ^                       │   │                      ^
          │  └─queue (again)  │ └─attemptFailed(retry)──┘   └─persisted(await)─> PersistedAwaitingSync
          └─────queue─────────┘   unreachable, interrupted                         │ synced
                                                                                    v
        Queued/Pending ──dependencyFailed / attemptFailed(final)──> Failed ──retry──> Pending
        Queued/Pending ──settleUnsent (compaction)──> Completed                    Completed
*/

namespace Synq {
namespace Lifecycle {

// Whether a transaction may go from one state to the other (a state to itself is no move).
SYNQ_EXPORT bool canTransition(TransactionState from, TransactionState to);

// Pending or Queued -> Queued behind another transaction (strict order, T3).
SYNQ_EXPORT bool queue(TransactionRecord &t, const QString &behind, const QDateTime &now);
// Queued -> Pending: what it waited for is done.
SYNQ_EXPORT bool release(TransactionRecord &t, const QDateTime &now);
// Pending -> Persisting: a new attempt starts (counted in currentAttempt).
SYNQ_EXPORT bool startAttempt(TransactionRecord &t, const QString &attemptId, const QDateTime &now);
// Persisting -> Completed, or PersistedAwaitingSync when the change must come back first (T8).
SYNQ_EXPORT bool persisted(TransactionRecord &t, bool awaitSync, const QDateTime &now);
// PersistedAwaitingSync -> Completed: the change came back through sync (or the app restarted).
SYNQ_EXPORT bool synced(TransactionRecord &t, const QDateTime &now);

enum class FailureOutcome { Illegal, RetryScheduled, Failed };
// Persisting -> Pending with the next try scheduled (a retryable error with retries left;
// the delay from settings, or the error's Retry-After if longer), or -> Failed (a dead letter).
SYNQ_EXPORT FailureOutcome attemptFailed(TransactionRecord &t, const SyncError &error,
                                         const RetrySettings &settings, const QDateTime &now,
                                         double random01);
// Persisting -> Completed: the backend answered a conflict and the collection's policy let the
// server's state stand (ConflictOutcome::AdoptServer). The attempt ends with the conflict;
// the transaction shows no error: its change was dropped by the policy, not lost to a failure.
SYNQ_EXPORT bool adoptServer(TransactionRecord &t, const SyncError &conflict, const QDateTime &now);
// Persisting -> Pending, due at once: the conflict was resolved into a change on the server's
// version (ConflictOutcome::RebaseAndRetry; the caller rewrites the mutations). The attempt
// ends with the conflict and counts: with no retries left (it kept conflicting) -> Failed.
SYNQ_EXPORT FailureOutcome rebase(TransactionRecord &t, const SyncError &conflict,
                                  const RetrySettings &settings, const QDateTime &now);
// Persisting -> Pending, held: the conflict waits for the app (ConflictOutcome::
// ManualRequired, the Manual policy). Nothing is sent until resolve() (awaitsResolution()).
SYNQ_EXPORT bool hold(TransactionRecord &t, const SyncError &conflict, const QDateTime &now);
// A held transaction, resolved by the app: AdoptServer -> Completed (its change dropped), or
// RebaseAndRetry -> Pending, due now with a fresh round of retries (the caller rewrote its
// mutations). Refused for a transaction that is not held, or for another outcome.
SYNQ_EXPORT bool resolve(TransactionRecord &t, ConflictOutcome outcome, const QDateTime &now);
// Persisting -> Pending: the backend was never reached (offline). The attempt is withdrawn:
// being offline is not a failure and uses up no retries.
SYNQ_EXPORT bool unreachable(TransactionRecord &t, const QDateTime &now);
// Persisting -> Pending at start-up: the attempt was cut short by a crash or a close; it ends
// with a Cancelled error and counts. The same mutation ids go out again (idempotent).
SYNQ_EXPORT bool interrupted(TransactionRecord &t, const QDateTime &now);
// Queued or Pending -> Failed because `causeId` failed for good (dependency cancellation):
// the error is cause's, with transactionId = causeId.
SYNQ_EXPORT bool dependencyFailed(TransactionRecord &t, const QString &causeId,
                                  const SyncError &cause, const QDateTime &now);
// Queued or Pending -> Failed without an attempt (refused before sending).
SYNQ_EXPORT bool fail(TransactionRecord &t, const SyncError &error, const QDateTime &now);
// Failed -> Pending: a dead letter goes again with a fresh set of retries.
SYNQ_EXPORT bool retry(TransactionRecord &t, const QDateTime &now);
// Queued or Pending -> Completed without sending: compaction cancelled its change, or another
// transaction carried it to the server.
SYNQ_EXPORT bool settleUnsent(TransactionRecord &t, const QDateTime &now);

// When a Pending transaction may be sent: now, or when its scheduled retry is due.
SYNQ_EXPORT QDateTime dueAt(const TransactionRecord &t);

} // namespace Lifecycle
} // namespace Synq

#endif
