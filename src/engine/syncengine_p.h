// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQ_SYNCENGINE_P_H
#define SYNQ_SYNCENGINE_P_H

//
//  W A R N I N G
//  -------------
// This file is not part of the Synq API. It may change without notice.
//

#include "collectionstore_p.h"
#include "delivery_p.h"
#include "localcommit_p.h"
#include "outbox_p.h"
#include "pullrunner_p.h"
#include "pushrunner_p.h"
#include "scheduler_p.h"
#include "settlement_p.h"
#include "syncrun_p.h"

#include <synq/conflictresolution.h>
#include <synq/hybridclock.h>
#include <synq/identifier.h>
#include <synq/remapping.h>
#include <synq/syncdatabase.h>
#include <synq/syncengine.h>
#include <synq/synctransport.h>

#include <QtCore/QHash>
#include <QtCore/QPointer>

#include <memory>

namespace Synq {

class SyncStatusPrivate;

// What a collection's models tell the engine about it (shared by every model on the name).
struct CollectionConfig
{
    QString keyField = QStringLiteral("id");
    StrategyKind strategy = StrategyKind::Ordered;
    bool awaitSync = false;
    SyncEngine::PersistHandler persist;
    SyncEngine::MergeFunction merge;
    // What a conflict on push comes to (ConflictResolution::resolve()).
    ConflictResolution::Policy conflictPolicy = ConflictResolution::Policy::ServerWins;
    ConflictResolution::FieldPolicies fieldPolicies;
    ConflictResolution::Resolver resolver;
    bool conflictFree = false;
};

/*
    The engine behind SyncEngine: its settings, its database and collection stores, and the
    parts that do the work, each in its own file and owning its own state:
    - outbox (Outbox): the in-memory outbox index;
    - local (LocalCommit): local changes become transactions;
    - settlement (Settlement): the consequences of an outcome, written in one SQL transaction;
    - scheduler (Scheduler): when runs start;
    - run (SyncRun): one sync run from start to finish — push, then pull;
    - push (PushRunner), pull (PullRunner, with the PullApplier thread), delivery (Delivery).
    This file and syncengine.cpp (the public API) and opening.cpp (open, scopes, loading rows)
    hold what they share.
*/
class SyncEnginePrivate
{
public:
    explicit SyncEnginePrivate(SyncEngine *q);
    ~SyncEnginePrivate();

    static SyncEnginePrivate *get(SyncEngine *engine) { return engine->d.get(); }

    // Rows a collection opens with; the rest load as views ask (CollectionStore::fetchMore).
    static constexpr int InitialRows = 500;

    // Opening and scopes (opening.cpp).
    bool ensureOpen();
    void closeDatabase();
    void loadScope();
    // The shared store of a collection; nullptr (and an error reported) for an invalid name.
    CollectionStore *store(const QString &collection);

    CollectionConfig config(const QString &collection) const { return configs.value(collection); }
    // The item's visible state: its pending changes over the synced state, through the
    // collection's merge function if it has one.
    std::optional<QJsonObject> merged(const QString &collection,
                                      const std::optional<QJsonObject> &synced,
                                      const QList<MutationRecord> &pending) const;
    // A row's complete state from its synced state and what the outbox holds on it.
    RowState rowState(const QString &collection, const QString &key,
                      const std::optional<QJsonObject> &synced, qint64 version, qint64 ord) const;

    void report(const SyncError &error);
    void updateStatusCounts();
    SyncStatusPrivate *statusData() const;
    // One entry of SyncEngine::transactionEvent.
    void emitEvent(const QString &type, const TransactionRecord &record);

    SyncEngine *q;
    QString path;
    bool pathSet = false;
    bool autoOpen = true; // open at the first event-loop turn unless closed or set up first
    bool inSetup = false; // a QML component is being created: open when it is complete
    bool fillingInsideMutation = false; // opened by a change: stores fill as inserted rows
    SyncEngine::Durability durability = SyncEngine::Full;
    QVariantMap scope;
    QString scopeId;
    int maxQueueSize = 0; // 0: no limit
    RetryPolicy *retryPolicy = nullptr;
    SyncStatus *status = nullptr;
    QPointer<SyncTransport> transport;
    bool autoSync = true;
    int syncInterval = 0;
    QString clientId;
    std::unique_ptr<SyncDatabase> db;
    QHash<QString, CollectionStore *> stores;
    QList<ConflictRecord> conflicts; // the scope's conflicts waiting for the app
    // This replica's hybrid logical clock (node: the client id): the stamp of each local
    // write, later than every stamp this replica has made or seen (LastWriteWins).
    HybridClock::Timestamp clock;
    QString nextStamp();
    // A stamp of another replica's write (a conflict's, a pulled change's) moves the clock on.
    void seeStamp(const QString &stamp);
    // A conflict the app resolved (conflicts.cpp): AdoptServer, or RebaseAndRetry with record
    // (nullopt: a removal).
    bool resolveConflict(const QString &conflictId, ConflictOutcome outcome,
                         const std::optional<QJsonObject> &record);
    // The waiting conflict conflictId, or nullptr.
    const ConflictRecord *conflict(const QString &conflictId) const;
    // With the local change made again on the server's state, as ClientWins would.
    bool resolveConflictWithLocal(const QString &conflictId);
    QHash<QString, CollectionConfig> configs;
    // SyncEngine::relations, parsed and as set.
    QList<Remapping::Relation> relations;
    QVariantList relationsValue;
    // The scope's id map: itemId(collection, client key) -> the key the server gave the item.
    QHash<QString, QString> idMap;
    // The key an item has now: the server's for a client key it replaced.
    QString currentKey(const QString &collection, const QString &key) const
    {
        return idMap.value(itemId(collection, key), key);
    }
    // Completed transactions looked up by id (SyncEngine::transaction()): not in the outbox.
    QHash<QString, Transaction *> looked;

    Outbox outbox;
    LocalCommit local { this };
    Settlement settlement { this };
    Scheduler scheduler { this };
    SyncRun run { this };
    PushRunner push { this };
    PullRunner pull { this };
    Delivery delivery { this };

private:
    bool loadRows(CollectionStore *store, qint64 after, qint64 upTo, int limit,
                  QList<StoreRow> *rows);
    void loadStore(CollectionStore *store);
    void recover(const QList<TransactionRecord> &records);
    void forgetTransactions();
};

} // namespace Synq

#endif
