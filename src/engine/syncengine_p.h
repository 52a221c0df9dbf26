// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQ_SYNCENGINE_P_H
#define SYNQ_SYNCENGINE_P_H

//
//  W A R N I N G
//  -------------
// This file is not part of the Synq API. It may change without notice.
//

#include "collectionstore_p.h"

#include <synq/ordering.h>
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

// What a collection's models tell the engine about it (shared by every model on the name).
struct CollectionConfig
{
    QString keyField = QStringLiteral("id");
    StrategyKind strategy = StrategyKind::Ordered;
    bool awaitSync = false;
    SyncEngine::PersistHandler persist;
    SyncEngine::MergeFunction merge;
};

class SyncEnginePrivate
{
public:
    explicit SyncEnginePrivate(SyncEngine *q);

    static SyncEnginePrivate *get(SyncEngine *engine) { return engine->d.get(); }

    // Local changes are pushed after this quiet time, so a burst of edits goes out together.
    static constexpr int LocalChangeDebounceMs = 50;
    // Rows a collection opens with; the rest load as views ask (CollectionStore::fetchMore).
    static constexpr int InitialRows = 500;

    bool ensureOpen();
    void closeDatabase();
    void stopApplyThread();
    void loadScope();
    void loadStore(CollectionStore *store);
    bool loadRows(CollectionStore *store, qint64 after, qint64 upTo, int limit,
                  QList<StoreRow> *rows);
    void forgetTransactions();
    // Registers a transaction (loaded or new) in the in-memory outbox.
    void addTransaction(Transaction *t, std::optional<QStringList> keys = std::nullopt,
                        const QStringList *mutationItems = nullptr);
    // The other unfinished transactions on t's items, in commit order.
    QList<Ordering::Entry> holders(const TransactionRecord &t) const;
    // A retried transaction goes last in the outbox order.
    void moveToEnd(const QString &id);

    // The shared store of a collection; nullptr (and an error reported) for an invalid name.
    CollectionStore *store(const QString &collection);

    // Writes ops as one transaction (items + outbox in one SQL transaction), updates the
    // stores, and returns the new Transaction; nullptr and *error for a refused change.
    // `into` is an open explicit transaction that becomes the committed one.
    Transaction *commitLocal(const QList<LocalOp> &ops, StrategyKind strategy, SyncError *error,
                             Transaction *into = nullptr);
    // The visible state of an item with the staged ops of an open transaction over it.
    std::optional<QJsonObject> visibleState(const QString &collection, const QString &key) const;
    CollectionConfig config(const QString &collection) const { return configs.value(collection); }
    // Builds the op for an insert / update / remove from what the app passed.
    bool prepareInsert(const QString &collection, const QVariant &item, LocalOp *op,
                       SyncError *error) const;
    bool prepareUpdate(const QString &collection, const QVariant &key, const QVariant &changes,
                       LocalOp *op, SyncError *error) const;
    bool prepareRemove(const QString &collection, const QVariant &key, LocalOp *op,
                       SyncError *error) const;
    static bool toKey(const QVariant &value, QString *out, SyncError *error);

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
    void noteActive(const TransactionRecord &tx, const QStringList *mutationItems = nullptr);
    void noteFinished(const TransactionRecord &tx);
    int activeTransactionsIn(const QString &collection) const
    {
        return activeByCollection.value(collection);
    }

