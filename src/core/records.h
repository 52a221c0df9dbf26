// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQ_RECORDS_H
#define SYNQ_RECORDS_H

#include <synq/synq_export.h>
#include <synq/syncerror.h>

#include <QtCore/QDateTime>
#include <QtCore/QJsonObject>
#include <QtCore/QJsonValue>
#include <QtCore/QList>
#include <QtCore/QString>
#include <QtCore/QVariantMap>

#include <optional>

/*
    Plain value types for what the outbox stores: transactions, their mutations and their
    attempts. They carry no behaviour beyond conversions, so storage, engine and models can all
    share them. The numeric values of the enums are stored in the database: append only.
*/

namespace Synq {

enum class TransactionState : int {
    Queued = 0,
    Pending = 1,
    Persisting = 2,
    PersistedAwaitingSync = 3,
    Completed = 4,
    Failed = 5,
};

enum class MutationType : int { Insert = 0, Update = 1, Remove = 2 };

enum class MutationState : int { Created = 0, Persisting = 1, Synced = 2 };

enum class StrategyKind : int { Ordered = 0, Parallel = 1 };

// What a conflict on push came to (C3), recorded on the transaction: None when it met no
// conflict. ConflictResolution::resolve() decides it from the collection's policy.
enum class ConflictOutcome : int {
    None = 0,
    AdoptServer = 1, // the server's state stands; the local change is dropped
    RebaseAndRetry = 2, // the resolved change is sent again, on the server's version
    ManualRequired = 3, // the app decides (ConflictModel); nothing is sent until then
    Skipped = 4, // nothing to resolve against: the local change is kept (a dead letter)
};

// What a row shows about its sync state (the syncState role).
enum class ItemSyncState : int { Synced = 0, Pending = 1, Syncing = 2, Failed = 3, Conflict = 4 };

SYNQ_EXPORT QString nameOf(TransactionState state);
SYNQ_EXPORT QString nameOf(MutationType type);
SYNQ_EXPORT QString nameOf(MutationState state);
SYNQ_EXPORT QString nameOf(ConflictOutcome outcome); // "AdoptServer", ...; "" for None
SYNQ_EXPORT bool isActive(TransactionState state); // not Completed and not Failed

struct SYNQ_EXPORT MutationRecord
{
    QString id; // also the idempotency key the server deduplicates on
    QString transactionId;
    int sequence = 0; // position inside the transaction
    QString collection;
    QString key;
    MutationType type = MutationType::Insert;
    qint64 baseVersion = 0; // server version the change was made on; 0 = never synced
    QJsonObject original; // visible state before the change (empty for an insert)
    QJsonObject modified; // visible state after the change (empty for a remove)
    QJsonObject changes; // the fields this mutation sets
    QJsonValue metadata;
    MutationState state = MutationState::Created;
    QDateTime createdAt;
    QDateTime updatedAt;

    QVariantMap toVariantMap() const;
};

struct SYNQ_EXPORT AttemptRecord
{
    QString id;
    QDateTime startedAt;
    QDateTime completedAt;
    SyncError error;
    QDateTime retryScheduledFor;

    QVariantMap toVariantMap() const;
};

struct SYNQ_EXPORT TransactionRecord
{
    QString id;
    QString scope; // canonical scope id, see scopeId()
    StrategyKind strategy = StrategyKind::Ordered;
    TransactionState state = TransactionState::Pending;
    QDateTime createdAt;
    QDateTime updatedAt;
    QList<MutationRecord> mutations;
    QList<AttemptRecord> attempts;
    int currentAttempt = 0;
    QString queuedBehind;
    QString mergedInto; // compacted: its change travels in this transaction
    SyncError error;
    ConflictOutcome conflictOutcome = ConflictOutcome::None; // the last conflict's outcome
    // When the local write was made, as a hybrid logical clock stamp (HybridClock::format()):
    // what LastWriteWins orders it by. Empty for a transaction written before schema 7.
    QString hlc;

    QStringList collections() const;
    QStringList keys() const;
};

// Whether t waits for the app to resolve its conflict (the Manual policy): Pending, and not
// sent until it is resolved.
SYNQ_EXPORT bool awaitsResolution(const TransactionRecord &t);

// A conflict that waits for the app (the Manual policy, C6): what the app decides between.
struct SYNQ_EXPORT ConflictRecord
{
    QString id; // the conflicting mutation's id
    QString transactionId;
    QString collection;
    QString key;
    std::optional<QJsonObject> local; // the local change's record; nullopt: it removes it
    std::optional<QJsonObject> server; // the server's record; nullopt: the server deleted it
    qint64 serverVersion = 0;
    std::optional<QJsonObject> base; // the record the change was made on; nullopt: none
    QDateTime detectedAt;

    // conflictId, transactionId, collection, key, local, server, base (QVariantMap, or null),
    // serverVersion, detectedAt: the roles of ConflictModel.
    QVariantMap toVariantMap() const;
};

// The canonical id of a scope map: its compact, key-sorted JSON, or "" for no scope.
SYNQ_EXPORT QString scopeId(const QVariantMap &scope);

} // namespace Synq

#endif
