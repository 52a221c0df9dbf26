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
#include <QtCore/QPointer>

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

class SyncEnginePrivate
{
public:
    explicit SyncEnginePrivate(SyncEngine *q);

    static SyncEnginePrivate *get(SyncEngine *engine) { return engine->d.get(); }

    bool ensureOpen();
    void closeDatabase();
    void loadScope();
    void loadStore(CollectionStore *store);

    // The shared store of a collection; nullptr (and an error reported) for an invalid name.
    CollectionStore *store(const QString &collection);

    // Writes ops as one transaction (items + outbox in one SQL transaction), updates the
    // stores, and returns the new Transaction; nullptr and *error for a refused change.
    Transaction *commitLocal(const QList<LocalOp> &ops, StrategyKind strategy, SyncError *error);

    // Bookkeeping of the active transactions per item, kept in memory so that a mutation
    // never needs more than its one write transaction.
    struct ItemActivity
    {
        int activeTransactions = 0;
        qint64 version = 0; // base version of the latest active mutation on the item
    };
    static QString itemId(const QString &collection, const QString &key)
    {
        return collection + QLatin1Char('/') + key; // collection names cannot hold '/'
    }
    void noteActive(const TransactionRecord &tx);

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
};

} // namespace Synq

#endif