    // Sync runs (syncrunner.cpp).
    void scheduleSync(int delayMs);
    void startRun(bool force); // force: retries scheduled for later go now too
    void pushNext();
    void onPushed(const QStringList &txIds, const Protocol::PushRequest &request,
                  quint64 pushSerial, const Protocol::PushResponse &response,
                  const SyncError &error);
    void pullNext();
    void requestPage(const QString &collection, const QString &cursor, qint64 maxVersion,
                     bool ahead);
    void prefetchAfter(const QString &collection, qint64 maxVersion,
                       const Protocol::PullResponse &response);
    void onPulled(const QString &collection, const Protocol::PullRequest &request, qint64 maxVersion,
                  const Protocol::PullResponse &response, const SyncError &error);
    void onPageApplied(quint64 serial, const QString &collection,
                       const QList<SyncDatabase::SyncedWrite> &writes, bool hasMore,
                       const SyncError &error);
    void deliverChunk();
    void finishResync(const QString &collection);
    void finishRun(const SyncError &error);
    // Updates transactions (memory, database, signals) and the rows they touch.
    void compact();
    // The one way a transaction changes once committed: its new records (as Lifecycle left
    // them) with everything that follows from them — transactions absorbed by compaction end
    // as their survivor, ordered transactions queued behind a failed one fail with it, the
    // ones queued behind a finished one move on — written in ONE SQL transaction together with
    // the synced states of the items (`synced`, at `syncedVersions`; with newerOnly a stored
    // newer version is kept), then the models and signals follow.
    // `applied`: persisted mutations, in order, with the version the server gave each (-1:
    // unknown, the stored version stays); the synced state becomes the stored one with them.
    using TransactionWrite = SyncDatabase::TransactionWrite;
    struct Applied
    {
        MutationRecord mutation;
        qint64 version = -1;
    };
    bool settle(QList<TransactionWrite> writes,
                const QHash<QString, std::optional<QJsonObject>> &synced = {},
                const QHash<QString, qint64> &syncedVersions = {}, bool newerOnly = true,
                const QList<Applied> &applied = {});
    void expand(QList<TransactionWrite> &writes) const;
    void setRecord(Transaction *t, const TransactionRecord &record);
    void emitEvent(const QString &type, const TransactionRecord &record);
    // Persist: through the transport (the Synq protocol) or a collection's persist handler.
    bool canRun() const;
    void callPersistHandler(const QString &id, const QString &attemptId);
    void onPersisted(const QString &id, const QString &attemptId, const SyncError &error);
    void roundDone(quint64 run);
    // The push phase ends: at once, or when the last push on its way is answered.
    void stopPushing(const SyncError &error);
    void checkAwaiting(const QString &collection, const QList<SyncDatabase::SyncedWrite> &writes);
    bool isLocked(const QString &item) const;
    QString firstCollection(const TransactionRecord &t) const
    {
        return t.mutations.isEmpty() ? QString() : t.mutations.constFirst().collection;
    }
    double random01() const;
    // The item's visible state: its pending changes over the synced state, through the
    // collection's merge function if it has one.
    std::optional<QJsonObject> merged(const QString &collection,
                                      const std::optional<QJsonObject> &synced,
                                      const QList<MutationRecord> &pending) const;
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
    QHash<QString, qint64> orderOf; // id -> position in commit order
    QStringList outboxOrder; // unfinished ones in commit order (finished ones pruned lazily)
    QHash<QString, QStringList> keysById; // the item ids each transaction touches
    qint64 nextOrder = 0;
    QMultiHash<QString, QString> waitingFor; // blocker -> transactions queued behind it
    QHash<QString, qint64> awaitedVersion; // mutation id -> version its change must come back at
    int activeCount = 0; // transactions neither completed nor failed
    int failedCount = 0;
    QHash<QString, CollectionConfig> configs;
    int maxQueueSize = 0; // 0: no limit
    RetryPolicy *retryPolicy = nullptr;
    bool compactAgain = false; // transactions were released since the last compaction
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
    bool forceDue = false; // this run sends what waits for a scheduled retry
    bool forceAgain = false;
    quint64 runSerial = 0;
    int runBatchLimit = 0; // 0: the transport's batch size
    QSet<QString> triedThisRun;
    // Pushes on their way (up to transport->maxPushesInFlight()) and the items they carry: a
    // batch never goes out beside another that shares an item.
    int pushesInFlight = 0;
    QSet<QString> itemsInFlight;
    // The run ends (with this error) once the pushes still on their way are answered.
    bool stopping = false;
    SyncError stopError;
    bool authRetried = false; // a 401 was answered by one retry in this run
    // Pushes sent in this run, and the first one sent after new credentials were asked for:
    // a 401 to a push sent before that came with the old ones and goes again too.
    quint64 pushesSent = 0;
    quint64 firstPushAfterAuth = 0;
    QSet<QString> resyncing; // collections being pulled again from the beginning (410)
    QHash<QString, QSet<QString>> resyncSeen; // keys listed so far by that pull
    int failedRuns = 0;
    QStringList pullQueue; // collections still to pull in this run
    int pagesLeft = 0;
    // The page after the one being applied, asked for as soon as that one came (its cursor is
    // in it), so that the server prepares it while this client writes and shows the one before.
    // Handed on, answered or not, when the page before it is delivered.
    struct PageAhead
    {
        quint64 run = 0;
        quint64 serial = 0;
        QString collection;
        Protocol::PullRequest request;
        qint64 maxVersion = 0; // the highest version applied before it
        bool answered = false;
        bool wanted = false; // the page before is delivered: hand it on when it comes
        Protocol::PullResponse response;
        SyncError error;
    };
    std::optional<PageAhead> pageAhead;
    quint64 pageAheadSerial = 0;
    QList<SyncDatabase::SyncedWrite> deliveryQueue; // applied changes for the models
    QString deliveryCollection;
    bool deliveryMore = false;
    QVariantMap runReport;
    QElapsedTimer runClock;
};

} // namespace Synq

#endif
