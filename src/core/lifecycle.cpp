// SPDX-License-Identifier: BSD-3-Clause
#include <synq/lifecycle.h>

#include <QtCore/QCoreApplication>

namespace Synq {
namespace Lifecycle {

namespace {

using S = TransactionState;

void move(TransactionRecord &t, TransactionState to, MutationState mutations, const QDateTime &now)
{
    t.state = to;
    t.updatedAt = now;
    for (MutationRecord &m : t.mutations) {
        m.state = mutations;
        m.updatedAt = now;
    }
}

AttemptRecord *openAttempt(TransactionRecord &t)
{
    if (t.attempts.isEmpty() || t.attempts.constLast().completedAt.isValid())
        return nullptr;
    return &t.attempts.last();
}

} // namespace

bool canTransition(TransactionState from, TransactionState to)
{
    switch (from) {
    case S::Queued:
        return to == S::Pending || to == S::Failed || to == S::Completed;
    case S::Pending:
        return to == S::Queued || to == S::Persisting || to == S::Failed || to == S::Completed;
    case S::Persisting:
        return to == S::Pending || to == S::PersistedAwaitingSync || to == S::Completed
                || to == S::Failed;
    case S::PersistedAwaitingSync:
        return to == S::Completed;
    case S::Completed:
        return false;
    case S::Failed:
        return to == S::Pending || to == S::Queued;
    }
    return false;
}

bool queue(TransactionRecord &t, const QString &behind, const QDateTime &now)
{
    if ((t.state != S::Pending && t.state != S::Queued) || behind.isEmpty() || behind == t.id)
        return false;
    t.queuedBehind = behind;
    move(t, S::Queued, MutationState::Created, now);
    return true;
}

bool release(TransactionRecord &t, const QDateTime &now)
{
    if (t.state != S::Queued)
        return false;
    t.queuedBehind.clear();
    move(t, S::Pending, MutationState::Created, now);
    return true;
}

bool startAttempt(TransactionRecord &t, const QString &attemptId, const QDateTime &now)
{
    if (t.state != S::Pending || attemptId.isEmpty())
        return false;
    AttemptRecord attempt;
    attempt.id = attemptId;
    attempt.startedAt = now;
    t.attempts.append(attempt);
    ++t.currentAttempt;
    move(t, S::Persisting, MutationState::Persisting, now);
    return true;
}

bool persisted(TransactionRecord &t, bool awaitSync, const QDateTime &now)
{
    if (t.state != S::Persisting)
        return false;
    if (AttemptRecord *a = openAttempt(t))
        a->completedAt = now;
    t.error = SyncError();
    move(t, awaitSync ? S::PersistedAwaitingSync : S::Completed, MutationState::Synced, now);
    return true;
}

bool synced(TransactionRecord &t, const QDateTime &now)
{
    if (t.state != S::PersistedAwaitingSync)
        return false;
    move(t, S::Completed, MutationState::Synced, now);
    return true;
}

FailureOutcome attemptFailed(TransactionRecord &t, const SyncError &error,
                             const RetrySettings &settings, const QDateTime &now, double random01)
{
    if (t.state != S::Persisting)
        return FailureOutcome::Illegal;
    AttemptRecord *a = openAttempt(t);
    if (a) {
        a->completedAt = now;
        a->error = error;
    }
    t.error = error;
    if (error.isRetryable() && settings.mayRetry(t.currentAttempt)) {
        const int delay = qMax(settings.delayMs(t.currentAttempt, random01), error.retryAfterMs());
        if (a)
            a->retryScheduledFor = now.addMSecs(delay);
        move(t, S::Pending, MutationState::Created, now);
        return FailureOutcome::RetryScheduled;
    }
    move(t, S::Failed, MutationState::Created, now);
    return FailureOutcome::Failed;
}

bool adoptServer(TransactionRecord &t, const SyncError &conflict, const QDateTime &now)
{
    if (t.state != S::Persisting)
        return false;
    if (AttemptRecord *a = openAttempt(t)) {
        a->completedAt = now;
        a->error = conflict;
    }
    t.error = SyncError();
    t.conflictOutcome = ConflictOutcome::AdoptServer;
    move(t, S::Completed, MutationState::Synced, now);
    return true;
}

FailureOutcome rebase(TransactionRecord &t, const SyncError &conflict,
                      const RetrySettings &settings, const QDateTime &now)
{
    if (t.state != S::Persisting)
        return FailureOutcome::Illegal;
    AttemptRecord *a = openAttempt(t);
    if (a) {
        a->completedAt = now;
        a->error = conflict;
    }
    t.conflictOutcome = ConflictOutcome::RebaseAndRetry;
    if (settings.mayRetry(t.currentAttempt)) {
        t.error = conflict;
        if (a)
            a->retryScheduledFor = now;
        move(t, S::Pending, MutationState::Created, now);
        return FailureOutcome::RetryScheduled;
    }
    t.error = conflict;
    t.error.setRetryable(false);
    move(t, S::Failed, MutationState::Created, now);
    return FailureOutcome::Failed;
}

bool hold(TransactionRecord &t, const SyncError &conflict, const QDateTime &now)
{
    if (t.state != S::Persisting)
        return false;
    if (AttemptRecord *a = openAttempt(t)) {
        a->completedAt = now;
        a->error = conflict;
    }
    t.error = conflict;
    t.conflictOutcome = ConflictOutcome::ManualRequired;
    move(t, S::Pending, MutationState::Created, now);
    return true;
}

bool resolve(TransactionRecord &t, ConflictOutcome outcome, const QDateTime &now)
{
    if (!awaitsResolution(t))
        return false;
    switch (outcome) {
    case ConflictOutcome::AdoptServer:
        t.error = SyncError();
        t.conflictOutcome = outcome;
        move(t, S::Completed, MutationState::Synced, now);
        return true;
    case ConflictOutcome::RebaseAndRetry:
        t.error = SyncError();
        t.conflictOutcome = outcome;
        t.currentAttempt = 0; // the app decided: a fresh round of retries, due now
        move(t, S::Pending, MutationState::Created, now);
        return true;
    case ConflictOutcome::None:
    case ConflictOutcome::ManualRequired:
    case ConflictOutcome::Skipped:
        break;
    }
    return false;
}

bool unreachable(TransactionRecord &t, const QDateTime &now)
{
    if (t.state != S::Persisting)
        return false;
    if (openAttempt(t)) {
        t.attempts.removeLast();
        t.currentAttempt = qMax(0, t.currentAttempt - 1);
    }
    move(t, S::Pending, MutationState::Created, now);
    return true;
}

bool interrupted(TransactionRecord &t, const QDateTime &now)
{
    if (t.state != S::Persisting)
        return false;
    if (AttemptRecord *a = openAttempt(t)) {
        a->completedAt = now;
        a->error = SyncError(SyncError::Cancelled,
                             QCoreApplication::translate("Synq::Lifecycle",
                                                         "The attempt was cut short when the "
                                                         "application stopped."));
        a->error.setRetryable(true);
    }
    move(t, S::Pending, MutationState::Created, now);
    return true;
}

bool dependencyFailed(TransactionRecord &t, const QString &causeId, const SyncError &cause,
                      const QDateTime &now)
{
    if ((t.state != S::Queued && t.state != S::Pending) || causeId.isEmpty())
        return false;
    SyncError e(cause.code(),
                QCoreApplication::translate("Synq::Lifecycle",
                                            "Cancelled because an earlier change to the same "
                                            "item failed: %1")
                        .arg(cause.message()),
                cause.detail());
    e.setHttpStatus(cause.httpStatus());
    e.setRetryable(false);
    e.setTransactionId(causeId);
    t.error = e;
    move(t, S::Failed, MutationState::Created, now);
    return true;
}

bool fail(TransactionRecord &t, const SyncError &error, const QDateTime &now)
{
    if (t.state != S::Queued && t.state != S::Pending)
        return false;
    t.error = error;
    move(t, S::Failed, MutationState::Created, now);
    return true;
}

bool retry(TransactionRecord &t, const QDateTime &now)
{
    if (t.state != S::Failed)
        return false;
    t.currentAttempt = 0;
    t.queuedBehind.clear();
    t.error = SyncError();
    move(t, S::Pending, MutationState::Created, now);
    return true;
}

bool settleUnsent(TransactionRecord &t, const QDateTime &now)
{
    if (t.state != S::Queued && t.state != S::Pending)
        return false;
    t.queuedBehind.clear();
    // Its change is on the server: what an earlier attempt of its own ran into is over (as in
    // persisted()), and a Completed transaction shows no error.
    t.error = SyncError();
    move(t, S::Completed, MutationState::Synced, now);
    return true;
}

QDateTime dueAt(const TransactionRecord &t)
{
    // A schedule belongs to the round of retries it was made in: once retry() starts a fresh
    // round (currentAttempt 0), an old attempt's schedule does not hold the transaction back.
    if (t.state != S::Pending || t.attempts.isEmpty() || t.currentAttempt <= 0)
        return {};
    return t.attempts.constLast().retryScheduledFor;
}

} // namespace Lifecycle
} // namespace Synq
