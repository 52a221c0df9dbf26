// SPDX-License-Identifier: BSD-3-Clause
#include "pushrunner_p.h"

#include "syncengine_p.h"

#include <synq/identifier.h>
#include <synq/lifecycle.h>
#include <synq/logging_p.h>

#include <algorithm>

namespace Synq {

/*
    A conflict on push (C1–C5): the server did not apply the transaction, because the item of
    one of its mutations is no longer at the version the change was made on; it answered with
    its state of the item. ConflictResolution::resolve() decides from the collection's policy:
    - AdoptServer: the transaction ends Completed, its change dropped; the row shows the
      server's record (or goes, if the server deleted it).
    - RebaseAndRetry: the mutation is rewritten on the server's version
      (ConflictResolution::rebased()) and sent again in this run; the row shows the resolved
      record meanwhile. Each round counts as an attempt: one that keeps conflicting fails once
      the retry policy's retries are used up.
    - ManualRequired (Manual, or a Custom resolver that cannot decide): the transaction is
      held — Pending, never sent — and the conflict is stored (conflicts table) until the app
      resolves it (SyncEnginePrivate::resolveConflict(), below); the row keeps the local change
      and shows syncState Conflict.
    - Skipped (nothing to resolve against): the transaction fails as a dead letter, its change
      kept for the app to retry or discard.
    The outcome is recorded on the transaction and in the run's report; the collection emits
    conflictDetected(key) once the rows show it.
*/
void PushRunner::settleConflict(Settlement::TransactionWrite &write,
                                const Protocol::PushResult &failure, const QDateTime &now,
                                Settlement::Outcome &outcome,
                                QHash<QString, TransactionRecord> &rebased)
{
    TransactionRecord &record = write.record;
    qsizetype k = 0;
    while (k + 1 < record.mutations.size() && record.mutations.at(k).id != failure.id)
        ++k;
    const MutationRecord m = record.mutations.at(k);
    const CollectionConfig config = e->config(m.collection);

    ConflictResolution::Conflict conflict;
    conflict.policy = config.conflictPolicy;
    conflict.conflictFree = config.conflictFree;
    conflict.fieldPolicies = config.fieldPolicies;
    conflict.resolver = config.resolver;
    if (m.type != MutationType::Remove)
        conflict.local = m.modified;
    if (m.type != MutationType::Insert)
        conflict.base = m.original; // the record the change was made on
    if (failure.deleted)
        conflict.server = ConflictResolution::ServerState::deleted();
    else if (failure.record)
        conflict.server = ConflictResolution::ServerState::live(*failure.record);
    // LastWriteWins: the later of the two writes by their hybrid logical clock stamps. A
    // server state without a stamp (written by a client that sends none) counts as the later.
    e->seeStamp(failure.hlc);
    const std::optional<HybridClock::Timestamp> localStamp = HybridClock::parse(record.hlc);
    const std::optional<HybridClock::Timestamp> serverStamp = HybridClock::parse(failure.hlc);
    conflict.localIsLater =
            localStamp && serverStamp && HybridClock::compare(*localStamp, *serverStamp) > 0;
    const ConflictResolution::Resolution resolution = ConflictResolution::resolve(conflict);

    if (conflict.server.state != ConflictResolution::ServerState::Unknown) {
        outcome.serverStates.append({ m.collection, m.key,
                                      failure.deleted ? std::nullopt : failure.record,
                                      failure.version });
    }
    ConflictOutcome result = resolution.outcome;
    std::optional<MutationRecord> next;
    if (result == ConflictOutcome::RebaseAndRetry) {
        next = ConflictResolution::rebased(m, resolution.record, conflict.server, failure.version);
        if (!next)
            result = ConflictOutcome::AdoptServer; // the resolution is the server's state
    }

    SyncError error = failure.error;
    error.setRetryable(false);
    switch (result) {
    case ConflictOutcome::AdoptServer:
        Lifecycle::adoptServer(record, error, now);
        break;
    case ConflictOutcome::RebaseAndRetry:
        next->updatedAt = now;
        record.mutations[k] = *next;
        write.rewritten = true;
        // Later changes to the item were made on top of this one: they move with it.
        moveOnto(itemId(m.collection, m.key), record.id, m.baseVersion, failure.version, rebased);
        if (Lifecycle::rebase(record, error, e->retryPolicy->settings(), now)
            == Lifecycle::FailureOutcome::Failed)
            ++e->run.report().failed;
        else
            m_triedThisRun.remove(record.id); // again in this run
        break;
    case ConflictOutcome::ManualRequired: {
        Lifecycle::hold(record, error, now);
        ConflictRecord c;
        c.id = m.id;
        c.transactionId = record.id;
        c.collection = m.collection;
        c.key = m.key;
        c.local = conflict.local;
        if (!failure.deleted)
            c.server = failure.record;
        c.serverVersion = failure.version;
        c.base = conflict.base;
        c.detectedAt = now;
        write.conflict = c;
        break;
    }
    case ConflictOutcome::None:
    case ConflictOutcome::Skipped:
        Lifecycle::attemptFailed(record, error, e->retryPolicy->settings(), now, 0.0);
        record.conflictOutcome = result;
        ++e->run.report().failed;
        break;
    }
    qCDebug(lcPush) << "conflict on" << m.collection << m.key << "->"
                    << nameOf(record.conflictOutcome);
    e->run.report().conflictOutcomes.append(
            QVariantMap{ { QStringLiteral("collection"), m.collection },
                         { QStringLiteral("key"), m.key },
                         { QStringLiteral("transactionId"), record.id },
                         { QStringLiteral("outcome"), nameOf(record.conflictOutcome) } });
}

namespace {

ConflictResolution::ServerState serverStateOf(const ConflictRecord &c)
{
    return c.server ? ConflictResolution::ServerState::live(*c.server)
                    : ConflictResolution::ServerState::deleted();
}

} // namespace

const ConflictRecord *SyncEnginePrivate::conflict(const QString &conflictId) const
{
    const auto c = std::find_if(conflicts.cbegin(), conflicts.cend(),
                                [&](const ConflictRecord &x) { return x.id == conflictId; });
    return c == conflicts.cend() ? nullptr : &*c;
}

bool SyncEnginePrivate::resolveConflictWithLocal(const QString &conflictId)
{
    const ConflictRecord *c = conflict(conflictId);
    if (!c)
        return resolveConflict(conflictId, ConflictOutcome::AdoptServer, std::nullopt); // reports
    ConflictResolution::Conflict conflict;
    conflict.policy = ConflictResolution::Policy::ClientWins;
    conflict.local = c->local;
    conflict.server = serverStateOf(*c);
    conflict.base = c->base;
    const ConflictResolution::Resolution r = ConflictResolution::resolve(conflict);
    return resolveConflict(conflictId, r.outcome, r.record);
}

bool SyncEnginePrivate::resolveConflict(const QString &conflictId, ConflictOutcome outcome,
                                        const std::optional<QJsonObject> &record)
{
    const ConflictRecord *c = conflict(conflictId);
    const TransactionRecord *held = c ? outbox.record(c->transactionId) : nullptr;
    if (!held || !awaitsResolution(*held) || !db) {
        report(SyncError(SyncError::Validation,
                         SyncEngine::tr("There is no conflict %1 waiting to be resolved.")
                                 .arg(conflictId)));
        return false;
    }
    const ConflictRecord waiting = *c;
    Settlement::TransactionWrite write { *held, {} };
    write.conflictResolved = true;
    const auto m = std::find_if(write.record.mutations.begin(), write.record.mutations.end(),
                                [&](const MutationRecord &x) { return x.id == waiting.id; });
    const ConflictResolution::ServerState server = serverStateOf(waiting);
    std::optional<MutationRecord> next;
    if (outcome == ConflictOutcome::RebaseAndRetry && m != write.record.mutations.end())
        next = ConflictResolution::rebased(*m, record, server, waiting.serverVersion);
    const QDateTime now = QDateTime::currentDateTimeUtc();
    if (next) {
        next->updatedAt = now;
        *m = *next;
        write.rewritten = true;
    } else {
        outcome = ConflictOutcome::AdoptServer; // nothing differs from the server's state
    }
    Lifecycle::resolve(write.record, outcome, now);

    Settlement::Outcome settled;
    settled.transactions = { write };
    // The server's state as the conflict found it, unless the replica holds a newer one.
    settled.serverStates = { { waiting.collection, waiting.key, waiting.server,
                               waiting.serverVersion } };
    if (!settlement.apply(std::move(settled)))
        return false;
    if (next)
        scheduler.readyToSync();
    return true;
}

void PushRunner::moveOnto(const QString &item, const QString &except, qint64 fromVersion,
                          qint64 toVersion, QHash<QString, TransactionRecord> &rebased) const
{
    const Outbox::Pending *pending = e->outbox.pendingOn(item);
    if (!pending)
        return;
    for (const MutationRecord &p : pending->mutations) {
        if (p.transactionId == except || p.baseVersion != fromVersion)
            continue;
        auto other = rebased.find(p.transactionId);
        if (other == rebased.end())
            other = rebased.insert(p.transactionId, *e->outbox.record(p.transactionId));
        for (MutationRecord &o : other->mutations) {
            if (o.id == p.id)
                o.baseVersion = toVersion;
        }
    }
}

} // namespace Synq
