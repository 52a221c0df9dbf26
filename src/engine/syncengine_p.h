// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQ_SYNCENGINE_P_H
#define SYNQ_SYNCENGINE_P_H

//
//  W A R N I N G
//  -------------
// This file is not part of the Synq API. It may change without notice.
//

#include "collectionstore_p.h"

#include <synq/records.h>
#include <synq/syncdatabase.h>
#include <synq/syncengine.h>

#include <QtCore/QHash>
#include <QtCore/QJsonObject>
#include <QtCore/QElapsedTimer>
#include <QtCore/QPointer>
#include <QtCore/QSet>
#include <QtCore/QThread>
#include <QtCore/QTimer>

#include <synq/protocol.h>
#include <synq/synctransport.h>

#include <memory>

namespace Synq {

// One step of a local transaction, as the models and the explicit-transaction API hand it over.
struct LocalOp
{
    QString collection;
    MutationType type = MutationType::Insert;
    QString key;
    QJsonObject values; // the whole item for an insert, the changed fields for an update
};

class PullApplier;

class SyncEnginePrivate
{
public:
    explicit SyncEnginePrivate(SyncEngine *q);

    static SyncEnginePrivate *get(SyncEngine *engine) { return engine->d.get(); }

    // Local changes are pushed after this quiet time, so a burst of edits goes out together.
    static constexpr int LocalChangeDebounceMs = 50;

    bool ensureOpen();
    void closeDatabase();
    void stopApplyThread();
    void loadScope();
    void loadStore(CollectionStore *store);

    // The shared store of a collection; nullptr (and an error reported) for an invalid name.
    CollectionStore *store(const QString &collection);

    // Writes ops as one transaction (items + outbox in one SQL transaction), updates the
    // stores, and returns the new Transaction; nullptr and *error for a refused change.
    Transaction *commitLocal(const QList<LocalOp> &ops, StrategyKind strategy, SyncError *error);

    // The active (neither completed nor failed) mutations per item, in commit order, kept in
    // memory: a mutation never needs more than its one write transaction, and the visible
    // state of a row is always its synced state with these folded over it.
    struct ItemActivity
    {
        QList<MutationRecord> pending;
        int transactionCount() const;
        qint64 version() const { return pending.isEmpty() ? 0 : pending.constLast().baseVersion; }
    };
    static QString itemId(const QString &collection, const QString &key)
    {
        return collection + QLatin1Char('/') + key; // collection names cannot hold '/'
    }
    void noteActive(const TransactionRecord &tx);
    void noteFinished(const TransactionRecord &tx);
    int activeTransactionsIn(const QString &collection) const
    {
        return activeByCollection.value(collection);
    }

    // Sync runs (syncrunner.cpp).
    void scheduleSync(int delayMs);
    void startRun();
    void pushNext();
    void onPushed(const QStringList &txIds, const Protocol::PushRequest &request,
                  const Protocol::PushResponse &response, const SyncError &error);
    void pullNext();
    void onPulled(const QString &collection, const Protocol::PullRequest &request,
                  const Protocol::PullResponse &response, const SyncError &error);
    void onPageApplied(quint64 serial, const QString &collection,
                       const QList<SyncDatabase::SyncedWrite> &writes, bool hasMore,
                       const SyncError &error);
    void deliverChunk();
    void finishResync(const QString &collection);
    void finishRun(const SyncError &error);
    // Updates transactions (memory, database, signals) and the rows they touch.
    void compact();
    void settle(QList<SyncDatabase::TransactionUpdate> updates,
                const QHash<QString, std::optional<QJsonObject>> &synced,
                const QHash<QString, qint64> &syncedVersions);
    RowState rowState(CollectionStore *store, const QString &key,
                      const std::optional<QJsonObject> &synced, qint64 version, qint64 ord) const;
    bool sameRun(quint64 run) const { return running && run == runSerial; }

    void report(const SyncError &error);
    void updateStatusCounts();

    SyncEngine *q;
    QString path;
    bool pathSet = false;
    bool autoOpen = true; // open at the first event-loop turn unless closed before
    SyncEngine::Durability durability = SyncEngine::Full;
    QVariantMap scope;
    QString scopeId;
    std::unique_ptr<SyncDatabase> db;
    SyncStatus *status = nullptr;
    QHash<QString, CollectionStore *> stores;
    QHash<QString, Transaction *> transactions; // current scope, loaded or made here
    QList<QString> transactionOrder;
    QHash<QString, ItemActivity> activity;
    QHash<QString, int> activeByCollection;
    QMultiHash<QString, QString> absorbedBy; // survivor -> transactions compacted into it

    // Sync state
    QPointer<SyncTransport> transport;
    bool autoSync = true;
    int syncInterval = 0;
    QTimer *syncTimer = nullptr; // debounce, retry and periodic runs
    QThread *applyThread = nullptr;
    PullApplier *applier = nullptr;
    QString clientId;
    bool running = false;
    bool again = false;
    quint64 runSerial = 0;
    int runBatchLimit = 0; // 0: the transport's batch size
    QSet<QString> triedThisRun;
    bool authRetried = false; // a 401 was answered by one retry in this run
    QSet<QString> resyncing; // collections being pulled again from the beginning (410)
    QHash<QString, QSet<QString>> resyncSeen; // keys listed so far by that pull
    int failedRuns = 0;
    QStringList pullQueue; // collections still to pull in this run
    int pagesLeft = 0;
    QList<SyncDatabase::SyncedWrite> deliveryQueue; // applied changes for the models
    QString deliveryCollection;
    bool deliveryMore = false;
    QVariantMap runReport;
    QElapsedTimer runClock;
};

} // namespace Synq

#endif
